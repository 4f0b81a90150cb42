# engine_lib.sh - helpers of the engine's VM test scripts (sourced, bash).
# Victims are in /extra/victims (tests/victims), these scripts in /extra/vm.

V=/extra/victims
W=${ENGINE_WORK:-/tmp/engine}
mkdir -p "$W"

# wait_for FILE PATTERN [TENTHS]: wait until FILE holds a line matching PATTERN.
wait_for() {
	local i
	for i in $(seq "${3:-100}"); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# norm_maps < maps: the layout, with adjacent mappings of the same
# protection and file joined (a restore may split or join them differently
# without changing what is mapped where).
norm_maps() {
	awk '{
		path = $6; perm = $2
		if (prev_end == substr($1, 1, index($1, "-") - 1) && perm == prev_perm && path == prev_path) {
			prev_end = substr($1, index($1, "-") + 1); next
		}
		if (NR > 1) print prev_start "-" prev_end, prev_perm, prev_path
		prev_start = substr($1, 1, index($1, "-") - 1)
		prev_end = substr($1, index($1, "-") + 1); prev_perm = perm; prev_path = path
	} END { if (NR) print prev_start "-" prev_end, prev_perm, prev_path }'
}

# start_victim NAME MODE [ARGS...]: run a victim in the background, its
# output in $W/NAME.out, its stdin a pipe we hold (fd 7) for the read mode.
start_victim() {
	local name=$1
	shift
	rm -f "$W/$name.out" "$W/$name.in"
	mkfifo "$W/$name.in"
	"$V/$name" "$@" < "$W/$name.in" > "$W/$name.out" 2>&1 &
	VPID=$!
	exec 7> "$W/$name.in"
	wait_for "$W/$name.out" '^ready' || { echo "victim $name did not start"; cat "$W/$name.out"; return 1; }
}

# wake PID MODE FD: what makes a waiting victim go on.
wake() {
	case $2 in
	pause | busy) kill -USR1 "$1" ;;
	read) echo go >&"$3" ;;
	nanosleep) ;;
	esac
}

# finish PID OUTFILE: wait for the victim (at most 30 s), require PASS.
finish() {
	local i rc
	for i in $(seq 300); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$1" 2>/dev/null && { kill -9 "$1"; echo "timeout"; cat "$2"; return 1; }
	wait "$1" 2>/dev/null
	rc=$?
	if grep -q '^PASS' "$2" && [ "$rc" = 0 ]; then return 0; fi
	echo "exit status $rc"; cat "$2"
	return 1
}

# result NAME STATUS: one line per case, read by tests/test_engine.py.
result() {
	if [ "$2" = 0 ]; then echo "CASE $1 PASS"; else echo "CASE $1 FAIL"; FAILED=1; fi
}
