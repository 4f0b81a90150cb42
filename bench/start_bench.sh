#!/bin/bash
# start_bench.sh - the start benchmark, run on the front end of a virtual
# cluster by bench/start_bench (which see). For k = 1, 2, 4 ... NODES
# nodes, medians of REPS runs of starting one process on each of nodes
# 1..k and waiting for them all to end:
#   vrfork   bproc_vrfork(k, ...), each child _exit(0)s on its node (fast
#            start: one child dumped, the others started from its image)
#   each     the same without fast start: k children forked first, each
#            moving itself with its own image, all at once
#   rfork    k bproc_rfork() one after the other, each waited for
#   bpsh     bpsh 1-k true (all at once)
#   bpsh-s   bpsh -s 1-k true (one node after the other)
# and then, with a starter of BIG MiB (default 16), vrfork (with the
# config's fanout FANOUT, default 1), vrfork without the tree of nodes
# (notree: fanout 0, the front end sending every copy) and each again,
# timed by startmany itself (from its call on: not its memory's filling);
# with the time per node (the figure the goal is about: flat as k grows)
# and the sequential / all-at-once ratios. Prints RESULT lines.
set -u
NODES=${NODES:-6} REPS=${REPS:-3} BIG=${BIG:-16}
[ -f /extra/start/env ] && . /extra/start/env
FANOUT=${FANOUT:-1}
S=/extra/start/startmany

now() { echo "$EPOCHREALTIME"; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
per() { awk -v a="$1" -v k="$2" 'BEGIN { printf "%.4f", a / k }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# secs CMD...: the seconds CMD took (it must succeed).
secs() {
	local t0 t1
	t0=$(now)
	"$@" > /tmp/start.out 2>&1 || { echo "failed: $*"; cat /tmp/start.out; exit 1; }
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }'
}

# inner CMD...: the seconds startmany says its starts took.
inner() {
	"$@" > /tmp/start.out 2>&1 || { echo "failed: $*"; cat /tmp/start.out; exit 1; }
	sed -n 's/.* processes in \([0-9.]*\) s$/\1/p' /tmp/start.out
}

for n in $(seq "$NODES"); do
	for i in $(seq 300); do
		[ "$(cat /bproc/node$n/status 2>/dev/null)" = up ] && break
		sleep 0.1
	done
done
echo "kernel $(uname -r), $(nproc) cpu per VM, $NODES nodes, REPS=$REPS," \
	"front end's link $([ "${FRONT_MBIT:-0}" = 0 ] && echo "not limited" || echo "${FRONT_MBIT} Mbit/s")," \
	"fanout $FANOUT"
ks=1
k=2
while [ "$k" -lt "$NODES" ]; do ks="$ks $k"; k=$((k * 2)); done
[ "$NODES" -gt 1 ] && ks="$ks $NODES"
# untimed: page cache, first connections
secs $S vrfork $(seq "$NODES") > /dev/null
secs bpsh 1-"$NODES" true > /dev/null
for k in $ks; do
	list=$(seq "$k")
	v= e= r= b= bs=
	for i in $(seq "$REPS"); do
		v="$v $(secs $S vrfork $list)"
		e="$e $(secs $S each $list)"
		r="$r $(secs $S rfork $list)"
		b="$b $(secs bpsh 1-$k true)"
		bs="$bs $(secs bpsh -s 1-$k true)"
	done
	v=$(echo $v | median) e=$(echo $e | median) r=$(echo $r | median)
	b=$(echo $b | median) bs=$(echo $bs | median)
	echo "RESULT k=$k vrfork_s=$v each_s=$e rfork_s=$r bpsh_s=$b" \
		"bpsh_seq_s=$bs vrfork_per_node=$(per $v $k)" \
		"each_per_node=$(per $e $k) bpsh_per_node=$(per $b $k)" \
		"each/vrfork=$(ratio $e $v) rfork/vrfork=$(ratio $r $v)" \
		"bpsh-s/bpsh=$(ratio $bs $b)"
done
# fanout N: the front end's agent takes the config's fanout N (a reload)
fanout() {
	sed -i '/^fanout /d' /etc/bproc/config
	echo "fanout $1" >> /etc/bproc/config
	kill -HUP "$(pidof bproc-nodeagent)"
	sleep 1
}
fanout "$FANOUT"
for k in $ks; do
	list=$(seq "$k")
	v= e= f=
	for i in $(seq "$REPS"); do
		v="$v $(STARTMANY_MIB=$BIG inner $S vrfork $list)"
		fanout 0
		f="$f $(STARTMANY_MIB=$BIG inner $S vrfork $list)"
		fanout "$FANOUT"
		e="$e $(STARTMANY_MIB=$BIG inner $S each $list)"
	done
	v=$(echo $v | median) e=$(echo $e | median) f=$(echo $f | median)
	echo "RESULT big=${BIG}MiB k=$k vrfork_s=$v notree_s=$f each_s=$e" \
		"vrfork_per_node=$(per $v $k) notree_per_node=$(per $f $k)" \
		"each_per_node=$(per $e $k) notree/vrfork=$(ratio $f $v)" \
		"each/vrfork=$(ratio $e $v)"
done
