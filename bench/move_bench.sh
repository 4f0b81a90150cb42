#!/bin/bash
# move_bench.sh - the move benchmark, run on the front end of a virtual
# cluster with two nodes by bench/move_bench (which see). Side by side, in
# the same VMs over the same virtual network (medians of REPS runs):
#   move       echo PID > /bproc/node1/move, front end -> node1, timed by
#              the writer until the write returns (the process runs there)
#   n2n        the same process node1 -> node2 (agent to agent)
#   raw        the same number of bytes, touched memory on the front end
#              into fresh memory on node1, over one TCP connection
#              (tcpxfer): the floor for sending that much
#   criu       criu dump on the front end, the images as one tar over the
#              same kind of TCP connection, criu restore -d on node1
#              (minus the cost of asking node1 to run a command, measured
#              apart)
# for a small process (tests/victims/vdso), one with MIB MiB of touched
# memory (tests/victims/bigmem) and the same with 8 more threads waiting on
# a condition variable, each after one untimed run of both (so that
# programs are in the page cache); then PROCS small processes moved at once
# by one program (manymove), front end -> nodes and back. Prints RESULT
# lines with the ratios.
set -u
V=/extra/victims
W=/tmp/mbench
REPS=${REPS:-3} MIB=${MIB:-256} PROCS=${PROCS:-100}
[ -f /extra/move_bench.env ] && . /extra/move_bench.env
M=/bproc
N1=$(awk '$2 == "node1" { print $1 }' /etc/hosts)
PORT=7777
mkdir -p $W
export PATH=$V:/extra:$PATH

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# Front-end pids well above what the nodes use, so that CRIU can restore
# its victims on node1 under the same pid.
echo 30000 > /proc/sys/kernel/ns_last_pid

# start NAME: the victim waiting in pause(), stdio /dev/null (which CRIU
# can restore on another machine), own session.
start() {
	setsid "$V/$1" pause < /dev/null > /dev/null 2>&1 &
	VPID=$!
	for i in $(seq 1200); do
		[ "$(cut -d' ' -f1 /proc/$VPID/syscall 2>/dev/null)" = 34 ] && return 0
		sleep 0.1
	done
	echo "victim $1 did not start"; exit 1
}

# gone PID: kill it wherever it is, wait for it.
gone() {
	{ kill -9 "$1"; wait "$1"; } 2>/dev/null
}

# move_once NAME: sets T (front end -> node1), T2 (node1 -> node2), SIZE.
move_once() {
	local r
	start "$1"
	r=$(moveto -t node1 $VPID) || { echo "move: $r"; exit 1; }
	T=$(echo "$r" | awk '{ printf "%.4f", $2 / 1e6 }')
	r=$(moveto -t node2 $VPID) || { echo "move on: $r"; exit 1; }
	T2=$(echo "$r" | awk '{ printf "%.4f", $2 / 1e6 }')
	SIZE=$(grep "move pid $VPID .* master -> node1 done" $M/events | tail -n 1 |
		sed 's/.*done (\([0-9]*\) bytes.*/\1/')
	gone $VPID
}

# raw_once BYTES: sets T.
raw_once() {
	vcrun 1 "/extra/tcpxfer recv $PORT > /tmp/raw.out 2>&1 &" > /dev/null
	for i in $(seq 100); do vcrun 1 "grep -q listening /tmp/raw.out" && break; sleep 0.1; done
	T=$(tcpxfer send "$N1" $PORT "$1") || { echo "raw transfer failed"; exit 1; }
}

# vcrun_cost: what asking node1 to run a command costs (subtracted from criu).
vcrun_cost() {
	local t0 i ts=
	for i in 1 2 3; do
		t0=$(now)
		vcrun 1 true
		ts="$ts $(elapsed "$t0" "$(now)")"
	done
	VCRUN=$(echo $ts | median)
}

