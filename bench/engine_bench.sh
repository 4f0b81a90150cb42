#!/bin/bash
# engine_bench.sh - the engine's benchmark, run inside a VM of the virtual
# cluster by bench/engine_bench (which see). For a small process (the vdso
# victim) and for one with MIB MiB of touched memory (bigmem), it measures
# side by side, in the same VM (medians of REPS runs):
#   engine  the dump ioctl + the restore ioctl in a forked child, as the node
#           agent uses them (engine_bench bproc), until the restored process
#           runs; image size;
#   cli     bproc-ckpt dump --kill + bproc-ckpt restore, two program starts
#           included;
#   criu    criu dump + criu restore -d of the same victim, image size;
#   copy    the same number of bytes written from touched memory to a file
#           and read back into fresh memory (engine_bench copy): the floor
#           for moving that much memory through a file;
#   dd      the same bytes with dd (1 MiB blocks) out and back.
# Prints one RESULT line per process size with the ratios.
set -u
V=/extra/victims
W=/tmp/bench
MIB=${MIB:-256}
REPS=${REPS:-3}
[ -f /extra/engine_bench.env ] && . /extra/engine_bench.env
mkdir -p $W
rm -f $W/pause; mkfifo $W/pause; exec 9<> $W/pause

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# start NAME: the victim, waiting in pause(), stdio not a terminal.
start() {
	rm -f $W/out
	setsid "$V/$1" pause < /dev/null > $W/out 2>&1 9<&- &
	VPID=$!
	for i in $(seq 300); do grep -q ready $W/out 2>/dev/null && return 0; sleep 0.1; done
	echo "victim $1 did not start"; exit 1
}

# engine NAME: the ioctls alone; sets T and SIZE.
engine() {
	local r
	start "$1"
	r=$(/extra/engine_bench bproc $VPID "$1" $W/img) || exit 1
	T=$(echo "$r" | awk '{ printf "%.4f", $1 + $2 }')
	SIZE=$(echo "$r" | awk '{ print $3 }')
	wait $VPID 2>/dev/null
	rm -f $W/img
}

# bproc NAME: dump --kill and restore; sets T (seconds) and SIZE (bytes).
bproc() {
	local t0 t1 rpid c
	start "$1"
	t0=$(now)
	bproc-ckpt dump --kill $VPID $W/img || exit 1
	bproc-ckpt restore $W/img < /dev/null > $W/rout 2>&1 9<&- &
	rpid=$!
	while :; do
		read -r c < /proc/$rpid/comm || { echo "restore failed"; cat $W/rout; exit 1; }
		[ "$c" = "$1" ] && break
		read -r -t 0.001 -u 9 c # a 1 ms pause without a fork: the CPU is the restore's
	done
	t1=$(now)
	T=$(elapsed "$t0" "$t1")
	SIZE=$(stat -c %s $W/img)
	kill -9 $rpid; wait $rpid 2>/dev/null
	rm -f $W/img
}

# criu NAME: criu dump + criu restore -d; sets T and SIZE.
criu_run() {
	local t0 t1 rpid
	start "$1"
	rm -rf $W/criu; mkdir -p $W/criu
	t0=$(now)
	criu dump -t $VPID -D $W/criu --shell-job -o dump.log || { tail $W/criu/dump.log; exit 1; }
	criu restore -D $W/criu --shell-job -d -o restore.log --pidfile $W/criu/pid ||
		{ tail $W/criu/restore.log; exit 1; }
	t1=$(now)
	T=$(elapsed "$t0" "$t1")
	SIZE=$(du -sb $W/criu | awk '{print $1}')
	rpid=$(cat $W/criu/pid)
	kill -9 $rpid 2>/dev/null
	wait $VPID 2>/dev/null
	rm -rf $W/criu
}

# copy BYTES: engine_bench copy; sets T.
copy() {
	T=$(/extra/engine_bench copy $W/copy "$1" | awk '{ printf "%.4f", $1 + $2 }') || exit 1
}

# dd_copy BYTES: write BYTES to a file and read them back with dd; sets T.
dd_copy() {
	local t0 t1 n=$(( ($1 + 1048575) / 1048576 ))
	t0=$(now)
	dd if=/dev/zero of=$W/copy bs=1M count=$n 2>/dev/null
	dd if=$W/copy of=/dev/null bs=1M 2>/dev/null
	t1=$(now)
	T=$(elapsed "$t0" "$t1")
	rm -f $W/copy
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

med() { echo $* | tr ' ' '\n' | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

measure() { # LABEL NAME
	local label=$1 name=$2 i et= es bt= ct= cs kt= dt=
	for i in $(seq $REPS); do
		engine "$name"; et="$et $T"; es=$SIZE
		bproc "$name"; bt="$bt $T"
		criu_run "$name"; ct="$ct $T"; cs=$SIZE
		copy $es; kt="$kt $T"
		dd_copy $es; dt="$dt $T"
	done
	et=$(med $et) bt=$(med $bt) ct=$(med $ct) kt=$(med $kt) dt=$(med $dt)
	echo "RESULT $label engine_s=$et cli_s=$bt criu_s=$ct copy_s=$kt dd_s=$dt" \
		"image_bytes=$es criu_bytes=$cs criu/engine=$(ratio $ct $et)" \
		"criu/cli=$(ratio $ct $bt) engine/copy=$(ratio $et $kt) engine/dd=$(ratio $et $dt)"
}

echo "kernel $(uname -r), $(nproc) cpu, $(awk '/MemTotal/ { print $2 }' /proc/meminfo) kB," \
	"$(criu --version | head -1), REPS=$REPS"
measure small vdso
VICTIM_MIB=$MIB measure "large-${MIB}MiB" bigmem
