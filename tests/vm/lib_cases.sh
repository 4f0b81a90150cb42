#!/bin/bash
# lib_cases.sh [CASE...] - libbproc's calls (tests/victims/libtest, built
# against lib/) on the front end of a virtual cluster with two nodes
# (tools/vcluster --nodes 2 --add tests/victims --add tests/vm --add lib
# --run ...). Prints one line "CASE <name> PASS|FAIL" per case, details
# before it; exits 1 if any failed.
#
# node3 is added to the config (and bprocfs reloads it) with no agent, so
# that it stays down; there is no node0. /tmp/fe holds programs that only
# the front end has: what bproc_execmove runs comes from here, what
# bproc_rexec runs from the node.
. /extra/vm/engine_lib.sh
FAILED=0
W=/tmp/lib
mkdir -p "$W"
M=/bproc
L=/extra/victims/libtest
LS=/extra/victims/libtest-static
FE=/tmp/fe
export PATH=$V:$PATH
cases=${*:-setup info-front info-node rfork rfork-static rfork-fail vrfork
	vrfork-copies move execmove execmove-again execmove-fail rexec
	vexecmove}

cases=" $(echo $cases) "
want() {
	[[ "$cases" == *" $1 "* ]] || return 1
	echo "--- $1 ($(cut -d' ' -f1 /proc/uptime) s)"
}

# expect WHAT GOT WANTED: compare, say what differs.
expect() {
	[ "$2" = "$3" ] && return 0
	echo "$1: got '$2', wanted '$3'"
	return 1
}

# has FILE LINE: FILE has that line (whole).
has() {
	grep -qxF -- "$2" "$1" && return 0
	echo "no line '$2' in $1:"
	sed 's/^/  | /' "$1"
	return 1
}

# field FILE PATTERN N: the Nth word of the first line matching PATTERN.
field() {
	grep -m1 -- "$2" "$1" | cut -d' ' -f"$3"
}

# run NAME CMD...: CMD's stdout and stderr in $W/NAME.out, its status in RC.
run() {
	local name=$1
	shift
	"$@" > "$W/$name.out" 2>&1
	RC=$?
}

if want setup; then
	st=0
	echo "node 3 10.200.0.3:2224" >> /etc/bproc/config
	kill -HUP "$(pidof bprocfs)"
	for i in $(seq 100); do [ -e $M/node3/status ] && break; sleep 0.1; done
	expect "node3" "$(cat $M/node3/status 2>&1)" down || st=1
	mkdir -p $FE
	cp $LS $FE/libtest-static
	printf '#!/bin/sh\necho script $$ $(hostname) "$@"\n' > $FE/script
	printf '#!/nonexistent/interpreter\n' > $FE/badinterp
	printf '#!/bin/sh\necho ready\nread x\necho again $$ $(hostname)\n' > $FE/waiter
	chmod 0755 $FE/script $FE/badinterp $FE/waiter
	for n in 1 2; do
		vcrun $n "test ! -e $FE" || { echo "node$n has $FE"; st=1; }
	done
	result setup $st
fi

if want info-front; then
	# What /bproc says, through the library, on the front end.
	st=0
	run info $L info
	cat "$W/info.out"
	has "$W/info.out" "numnodes 4" || st=1
	has "$W/info.out" "currnode -1" || st=1
	has "$W/info.out" "node -1 up $(cat $M/master/addr) up=1" || st=1
	has "$W/info.out" "node 0 ENOENT ENOENT up=-1" || st=1
	for n in 1 2; do
		has "$W/info.out" "node $n up $(cat $M/node$n/addr) up=1" || st=1
	done
	has "$W/info.out" "node 3 down 10.200.0.3:2224 up=0" || st=1
	expect "/run/bproc/node" "$(cat /run/bproc/node)" -1 || st=1
	result info-front $st
fi

