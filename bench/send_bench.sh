#!/bin/bash
# send_bench.sh - run on the front end of a virtual cluster by
# bench/send_bench (which see). A fresh copy of a small dynamically linked
# program (tests/victims/vdso: its program, libc and the dynamic loader
# mapped), waiting in pause(), moved front end -> node1 with
#   path         echo "PID path": nothing asked, every file by path
#   auto         echo "PID auto" (the default): node1 is asked and has
#                every file, so all go by path; the cost of the question
#   whole        echo "PID whole": program and libraries in the image
#   auto-absent  the same program copied to a directory node1 lacks, auto:
#                its program goes whole, its libraries by path
# each REPS times, interleaved, after one untimed round; timed by the
# writer until the write returns (moveto -t), image bytes from events.
# Prints one RESULT line per mode with medians and the ratios to path.
set -u
V=/extra/victims
REPS=${REPS:-7}
[ -f /extra/send_bench.env ] && . /extra/send_bench.env
M=/bproc
export PATH=$V:$PATH

median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

mkdir -p /tmp/only-here
cp $V/vdso /tmp/only-here/vdso
vcrun 1 "rm -rf /tmp/only-here" > /dev/null

# once PROGRAM WORD: sets T (seconds) and SIZE (image bytes).
once() {
	local r pid i
	setsid "$1" pause < /dev/null > /dev/null 2>&1 &
	pid=$!
	for i in $(seq 1200); do
		[ "$(cut -d' ' -f1 /proc/$pid/syscall 2>/dev/null)" = 34 ] && break
		sleep 0.1
	done
	r=$(moveto -t node1 "$pid $2") || { echo "move ($1 $2): $r"; exit 1; }
	T=$(echo "$r" | awk '{ printf "%.4f", $2 / 1e6 }')
	SIZE=$(grep "move pid $pid .* master -> node1 done" $M/events | tail -n 1 |
		sed 's/.*done (\([0-9]*\) bytes.*/\1/')
	{ kill -9 $pid; wait $pid; } 2>/dev/null
}

declare -A TS SZ
modes="path auto whole auto-absent"
run_mode() {
	case $1 in
	auto-absent) once /tmp/only-here/vdso auto ;;
	*) once $V/vdso $1 ;;
	esac
}

echo "kernel $(uname -r), $(nproc) cpu, $(awk '/MemTotal/ { print $2 }' /proc/meminfo) kB per VM, REPS=$REPS"
for m in $modes; do run_mode $m; done # untimed: page cache, connections
for i in $(seq $REPS); do
	for m in $modes; do
		run_mode $m
		TS[$m]="${TS[$m]:-} $T"
		SZ[$m]=$SIZE
	done
done
pt=$(echo ${TS[path]} | median)
for m in $modes; do
	t=$(echo ${TS[$m]} | median)
	echo "RESULT $m move_s=$t image_bytes=${SZ[$m]}" \
		"time/path=$(ratio $t $pt) bytes/path=$(ratio ${SZ[$m]} ${SZ[path]})"
done
