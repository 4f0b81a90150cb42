#!/bin/bash
# engine_cases.sh [GROUP...] - the engine's test cases, run on the front end
# of a virtual cluster with one node (tools/vcluster --nodes 1 --add
# tests/victims --add tests/vm --run ...). Groups: local (dump and restore in
# this VM), cross (dump here, restore on node 1), special (dump and go on,
# stopped process, images by content), ghost (ghost mode), move (arming
# without blocking, resuming with a result, parking without an image), space
# (watched pid namespaces, ghosts that fork), threads (a process of nine threads dumped and restored
# here and on node 1, a tid taken, a dump failing after they all stopped,
# moves still refusing threads), refuse (EOPNOTSUPP; shared anonymous memory
# only for moves; inotify, an epoll watching what does not move), malformed
# (bad images: EINVAL, no kernel warning; FDS too). The fds victim (eventfd,
# timerfd, signalfd, epoll, memfd) is in local, cross and ghost, and old image
# versions restoring in special. Default: all. Prints one line
# "CASE <name> PASS|FAIL" per case, details before it; exits 1 if any failed.
. /extra/vm/engine_lib.sh
FAILED=0
groups=${*:-local cross special ghost move space threads refuse malformed}

# p64 FILE OFFSET HEX16: write a little-endian 64-bit value.
p64() {
	local v=$3 b= i
	for i in 14 12 10 8 6 4 2 0; do b="$b\\x${v:$i:2}"; done
	printf "$b" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
p32() {
	local v=$3 b= i
	for i in 6 4 2 0; do b="$b\\x${v:$i:2}"; done
	printf "$b" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# local_case NAME MODE [DUMP-OPTIONS]
local_case() {
	local name=$1 mode=$2 case=local-$1-$2 st=0
	shift 2
	if start_victim "$name" "$mode" "$W"; then
		cat /proc/$VPID/maps > "$W/maps"
		if bproc-ckpt dump --kill "$@" $VPID "$W/img"; then
			wait $VPID 2>/dev/null
			if [ $# = 0 ]; then
				/extra/vm/engine_restore.sh "$W/img" "$name" "$mode" "$W/maps" || st=1
			else
				/extra/vm/engine_restore.sh "$W/img" "$name" "$mode" || st=1
			fi
		else
			st=1
		fi
	else
		st=1
	fi
	exec 7>&-
	[ $# = 0 ] || case=$case-content
	result "$case" $st
}

cross_case() {
	local name=$1 mode=$2 st=0
	# The two VMs' clocks agree to about a second (set from the RTC).
	if VICTIM_SLACK=1.5 start_victim "$name" "$mode" "$W"; then
		cat /proc/$VPID/maps > "$W/maps"
		if bproc-ckpt dump --kill $VPID "$W/img"; then
			wait $VPID 2>/dev/null
			vcrun 1 mkdir -p "$W" "$W/filemap.wd" >/dev/null
			vccp "$W/img" "1:$W/img" && vccp "$W/maps" "1:$W/maps" || st=1
			[ "$name" != filemap ] || vccp "$W/filemap.data" "1:$W/filemap.data" || st=1
			[ $st = 0 ] && { vcrun 1 /extra/vm/engine_restore.sh "$W/img" "$name" "$mode" "$W/maps" || st=1; }
		else
			st=1
		fi
	else
		st=1
	fi
	exec 7>&-
	result "cross-$name-$mode" $st
}

if [[ " $groups " == *" local "* ]]; then
	for c in "mem pause" "mem busy" "mem nanosleep" "mem read" "regs pause" "regs busy" \
		"regs nanosleep" "sigstate pause" "filemap pause" "vdso pause" "tls pause" \
		"tls nanosleep" "creds pause" "shanon pause" "shanon busy" "fds read"; do
		local_case $c
	done
	VICTIM_MIB=64 local_case bigmem pause
fi

if [[ " $groups " == *" cross "* ]]; then
	for c in "mem pause" "regs busy" "regs nanosleep" "sigstate pause" "filemap pause" \
		"vdso pause" "tls read" "creds pause" "shanon read" "fds read"; do
		cross_case $c
	done
fi

if [[ " $groups " == *" special "* ]]; then
	# Dumped images carry libraries, executable and other files by content.
	local_case mem pause --libs --exec --other
	local_case filemap pause --other

	# Dump and go on: the original is untouched and the image restores too.
	st=0
	start_victim mem pause && bproc-ckpt dump $VPID "$W/img" || st=1
	orig=$VPID
	/extra/vm/engine_restore.sh "$W/img" mem pause || st=1
	wake $orig pause 7; finish $orig "$W/mem.out" || st=1
	exec 7>&-
	result dump-and-continue $st

	# restore --agent (how a node agent restores): the engine tells the
	# notify pipe "restored" (one byte 01); /proc/PID/exe is the image's
	# executable again, so busybox re-executing itself runs its applets.
	st=0
	sh -c 'i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done' \
		> "$W/ag1.out" 2>&1 &
	orig=$!
	sleep 0.5
	bproc-ckpt dump --kill $orig "$W/agimg" || st=1
	rm -f "$W/ag.n"; mkfifo "$W/ag.n"
	od -An -tx1 < "$W/ag.n" > "$W/ag.notify" &
	odpid=$!
	bproc-ckpt restore --agent 3 4 5 3<"$W/agimg" 4<"$W/agimg" 5>"$W/ag.n" \
		> "$W/ag2.out" 2>&1 &
	rpid=$!
	wait $odpid
	[ "$(tr -d ' ' < "$W/ag.notify")" = 01 ] || { echo "notify: $(cat "$W/ag.notify")"; st=1; }
	exe=$(readlink /proc/$rpid/exe)
	[ "$exe" = /bin/busybox ] || { echo "exe is $exe"; st=1; }
	sleep 0.5
	kill $rpid
	last=$(tail -1 "$W/ag1.out" | awk '{print $2}')
	first=$(head -1 "$W/ag2.out")
	[ "$first" = "tick $((last + 1))" ] || { echo "restored first line: $first after $last"; cat "$W/ag2.out"; st=1; }
	grep -v '^tick' "$W/ag2.out" && { echo "stray output above"; st=1; }
	result agent-restore $st

	# Streams (--streams): a pipe the process writes at fd 5 goes into the
	# image as a stream; a plain restore refuses such an image, restore
	# --agent given a pipe at fd 5 restores it and the program writes on
	# into the new pipe.
	st=0
	rm -f "$W/s1.fifo" "$W/s2.fifo"; mkfifo "$W/s1.fifo" "$W/s2.fifo"
	cat "$W/s1.fifo" > "$W/s1.cat" &
	cat "$W/s2.fifo" > "$W/s2.cat" &
	cat2=$!
	sh -c 'i=0; while :; do i=$((i+1)); echo s $i >&5; sleep 0.1; done' \
		5> "$W/s1.fifo" > /dev/null 2>&1 &
	orig=$!
	sleep 0.5
	bproc-ckpt dump "$orig" "$W/simg" 2> "$W/s.err" &&
		{ echo "a pipe at fd 5 was dumped without --streams"; st=1; }
	grep -q 'fd 5 is a pipe' "$W/s.err" || { cat "$W/s.err"; st=1; }
	bproc-ckpt dump --kill --streams "$orig" "$W/simg" || st=1
	bproc-imgdump "$W/simg" | grep -q '^  fd 5 flags .* <stream>$' ||
		{ bproc-imgdump "$W/simg" | grep '  fd '; st=1; }
	bproc-ckpt restore "$W/simg" 2> "$W/s.err" && st=1
	grep -q 'fd 5: Invalid argument (EINVAL): a stream that only an agent can give' \
		"$W/s.err" || { cat "$W/s.err"; st=1; }
	bproc-ckpt restore --agent 3 4 6 3<"$W/simg" 4<"$W/simg" 6>/dev/null \
		5> "$W/s2.fifo" > /dev/null 2>&1 &
	rpid=$!
	sleep 1
	kill $rpid
	wait $cat2
	last=$(tail -1 "$W/s1.cat" | awk '{print $2}')
	first=$(head -1 "$W/s2.cat")
	[ -n "$last" ] && [ "$first" = "s $((last + 1))" ] ||
		{ echo "stream: '$first' after '$last'"; st=1; }
	result stream-agent $st

	# Signals that arrive while a process writes its own image (2 MB) into
	# a full pipe wait until the dump is over: the dump goes through, the
	# process gets them after.
	st=0
	# (dumped once its 2 MB are built: while it reads them from a pipe, the
	# dump is refused)
	sh -c 'big=$(head -c 2000000 /dev/zero | tr "\\0" x); n=0
		trap "n=\$((n+1)); echo usr2 \$n" USR2
		echo ready
		while :; do sleep 0.1; done' > "$W/ds.out" 2>&1 &
	orig=$!
	wait_for "$W/ds.out" '^ready' 600 || { echo "the shell did not start"; st=1; }
	( bproc-ckpt dump $orig - | { sleep 2; cat > "$W/ds.img"; } ) 2> "$W/ds.err" &
	dpid=$!
	sleep 0.5
	for i in 1 2 3; do kill -USR2 $orig; sleep 0.2; done
	wait $dpid || { echo "dump: $(cat "$W/ds.err")"; st=1; }
	bproc-imgdump "$W/ds.img" > /dev/null || { cat "$W/ds.err"; st=1; }
	wait_for "$W/ds.out" '^usr2 ' || { echo "the signals were lost"; st=1; }
	kill $orig
	result dump-signalled $st

	# A failure goes to the notify pipe as one line, not to the program's stderr.
	st=0
	head -c 3000 "$W/agimg" > "$W/agbad"
	bproc-ckpt restore --agent 3 4 5 3<"$W/agimg" 4<"$W/agbad" 5>"$W/ag.err" \
		> "$W/ag3.out" 2>&1 && st=1
	grep -q '^E22 restore: Invalid argument: ' "$W/ag.err" || { cat "$W/ag.err"; st=1; }
	[ -s "$W/ag3.out" ] && { cat "$W/ag3.out"; st=1; }
	result agent-restore-bad $st

	# A stopped process: dumped while stopped, stays stopped, then goes on;
	# its image restores stopped, and goes on once continued.
	st=0
	start_victim regs busy || st=1
	orig=$VPID
	kill -STOP $orig; sleep 0.2
	bproc-ckpt dump $orig "$W/img" || st=1
	state=$(awk '{print $3}' /proc/$orig/stat)
	[ "$state" = T ] || { echo "stopped process is now in state $state"; st=1; }
	STOPPED=1 /extra/vm/engine_restore.sh "$W/img" regs busy || st=1
	kill -CONT $orig; wake $orig busy 7; finish $orig "$W/regs.out" || st=1
	exec 7>&-
	result stopped $st

	# A ptrace-stopped process: dumped in its stop, goes on once detached.
	st=0
	start_victim regs busy || st=1
	orig=$VPID
	rm -f "$W/tr.in"; mkfifo "$W/tr.in"
	"$V/tracer" $orig < "$W/tr.in" > "$W/tr.out" 2>&1 &
	trpid=$!
	exec 6> "$W/tr.in"
	wait_for "$W/tr.out" '^stopped' || { cat "$W/tr.out"; st=1; }
	bproc-ckpt dump $orig "$W/img" || st=1
	state=$(awk '{print $3}' /proc/$orig/stat)
	[ "$state" = t ] || { echo "traced process is now in state $state"; st=1; }
	/extra/vm/engine_restore.sh "$W/img" regs busy || st=1
	echo go >&6; exec 6>&-
	wait $trpid || { cat "$W/tr.out"; st=1; }
	wake $orig busy 7; finish $orig "$W/regs.out" || st=1
	exec 7>&-
	result ptrace-stopped $st

	# Streamed: dump into a pipe, restore from it, no file in between.
	st=0
	start_victim mem pause || st=1
	cat /proc/$VPID/maps > "$W/maps"
	bproc-ckpt dump --kill $VPID - | bproc-ckpt restore - > "$W/stream.out" 2>&1 &
	rpid=$!
	for i in $(seq 100); do
		[ "$(cat /proc/$rpid/comm 2>/dev/null)" = mem ] && break
		sleep 0.1
	done
	norm_maps < "$W/maps" > "$W/maps.before"
	norm_maps < /proc/$rpid/maps > "$W/maps.after"
	diff "$W/maps.before" "$W/maps.after" || st=1
	kill -USR1 $rpid
	finish $rpid "$W/stream.out" || st=1
	exec 7>&-
	result stream $st

	# A file the image needs is missing where it is restored: refused, with
	# its name, before anything changes.
	st=0
	start_victim filemap pause "$W" || st=1
	bproc-ckpt dump --kill $VPID "$W/img" || st=1
	exec 7>&-
	wait $VPID 2>/dev/null
	mv "$W/filemap.data" "$W/filemap.data.away"
	if bproc-ckpt restore "$W/img" > "$W/err" 2>&1; then echo "restore worked"; st=1; fi
	cat "$W/err"
	grep -q '(ENOENT).*filemap.data' "$W/err" || st=1
	mv "$W/filemap.data.away" "$W/filemap.data"
	result missing-file $st

	# Images of versions 1 and 2 (no threads, no kernel objects) restore.
	for v in 1 2; do
		st=0
		start_victim mem pause || st=1
		bproc-ckpt dump --kill $VPID "$W/img" || st=1
		wait $VPID 2>/dev/null
		exec 7>&-
		# (an image without kernel objects is written as version 2)
		bproc-imgdump "$W/img" | grep -q "^image: .* version 2 " || st=1
		p32 "$W/img" 4 0000000$v
		bproc-imgdump "$W/img" | grep -q "^image: .* version $v " || st=1
		/extra/vm/engine_restore.sh "$W/img" mem pause || st=1
		result image-version-$v $st
	done

	# The program sent whole (--exec) goes with its file (EXEFILE, image
	# version 4): restored, /proc/PID/exe names it as Linux names a program
	# removed after it was executed, and executing that runs the program
	# (not bproc-ckpt, the restorer); dumped again by path, it has no path
	# to give and goes with its file again. Dumped by path while the file
	# is there, the image is version 2 without it.
	st=0
	size=$(stat -c %s $V/mover)
	rm -rf /tmp/exe-x; mkdir -p /tmp/exe-x
	cp $V/mover /tmp/exe-x/ex-prog
	rm -f "$W/ex.in"; mkfifo "$W/ex.in"
	/tmp/exe-x/ex-prog 1 < "$W/ex.in" > "$W/ex.out" 2>&1 &
	orig=$!
	exec 7> "$W/ex.in"
	wait_for "$W/ex.out" '^ready' || { echo "ex-prog did not start"; st=1; }
	bproc-ckpt dump $orig "$W/expath.img" || st=1
	bproc-imgdump "$W/expath.img" > "$W/expath.txt" || st=1
	grep -q '^image: .* version 2 ' "$W/expath.txt" || { echo "by path: not version 2"; st=1; }
	grep -E 'EXEFILE|^exefile' "$W/expath.txt" && { echo "by path: EXEFILE"; st=1; }
	bproc-ckpt dump --kill --exec $orig "$W/ex.img" || st=1
	wait $orig 2>/dev/null
	exec 7>&-
	rm -rf /tmp/exe-x
	# ex_check IMAGE TAG: the image holds the program's file; restored, the
	# process has it as its exe, runs it, and its memory is as it was.
	ex_check() {
		local pat
		bproc-imgdump "$1" > "$W/ex.$2.txt" || { echo "$2: imgdump"; return 1; }
		for pat in '^image: .* version 4 ' '^section EXEFILE ' \
			"^exefile: /tmp/exe-x/ex-prog size $size mode 0755\$"; do
			grep -q -- "$pat" "$W/ex.$2.txt" || { echo "$2: no '$pat'"; grep -i exe "$W/ex.$2.txt"; return 1; }
		done
		rm -f "$W/ex.rin"; mkfifo "$W/ex.rin"
		bproc-ckpt restore "$1" < "$W/ex.rin" > "$W/ex.$2.out" 2>&1 &
		rpid=$!
		exec 7> "$W/ex.rin"
		for i in $(seq 100); do
			[ "$(cat /proc/$rpid/comm 2>/dev/null)" = ex-prog ] && break
			kill -0 $rpid 2>/dev/null || break
			sleep 0.1
		done
		[ "$(cat /proc/$rpid/comm 2>/dev/null)" = ex-prog ] ||
			{ echo "$2: not restored"; cat "$W/ex.$2.out"; return 1; }
		echo check >&7
		wait_for "$W/ex.$2.out" '^check ok$' || { echo "$2: memory"; cat "$W/ex.$2.out"; return 1; }
		exe=$(readlink /proc/$rpid/exe)
		echo "$2: /proc/PID/exe -> $exe"
		[ "$exe" = "/tmp/exe-x/ex-prog (deleted)" ] || { echo "$2: exe is '$exe'"; return 1; }
		ran=$(/proc/$rpid/exe 2>&1)
		[ "$ran" = "usage: mover MB [FILE]" ] || { echo "$2: executing its exe: '$ran'"; return 1; }
		[ "$(stat -L -c %s /proc/$rpid/exe)" = "$size" ] || { echo "$2: exe size"; return 1; }
		cmp -s $V/mover /proc/$rpid/exe || { echo "$2: exe content"; return 1; }
	}
	ex_check "$W/ex.img" whole || st=1
	bproc-ckpt dump --kill $rpid "$W/ex2.img" || st=1
	wait $rpid 2>/dev/null
	exec 7>&-
	ex_check "$W/ex2.img" again || st=1
	exec 7>&-
	wait $rpid; rc=$?
	[ $rc = 3 ] || { echo "exit status $rc"; cat "$W/ex.again.out"; st=1; }
	result exe-whole $st

	# A program removed after it was executed goes with its file whatever
	# is asked (it has no path to give); a file size limit (4 KiB here,
	# below the program's size) does not keep the engine from making it.
	st=0
	mkdir -p /tmp/exe-x
	cp $V/mover /tmp/exe-x/ex-prog
	(ulimit -f 4; exec /tmp/exe-x/ex-prog 1) < "$W/ex.in" > "$W/ex.out" 2>&1 &
	orig=$!
	exec 7> "$W/ex.in"
	wait_for "$W/ex.out" '^ready' || { echo "ex-prog did not start"; st=1; }
	rm -rf /tmp/exe-x
	# (into a pipe: the process writes its image itself, within its limit)
	bproc-ckpt dump --kill $orig - | cat > "$W/exdel.img" || st=1
	wait $orig 2>/dev/null
	exec 7>&-
	ex_check "$W/exdel.img" deleted || st=1
	exec 7>&-
	wait $rpid; rc=$?
	[ $rc = 3 ] || { echo "exit status $rc"; st=1; }
	result exe-deleted $st

	# bproc-imgdump shows the kernel objects (FDS) and their state.
	st=0
	start_victim fds read || st=1
	bproc-ckpt dump --kill $VPID "$W/fimg" || st=1
	wait $VPID 2>/dev/null
	exec 7>&-
	bproc-imgdump "$W/fimg" > "$W/fimg.txt" || st=1
	for pat in '^image: .* version 3 ' '^section FDS ' '^section MEMFD ' ' eventfd count 5$' \
		' eventfd count 3 semaphore$' \
		' timerfd clock 1 flags 0 ticks [0-9]* value 0\.[0-9]* interval 0\.200000000$' \
		' signalfd mask 0000000000000200$' ' epoll$' \
		' memfd "bproc-test" size 12388 seals 0x6 pos 123$' \
		' unopened memfd "only-mapped" size 8192 seals 0x1 pos 0$' \
		' epoll fd [0-9]* watches fd [0-9]* events 0x80000019 data 0x4444$' \
		'memfd .*<memfd fd [0-9]*>$' ' fd [0-9]* flags .* /dev/null$'; do
		grep -q -- "$pat" "$W/fimg.txt" || { echo "no '$pat'"; st=1; }
	done
	[ $st = 0 ] || cat "$W/fimg.txt"
	result fds-imgdump $st

	# A dump of a process that is gone fails with ESRCH.
	st=0
	start_victim mem pause || st=1
	bproc-ckpt dump --kill $VPID "$W/img" || st=1
	bproc-ckpt dump $VPID "$W/img2" 2> "$W/err" && { echo "dump of a dead process worked"; st=1; }
	grep -q ESRCH "$W/err" || { cat "$W/err"; st=1; }
	exec 7>&-
	result dump-killed-gone $st
fi

# ghost_case END STATUS NAME: a ghost ended by END must exit with STATUS,
# its parent's wait() seeing exactly that, and dump no core.
ghost_case() {
	local st=0 gpid status args kept r
	rm -f "$W"/core.*
	start_victim mem pause || st=1
	args=$(tr '\0' ' ' < /proc/$VPID/cmdline)
	"$V/ghostctl" $VPID 2 "$1" > "$W/ghost.out" 2>&1 &
	gpid=$!
	if wait_for "$W/ghost.out" '^ghost'; then
		# Only the vDSO and vvar are left (kept for a move back), and
		# one page of its own holding its command line (for ps).
		kept=$(grep -v -e '\[vdso\]' -e '\[vvar\]' /proc/$VPID/maps)
		r=${kept%% *}
		if [ "$(echo "$kept" | wc -l)" != 1 ] ||
			[ $((0x${r#*-} - 0x${r%-*})) != 4096 ] ||
			[ "$(echo "$kept" | awk '{ print $2, $5 }')" != "rw-p 0" ]; then
			echo "$kept"
			echo "the ghost keeps memory"; st=1
		fi
		[ "$(tr '\0' ' ' < /proc/$VPID/cmdline)" = "$args" ] ||
			{ echo "the ghost's command line: '$(tr '\0' ' ' < /proc/$VPID/cmdline)', not '$args'"; st=1; }
		kill -USR1 $VPID; sleep 0.2; kill -TERM $VPID
		wait_for "$W/ghost.out" '^event 15' || st=1
		grep -q '^event 10 ' "$W/ghost.out" || st=1
	else
		st=1
	fi
	wait $gpid || st=1
	wait $VPID; status=$?
	[ "$status" = "$2" ] || { echo "ghost ended with status $status, expected $2"; st=1; }
	cat "$W/ghost.out"
	grep -q '^gone' "$W/ghost.out" || st=1
	if ls "$W"/core.* 2>/dev/null; then echo "the ghost dumped core"; st=1; fi
	# parked without an image (BPROC_DUMP_NOIMAGE): none written
	case $1 in
	noimage+*) grep -q '^noimage 0 0$' "$W/ghost.out" || st=1 ;;
	esac
	exec 7>&-
	result "ghost-$3" $st
}

if [[ " $groups " == *" ghost "* ]]; then
	echo "$W/core.%p" > /proc/sys/kernel/core_pattern
	ulimit -S -c unlimited
	ghost_case code:42 42 code
	ghost_case signal:15 143 signal
	ghost_case close 137 close
	ghost_case code:0 0 code-0
	ghost_case code:255 255 code-255
	ghost_case signal:9 137 signal-kill
	ghost_case signal:11 139 signal-segv
	ghost_case signal:6 134 signal-abrt
	ghost_case noimage+code:42 42 noimage
	ulimit -S -c 0

	# Job control: the ghost stops for real on SIGTSTP and SIGSTOP (its
	# parent's waitpid(WUNTRACED) sees it), goes on after SIGCONT,
	# reports all four, and then ends as told.
	st=0
	"$V/jobwait" "$V/mem" pause > "$W/jw.out" 2>&1 &
	jpid=$!
	if wait_for "$W/jw.out" '^ready'; then
		VPID=$(awk '$1 == "ready" { print $2 }' "$W/jw.out")
		"$V/ghostctl" $VPID 5 code:7 > "$W/ghost.out" 2>&1 &
		gpid=$!
		wait_for "$W/ghost.out" '^ghost' || st=1
		kill -TSTP $VPID
		wait_for "$W/jw.out" '^stopped 20' || st=1
		state=$(awk '{print $3}' /proc/$VPID/stat)
		[ "$state" = T ] || { echo "the ghost is in state $state"; st=1; }
		kill -CONT $VPID
		wait_for "$W/jw.out" '^continued' || st=1
		wait_for "$W/ghost.out" '^event 18 ' || st=1
		kill -STOP $VPID
		wait_for "$W/jw.out" '^stopped 19' || st=1
		kill -CONT $VPID
		wait_for "$W/ghost.out" '^event 18 .*' || st=1
		sleep 0.3
		# Stopping when told to end: it is continued and ends (the
		# parent may see the stop, the continue that follows, both, or
		# only the exit).
		kill -TSTP $VPID
		wait $gpid || st=1
		wait $jpid || st=1
		cat "$W/jw.out" "$W/ghost.out"
		# The last continue may be overtaken by the exit in what the
		# parent sees, so two or three.
		case "$(grep -c '^continued' "$W/jw.out")" in
		2|3) ;;
		*) st=1 ;;
		esac
		[ "$(grep -v '^ready' "$W/jw.out" | head -4 | tr '\n' ' ')" = \
			"stopped 20 continued stopped 19 continued " ] || st=1
		[ "$(grep '^event' "$W/ghost.out" | cut -d' ' -f2 | tr '\n' ' ')" = "20 18 19 18 20 " ] || st=1
		grep -q '^exited 7' "$W/jw.out" || st=1
	else
		cat "$W/jw.out"; st=1
	fi
	result ghost-jobcontrol $st

	# SIGKILL sent to a ghost is reported, then kills it.
	st=0
	start_victim mem pause || st=1
	"$V/ghostctl" $VPID 3 none > "$W/ghost.out" 2>&1 &
	gpid=$!
	wait_for "$W/ghost.out" '^ghost' || st=1
	kill -USR1 $VPID; sleep 0.2; kill -TERM $VPID; sleep 0.2; kill -KILL $VPID
	wait $gpid || st=1
	wait $VPID; status=$?
	cat "$W/ghost.out"
	[ "$status" = 137 ] || { echo "ghost ended with status $status"; st=1; }
	[ "$(grep '^event' "$W/ghost.out" | cut -d' ' -f2 | tr '\n' ' ')" = "10 15 9 " ] || st=1
	grep -q '^gone' "$W/ghost.out" || st=1
	exec 7>&-
	result ghost-sigkill $st

	# A ghost that keeps the process's threads (GHOST_THREADS, module
	# 1.8): each holds its tid, takes what is sent to it alone (reported
	# with that tid; the main thread's with the pid, the process's with 0),
	# stops with the ghost, and is ended and made again on request.
	st=0
	start_victim threads pause || st=1
	set -- $(grep '^tids' "$W/threads.out")
	w3=$5
	"$V/ghostthreads" $VPID 5 > "$W/gt.out" 2>&1 &
	gpid=$!
	wait_for "$W/gt.out" '^ghost' || st=1
	grep -q '^tasks 9$' "$W/gt.out" || st=1
	"$V/tgkill" $VPID $w3 USR1
	wait_for "$W/gt.out" "^event 10 $w3\$" || st=1
	kill -USR2 $VPID
	wait_for "$W/gt.out" '^event 12 0$' || st=1
	"$V/tgkill" $VPID $VPID WINCH
	wait_for "$W/gt.out" "^event 28 $VPID\$" || st=1
	kill -STOP $VPID
	wait_for "$W/gt.out" '^event 19 0$' || st=1
	for i in $(seq 100); do
		states=$(cat /proc/$VPID/task/*/stat 2>/dev/null | awk '{ print $3 }' | sort -u | tr '\n' ' ')
		[ "$states" = "T " ] && break
		sleep 0.1
	done
	[ "$states" = "T " ] || { echo "its threads are '$states', not all stopped"; st=1; }
	kill -CONT $VPID
	wait $gpid || st=1
	wait $VPID; status=$?
	cat "$W/gt.out"
	[ "$status" = 7 ] || { echo "ghost ended with status $status"; st=1; }
	for l in '^event 18 0$' '^end-unknown ESRCH$' '^both EINVAL$' '^ended [0-9]' \
		'^made [0-9]' '^again 9$' '^gone$'; do
		grep -q "$l" "$W/gt.out" || { echo "no line $l"; st=1; }
	done
	exec 7>&-
	result ghost-threads $st

	# Back home: the image restores into the ghost, which becomes the
	# program again with its pid, memory and stdout; a bad image first
	# fails and leaves the ghost a ghost. Its parent then reaps it.
	st=0
	start_victim mem pause || st=1
	norm_maps < /proc/$VPID/maps > "$W/maps.before"
	"$V/ghostctl" $VPID 1 restore > "$W/ghost.out" 2>&1 &
	gpid=$!
	wait_for "$W/ghost.out" '^ghost' || st=1
	kill -WINCH $VPID
	wait_for "$W/ghost.out" '^gone' || st=1
	wait $gpid || st=1
	cat "$W/ghost.out"
	grep -q '^event 28 ' "$W/ghost.out" || st=1
	grep -q '^refused ' "$W/ghost.out" || st=1
	grep -q '^restored' "$W/ghost.out" || st=1
	norm_maps < /proc/$VPID/maps > "$W/maps.after"
	diff "$W/maps.before" "$W/maps.after" || { echo "memory layout differs"; st=1; }
	wake $VPID pause 7; finish $VPID "$W/mem.out" || st=1
	exec 7>&-
	result ghost-restore $st

	# There and back: the ghost's image runs on node 1, is dumped there and
	# comes home into the ghost, which then ends as the program does.
	st=0
	start_victim mem pause || st=1
	norm_maps < /proc/$VPID/maps > "$W/maps.before"
	rm -f "$W/back.img"
	GHOST_IMG=$W/back.img "$V/ghostctl" $VPID 1 restore > "$W/ghost.out" 2>&1 &
	gpid=$!
	wait_for "$W/ghost.out" '^ghost' || st=1
	vcrun 1 mkdir -p "$W" >/dev/null
	vccp /tmp/ghost.img "1:$W/away.img" || st=1
	vcrun 1 /extra/vm/engine_roundtrip.sh "$W/away.img" "$W/back.img" || st=1
	vccp "1:$W/back.img" "$W/back.img" || st=1
	kill -WINCH $VPID
	wait_for "$W/ghost.out" '^gone' || st=1
	wait $gpid || st=1
	cat "$W/ghost.out"
	grep -q '^restored' "$W/ghost.out" || st=1
	norm_maps < /proc/$VPID/maps > "$W/maps.after"
	diff "$W/maps.before" "$W/maps.after" || { echo "memory layout differs"; st=1; }
	wake $VPID pause 7; finish $VPID "$W/mem.out" || st=1
	exec 7>&-
	result ghost-roundtrip $st

	# Coming home, the ghost takes the image's open files (fd 3 and up,
	# reopened by path, offsets from the image) in place of its own: the
	# data file replaced meanwhile by a copy, the program holds the copy.
	st=0
	start_victim filemap pause "$W" || st=1
	"$V/ghostctl" $VPID 1 restore > "$W/ghost.out" 2>&1 &
	gpid=$!
	wait_for "$W/ghost.out" '^ghost' || st=1
	mv "$W/filemap.data" "$W/filemap.data.old"
	cp "$W/filemap.data.old" "$W/filemap.data"
	kill -WINCH $VPID
	wait_for "$W/ghost.out" '^gone' || st=1
	wait $gpid || st=1
	cat "$W/ghost.out"
	ls -l /proc/$VPID/fd/
	if ls -l /proc/$VPID/fd/ | grep -q 'filemap.data.old'; then
		echo "the ghost's own descriptors stayed"; st=1
	fi
	ls -l /proc/$VPID/fd/ | grep -q 'filemap.data$' || st=1
	wake $VPID pause 7; finish $VPID "$W/filemap.out" || st=1
	rm -f "$W/filemap.data.old"
	exec 7>&-
	result ghost-restore-files $st

	# Coming home with a descriptor map (BPROC_IOC_GHOST_RESTORE_MAP): the
	# program's fd 1 becomes the ghost's fd 5, as when a shell that moved
	# itself put its saved stdout back; a map from a closed fd is refused.
	st=0
	rm -f "$W/mem.out" "$W/map5.out" "$W/mem.in"
	mkfifo "$W/mem.in"
	"$V/mem" pause < "$W/mem.in" > "$W/mem.out" 2>&1 5> "$W/map5.out" &
	VPID=$!
	exec 7> "$W/mem.in"
	wait_for "$W/mem.out" '^ready' || st=1
	"$V/ghostctl" $VPID 1 restoremap:5 > "$W/ghost.out" 2>&1 &
	gpid=$!
	wait_for "$W/ghost.out" '^ghost' || st=1
	kill -WINCH $VPID
	wait_for "$W/ghost.out" '^gone' || st=1
	wait $gpid || st=1
	cat "$W/ghost.out"
	grep -q '^refused fd 999 (to be fd 1) is not open' "$W/ghost.out" || st=1
	[ "$(readlink /proc/$VPID/fd/1)" = "$W/map5.out" ] ||
		{ ls -l /proc/$VPID/fd/; st=1; }
	wake $VPID pause 7; finish $VPID "$W/map5.out" || st=1
	exec 7>&-
	result ghost-restore-map $st

	# Coming home with kernel objects (BPROC_GHOST_MAP_CALLER): ghostctl
	# has `bproc-ckpt objects` make the fds victim's eventfds, timerfds,
	# signalfd, epolls and memfds and gives them in the map with the
	# ghost's fds 0-2, as the front end's agent does. Without a map, and
	# with the first object left out of it, the restore is refused with a
	# reason naming it and the ghost stays a ghost; then it restores and
	# the victim checks every object's state.
	st=0; stm=0
	if start_victim fds read; then
		"$V/ghostctl" $VPID 1 objects > "$W/ghost.out" 2>&1 &
		gpid=$!
		wait_for "$W/ghost.out" '^ghost' || st=1
		kill -WINCH $VPID
		wait_for "$W/ghost.out" '^gone' 300 || st=1
		wait $gpid || st=1
		cat "$W/ghost.out"
		grep -q '^refused fd 3: the image.s kernel objects must be given in a descriptor map' "$W/ghost.out" || stm=1
		grep -q '^refused fd 3: the image.s eventfd is not in the descriptor map' "$W/ghost.out" || stm=1
		grep -q '^restored' "$W/ghost.out" || st=1
		# (a victim gone with its ghost: no reader, no SIGPIPE here)
		kill -0 $VPID 2>/dev/null && echo go >&7
		finish $VPID "$W/fds.out" || st=1
	else
		st=1; stm=1
	fi
	exec 7>&-
	result ghost-restore-objects-missing $stm
	result ghost-restore-objects $st
fi

if [[ " $groups " == *" move "* ]]; then
	# A process blocked in a write() (to a pipe nobody reads) is armed
	# (BPROC_DUMP_ASYNC), writes its image on its way out of the write,
	# and is resumed with the write failing with EIO.
	st=0
	rm -f "$W/wb.fifo"; mkfifo "$W/wb.fifo"
	exec 5<> "$W/wb.fifo"
	"$V/wblock" 5 > "$W/wb.fifo" 2> "$W/wb.out" 5<&- &
	VPID=$!
	wait_for "$W/wb.out" '^ready' || st=1
	for i in $(seq 100); do
		[ "$(cut -d' ' -f1,2 /proc/$VPID/syscall 2>/dev/null)" = "1 0x1" ] && break
		sleep 0.1
	done
	"$V/movectl" $VPID "$W/img" ret:5 > "$W/move.out" 2>&1 || st=1
	cat "$W/move.out"
	grep -q '^result 0 [1-9]' "$W/move.out" || st=1
	finish $VPID "$W/wb.out" || st=1
	exec 5<&-
	result move-async-ret $st

	# An asynchronous dump that fails is reported through the handle; the
	# process stays parked until the handle goes, then goes on.
	st=0
	if start_victim refuse pipe; then
		"$V/movectl" $VPID "$W/img" close > "$W/move.out" 2>&1 || st=1
		cat "$W/move.out"
		grep -q '^result 95 .*pipe' "$W/move.out" || st=1
		wake $VPID pause 7; finish $VPID "$W/refuse.out" || st=1
	else
		st=1
	fi
	exec 7>&-
	result move-async-fail $st

	# Resumed before it could begin its dump (it waits killably for a
	# vfork child): no dump at all, ECANCELED, and it goes on.
	st=0
	"$V/vforker" 2 > "$W/vf.out" 2>&1 &
	VPID=$!
	wait_for "$W/vf.out" '^ready' || st=1
	sleep 0.3
	"$V/movectl" $VPID "$W/img" early > "$W/move.out" 2>&1 || st=1
	cat "$W/move.out"
	grep -q '^result 125 0 ' "$W/move.out" || st=1
	finish $VPID "$W/vf.out" || st=1
	result move-async-cancel $st

	# Parked without an image (BPROC_DUMP_NOIMAGE, module 1.10), as a copy
	# is: a process a dump refuses (a pipe at fd 3) is parked all the same,
	# nothing written to the pipe given, and becomes a ghost that keeps its
	# pid and command line, gives up its memory, reports the SIGUSR1 that
	# would have ended it well (no PASS), with us as its sender, and ends
	# with the code its parent sees.
	st=0
	if start_victim refuse pipe; then
		args=$(tr '\0' ' ' < /proc/$VPID/cmdline)
		"$V/movectl" -n $VPID pipe ghost:42 > "$W/move.out" 2>&1 &
		mpid=$!
		if wait_for "$W/move.out" '^ghost'; then
			grep -q '^result 0 0 $' "$W/move.out" || st=1
			grep -q '^output 0$' "$W/move.out" || st=1
			if grep -q -e '\[heap\]' -e '\[stack\]' -e 'refuse' /proc/$VPID/maps; then
				cat /proc/$VPID/maps; echo "the ghost keeps memory"; st=1
			fi
			[ "$(tr '\0' ' ' < /proc/$VPID/cmdline)" = "$args" ] ||
				{ echo "the ghost's command line changed"; st=1; }
			kill -USR1 $VPID
		else
			st=1
		fi
		wait $mpid || st=1
		wait $VPID; status=$?
		cat "$W/move.out" "$W/refuse.out"
		[ "$status" = 42 ] || { echo "ghost ended with status $status"; st=1; }
		grep -q "^event 10 $$\$" "$W/move.out" || st=1
		grep -q '^gone$' "$W/move.out" || st=1
		! grep -q PASS "$W/refuse.out" || { echo "the victim ran again"; st=1; }
	else
		st=1
	fi
	exec 7>&-
	result move-noimage-ghost $st

	# Parked without an image and resumed (fd -1: no file at all; without
	# NOIMAGE, fd -1 is refused, EBADF): the process, which holds a device
	# mapping that a dump refuses, goes on unchanged and passes.
	st=0
	if start_victim refuse devmap; then
		"$V/movectl" $VPID - resume > "$W/move.out" 2>&1 && st=1
		grep -q 'Bad file descriptor' "$W/move.out" || st=1
		"$V/movectl" -n $VPID - resume >> "$W/move.out" 2>&1 || st=1
		cat "$W/move.out"
		grep -q '^result 0 0 $' "$W/move.out" || st=1
		grep -q '^output -1$' "$W/move.out" || st=1
		wake $VPID pause 7; finish $VPID "$W/refuse.out" || st=1
	else
		st=1
	fi
	exec 7>&-
	result move-noimage-resume $st

	# Parked without an image in a write() it blocks in, resumed with the
	# write failing with EIO (BPROC_IOC_RESUME_RET); the image file stays
	# empty.
	st=0
	rm -f "$W/wb.fifo" "$W/img"; mkfifo "$W/wb.fifo"
	exec 5<> "$W/wb.fifo"
	"$V/wblock" 5 > "$W/wb.fifo" 2> "$W/wb.out" 5<&- &
	VPID=$!
	wait_for "$W/wb.out" '^ready' || st=1
	for i in $(seq 100); do
		[ "$(cut -d' ' -f1,2 /proc/$VPID/syscall 2>/dev/null)" = "1 0x1" ] && break
		sleep 0.1
	done
	"$V/movectl" -n $VPID "$W/img" ret:5 > "$W/move.out" 2>&1 || st=1
	cat "$W/move.out"
	grep -q '^result 0 0 $' "$W/move.out" || st=1
	grep -q '^output 0$' "$W/move.out" || st=1
	[ ! -s "$W/img" ] || { echo "an image was written"; st=1; }
	finish $VPID "$W/wb.out" || st=1
	exec 5<&-
	result move-noimage-ret $st

	# Threads: without BPROC_DUMP_THREADS a process with two is refused
	# (EOPNOTSUPP) and goes on; with it both park, and the ghost is left
	# alone (the other thread ended), reports a signal and ends as told.
	st=0
	if start_victim refuse threads; then
		"$V/movectl" -n $VPID - resume > "$W/move.out" 2>&1 && st=1
		grep -q 'dump: the process has 2 threads' "$W/move.out" || st=1
		kill -0 $VPID || st=1
		"$V/movectl" -n -t $VPID - ghost:3 >> "$W/move.out" 2>&1 &
		mpid=$!
		if wait_for "$W/move.out" '^ghost'; then
			for i in $(seq 50); do
				[ "$(ls /proc/$VPID/task | wc -l)" = 1 ] && break
				sleep 0.1
			done
			[ "$(ls /proc/$VPID/task | wc -l)" = 1 ] ||
				{ echo "the ghost has $(ls /proc/$VPID/task | wc -l) threads"; st=1; }
			kill -USR1 $VPID
		else
			st=1
		fi
		wait $mpid || st=1
		wait $VPID; status=$?
		cat "$W/move.out"
		grep -q '^result 0 0 $' "$W/move.out" || st=1
		[ "$status" = 3 ] || { echo "ghost ended with status $status"; st=1; }
		grep -q "^event 10 $$\$" "$W/move.out" || st=1
		grep -q '^gone$' "$W/move.out" || st=1
	else
		st=1
	fi
	exec 7>&-
	result move-noimage-threads $st
fi

if [[ " $groups " == *" space "* ]]; then
	# A watched pid namespace: its forks, exits (wait status) and reapings
	# are events, its new pids stay in the range asked for.
	st=0
	timeout 60 "$V/spacectl" watch 5000 6000 sh -c \
		'sleep 0.2 & sleep 0.1; wait; (exit 3); true' > "$W/space.out" 2>&1 || st=1
	cat "$W/space.out"
	forks=$(grep -c '^fork ' "$W/space.out")
	[ "$forks" = 3 ] || { echo "$forks forks"; st=1; }
	awk '$1 == "fork" && ($2 < 5000 || $2 >= 6000 || $3 != 1) { bad++ }
		END { exit bad > 0 }' "$W/space.out" || { echo "a pid out of range"; st=1; }
	grep -q '^exit 500[0-9] 768$' "$W/space.out" || { echo "no exit status 3"; st=1; }
	for p in $(awk '$1 == "fork" { print $2 }' "$W/space.out") 1; do
		grep -q "^exit $p " "$W/space.out" && grep -q "^reaped $p$" "$W/space.out" ||
			{ echo "pid $p: no exit or reaping"; st=1; }
	done
	result space-events $st

	# The front end's own pids are kept below the nodes' (2^21) by its
	# agent: pids that come near it start again from 300; pid_max is high
	# enough for the nodes' pids; one watcher per namespace.
	st=0
	[ "$(cat /proc/sys/kernel/pid_max)" -ge 4194304 ] ||
		{ echo "pid_max $(cat /proc/sys/kernel/pid_max)"; st=1; }
	echo $((2097152 - 10)) > /proc/sys/kernel/ns_last_pid
	p1=$(sh -c 'echo $$')
	p2=$(sh -c 'echo $$')
	{ [ "$p1" -lt 2097152 ] && [ "$p2" -ge 300 ] && [ "$p2" -lt "$p1" ]; } ||
		{ echo "new pids $p1 then $p2"; st=1; }
	"$V/spacectl" steer 300 20000 true 2> "$W/steer.err" && st=1
	grep -q 'Device or resource busy' "$W/steer.err" || { cat "$W/steer.err"; st=1; }
	result space-steer $st

	# A ghost forks a ghost child with a pid of our choosing: same parent
	# rules, group, session and credentials (no capability more), its own
	# events, an exit its parent ghost reaps; a taken pid is refused. As
	# root and as a user.
	for who in root user; do
		st=0
		if [ $who = root ]; then
			sleep 300 &
			child=7777
		else
			"$V/asuser" 1000 1000 sleep 300 &
			child=7778
		fi
		v=$!
		sleep 0.3
		"$V/spacectl" ghostfork $v $child > "$W/gf.out" 2>&1 || st=1
		printf 'forked %s\nsame same same same same\nchild event 10\nzombie\nreaped\ntaken EEXIST\ngone\n' \
			$child > "$W/gf.want"
		cmp -s "$W/gf.out" "$W/gf.want" || { cat "$W/gf.out"; st=1; }
		wait $v; [ $? = 0 ] || { echo "the ghost ended with $?"; st=1; }
		result ghost-fork-$who $st
	done
fi

# threads_case local|cross: the threads victim (8 workers, each waiting its
# own way) dumped while it waits, restored here or on node 1 by
# engine_threads.sh, which checks tids, names, job control, PASS, and its
# sums against those of a run that never moved.
threads_case() {
	local where=$1 st=0
	if [ -z "$THREADS_SUMS" ]; then
		start_victim threads pause && echo go >&7 && kill -USR1 $VPID &&
			finish $VPID "$W/threads.out" || { echo "unmoved run failed"; return 1; }
		exec 7>&-
		THREADS_SUMS=$(grep '^sums' "$W/threads.out")
		echo "$THREADS_SUMS" > "$W/threads.sums"
	fi
	if VICTIM_SLACK=1.5 start_victim threads pause; then
		ls /proc/$VPID/task | grep -vx "$VPID" | sort | tr '\n' ' ' > "$W/threads.tids"
		if bproc-ckpt dump --kill $VPID "$W/timg"; then
			wait $VPID 2>/dev/null
			n=$(bproc-imgdump "$W/timg" | grep -c '^  thread ')
			[ "$n" = 8 ] || { echo "$n threads in the image"; st=1; }
			bproc-imgdump "$W/timg" | grep -q '^    in system call 202, interrupted' ||
				{ echo "no thread in a futex wait"; st=1; }
			if [ "$where" = local ]; then
				/extra/vm/engine_threads.sh "$W/timg" "$W/threads.tids" "$W/threads.sums" || st=1
			else
				vcrun 1 mkdir -p "$W" >/dev/null
				for f in timg threads.tids threads.sums; do
					vccp "$W/$f" "1:$W/$f" || st=1
				done
				[ $st = 0 ] && { vcrun 1 /extra/vm/engine_threads.sh "$W/timg" "$W/threads.tids" "$W/threads.sums" || st=1; }
			fi
		else
			st=1
		fi
	else
		st=1
	fi
	exec 7>&-
	result "$where-threads-pause" $st
}

if [[ " $groups " == *" threads "* ]]; then
	THREADS_SUMS=
	threads_case local
	threads_case cross

	# CRIU, in the same VM, dumps and restores the same victim waiting the
	# same way: a cross-check of the victim, whose checks (tids, names,
	# masks, pending signals, robust list, sums) must hold under CRIU too,
	# but for one known difference: CRIU's restore has the nanosleep and
	# the poll it interrupted fail with EINTR, where the engine restarts
	# them (workers 3 and 4 say so, and nothing else may fail).
	st=0
	if VICTIM_SLACK=1.5 start_victim threads pause; then
		tids=$(ls /proc/$VPID/task | grep -vx "$VPID" | sort | tr '\n' ' ')
		rm -rf "$W/criu"; mkdir -p "$W/criu"
		if criu dump -t $VPID -D "$W/criu" --shell-job -o dump.log; then
			wait $VPID 2>/dev/null
			if criu restore -D "$W/criu" --shell-job -d -o restore.log; then
				after=$(ls /proc/$VPID/task | grep -vx "$VPID" | sort | tr '\n' ' ')
				[ "$after" = "$tids" ] || { echo "criu: tids '$after', were '$tids'"; st=1; }
				echo go >&7; kill -USR1 $VPID
				for i in $(seq 300); do [ -e /proc/$VPID ] || break; sleep 0.1; done
				[ -e /proc/$VPID ] && { echo "criu's restored victim still runs"; kill -9 $VPID; st=1; }
				other=$(grep '^FAIL' "$W/threads.out" | grep -v \
					-e '^FAIL: worker 3: nanosleep failed$' \
					-e '^FAIL: worker 4: poll did not see stdin readable$' \
					-e '^FAIL$')
				[ -z "$other" ] || { cat "$W/threads.out"; st=1; }
				grep -qx "$THREADS_SUMS" "$W/threads.out" || { echo "criu: sums differ"; st=1; }
			else
				tail -n 5 "$W/criu/restore.log"; st=1
			fi
		else
			tail -n 5 "$W/criu/dump.log"; st=1
			kill -9 $VPID
		fi
	else
		st=1
	fi
	exec 7>&-
	rm -rf "$W/criu"
	result criu-threads $st

	# Dumped and left running, the process still holds its tids: a
	# restore here fails cleanly (EEXIST, the tid named) and the process
	# goes on unchanged.
	st=0
	if start_victim threads pause; then
		bproc-ckpt dump $VPID "$W/timg" || st=1
		bproc-ckpt restore "$W/timg" > "$W/err" 2>&1 && { echo "restore worked"; st=1; }
		cat "$W/err"
		grep -q 'restore: thread [0-9]*: File exists (EEXIST): its thread id is taken here' "$W/err" || st=1
		echo go >&7; kill -USR1 $VPID; finish $VPID "$W/threads.out" || st=1
		grep -qx "$THREADS_SUMS" "$W/threads.out" || st=1
	else
		st=1
	fi
	exec 7>&-
	result threads-tid-taken $st

	# A dump that fails once every thread is parked (fd 5 is a pipe):
	# all of them go on unchanged.
	st=0
	rm -f "$W/threads.out" "$W/threads.in" "$W/tp.fifo"
	mkfifo "$W/threads.in" "$W/tp.fifo"
	"$V/threads" pause < "$W/threads.in" > "$W/threads.out" 2>&1 5<> "$W/tp.fifo" &
	VPID=$!
	exec 7> "$W/threads.in"
	if wait_for "$W/threads.out" '^ready'; then
		bproc-ckpt dump $VPID "$W/timg" 2> "$W/err" && { echo "dump worked"; st=1; }
		cat "$W/err"
		grep -q 'fd 5 is a pipe' "$W/err" || st=1
		echo go >&7; kill -USR1 $VPID; finish $VPID "$W/threads.out" || st=1
		grep -qx "$THREADS_SUMS" "$W/threads.out" || st=1
	else
		st=1
	fi
	exec 7>&-
	result threads-dump-fails $st

	# Stopped (job control), a process with threads is refused: its
	# threads could not park. Continued, it goes on.
	st=0
	if start_victim threads pause; then
		kill -STOP $VPID
		sleep 0.3
		bproc-ckpt dump $VPID "$W/timg" 2> "$W/err" && { echo "dump worked"; st=1; }
		cat "$W/err"
		grep -q '(EOPNOTSUPP): its thread [0-9]* is stopped' "$W/err" || st=1
		kill -CONT $VPID
		echo go >&7; kill -USR1 $VPID; finish $VPID "$W/threads.out" || st=1
	else
		st=1
	fi
	exec 7>&-
	result threads-stopped $st

	# Streamed through a pipe (restore -): the threads come back too.
	st=0
	if start_victim refuse threads; then
		tid=$(ls /proc/$VPID/task | grep -vx "$VPID")
		bproc-ckpt dump --kill $VPID - | bproc-ckpt restore - > "$W/ts.out" 2>&1 &
		rpid=$!
		for i in $(seq 100); do
			[ "$(cat /proc/$rpid/comm 2>/dev/null)" = refuse ] && break
			sleep 0.1
		done
		after=$(ls /proc/$rpid/task 2>/dev/null | grep -vx "$rpid")
		[ -n "$tid" ] && [ "$after" = "$tid" ] || { echo "thread '$after', was '$tid'"; st=1; }
		kill -USR1 $rpid
		finish $rpid "$W/ts.out" || st=1
	else
		st=1
	fi
	exec 7>&-
	result threads-stream $st

	# A dump without BPROC_DUMP_THREADS (movectl's) still refuses
	# threads, and the process goes on.
	st=0
	if start_victim refuse threads; then
		"$V/movectl" $VPID "$W/img" close > "$W/move.out" 2>&1 && st=1
		cat "$W/move.out"
		grep -q 'dump: the process has 2 threads' "$W/move.out" || st=1
		grep -q 'Operation not supported' "$W/move.out" || st=1
		wake $VPID pause 7; finish $VPID "$W/refuse.out" || st=1
	else
		st=1
	fi
	exec 7>&-
	result refuse-threads-move $st
fi

if [[ " $groups " == *" refuse "* ]]; then
	for kind in shm shanonfork socket pipe dev devmap inotify epollstdin; do
		st=0
		if start_victim refuse "$kind"; then
			rm -f "$W/img"
			if bproc-ckpt dump $VPID "$W/img" 2> "$W/err"; then
				echo "dump of $kind worked"; st=1
			fi
			cat "$W/err"
			grep -q '(EOPNOTSUPP)' "$W/err" || st=1
			[ ! -e "$W/img" ] || { echo "an image was left"; st=1; }
			wake $VPID pause 7; finish $VPID "$W/refuse.out" || st=1
		else
			st=1
		fi
		exec 7>&-
		result "refuse-$kind" $st
	done

	# The reasons name the fd and what it is.
	st=0
	for kind in inotify epollstdin; do
		start_victim refuse $kind || st=1
		bproc-ckpt dump $VPID "$W/img" 2> "$W/err.$kind"
		wake $VPID pause 7; finish $VPID "$W/refuse.out" || st=1
		exec 7>&-
	done
	grep -q 'fd [0-9]* is an inotify instance' "$W/err.inotify" || { cat "$W/err.inotify"; st=1; }
	grep -q 'fd [0-9]* is an epoll instance watching fd 0, which does not move' "$W/err.epollstdin" ||
		{ cat "$W/err.epollstdin"; st=1; }
	result refuse-fds-reasons $st

	# Kernel objects go into an image with BPROC_DUMP_ANONFDS
	# (bproc-ckpt's), not in a dump without it as the node agents make one
	# (the reason names what: here its memfd mapping, looked at first).
	st=0
	if start_victim fds read; then
		"$V/movectl" $VPID "$W/img" close > "$W/move.out" 2>&1 || st=1
		cat "$W/move.out"
		grep -q '^result 95 .*mapping at [0-9a-f]* is a memfd' "$W/move.out" || st=1
		echo go >&7; finish $VPID "$W/fds.out" || st=1
	else
		st=1
	fi
	exec 7>&-
	result refuse-fds-move $st

	# Shared anonymous memory (and a shared mapping of /dev/zero) goes
	# into an image with BPROC_DUMP_SHANON (bproc-ckpt's, the agents'),
	# not in a dump without it (movectl's).
	for kind in shanon zeromap; do
		st=0
		if start_victim refuse $kind; then
			"$V/movectl" $VPID "$W/img" close > "$W/move.out" 2>&1 || st=1
			cat "$W/move.out"
			grep -q '^result 95 .*is shared anonymous memory' "$W/move.out" || st=1
			wake $VPID pause 7; finish $VPID "$W/refuse.out" || st=1
		else
			st=1
		fi
		exec 7>&-
		result "refuse-$kind-move" $st
	done
fi

secoff() { bproc-imgdump "$good" | awk -v s="$1" '$1 == "section" && $2 == s { print $4 }'; }

# bad_case NAME: $W/bad.img must be refused with EINVAL by the engine, and
# the restoring process must live to say so.
bad_case() {
	local st=0
	if bproc-ckpt restore --kernel-only "$W/bad.img" > "$W/err" 2>&1; then
		echo "restore of $1 succeeded"; st=1
	fi
	cat "$W/err"
	grep -q '(EINVAL)' "$W/err" || st=1
	result "malformed-$1" $st
}

if [[ " $groups " == *" malformed "* ]]; then
	start_victim mem pause
	good=$W/good.img
	bproc-ckpt dump --kill $VPID "$good"
	wait $VPID 2>/dev/null
	exec 7>&-
	size=$(stat -c %s "$good")
	core=$(secoff CORE) xst=$(secoff XSTATE) sig=$(secoff SIGNALS)
	vmas=$(secoff VMAS) pm=$(secoff PAGEMAP) pages=$(secoff PAGES) paths=$(secoff PATHS)

	: > "$W/bad.img"; bad_case empty
	head -c 50 "$good" > "$W/bad.img"; bad_case truncated-header
	head -c $((vmas + 20)) "$good" > "$W/bad.img"; bad_case truncated-vmas
	head -c $((size - 1)) "$good" > "$W/bad.img"; bad_case truncated-pages
	head -c $((pages + 4096)) "$good" > "$W/bad.img"; bad_case truncated-pages-early
	cp "$good" "$W/bad.img"; p32 "$W/bad.img" 0 deadbeef; bad_case magic
	cp "$good" "$W/bad.img"; p32 "$W/bad.img" 4 00000063; bad_case version
	cp "$good" "$W/bad.img"; p32 "$W/bad.img" 20 00000000; bad_case no-sections
	cp "$good" "$W/bad.img"; p32 "$W/bad.img" 20 000003e8; bad_case many-sections
	cp "$good" "$W/bad.img"; p64 "$W/bad.img" $((vmas - 8)) 7fffffffffffffff; bad_case huge-section
	cp "$good" "$W/bad.img"; p64 "$W/bad.img" $((vmas - 8)) 0000000000000028; bad_case vmas-size-short
	cp "$good" "$W/bad.img"; p64 "$W/bad.img" $((core + 128)) ffffffff81000000; bad_case kernel-rip
	cp "$good" "$W/bad.img"; p64 "$W/bad.img" $((core + 168)) ffff888000000000; bad_case kernel-fsbase
	cp "$good" "$W/bad.img"; p64 "$W/bad.img" $vmas ffff888000000000; bad_case kernel-vma
	cp "$good" "$W/bad.img"; p64 "$W/bad.img" $((vmas + 8)) 00007fffffffffff; bad_case unaligned-vma
	cp "$good" "$W/bad.img"; p64 "$W/bad.img" $((vmas + 40)) 0000000000001000; bad_case overlapping-vmas
	cp "$good" "$W/bad.img"; p32 "$W/bad.img" $((vmas + 36)) 7fffffff; bad_case bad-path
	cp "$good" "$W/bad.img"; p32 "$W/bad.img" $((vmas + 32)) 00000009; bad_case bad-vma-kind
	cp "$good" "$W/bad.img"; p64 "$W/bad.img" $pm ffffc90000000000; bad_case kernel-pagemap
	cp "$good" "$W/bad.img"; p64 "$W/bad.img" $((pm + 8)) 0000000100000000; bad_case pagemap-count
	cp "$good" "$W/bad.img"; p64 "$W/bad.img" $((pm + 8)) 0000000000000000; bad_case pagemap-empty-run
	cp "$good" "$W/bad.img"; p64 "$W/bad.img" $((xst + 520)) 8000000000000001; bad_case xstate-compacted
	cp "$good" "$W/bad.img"; p64 "$W/bad.img" $((xst + 512)) ffffffffffffffff; bad_case xstate-features
	cp "$good" "$W/bad.img"; p32 "$W/bad.img" $((xst + 24)) ffffffff; bad_case mxcsr
	cp "$good" "$W/bad.img"; p64 "$W/bad.img" $((sig + 8 * 32)) 0000000000401000; bad_case sigkill-handler
	cp "$good" "$W/bad.img"; p64 "$W/bad.img" $((sig + 9 * 32)) ffffffff81000000; bad_case kernel-handler
	cp "$good" "$W/bad.img"; p32 "$W/bad.img" $((paths - 16)) 00000063; bad_case bad-section-type

	# Images with threads: THREADS is checked whole before anything else
	# about the restoring process (which has no threads waiting here).
	start_victim refuse threads
	tgood=$W/tgood.img
	bproc-ckpt dump --kill $VPID "$tgood"
	wait $VPID 2>/dev/null
	exec 7>&-
	good=$tgood
	thr=$(secoff THREADS)
	st=0
	bproc-ckpt restore --kernel-only "$tgood" > "$W/err" 2>&1 && st=1
	cat "$W/err"
	grep -q '(EBUSY): the restoring process has 1 threads, the image 2' "$W/err" || st=1
	result malformed-threads-none-waiting $st
	cp "$tgood" "$W/bad.img"; p32 "$W/bad.img" $thr 00000002; bad_case threads-count
	cp "$tgood" "$W/bad.img"; p32 "$W/bad.img" $((thr + 4)) 00000000; bad_case threads-xstate-size
	cp "$tgood" "$W/bad.img"; p64 "$W/bad.img" $((thr + 144)) ffffffff81000000; bad_case thread-rip
	cp "$tgood" "$W/bad.img"; p32 "$W/bad.img" $((thr + 8)) 00000000; bad_case thread-tid
	cp "$tgood" "$W/bad.img"; p32 "$W/bad.img" $((thr + 12)) 00000400; bad_case thread-pending
	cp "$tgood" "$W/bad.img"; p32 "$W/bad.img" 4 00000001; bad_case threads-version-1

	# Images with kernel objects (FDS): checked whole; a good one needs
	# them made at their fds by whoever restores (EBADF otherwise).
	start_victim fds read
	fgood=$W/fgood.img
	bproc-ckpt dump --kill $VPID "$fgood"
	wait $VPID 2>/dev/null
	exec 7>&-
	good=$fgood
	fds=$(secoff FDS)
	st=0
	bproc-ckpt restore --kernel-only "$fgood" > "$W/err" 2>&1 && st=1
	cat "$W/err"
	grep -q "(EBADF): fd [0-9]* is not the image's eventfd (whoever restores makes it)" "$W/err" || st=1
	result malformed-fds-not-made $st
	# entries at fds + 8, 64 bytes each: 0 eventfd, 2 timerfd, 8 memfd;
	# the targets after the 10 entries
	cp "$fgood" "$W/bad.img"; p32 "$W/bad.img" $fds 7fffffff; bad_case fds-count
	cp "$fgood" "$W/bad.img"; p32 "$W/bad.img" $((fds + 4)) 00100000; bad_case fds-targets-count
	cp "$fgood" "$W/bad.img"; p32 "$W/bad.img" $((fds + 8)) ffffffff; bad_case fds-bad-fd
	cp "$fgood" "$W/bad.img"; p32 "$W/bad.img" $((fds + 8)) 00000001; bad_case fds-stdio-fd
	cp "$fgood" "$W/bad.img"; p64 "$W/bad.img" $((fds + 8 + 16)) ffffffffffffffff; bad_case fds-eventfd-count
	cp "$fgood" "$W/bad.img"; p32 "$W/bad.img" $((fds + 8 + 4)) 00000009; bad_case fds-kind
	cp "$fgood" "$W/bad.img"; p32 "$W/bad.img" $((fds + 8 + 128 + 16)) 0000007f; bad_case fds-clock
	cp "$fgood" "$W/bad.img"; p64 "$W/bad.img" $((fds + 8 + 128 + 40)) 000000003b9aca00; bad_case fds-timer-nsec
	cp "$fgood" "$W/bad.img"; p64 "$W/bad.img" $((fds + 8 + 512 + 16)) 0000000000000010; bad_case fds-memfd-size
	cp "$fgood" "$W/bad.img"; p32 "$W/bad.img" $((fds + 8 + 640 + 4)) 000003e7; bad_case fds-target-fd
	cp "$fgood" "$W/bad.img"; p32 "$W/bad.img" 4 00000002; bad_case fds-version-2

	# An image with the program's file (EXEFILE): its size and path are
	# checked, and it needs version 4.
	start_victim mem pause
	egood=$W/egood.img
	bproc-ckpt dump --kill --exec $VPID "$egood"
	wait $VPID 2>/dev/null
	exec 7>&-
	good=$egood
	exf=$(secoff EXEFILE)
	esize=$(bproc-imgdump "$egood" | awk '$1 == "exefile:" { print $4 }')
	cp "$egood" "$W/bad.img"; p64 "$W/bad.img" $exf $(printf %016x $((esize + 1))); bad_case exefile-size
	cp "$egood" "$W/bad.img"; p32 "$W/bad.img" $((exf + 8)) 7fffffff; bad_case exefile-path
	cp "$egood" "$W/bad.img"; p32 "$W/bad.img" 4 00000003; bad_case exefile-version-3
	good=$W/good.img

	# Random corruption of the structure (everything before the page data),
	# 60 times: each image is refused or, if the bytes hit were harmless
	# (a register value), restores into a program that may crash; the
	# kernel must not mind either way (checked just below).
	st=0 refused=0
	for i in $(seq 60); do
		cp "$good" "$W/bad.img"
		for j in 1 2 3 4; do
			off=$(( (RANDOM * 32768 + RANDOM) % pages ))
			dd if=/dev/urandom of="$W/bad.img" bs=1 count=1 seek=$off conv=notrunc 2>/dev/null
		done
		bproc-ckpt restore --kernel-only "$W/bad.img" > "$W/err" 2>&1 &
		fpid=$!
		for k in $(seq 15); do kill -0 $fpid 2>/dev/null || break; sleep 0.1; done
		kill -9 $fpid 2>/dev/null
		wait $fpid 2>/dev/null
		grep -q '(EINVAL)' "$W/err" && refused=$((refused + 1))
	done
	echo "fuzz: $refused of 60 corrupted images refused with EINVAL"
	[ $refused -gt 0 ] || st=1
	result malformed-fuzz $st

	# After all of that, the kernel log holds no warning.
	st=0
	pat='WARNING|BUG|Oops|Call Trace|general protection|RIP:'
	if dmesg | grep -E "$pat"; then st=1; fi
	if vcrun 1 dmesg | grep -E "$pat"; then st=1; fi
	result dmesg-clean $st
	# And the engine still works.
	local_case mem pause
fi

exit $FAILED