# criu_once NAME: sets T and CSIZE.
criu_once() {
	local t0 t1
	start "$1"
	rm -rf $W/criu; mkdir -p $W/criu
	vcrun 1 "rm -rf /tmp/criu; mkdir -p /tmp/criu; /extra/tcpxfer recv $PORT -o /tmp/criu.tar > /tmp/raw.out 2>&1 &" > /dev/null
	for i in $(seq 100); do vcrun 1 "grep -q listening /tmp/raw.out" && break; sleep 0.1; done
	t0=$(now)
	criu dump -t $VPID -D $W/criu --shell-job -o dump.log || { tail $W/criu/dump.log; exit 1; }
	tar -C $W/criu -cf $W/criu.tar . || exit 1
	tcpxfer sendfile "$N1" $PORT $W/criu.tar > /dev/null || { echo "criu copy failed"; exit 1; }
	vcrun 1 "tar -C /tmp/criu -xf /tmp/criu.tar && rm /tmp/criu.tar &&
		criu restore -D /tmp/criu --shell-job -d -o restore.log" > $W/criu.r 2>&1 ||
		{ cat $W/criu.r; vcrun 1 "tail /tmp/criu/restore.log"; exit 1; }
	t1=$(now)
	T=$(awk -v a="$t0" -v b="$t1" -v v="$VCRUN" 'BEGIN { printf "%.4f", b - a - v }')
	CSIZE=$(du -sb $W/criu | awk '{ print $1 }')
	vcrun 1 "kill -9 $VPID; rm -rf /tmp/criu" > /dev/null
	{ wait $VPID; } 2>/dev/null
	rm -rf $W/criu $W/criu.tar
}

measure() { # LABEL NAME
	local label=$1 name=$2 i mt= nt= rt= ct= size csize
	# once each untimed: programs and libraries in the page cache
	move_once "$name"
	criu_once "$name"
	for i in $(seq $REPS); do
		move_once "$name"; mt="$mt $T"; nt="$nt $T2"; size=$SIZE
		raw_once "$size"; rt="$rt $T"
		criu_once "$name"; ct="$ct $T"; csize=$CSIZE
	done
	mt=$(echo $mt | median) nt=$(echo $nt | median)
	rt=$(echo $rt | median) ct=$(echo $ct | median)
	echo "RESULT $label move_s=$mt n2n_s=$nt raw_s=$rt criu_s=$ct" \
		"image_bytes=$size criu_bytes=$csize criu/move=$(ratio $ct $mt)" \
		"move/raw=$(ratio $mt $rt) n2n/raw=$(ratio $nt $rt)"
}

# many: PROCS small processes moved at once (bench/manymove: a thread
# each, all writing at the same moment), half to each node, then all back;
# sets RATE, BACK, FAILS.
many() {
	local pids= p i k args out fails=0
	for i in $(seq $PROCS); do
		setsid "$V/vdso" pause < /dev/null > /dev/null 2>&1 &
		pids="$pids $!"
	done
	for p in $pids; do
		for i in $(seq 1200); do
			[ "$(cut -d' ' -f1 /proc/$p/syscall 2>/dev/null)" = 34 ] && break
			sleep 0.1
		done
	done
	for dir in there back; do
		k=0 args=
		for p in $pids; do
			k=$((k + 1))
			n=node$(( (k % 2) + 1 ))
			[ $dir = back ] && n=master
			args="$args $n:$p"
		done
		out=$(manymove $args)
		echo "$out" | grep -v ' moves in '
		t=$(echo "$out" | awk '/ moves in / { print $4 }')
		fails=$((fails + $(echo "$out" | awk '/ moves in / { print $6 }')))
		r=$(awk -v n=$PROCS -v t=$t 'BEGIN { printf "%.1f", n / t }')
		[ $dir = there ] && RATE=$r
		[ $dir = back ] && BACK=$r
	done
	FAILS=$fails
	for p in $pids; do kill -9 $p 2>/dev/null; done
	{ wait; } 2>/dev/null
}

echo "kernel $(uname -r), $(nproc) cpu, $(awk '/MemTotal/ { print $2 }' /proc/meminfo) kB per VM," \
	"$(criu --version | head -n 1), REPS=$REPS"
vcrun_cost
echo "asking node1 to run a command: $VCRUN s (taken off the criu figures)"
measure small vdso
VICTIM_MIB=$MIB measure "large-${MIB}MiB" bigmem
VICTIM_THREADS=8 VICTIM_MIB=$MIB measure "threads-8+1-${MIB}MiB" bigmem
many
echo "RESULT many procs=$PROCS there_per_s=$RATE back_per_s=$BACK failed=$FAILS"
