#!/bin/bash
# fork_bench.sh - the node-born fork benchmark, run on the front end of a
# virtual cluster with one node by bench/fork_bench (which see). Side by
# side, in the same VMs (medians of REPS runs of FORKS forks each):
#   local      forkloop on node1 as a process outside the cluster (vcrun):
#              a plain fork + _exit + waitpid
#   cluster    the same program as a cluster process on node1 (bpsh 1): each
#              child gets a pid of node1's range, a ghost on the front end,
#              and its exit and reap go to the master
#   settled    for the cluster run, from the start until the front end has
#              caught up: every child's exit is in /bproc/events and no
#              ghost of them is left in the front end's process table
#   front      forkloop on the front end, outside the cluster (reference)
# and, for children that live on (each sleeps, so each gets its ghost):
#   spawn      a shell on node1 outside the cluster starting 40 sleeps in
#              the background (vcrun 1), until all 40 run
#   ghosts     the same shell as a cluster process (bpsh 1), until all 40
#              have their ghosts on the front end
# Prints RESULT lines with the ratios.
set -u
FORKS=${FORKS:-2000} REPS=${REPS:-3}
[ -f /extra/fork_bench.env ] && . /extra/fork_bench.env
M=/bproc
B=/extra/victims/forkloop

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }

# Ghosts of node-born processes still on the front end (pids of the nodes').
ghosts() { ps -eo pid= | awk '$1 >= 2097152' | wc -l; }

# exits_since LINE: exit events of node1 after line LINE of events.
exits_since() { tail -n +$(($1 + 1)) $M/events | grep -c ' exited on node1: '; }

local_once() {
	local r
	r=$(vcrun 1 "$B $FORKS") || { echo "local run failed: $r"; exit 1; }
	L=$(echo "$r" | field us_per_fork)
}

front_once() {
	local r
	r=$($B "$FORKS") || { echo "front run failed: $r"; exit 1; }
	F=$(echo "$r" | field us_per_fork)
}

cluster_once() {
	local r t0 base first last i
	base=$(wc -l < $M/events)
	t0=$(now)
	r=$(bpsh 1 $B "$FORKS") || { echo "cluster run failed: $r"; exit 1; }
	C=$(echo "$r" | field us_per_fork)
	first=$(echo "$r" | field first_pid) last=$(echo "$r" | field last_pid)
	[ "$first" -ge 2097152 ] ||
		{ echo "cluster run: child pid $first is not a cluster pid"; exit 1; }
	# the children and bpsh itself (its exit too is an event)
	for i in $(seq 6000); do
		[ "$(exits_since "$base")" -ge $((FORKS + 1)) ] && [ "$(ghosts)" = 0 ] && break
		sleep 0.05
	done
	[ "$(exits_since "$base")" -ge $((FORKS + 1)) ] ||
		{ echo "cluster run: only $(exits_since "$base") exits in events"; exit 1; }
	S=$(awk -v a="$t0" -v b="$(now)" -v n="$FORKS" 'BEGIN { printf "%.1f", (b - a) / n * 1e6 }')
	PIDS="$first..$last"
}

echo "kernel $(uname -r), $(nproc) cpu per VM, FORKS=$FORKS REPS=$REPS"
local_once; cluster_once # untimed: page cache, first ghosts
lt= ct= st= ft=
for i in $(seq $REPS); do
	local_once; lt="$lt $L"
	cluster_once; ct="$ct $C"; st="$st $S"
	front_once; ft="$ft $F"
	echo "run $i: local_us=$L cluster_us=$C settled_us=$S front_us=$F pids=$PIDS"
done
lt=$(echo $lt | median) ct=$(echo $ct | median)
st=$(echo $st | median) ft=$(echo $ft | median)
echo "RESULT fork local_us=$lt cluster_us=$ct settled_us=$st front_us=$ft" \
	"cluster/local=$(ratio $ct $lt) settled/local=$(ratio $st $lt)"

# Ghosts of children that live on: 40 background sleeps, until all run
# (outside the cluster) or all have ghosts here (a cluster process).
spawn_once() {
	local t0
	t0=$(now)
	vcrun 1 'for i in $(seq 40); do sleep 6 > /dev/null 2>&1 & done; while [ "$(ps -o comm | grep -c "^sleep$")" -lt 40 ]; do :; done' > /dev/null
	SP=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
	sleep 6.5
}
ghosts_once() {
	local t0 b
	t0=$(now)
	bpsh 1 sh -c 'for i in $(seq 40); do sleep 6 & done; wait' &
	b=$!
	until [ "$(ghosts)" -ge 40 ]; do sleep 0.005; done
	GH=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
	wait $b
	until [ "$(ghosts)" = 0 ]; do sleep 0.05; done
}
spawn_once; ghosts_once # untimed
sp= gh=
for i in $(seq $REPS); do
	spawn_once; sp="$sp $SP"
	ghosts_once; gh="$gh $GH"
	echo "run $i: spawn_ms=$SP ghosts_ms=$GH"
done
sp=$(echo $sp | median) gh=$(echo $gh | median)
echo "RESULT ghosts spawn_ms=$sp ghosts_ms=$gh ghosts/spawn=$(ratio $gh $sp)"