if want info-node; then
	# On a node, moved there or started there: which node, from the
	# agent's /run/bproc/node; no /bproc, so the rest is ENOSYS.
	st=0
	for how in "bpsh 1 $L" "bpsh 2 $LS" "vcrun 1 $L" "vcrun 2 $LS"; do
		n=${how#* }
		n=${n%% *}
		run infon $how info
		echo "$how info:"
		cat "$W/infon.out"
		has "$W/infon.out" "numnodes ENOSYS" || st=1
		has "$W/infon.out" "currnode $n" || st=1
		has "$W/infon.out" "node -1 ENOSYS ENOSYS up=-1" || st=1
		has "$W/infon.out" "node 1 ENOSYS ENOSYS up=-1" || st=1
	done
	result info-node $st
fi

# rfork_check NAME PROG NODE STATUS: the child on NODE has the pid the
# parent got, and the parent's wait() gets its status.
rfork_check() {
	local st=0 pid
	run "$1" "$2" rfork "$3" "$4"
	cat "$W/$1.out"
	pid=$(field "$W/$1.out" '^parent ' 2)
	[ -n "$pid" ] || { echo "no parent line"; return 1; }
	has "$W/$1.out" "child $pid $3" || st=1
	has "$W/$1.out" "status $pid $4" || st=1
	has "$W/$1.out" "nochild" || st=1
	grep -q "move pid $pid (libtest[^)]*) master -> node$3 done" $M/events ||
		{ echo "no move of $pid in events"; st=1; }
	return $st
}

if want rfork; then
	st=0
	rfork_check rf $L 1 42 || st=1
	rfork_check rf2 $L 2 0 || st=1
	result rfork $st
fi

if want rfork-static; then
	st=0
	rfork_check rfs $LS 2 7 || st=1
	result rfork-static $st
fi

if want rfork-fail; then
	# Each failure leaves no child (the program checks with waitpid) and
	# gives the move's errno.
	st=0
	for c in "3 EHOSTDOWN" "7 ENOENT" "-2 EINVAL"; do
		out=$($L rfork-fail $c 2>&1)
		expect "rfork to $c" "$out" ok || st=1
	done
	chmod 0750 $M/node2
	out=$(asuser 65534 65534 $L rfork-fail 2 EACCES 2>&1)
	expect "rfork to node2 as nobody" "$out" ok || st=1
	chmod 0555 $M/node2
	# the child would hold a pipe open for reading: it cannot move
	rm -f "$W/rd.fifo"
	mkfifo "$W/rd.fifo"
	sleep 60 > "$W/rd.fifo" &
	sl=$!
	out=$($L rfork-fail 1 EOPNOTSUPP 3< "$W/rd.fifo" 2>&1)
	kill $sl
	expect "rfork with a pipe to read" "$out" ok || st=1
	grep "failed: EOPNOTSUPP" $M/events | tail -n 1
	# on a node there is no /bproc
	out=$(bpsh 1 $L rfork-fail 2 ENOSYS 2>&1)
	expect "rfork from node1" "$out" ok || st=1
	result rfork-fail $st
fi

if want vrfork; then
	# Every node there is, and the front end: a child on each that is up,
	# -errno for the others; the parent gets n, each child its index.
	st=0
	run vr $L vrfork master 0 1 2 3
	cat "$W/vr.out"
	has "$W/vr.out" "vrfork 5" || st=1
	has "$W/vr.out" "pid 1 ENOENT" || st=1
	has "$W/vr.out" "pid 4 EHOSTDOWN" || st=1
	for c in "0 -1" "2 1" "3 2"; do
		set -- $c
		pid=$(field "$W/vr.out" "^pid $1 " 3)
		has "$W/vr.out" "child $1 $pid $2" || st=1
		has "$W/vr.out" "status $pid $((10 + $1))" || st=1
	done
	has "$W/vr.out" nochild || st=1
	[ "$(grep -c '^child ' "$W/vr.out")" = 3 ] || st=1
	result vrfork $st
fi

if want vrfork-copies; then
	# Fast start: the last child moves first, its image kept on the front
	# end; the others move at once with it, as copies of it (the front end
	# sends its image under their pids): each is still its own child, with
	# its index, pid, node and exit status.
	st=0
	run vc $L vrfork 1 2 1 2
	cat "$W/vc.out"
	has "$W/vc.out" "vrfork 4" || st=1
	for c in "0 1" "1 2" "2 1" "3 2"; do
		set -- $c
		p[$1]=$(field "$W/vc.out" "^pid $1 " 3)
		has "$W/vc.out" "child $1 ${p[$1]} $2" || st=1
		has "$W/vc.out" "status ${p[$1]} $((10 + $1))" || st=1
	done
	has "$W/vc.out" nochild || st=1
	grep -E "move pid (${p[0]}|${p[1]}|${p[2]}|${p[3]}) " $M/events
	ev() { grep -n "move pid $1 (libtest[^)]*) master -> $2 $3" $M/events | cut -d: -f1; }
	copies=0
	for c in "0 node1" "1 node2" "2 node1"; do
		set -- $c
		grep -q "move pid ${p[$1]} (libtest[^)]*) master -> $2 done (.*, a copy of pid ${p[3]})" $M/events &&
			copies=$((copies + 1))
	done
	expect "copies of the first" $copies 3 || st=1
	# the copies move at once (with the first: the front end holds each
	# until the first's image is whole): one's start comes before
	# another's end
	s0=$(ev "${p[0]}" node1 started) d0=$(ev "${p[0]}" node1 done)
	s1=$(ev "${p[1]}" node2 started) d1=$(ev "${p[1]}" node2 done)
	if [ -z "$s0" ] || [ -z "$s1" ] || [ -z "$d0" ] || [ -z "$d1" ] ||
		[ "$s0" -gt "$d1" ] || [ "$s1" -gt "$d0" ]; then
		echo "not at once (event lines $s0 $d0, $s1 $d1)"
		st=1
	fi
	result vrfork-copies $st
fi

if want move; then
	# The caller moves; what it writes after goes where its stdout was: a
	# pipe, a file, nowhere.
	st=0
	out=$($L move 1 2>&1)
	expect "move to node1" "$out" "move ok currnode 1 pid ${out##* }" || st=1
	$L move 2 > "$W/mv.out" 2>&1 &
	pid=$!
	wait $pid
	expect "status" $? 0 || st=1
	expect "to a file" "$(cat "$W/mv.out")" "move ok currnode 2 pid $pid" || st=1
	$L move 1 >&-
	expect "stdout closed" $? 0 || st=1
	out=$($L move master)
	expect "to master" "${out% pid *}" "move ok currnode -1" || st=1
	out=$($L move 3)
	expect "to node3" "${out% pid *}" "move EHOSTDOWN currnode -1" || st=1
	result move $st
fi

if want execmove; then
	# The front end's program, run on the node with the caller's pid; its
	# exit status is the caller's.
	st=0
	$L execmove 1 $FE/libtest-static whereami 7 > "$W/em.out" 2>&1 &
	pid=$!
	wait $pid
	expect "status" $? 7 || st=1
	expect "output" "$(cat "$W/em.out")" "whereami $pid 1 - 7" || st=1
	grep -q "move pid $pid (libtest[^)]*) master -> node1 done" $M/events || st=1
	grep -q "pid $pid (.*) exited on node1: status 7" $M/events ||
		{ grep "pid $pid " $M/events; st=1; }
	# a script: its interpreter is the node's
	$L execmove 2 $FE/script a b > "$W/es.out" 2>&1 &
	pid=$!
	wait $pid
	expect "script status" $? 0 || st=1
	expect "script" "$(cat "$W/es.out")" "script $pid node2 a b" || st=1
	# where it already is: an execve
	$L execmove master $FE/libtest-static whereami 5 > "$W/eh.out" 2>&1 &
	pid=$!
	wait $pid
	expect "here status" $? 5 || st=1
	expect "here" "$(cat "$W/eh.out")" "whereami $pid -1 - 5" || st=1
	result execmove $st
fi

if want execmove-again; then
	# What bproc_execmove ran moves on like any process (its program,
	# which has no path, is carried whole).
	st=0
	rm -f "$W/ea.in"
	mkfifo "$W/ea.in"
	$L execmove 1 $FE/libtest-static whereami 6 wait < "$W/ea.in" > "$W/ea.out" 2>&1 &
	pid=$!
	exec {fd}> "$W/ea.in"
	wait_for "$W/ea.out" "^whereami $pid 1 " 600 || { cat "$W/ea.out"; st=1; }
	# (the agent's view, and the kernel's there)
	echo "its comm: $(awk '$1 == "comm" { print $2 }' $M/node1/$pid) in /bproc," \
		"$(vcrun 1 'for p in /proc/[0-9]*; do tr "\0" " " < $p/cmdline 2>/dev/null |
			grep -q "[l]ibtest-static whereami" && cat $p/comm; done') on node1"
	vcrun 1 'ls /tmp /dev/shm' | grep bproc-execmove && { echo "left behind"; st=1; }
	expect "to node2" "$(moveto node2 $pid)" ok || st=1
	grep "move pid $pid " $M/events | tail -n 1
	echo go >&$fd
	exec {fd}>&-
	wait $pid
	expect "status" $? 6 || st=1
	has "$W/ea.out" "whereami $pid 2 - 6 wait" || st=1
	# not a script: its interpreter holds the copy, a deleted file
	rm -f "$W/ew.in"
	mkfifo "$W/ew.in"
	$L execmove 2 $FE/waiter < "$W/ew.in" > "$W/ew.out" 2>&1 &
	pid=$!
	exec {fd}> "$W/ew.in"
	wait_for "$W/ew.out" "^ready" 600 || { cat "$W/ew.out"; st=1; }
	expect "the script to node1" "$(moveto node1 $pid)" EOPNOTSUPP || st=1
	grep "move pid $pid .*node1 failed" $M/events | tail -n 1
	echo go >&$fd
	exec {fd}>&-
	wait $pid
	expect "script status" $? 0 || st=1
	has "$W/ew.out" "again $pid node2" || st=1
	result execmove-again $st
fi

if want execmove-fail; then
	# Refused here: it returns, the caller where it was.
	st=0
	for c in "1 /nonexistent ENOENT" "1 /etc/passwd EACCES" "3 $FE/libtest-static EHOSTDOWN" \
		"7 $FE/libtest-static ENOENT"; do
		set -- $c
		out=$($L execmove $1 $2 whereami 2>&1)
		expect "execmove $c" "$out" "execmove $3 currnode -1" || st=1
	done
	# the node cannot execute it: the process ends with the errno as its
	# status (ENOENT: its interpreter is not there), saying so
	$L execmove 1 $FE/badinterp > "$W/eb.out" 2>&1 &
	pid=$!
	wait $pid
	expect "status" $? 2 || st=1
	expect "message" "$(cat "$W/eb.out")" \
		"bproc_execmove: $FE/badinterp on node1: No such file or directory" || st=1
	result execmove-fail $st
fi

if want rexec; then
	# The node's program, with the caller's pid.
	st=0
	$L rexec 2 /bin/sh -c 'echo rexec $$ $(hostname); exit 4' > "$W/rx.out" 2>&1 &
	pid=$!
	wait $pid
	expect "status" $? 4 || st=1
	expect "output" "$(cat "$W/rx.out")" "rexec $pid node2" || st=1
	# the program is not on the node: the call returns there
	out=$($L rexec 1 $FE/libtest-static whereami 2>&1)
	expect "not on node1" "$out" "rexec ENOENT currnode 1" || st=1
	out=$($L rexec 3 /bin/true 2>&1)
	expect "node3 down" "$out" "rexec EHOSTDOWN currnode -1" || st=1
	result rexec $st
fi

if want vexecmove; then
	# The front end's program on each node at once, BPROC_RANK its index.
	st=0
	BPROC_RANK=x run vx $L vexecmove 1 2 3 master -- $FE/libtest-static whereami 9
	cat "$W/vx.out"
	has "$W/vx.out" "vrfork 4" || st=1
	has "$W/vx.out" "pid 2 EHOSTDOWN" || st=1
	for c in "0 1" "1 2" "3 -1"; do
		set -- $c
		pid=$(field "$W/vx.out" "^pid $1 " 3)
		has "$W/vx.out" "whereami $pid $2 $1 9" || st=1
		has "$W/vx.out" "status $pid 9" || st=1
	done
	has "$W/vx.out" nochild || st=1
	result vexecmove $st
fi

exit $FAILED
