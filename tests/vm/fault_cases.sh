#!/bin/bash
# fault_cases.sh [CASE...] - faults while processes are moving or away, on
# the front end of a virtual cluster with two nodes (tools/vcluster --nodes 2
# --add tests/victims --add tests/vm --run ...). For each: what the user
# sees (the write's errno, events, the process's answers), and that no
# process is lost or duplicated: its pid is in exactly one node directory,
# it runs on exactly one machine, and it still answers.
# Prints "CASE <name> PASS|FAIL" per case, details before it; exits 1 if any
# failed.
. /extra/vm/engine_lib.sh
FAILED=0
W=/tmp/faults
mkdir -p "$W"
M=/bproc
export PATH=$V:$PATH
# a mover that died must not take this script with it (its stdin FIFO)
trap '' PIPE
# dest-oom-restoring first, while node1's memory is as it booted
cases=" ${*:-dest-oom-restoring link-flap-short link-flap-long slow-reader
	master-restart} "
cases=" $(echo $cases) "
want() {
	[[ "$cases" == *" $1 "* ]] || return 1
	echo "--- $1 ($(cut -d' ' -f1 /proc/uptime) s)"
}

declare -A PID IN
mover_start() { # NAME ARGS...: a mover, its stdin a FIFO on fd ${IN[NAME]}
	local name=$1 fd
	shift
	rm -f "$W/$name.in" "$W/$name.out"
	mkfifo "$W/$name.in"
	mover "$@" < "$W/$name.in" > "$W/$name.out" 2>&1 &
	PID[$name]=$!
	exec {fd}> "$W/$name.in"
	IN[$name]=$fd
	wait_for "$W/$name.out" "^ready ${PID[$name]}\$" 600 ||
		{ echo "mover $name did not start"; cat "$W/$name.out"; return 1; }
}
mover_end() { local fd=${IN[$1]}; exec {fd}>&-; }
ask() { # NAME CMD: REPLY is its answer
	local name=$1 tok=t$RANDOM$RANDOM
	printf '%s\necho %s\n' "$2" "$tok" >&"${IN[$name]}"
	if ! wait_for "$W/$name.out" "^echo $tok\$" 600; then
		REPLY="(no answer to $2)"
		tail -n 5 "$W/$name.out"
		return 1
	fi
	REPLY=$(grep -B1 "^echo $tok\$" "$W/$name.out" | head -n 1)
}
expect() {
	[ "$2" = "$3" ] && return 0
	echo "$1: got '$2', wanted '$3'"
	return 1
}
wait_state() { # NODE STATE [TENTHS]
	local i
	for i in $(seq "${3:-600}"); do
		[ "$(cat "$M/$1/status")" = "$2" ] && return 0
		sleep 0.1
	done
	echo "$1 is $(cat "$M/$1/status"), not $2"
	return 1
}
ended() { # PID: its exit status in STATUS, or "running" after 60 s
	local i
	for i in $(seq 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$1" 2>/dev/null; then STATUS=running; return; fi
	wait "$1" 2>/dev/null
	STATUS=$?
}

# where PID: the node directories that hold PID's file, space-separated.
where() {
	local f out=
	for f in "$M"/*/"$1"; do
		[ -f "$f" ] && out="$out $(basename "$(dirname "$f")")"
	done
	echo "${out# }"
}

# copies NAME: how many processes called NAME run on each node (n1 n2).
copies() {
	echo "$(vcrun -t 30 1 "pidof $1 | wc -w") $(vcrun -t 30 2 "pidof $1 | wc -w")"
}

# one_copy NAME PID HOME: PID is in HOME's directory alone and runs there
# alone (on a node: one process NAME there, none on the other node).
one_copy() {
	local st=0
	expect "pid $2 in" "$(where "$2")" "$3" || st=1
	case $3 in
	master) expect "copies on node1 node2" "$(copies "$1")" "0 0" || st=1 ;;
	node1) expect "copies on node1 node2" "$(copies "$1")" "1 0" || st=1 ;;
	node2) expect "copies on node1 node2" "$(copies "$1")" "0 1" || st=1 ;;
	esac
	kill -0 "$2" 2>/dev/null || { echo "pid $2 is gone on the front end"; st=1; }
	return $st
}

events_of() { grep "pid $1 " "$M/events" | tail -n "${2:-5}"; }

# flap MOVER SECONDS: node1's link goes down SECONDS after MOVER's move to
# node1 started, for SECONDS; the write's answer in FLAP.
flap() {
	local name=$1 secs=$2 mpid i
	moveto node1 ${PID[$name]} > "$W/$name.r" &
	mpid=$!
	for i in $(seq 200); do
		grep -q "move pid ${PID[$name]} (mover) master -> node1 started" $M/events && break
		[ -s "$W/$name.r" ] && break
		sleep 0.05
	done
	vcrun -t 10 1 "(sleep 1; ip link set eth0 down; sleep $secs; ip link set eth0 up) > /dev/null 2>&1 &" > /dev/null
	wait $mpid
	FLAP=$(cat "$W/$name.r")
	echo "the write: $FLAP"
	grep "pid ${PID[$name]} \|node1 \(up\|down\)" $M/events | tail -n 4
}

if want link-flap-short; then
	# node1's link goes down for 2 s in the middle of a 96 MiB move
	# there (the image takes about 15 s to cross under emulation), less
	# than the 5 s timeout of the virtual cluster: TCP carries on and the
	# user sees a slower move, nothing else.
	st=0
	mover_start ls 96 || st=1
	flap ls 2
	expect "the write" "$FLAP" ok || st=1
	expect "node1" "$(cat $M/node1/status)" up || st=1
	one_copy mover ${PID[ls]} node1 || st=1
	ask ls check
	expect "memory there" "$REPLY" "check ok" || st=1
	echo "exit 5" >&"${IN[ls]}"
	ended ${PID[ls]}
	expect "exit status" "$STATUS" 5 || st=1
	mover_end ls
	result link-flap-short $st
fi

if want link-flap-long; then
	# The same with the link down for 10 s, past the timeout: node1 goes
	# down (events says "silent for 5.0 s") and comes up again by itself
	# once the link is back. The transfer between the agents may outlive
	# that (TCP retransmits): then the write succeeds and the process runs
	# on node1; or it breaks, the write fails (EIO, ECONNRESET or
	# EHOSTDOWN) and the process runs on here. Either way once, with its
	# memory, and it moves (again) once the link is back.
	st=0
	mover_start ll 96 || st=1
	flap ll 10
	case $FLAP in
	ok) home=node1 ;;
	EIO|ECONNRESET|EHOSTDOWN) home=master ;;
	*) echo "unexpected answer $FLAP"; st=1; home=master ;;
	esac
	grep -q "node1 down (was up: silent for" $M/events || { echo "node1 never went down"; st=1; }
	wait_state node1 up 900 || st=1
	one_copy mover ${PID[ll]} $home || st=1
	ask ll check
	expect "memory" "$REPLY" "check ok" || st=1
	if [ $home = node1 ]; then
		expect "home again" "$(moveto master ${PID[ll]})" ok || st=1
		one_copy mover ${PID[ll]} master || st=1
	fi
	expect "moved once the link is back" "$(moveto node1 ${PID[ll]})" ok || st=1
	one_copy mover ${PID[ll]} node1 || st=1
	ask ll check
	expect "memory there" "$REPLY" "check ok" || st=1
	echo "exit 6" >&"${IN[ll]}"
	ended ${PID[ll]}
	expect "exit status" "$STATUS" 6 || st=1
	mover_end ll
	result link-flap-long $st
fi

if want dest-oom-restoring; then
	# node1 has the memory when the move starts (the destination checks
	# that first: a tmpfs leaves it 128 + 8 MiB), and loses it while the
	# 128 MiB image is restored: as soon as the restorer runs, the tmpfs
	# takes all but 4 MiB of what is left. The OOM
	# killer takes the restorer (the write fails with EIO, events says it
	# was killed, the process runs on here, whole, and moves once the
	# memory is back), or the agent (ECONNRESET; started again as
	# systemd would), or, had the restore won the race, the moved process
	# on node1 (its ghost ends as killed by SIGKILL, events says so).
	st=0
	vcrun 1 'mkdir -p /tmp/fill && mount -t tmpfs -o size=100% none /tmp/fill &&
		head -c $(( $(awk "/MemAvailable/ { print \$2 }" /proc/meminfo) * 1024 - (136 << 20) )) /dev/zero > /tmp/fill/base' || st=1
	vcrun 1 'grep MemAvailable /proc/meminfo'
	vcrun -t 10 1 '(while ! pidof bproc-ckpt; do sleep 0.02; done;
		exec head -c $(( $(awk "/MemAvailable/ { print \$2 }" /proc/meminfo) * 1024 - (4 << 20) )) /dev/zero > /tmp/fill/more
		) > /dev/null 2>&1 &
		echo $! > /tmp/fill.pid' > /dev/null
	mover_start oom 128 || st=1
	r=$(moveto node1 ${PID[oom]})
	echo "the write: $r"
	events_of ${PID[oom]}
	vcrun -t 30 1 'kill $(cat /tmp/fill.pid) 2>/dev/null; sleep 0.5; rm -f /tmp/fill/*; umount /tmp/fill' || st=1
	if ! vcrun -t 10 1 'pidof bproc-nodeagent' > /dev/null; then
		echo "node1's agent was killed; starting it again"
		vcrun 1 "setsid bproc-nodeagent -f --config /etc/bproc/config --node 1 \
			< /dev/null >> /var/log/bproc-nodeagent.log 2>&1 &" > /dev/null
	fi
	wait_state node1 up || st=1
	case $r in
	EIO|ECONNRESET)
		one_copy mover ${PID[oom]} master || st=1
		ask oom check
		expect "memory" "$REPLY" "check ok" || st=1
		expect "moved once the memory is back" "$(moveto node1 ${PID[oom]})" ok || st=1
		ask oom check
		expect "memory there" "$REPLY" "check ok" || st=1
		mover_end oom
		ended ${PID[oom]}
		expect "exit status" "$STATUS" 3 || st=1
		;;
	ok)
		ended ${PID[oom]}
		if [ "$STATUS" = running ]; then
			echo "it survived on node1"
			one_copy mover ${PID[oom]} node1 || st=1
			mover_end oom
			ended ${PID[oom]}
			expect "exit status" "$STATUS" 3 || st=1
		else
			expect "killed there: its ghost's status" "$STATUS" 137 || st=1
			grep -q "pid ${PID[oom]} (mover) exited on node1: killed by SIGKILL\|pid ${PID[oom]} .*node1 down" $M/events ||
				{ echo "events does not say it was killed"; st=1; }
			expect "no copy left" "$(copies mover)" "0 0" || st=1
			mover_end oom
		fi
		;;
	*) echo "unexpected answer $r"; st=1 ;;
	esac
	result dest-oom-restoring $st
fi

if want slow-reader; then
	# On node1 a process writes 200,000 lines (1.3 MB) as fast as it can
	# into a pipe whose reader on the front end reads nothing for 10 s:
	# the writer waits (a stream has 256 KiB in flight at most), the front
	# end's agent does not buffer without bound, and once the reader reads
	# every line arrives, once, in order.
	st=0
	rm -f "$W/slow.out"
	mkfifo "$W/slow.pipe" 2>/dev/null || true
	sh -c 'exec lines 200000 0' > "$W/slow.pipe" &
	wpid=$!
	( sleep 10; exec cat ) < "$W/slow.pipe" > "$W/slow.out" &
	rpid=$!
	expect "move the writer" "$(moveto node1 $wpid)" ok || st=1
	agent=$(pidof bproc-nodeagent | cut -d' ' -f1)
	rss0=$(awk '/VmRSS/ { print $2 }' /proc/$agent/status)
	sleep 8
	rss1=$(awk '/VmRSS/ { print $2 }' /proc/$agent/status)
	got=$(wc -l < "$W/slow.out")
	echo "after 8 s unread: $got lines out, front agent RSS ${rss0} -> ${rss1} kB"
	expect "nothing read yet" "$got" 0 || st=1
	[ $((rss1 - rss0)) -lt 4096 ] || { echo "the front end's agent grew by $((rss1 - rss0)) kB"; st=1; }
	# without the back pressure it would have ended in a second
	one_copy lines $wpid node1 || st=1
	ended $wpid
	expect "writer status" "$STATUS" 0 || st=1
	wait $rpid
	n=$(wc -l < "$W/slow.out")
	expect "lines" "$n" 200000 || st=1
	awk 'NR - 1 != $1 { print "line " NR " is " $1; bad = 1; exit } END { exit bad }' "$W/slow.out" || st=1
	result slow-reader $st
fi

if want master-restart; then
	# bprocfs on the front end is killed with -9 while processes are away
	# on node1 and node2, then started again as systemd's Restart= would
	# (over its dead mount). The agents join it again and report what they
	# host: the processes are back in /bproc where they run, their ghosts
	# still wait for them (signals, stdin, exit status), they move on.
	st=0
	mover_start mr1 8 || st=1
	mover_start mr2 8 || st=1
	expect "move 1" "$(moveto node1 ${PID[mr1]})" ok || st=1
	expect "move 2" "$(moveto node2 ${PID[mr2]})" ok || st=1
	kill -9 "$(pidof bprocfs)"
	sleep 1
	if stat "$M/status" 2> "$W/mr.stat" > /dev/null; then
		echo "/bproc still answers after kill -9"
	else
		echo "while it is down: $(cat "$W/mr.stat")"
	fi
	# started from the vcrun server, not from here: it must not inherit
	# this script's descriptors (the movers' stdin FIFOs)
	vcrun master 'setsid bprocfs -f --config /etc/bproc/config /bproc \
		< /dev/null >> /var/log/bproc-bprocfs.log 2>&1 &' > /dev/null
	for i in $(seq 100); do [ -e "$M/status" ] && break; sleep 0.1; done
	wait_state master up || st=1
	wait_state node1 up || st=1
	wait_state node2 up || st=1
	for i in $(seq 100); do
		[ "$(where ${PID[mr1]})" = node1 ] && [ "$(where ${PID[mr2]})" = node2 ] && break
		sleep 0.1
	done
	expect "pid ${PID[mr1]} in" "$(where ${PID[mr1]})" node1 || st=1
	expect "pid ${PID[mr2]} in" "$(where ${PID[mr2]})" node2 || st=1
	expect "movers on node1 node2" "$(copies mover)" "1 1" || st=1
	kill -0 ${PID[mr1]} && kill -0 ${PID[mr2]} || { echo "a ghost is gone"; st=1; }
	ask mr1 check
	expect "answers from node1" "$REPLY" "check ok" || st=1
	kill -USR1 ${PID[mr1]}
	ask mr1 usr1
	expect "a signal through its ghost" "$REPLY" "usr1 1" || st=1
	expect "home again" "$(moveto master ${PID[mr1]})" ok || st=1
	expect "node2 to node1" "$(moveto node1 ${PID[mr2]})" ok || st=1
	ask mr2 check
	expect "answers from node1" "$REPLY" "check ok" || st=1
	echo "exit 4" >&"${IN[mr2]}"
	ended ${PID[mr2]}
	expect "exit status through the ghost" "$STATUS" 4 || st=1
	mover_end mr1
	ended ${PID[mr1]}
	expect "exit status at home" "$STATUS" 3 || st=1
	result master-restart $st
fi

exit $FAILED
