#!/bin/bash
# move_profile.sh - run on the front end of a one-node virtual cluster by
# bench/move_profile (which see).
V=/extra/victims
MIB=256
[ -f /extra/move_profile.env ] && . /extra/move_profile.env
export PATH=$V:/extra:$PATH
N1=$(awk '$2 == "node1" { print $1 }' /etc/hosts)

# ticks PID...: user + system clock ticks of the processes, summed
ticks() { for p; do awk '{ print $14 + $15 }' /proc/$p/stat; done | awk '{ s += $1 } END { print s + 0 }'; }
rticks() { vcrun 1 "for p in $*; do awk '{ print \$14 + \$15 }' /proc/\$p/stat; done | awk '{ s += \$1 } END { print s + 0 }'"; }
# USER_HZ is 100 on Linux whatever the kernel's HZ
sec() { awk -v t="$1" 'BEGIN { printf "%.2f", t / 100 }'; }

fa=$(pidof bproc-nodeagent)
na=$(vcrun 1 'pidof bproc-nodeagent' | tr ' ' '\n' | sort -n | head -n 1)
for rep in 1 2; do
	VICTIM_MIB=$MIB setsid $V/bigmem pause < /dev/null > /dev/null 2>&1 &
	p=$!
	for i in $(seq 1200); do
		[ "$(cut -d' ' -f1 /proc/$p/syscall 2>/dev/null)" = 34 ] && break
		sleep 0.1
	done
	f0=$(ticks $fa) n0=$(rticks $na)
	r=$(moveto -t node1 $p) || { echo "move: $r"; exit 1; }
	f1=$(ticks $fa) n1=$(rticks $na)
	rest=$(rticks "\$(pidof bigmem)")
	size=$(grep "move pid $p .* done" /bproc/events | tail -n 1 | sed 's/.*done (\([0-9]*\) bytes.*/\1/')
	echo "move $rep: $(echo "$r" | awk '{ printf "%.2f", $2 / 1e6 }') s, $size bytes;" \
		"CPU s: source agent $(sec $((f1 - f0))), destination agent $(sec $((n1 - n0))), restorer $(sec $rest)"
	kill -9 $p 2>/dev/null
	{ wait $p; } 2>/dev/null

	vcrun 1 "/usr/bin/time -f '%U %S' /extra/tcpxfer recv 7777 > /tmp/raw.out 2> /tmp/raw.cpu &" > /dev/null
	for i in $(seq 100); do vcrun 1 "grep -q listening /tmp/raw.out" && break; sleep 0.1; done
	t=$( { /usr/bin/time -f 'CPU %U %S' tcpxfer send "$N1" 7777 "$size"; } 2>&1)
	sleep 0.5
	rc=$(vcrun 1 "tail -n 1 /tmp/raw.cpu")
	echo "raw $rep: $(echo "$t" | head -n 1) s;" \
		"CPU s: send $(echo "$t" | awk '/^CPU/ { printf "%.2f", $2 + $3 }')," \
		"receive $(echo "$rc" | awk '{ printf "%.2f", $1 + $2 }')"
done
mac_bench 64
