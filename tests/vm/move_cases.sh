#!/bin/bash
# move_cases.sh [CASE...] - moving processes through /bproc, from the outside
# as a user would, on the front end of a virtual cluster with two nodes
# (tools/vcluster --nodes 2 --add tests/victims --add tests/vm --run ...).
# Prints one line "CASE <name> PASS|FAIL" per case, details before it; exits
# 1 if any failed. The cases that take a node down come last.
. /extra/vm/engine_lib.sh
FAILED=0
W=/tmp/moves
mkdir -p "$W"
M=/bproc
export PATH=$V:$PATH
cases=${*:-roundtrip exit-abort signals kill-on-node jobcontrol stopped-move terminal
	terminal-stopped threads-move threads-killed threads-born omp-move fds-move pipeline
	self-move bpsh copies tree getppid stdin getpid-creds files files-missing send-auto
	send-path-refused send-whole send-libs send-ckpt streams-files
	streams-2to1 streams-stdin streams-null-closed streams-sockets born-tree
	born-many born-quick born-late born-move born-back born-pgrp ghost-names streams-end procfiles
	metrics-events concurrent children-refused errnos reads-never-wait dest-refuses-cwd
	dest-oom front-agent-stopped agent-killed poweroff}

cases=" $(echo $cases) "
want() {
	[[ "$cases" == *" $1 "* ]] || return 1
	echo "--- $1 ($(cut -d' ' -f1 /proc/uptime) s)"
}

# procs_named NODE COMM N: the pids of /bproc/NODE whose comm is COMM,
# once there are N of them (or what there is after 30 s).
procs_named() {
	local i found
	for i in $(seq 300); do
		found=$(grep -l "^comm $2\$" $M/$1/[0-9]* 2>/dev/null | sed 's|.*/||')
		[ "$(echo $found | wc -w)" = "$3" ] && break
		sleep 0.1
	done
	echo $found
}

# mover_start NAME ARGS...: a mover in the background (cwd: this one's),
# its stdin a FIFO held on fd ${IN[NAME]}, its output $W/NAME.out; the
# command $MOVER if set (a copy of mover elsewhere; words split on blanks).
declare -A PID IN
mover_start() {
	local name=$1 fd
	shift
	rm -f "$W/$name.in" "$W/$name.out"
	mkfifo "$W/$name.in"
	${MOVER:-mover} "$@" < "$W/$name.in" > "$W/$name.out" 2>&1 &
	PID[$name]=$!
	exec {fd}> "$W/$name.in"
	IN[$name]=$fd
	wait_for "$W/$name.out" "^ready ${PID[$name]}\$" 600 ||
		{ echo "mover $name did not start"; cat "$W/$name.out"; return 1; }
}

# mover_end NAME: close its stdin (it ends with status 3, if still there).
mover_end() {
	local fd=${IN[$1]}
	exec {fd}>&-
}

# ask NAME CMD: send CMD, then set REPLY to the line it answered.
ask() {
	local name=$1 tok=t$RANDOM$RANDOM
	printf '%s\necho %s\n' "$2" "$tok" >&"${IN[$name]}"
	if ! wait_for "$W/$name.out" "^echo $tok\$" 600; then
		REPLY="(no answer to $2)"
		tail -n 5 "$W/$name.out"
		return 1
	fi
	REPLY=$(grep -B1 "^echo $tok\$" "$W/$name.out" | head -n 1)
}

# until_true CMD...: until CMD succeeds (every 0.1 s, at most 5 s).
until_true() {
	local i
	for i in $(seq 50); do "$@" && return 0; sleep 0.1; done
	return 1
}

# thread_here NAME PID WHERE: NAME's process makes a thread where it runs
# (its tid in T); it has its ghost thread here, and a SIGURG sent here to
# it alone runs in that very thread.
thread_here() {
	local st=0
	ask $1 thread
	T=${REPLY#thread }
	until_true test -d /proc/$2/task/$T
	expect "its ghost thread here" "$(ls /proc/$2/task | sort -n | tr '\n' ' ')" "$2 $T " || st=1
	tgkill $2 $T URG || st=1
	sleep 0.5
	ask $1 urg
	expect "SIGURG ran in thread $T on $3" "$REPLY" "urg $T" || st=1
	return $st
}

# thread_gone NAME PID: NAME's process ends its thread; here it is gone too.
thread_gone() {
	ask $1 unthread
	until_true test ! -d /proc/$2/task/$T
	expect "ended there, gone here" "$(ls /proc/$2/task | tr '\n' ' ')" "$2 "
}

# expect WHAT GOT WANTED: compare, say what differs.
expect() {
	[ "$2" = "$3" ] && return 0
	echo "$1: got '$2', wanted '$3'"
	return 1
}

# where_is PID: the node whose directory holds PID's file.
where_is() {
	local f
	for f in "$M"/*/"$1"; do
		[ -f "$f" ] && { basename "$(dirname "$f")"; return 0; }
	done
	echo none
}

# ended PID: wait for it (at most 60 s); its exit status in STATUS, or
# "running" if it has not ended by then.
ended() {
	local i
	for i in $(seq 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$1" 2>/dev/null; then
		STATUS=running
		return
	fi
	wait "$1" 2>/dev/null
	STATUS=$?
}

# metric NAME: a metric's value ("" if absent).
metric() {
	awk -v m="$1" '$1 == m { print $2 }' "$M/metrics"
}

# wait_state NODE STATE: until /bproc/NODE/status says STATE (60 s).
wait_state() {
	local i
	for i in $(seq 600); do
		[ "$(cat "$M/$1/status")" = "$2" ] && return 0
		sleep 0.1
	done
	echo "$1 is $(cat "$M/$1/status"), not $2"
	return 1
}

# agent_restart N: start node N's agent again (it was killed).
agent_restart() {
	vcrun "$1" "setsid bproc-nodeagent -f --config /etc/bproc/config --node $1 \
		< /dev/null >> /var/log/bproc-nodeagent.log 2>&1 &" > /dev/null
	wait_state "node$1" up
}

# agent_kill N: kill node N's agent at once (its namespace goes with it).
agent_kill() {
	vcrun "$1" 'kill -9 $(pidof bproc-nodeagent)' > /dev/null
}

if want roundtrip; then
	# Memory, pid and exit status across master -> node1 -> node2 ->
	# master, then node1 again, where it exits 7 for its parent's wait().
	st=0
	mover_start rt 16 || st=1
	pid=${PID[rt]}
	for n in node1 node2 master node1; do
		expect "move to $n" "$(moveto $n $pid)" ok || st=1
		expect "file" "$(where_is $pid)" "$n" || st=1
		ask rt where
		expect "on $n" "${REPLY% *}" "where $n $pid" || st=1
		ask rt check
		expect "memory on $n" "$REPLY" "check ok" || st=1
	done
	echo "exit 7" >&"${IN[rt]}"
	ended $pid; expect "exit status" "$STATUS" 7 || st=1
	grep -q "pid $pid (mover) exited on node1: status 7" $M/events || st=1
	result roundtrip $st
fi

if want exit-abort; then
	# Dying of a signal on a node: the parent sees that signal.
	st=0
	mover_start ab 1 || st=1
	expect "move" "$(moveto node2 ${PID[ab]})" ok || st=1
	echo abort >&"${IN[ab]}"
	ended ${PID[ab]}; expect "exit status" "$STATUS" 134 || st=1
	grep "pid ${PID[ab]} (mover) exited on node2" $M/events
	grep -q "pid ${PID[ab]} (mover) exited on node2: killed by SIGABRT" \
		$M/events || st=1
	result exit-abort $st
fi

if want signals; then
	# kill(1) and a process file reach it on the node; SIGTERM ends it.
	st=0
	mover_start sg 1 || st=1
	pid=${PID[sg]}
	expect "move" "$(moveto node2 $pid)" ok || st=1
	# one at a time: two of one signal pending together are one, anywhere
	for k in 1 2 3; do
		kill -USR1 $pid
		for i in $(seq 50); do
			ask sg usr1
			[ "$REPLY" = "usr1 $k" ] && break
			sleep 0.1
		done
		expect "after kill $k" "$REPLY" "usr1 $k" || st=1
	done
	echo USR1 > $M/node2/$pid || st=1
	for i in $(seq 50); do
		ask sg usr1
		[ "$REPLY" = "usr1 4" ] && break
		sleep 0.1
	done
	expect "after the process file" "$REPLY" "usr1 4" || st=1
	kill -TERM $pid
	ended $pid; expect "exit status" "$STATUS" 143 || st=1
	result signals $st
fi

if want kill-on-node; then
	# Killed where it runs: the ghost ends the same way.
	st=0
	mover_start kn 1 || st=1
	pid=${PID[kn]}
	expect "move" "$(moveto node1 $pid)" ok || st=1
	vcrun 1 'kill -9 $(pidof mover)' || st=1
	ended $pid; expect "exit status" "$STATUS" 137 || st=1
	grep -q "pid $pid (mover) exited on node1: killed by SIGKILL" $M/events ||
		st=1
	result kill-on-node $st
fi

if want jobcontrol; then
	# SIGSTOP and SIGCONT: the ghost and the process stop and go on.
	st=0
	mover_start jc 1 || st=1
	pid=${PID[jc]}
	expect "move" "$(moveto node1 $pid)" ok || st=1
	kill -STOP $pid
	for i in $(seq 100); do
		[ "$(awk '$1 == "state" { print $2 }' $M/node1/$pid)" = T ] && break
		sleep 0.1
	done
	expect "state on node1" "$(awk '$1 == "state" { print $2 }' $M/node1/$pid)" T || st=1
	expect "ghost" "$(awk '{ print $3 }' /proc/$pid/stat)" T || st=1
	kill -CONT $pid
	ask jc check
	expect "after SIGCONT" "$REPLY" "check ok" || st=1
	mover_end jc
	ended $pid; expect "exit status" "$STATUS" 3 || st=1
	result jobcontrol $st
fi

if want stopped-move; then
	# A stopped process moves and stays stopped where it lands (it reads
	# nothing meanwhile), then goes on when continued; so does one stopped
	# on a node and moved to another.
	st=0
	mover_start sm 1 || st=1
	pid=${PID[sm]}
	# state_on NODE: its state in /bproc/NODE/PID
	state_on() { awk '$1 == "state" { print $2 }' $M/$1/$pid 2>/dev/null; }
	kill -STOP $pid
	for i in $(seq 100); do
		[ "$(awk '{ print $3 }' /proc/$pid/stat)" = T ] && break
		sleep 0.1
	done
	expect "move while stopped" "$(moveto node1 $pid)" ok || st=1
	sleep 1
	expect "state on node1" "$(state_on node1)" T || st=1
	printf 'where\n' >&"${IN[sm]}"
	sleep 1
	grep -q '^where ' "$W/sm.out" && { echo "it ran while stopped"; st=1; }
	kill -CONT $pid
	wait_for "$W/sm.out" '^where [^ ]* '"$pid"' ' 600 || { echo "no answer once continued"; st=1; }
	ask sm check
	expect "after SIGCONT" "$REPLY" "check ok" || st=1
	kill -STOP $pid
	for i in $(seq 100); do
		[ "$(state_on node1)" = T ] && break
		sleep 0.1
	done
	expect "stopped on node1" "$(state_on node1)" T || st=1
	expect "node1 -> node2 while stopped" "$(moveto node2 $pid)" ok || st=1
	sleep 1
	expect "state on node2" "$(state_on node2)" T || st=1
	kill -CONT $pid
	ask sm check
	expect "on node2 after SIGCONT" "$REPLY" "check ok" || st=1
	mover_end sm
	ended $pid; expect "exit status" "$STATUS" 3 || st=1
	result stopped-move $st
fi

if want terminal-stopped; then
	# At a terminal: a job stopped with Ctrl-Z moves, and fg lets it go on
	# where it is now.
	st=0
	ptyrun mover 1 > "$W/pts.out" 2>&1 <<'KEYS'
expect ready
send \032
status
move node1
fg
send where
expect where node1
send check
expect check ok
send \003
status
KEYS
	cat "$W/pts.out"
	grep -q '^stopped 20$' "$W/pts.out" || st=1
	grep -q '^move ok$' "$W/pts.out" || st=1
	grep -q '^got where node1$' "$W/pts.out" || st=1
	grep -q '^got check ok$' "$W/pts.out" || st=1
	grep -q '^killed 2$' "$W/pts.out" || st=1
	result terminal-stopped $st
fi

if want threads-move; then
	# A process of 9 threads moves master -> node1 -> node2 -> master ->
	# node1 -> node2 -> node1 -> master while its workers wait (condition
	# variables, a futex, read, nanosleep, poll, busy, sigwaitinfo): every
	# thread goes on where it is
	# now with its tid (the victim checks gettid(); home, its threads are
	# those it left with), SIGSTOP and SIGCONT stop and continue it on a
	# node, and its sums are those of a run that never moved.
	st=0
	start_victim threads pause || st=1
	echo go >&7; kill -USR1 $VPID
	finish $VPID "$W/threads.out" || st=1
	exec 7>&-
	want_sums=$(grep '^sums' "$W/threads.out")
	start_victim threads pause || st=1
	pid=$VPID
	tids=$(ls /proc/$pid/task | sort | tr '\n' ' ')
	for n in node1 node2 master node1 node2 node1; do
		expect "move to $n" "$(moveto $n $pid)" ok || st=1
		[ $n = master ] || continue
		expect "threads home midway" "$(ls /proc/$pid/task 2>/dev/null | sort | tr '\n' ' ')" "$tids" || st=1
	done
	expect "where" "$(where_is $pid)" node1 || st=1
	# while it is away its ghost keeps every thread, each with its tid:
	# a signal to one thread alone (tgkill) runs in that thread there
	expect "threads here while away" "$(ls /proc/$pid/task 2>/dev/null | sort | tr '\n' ' ')" "$tids" || st=1
	set -- $(grep '^tids' "$W/threads.out")
	w1=$3 w5=$7
	for t in $pid $w1 $w5; do
		tgkill $pid $t URG || st=1
	done
	kill -STOP $pid
	for i in $(seq 100); do
		[ "$(awk '$1 == "state" { print $2 }' $M/node1/$pid)" = T ] && break
		sleep 0.1
	done
	expect "stopped on node1" "$(awk '$1 == "state" { print $2 }' $M/node1/$pid)" T || st=1
	# and its threads here stop with it, as a stopped process's do
	for i in $(seq 100); do
		states=$(cat /proc/$pid/task/*/stat 2>/dev/null | awk '{ print $3 }' | sort -u | tr '\n' ' ')
		[ "$states" = "T " ] && break
		sleep 0.1
	done
	expect "its threads here stopped" "$states" "T " || st=1
	kill -CONT $pid
	expect "home" "$(moveto master $pid)" ok || { tail -n 3 $M/events; st=1; }
	expect "threads at home" "$(ls /proc/$pid/task 2>/dev/null | sort | tr '\n' ' ')" "$tids" || st=1
	echo go >&7; kill -USR1 $pid
	finish $pid "$W/threads.out" || st=1
	exec 7>&-
	expect "sums" "$(grep '^sums' "$W/threads.out")" "$want_sums" || st=1
	expect "SIGURG in the threads it was sent to" "$(grep '^urg' "$W/threads.out" | tr '\n' ' ')" "urg $pid urg $w1 urg $w5 " || st=1
	result threads-move $st
fi

if want threads-killed; then
	# Away, a process with threads ends by a core-dumping signal sent to
	# it here: its ghost and every ghost thread end first, and its parent
	# sees that signal (no core: the ghost had no memory). Another, by a
	# signal to one of its threads alone.
	st=0
	start_victim threads pause || st=1
	pid=$VPID
	expect "move" "$(moveto node1 $pid)" ok || st=1
	kill -ABRT $pid # (a background job ignores SIGQUIT)
	ended $pid; expect "ended by SIGABRT" "$STATUS" 134 || st=1
	exec 7>&-
	expect "its threads gone" "$(ls /proc/$pid/task 2>/dev/null)" "" || st=1
	start_victim threads pause || st=1
	pid=$VPID
	expect "move" "$(moveto node2 $pid)" ok || st=1
	set -- $(grep '^tids' "$W/threads.out")
	tgkill $pid $4 TERM || st=1
	ended $pid; expect "ended by SIGTERM to thread $4" "$STATUS" 143 || st=1
	exec 7>&-
	expect "node2 has none of it" "$(vcrun 2 "ps -o comm | grep -c '^w[0-9]\|^threads'")" 0 || st=1
	result threads-killed $st
fi

if want threads-born; then
	# A thread the process makes where it runs has its ghost thread here
	# too, within moments, with its tid (a tgkill of it runs there in that
	# thread), and it goes away here when it ends there; one made on a node
	# comes home with the process.
	st=0
	mover_start tb 1 || st=1
	pid=${PID[tb]}
	expect "move" "$(moveto node1 $pid)" ok || st=1
	thread_here tb $pid node1 || st=1
	thread_gone tb $pid || st=1
	# threads that end at once are never the front end's
	ask tb "burst 300"
	expect "a burst of threads" "$REPLY" "burst 300" || st=1
	sleep 1
	expect "none of them here" "$(ls /proc/$pid/task | tr '\n' ' ')" "$pid " || st=1
	expect "to node2" "$(moveto node2 $pid)" ok || st=1
	ask tb thread
	t2=${REPLY#thread }
	until_true test -d /proc/$pid/task/$t2
	expect "node2's thread here" "$(ls /proc/$pid/task | sort -n | tr '\n' ' ')" "$pid $t2 " || st=1
	expect "home" "$(moveto master $pid)" ok || st=1
	expect "home with it" "$(ls /proc/$pid/task | sort -n | tr '\n' ' ')" "$pid $t2 " || st=1
	tgkill $pid $t2 URG || st=1
	sleep 0.5
	ask tb urg
	expect "SIGURG ran in thread $t2 at home" "$REPLY" "urg $t2" || st=1
	ask tb unthread
	ask tb check
	expect "memory" "$REPLY" "check ok" || st=1
	mover_end tb
	ended $pid; expect "exit status" "$STATUS" 3 || st=1
	# a process born on a node: its ghost, its parent's ghost's child,
	# keeps its threads too
	rm -f "$W/bm.in" "$W/bm.out"
	mkfifo "$W/bm.in"
	bpsh 1 sh -c 'mover 1; exit $?' < "$W/bm.in" > "$W/bm.out" 2>&1 &
	bp=$!
	exec {fd}> "$W/bm.in"
	IN[bm]=$fd
	wait_for "$W/bm.out" "^ready " 600 || st=1
	bm=$(awk '$1 == "ready" { print $2 }' "$W/bm.out")
	expect "born on node1" "$(where_is $bm)" node1 || st=1
	thread_here bm $bm "node1 (a born one)" || st=1
	thread_gone bm $bm || st=1
	mover_end bm
	ended $bp; expect "bpsh's status" "$STATUS" 3 || st=1
	result threads-born $st
fi

if want omp-move; then
	# An OpenMP program (libgomp, 4 threads) moves mid-loop, master ->
	# node1 -> node2, and finishes there with the sum of a run that never
	# moved.
	st=0
	start_victim omp 4 || st=1
	kill -USR1 $VPID
	ended $VPID; expect "run here" "$STATUS" 0 || st=1
	exec 7>&-
	want_sum=$(grep '^sum ' "$W/omp.out")
	start_victim omp 4 || st=1
	pid=$VPID
	expect "move to node1" "$(moveto node1 $pid)" ok || st=1
	expect "move to node2" "$(moveto node2 $pid)" ok || st=1
	kill -USR1 $pid
	ended $pid; expect "exit status" "$STATUS" 0 || st=1
	exec 7>&-
	expect "sum" "$(grep '^sum ' "$W/omp.out")" "$want_sum" || st=1
	expect "threads" "$(grep '^threads ' "$W/omp.out")" "threads 4" || st=1
	result omp-move $st
fi

if want fds-move; then
	# The kernel objects a threaded runtime holds (eventfds, timerfds, a
	# signalfd, epolls, memfds, one mapped shared) move front end -> node1
	# -> node2 -> front end with their state: the victim checks every one
	# at home, where the ghost took them from its agent's helper.
	st=0
	if start_victim fds read; then
		pid=$VPID
		expect "move to node1" "$(moveto node1 $pid)" ok || st=1
		expect "move to node2" "$(moveto node2 $pid)" ok || st=1
		expect "home" "$(moveto master $pid)" ok ||
			{ st=1; tail -n 3 $M/events; }
		expect "where" "$(where_is $pid)" master || st=1
		echo go >&7
		finish $pid "$W/fds.out" || st=1
	else
		st=1
	fi
	exec 7>&-
	result fds-move $st
fi

if want terminal; then
	# At a terminal: what is typed reaches it on the node, Ctrl-Z stops it
	# (its shell sees the stop), fg lets it go on, Ctrl-C ends it.
	st=0
	ptyrun mover 1 > "$W/pty.out" 2>&1 <<'KEYS'
expect ready
move node1
send where
expect where node1
send \032
status
fg
send check
expect check ok
send \003
status
KEYS
	cat "$W/pty.out"
	grep -q '^move ok$' "$W/pty.out" || st=1
	grep -q '^got where node1$' "$W/pty.out" || st=1
	grep -q '^stopped 20$' "$W/pty.out" || st=1
	grep -q '^got check ok$' "$W/pty.out" || st=1
	grep -q '^killed 2$' "$W/pty.out" || st=1
	result terminal $st
fi

if want pipeline; then
	# 100,000 numbered lines through a pipe, in order, none lost, none
	# twice, while the writer moves master -> node1 -> node2 -> master.
	st=0
	rm -f "$W/raw" "$W/uniq"
	lines 100000 20 | tee "$W/raw" | sort -n | uniq -c > "$W/uniq" &
	pipe=$!
	sleep 0.5
	pid=$(pidof lines)
	moved=0
	for n in node1 node2 master; do
		sleep 1
		r=$(moveto $n $pid)
		echo "to $n: $r"
		[ "$r" = ok ] && moved=$((moved + 1))
	done
	wait $pipe
	[ $moved -ge 2 ] || { echo "moved only $moved times"; st=1; }
	awk '$1 != NR - 1 { bad++ } END { print NR, "lines,", bad + 0, "out of order"; exit !(NR == 100000 && !bad) }' "$W/raw" || st=1
	awk '$1 != 1 || $2 != NR - 1 { bad++ } END { exit !(NR == 100000 && !bad) }' "$W/uniq" ||
		{ echo "sort | uniq -c: $(wc -l < "$W/uniq") lines"; st=1; }
	result pipeline $st
fi

if want self-move; then
	# A process that writes its own pid moves itself; its write returns there.
	st=0
	out=$(sh -c 'echo $$ > /bproc/node1/move && exec hostname')
	expect "hostname" "$out" node1 || st=1
	out=$(sh -c 'echo $$ > /bproc/node2/move && echo $$ $(hostname)' 2>&1)
	set -- $out
	expect "echo" "$2" node2 || st=1
	result self-move $st
fi

if want bpsh; then
	st=0
	base=$(wc -l < $M/events)
	expect "bpsh 1-2" "$(bpsh 1-2 hostname | sort | tr '\n' ' ')" "node1 node2 " || st=1
	# fast start: node1's shell moved first, node2's as a copy of it
	expect "bpsh 1-2: node2's a copy" "$(tail -n +$((base + 1)) $M/events |
		grep -c 'master -> node2 done (.*, a copy of pid ')" 1 || st=1
	expect "bpsh -a" "$(bpsh -a hostname | sort | tr '\n' ' ')" "node1 node2 " || st=1
	bpsh 2 sh -c 'exit 5'
	expect "status" $? 5 || st=1
	expect "bpsh -p" "$(bpsh -p 1 sh -c 'echo out; echo err >&2' 2>&1 | sort | tr '\n' ' ')" "1: err 1: out " || st=1
	expect "stdin" "$(seq 1 1000 | bpsh 1 wc -l)" 1000 || st=1
	expect "bpsh -n" "$(seq 1 1000 | bpsh -n 1 wc -l)" 0 || st=1
	bpsh 9 true 2> "$W/bpsh.err"
	expect "no node" "$?:$(cat "$W/bpsh.err")" "1:bpsh: no node 9" || st=1
	result bpsh $st
fi

if want copies; then
	# Fast start by hand: two shells of one parent, the first moves with
	# "keep", the second with "copy FIRST" and runs as a copy of it (its
	# own pid, the first's shell state: it runs what the first was told
	# to); one with another descriptor open is not alike and moves as
	# itself, as does a copy of a pid nobody keeps (after waiting 0.3 s
	# for its move): copy never fails a move.
	st=0
	base=$(wc -l < $M/events)
	sh -c 'echo "$$ keep" > '$M'/node1/move && echo first $(hostname) &&
		exec cut -d" " -f1 /proc/self/stat' > "$W/cp1.out" &
	p1=$!
	sh -c 'echo "$$ copy '$p1'" > '$M'/node2/move && echo second $(hostname) &&
		exec cut -d" " -f1 /proc/self/stat' > "$W/cp2.out" &
	p2=$!
	wait $p1; s1=$?
	wait $p2; s2=$?
	expect "first" "$s1 $(tr '\n' ' ' < "$W/cp1.out")" "0 first node1 $p1 " || st=1
	# the copy goes on as the first's shell (it says "first"), as itself
	# where it runs: its own pid, on node2
	expect "copy" "$s2 $(tr '\n' ' ' < "$W/cp2.out")" "0 first node2 $p2 " || st=1
	events=$(tail -n +$((base + 1)) $M/events)
	echo "$events" | grep "move pid \($p1\|$p2\) "
	echo "$events" | grep -q "move pid $p2 (sh) master -> node2 done (.*, a copy of pid $p1)" ||
		{ echo "no copy in events"; st=1; }
	# not alike (fd 7 open): itself
	base=$(wc -l < $M/events)
	sh -c 'echo "$$ keep" > '$M'/node1/move && exec echo first' > "$W/cp1.out" &
	p1=$!
	sh -c 'exec 7< /dev/null; echo "$$ copy '$p1'" > '$M'/node2/move &&
		echo second $(hostname) && exec cut -d" " -f1 /proc/self/stat' > "$W/cp2.out" &
	p2=$!
	wait $p1; wait $p2; s2=$?
	expect "not alike" "$s2 $(tr '\n' ' ' < "$W/cp2.out")" "0 second node2 $p2 " || st=1
	tail -n +$((base + 1)) $M/events | grep -q "move pid $p2 (sh) master -> node2 done ([0-9]* bytes, [0-9]* ms)$" ||
		{ echo "not alike: no plain move in events"; st=1; }
	# a copy of a pid that keeps nothing: itself, after its wait
	t0=$EPOCHREALTIME
	out=$(sh -c 'echo "$$ copy '$$'" > '$M'/node1/move && exec echo alone $(hostname)')
	expect "copy of nothing kept" "$out" "alone node1" || st=1
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { exit !(b - a >= 0.3) }' ||
		{ echo "it did not wait for a move to copy"; st=1; }
	result copies $st
fi

if want tree; then
	# Fast start down a tree of nodes: a node where an image went with
	# "keep" keeps it too and, once it runs the process, sends it on: a
	# copy of a big enough image (3 MB of a shell variable) to node2
	# comes from node1, the next one to node1 from node2 (a node never
	# from itself); each runs as a copy, with its own pid, and events say
	# who sent it. A node that no longer has it (its agent restarted):
	# the front end sends it.
	st=0
	big='x=$(head -c 3000000 /dev/zero | tr "\\0" a); '
	base=$(wc -l < $M/events)
	sh -c "$big"'echo "$$ keep" > '$M'/node1/move && echo first $(hostname) ${#x} &&
		exec cut -d" " -f1 /proc/self/stat' > "$W/tr1.out" &
	p1=$!
	wait $p1; s1=$?
	expect "first" "$s1 $(tr '\n' ' ' < "$W/tr1.out")" "0 first node1 3000000 $p1 " || st=1
	for n in 2 1; do
		sh -c "$big"'echo "$$ copy '$p1'" > '$M'/node'$n'/move &&
			echo second $(hostname) && exec cut -d" " -f1 /proc/self/stat' > "$W/tr2.out" &
		p2=$!
		wait $p2; s2=$?
		expect "copy to node$n" "$s2 $(tr '\n' ' ' < "$W/tr2.out")" "0 first node$n 3000000 $p2 " || st=1
		from=node$((3 - n))
		tail -n +$((base + 1)) $M/events | grep "move pid $p2 "
		tail -n +$((base + 1)) $M/events |
			grep -q "move pid $p2 (sh) master -> node$n done (.*, a copy of pid $p1, sent by $from)" ||
			{ echo "copy to node$n: not sent by $from"; st=1; }
	done
	# three copies at once (one sender at a time each: some wait for one)
	base=$(wc -l < $M/events)
	pids=
	for n in 2 1 2; do
		sh -c "$big"'echo "$$ copy '$p1'" > '$M'/node'$n'/move &&
			echo second' > "$W/tr3.$n.$(echo $pids | wc -w)" &
		pids="$pids $!"
	done
	for p in $pids; do wait $p || { echo "copy $p failed"; st=1; }; done
	# each runs on as the first did: its echo, then its pid
	expect "three copies" "$(cat "$W"/tr3.* | grep '^first' | sort | tr '\n' ' ')" \
		"first node1 3000000 first node2 3000000 first node2 3000000 " || st=1
	rm -f "$W"/tr3.*
	for p in $pids; do
		tail -n +$((base + 1)) $M/events | grep "move pid $p "
		tail -n +$((base + 1)) $M/events | grep -q "move pid $p (sh) .* done (.*, a copy of pid $p1" ||
			{ echo "$p: not a copy"; st=1; }
	done
	base=$(wc -l < $M/events)
	sh -c "$big"'echo "$$ keep" > '$M'/node1/move && exec echo first ${#x}' > "$W/tr1.out" &
	p1=$!
	wait $p1
	agent_kill 1
	agent_restart 1 || st=1
	sh -c "$big"'echo "$$ copy '$p1'" > '$M'/node2/move &&
		echo second $(hostname) && exec cut -d" " -f1 /proc/self/stat' > "$W/tr2.out" &
	p2=$!
	wait $p2; s2=$?
	expect "copy, node1 restarted" "$s2 $(tr '\n' ' ' < "$W/tr2.out")" "0 first 3000000 " || st=1
	tail -n +$((base + 1)) $M/events | grep "move pid $p2 "
	tail -n +$((base + 1)) $M/events |
		grep -q "move pid $p2 (sh) master -> node2 done ([0-9]* bytes, [0-9]* ms, a copy of pid $p1)$" ||
		{ echo "copy, node1 restarted: not sent by the front end"; st=1; }
	result tree $st
fi

if want getppid; then
	# On its node a moved process's getppid() is its parent's pid: two
	# children of this shell moved to node1 both see it (one stand-in
	# holds the pid there for both), as /proc there does, and what bpsh
	# runs sees the parent bpsh had here; the parent's wait() gets each
	# exact status. The parent cannot move to that node while it has the
	# child (refused, the child still sees it); once its parent is killed here, a
	# child's getppid() there is 1 within seconds. Nothing of it is left
	# on the node.
	st=0
	mover_start pa 1 || st=1
	mover_start pb 1 || st=1
	for n in pa pb; do
		pid=${PID[$n]}
		expect "$n: its parent here" "$(awk '{ print $4 }' /proc/$pid/stat)" $$ || st=1
		expect "$n: move" "$(moveto node1 $pid)" ok || st=1
		ask $n where
		expect "$n: getppid() on node1" "$REPLY" "where node1 $pid $$" || st=1
	done
	expect "stand-ins on node1" "$(vcrun 1 'ps -o comm' | grep -c '^bproc-standin$')" 1 || st=1
	expect "its /proc there" \
		"$(bpsh 1 awk '/^PPid:/ { print $2 }' /proc/${PID[pa]}/status)" $$ || st=1
	echo "exit 7" >&"${IN[pa]}"
	ended ${PID[pa]}; expect "pa: exit status" "$STATUS" 7 || st=1
	ask pb where
	expect "pb: getppid() after pa's end" "$REPLY" "where node1 ${PID[pb]} $$" || st=1
	echo abort >&"${IN[pb]}"
	ended ${PID[pb]}; expect "pb: exit status" "$STATUS" 134 || st=1
	# bpsh's command is bpsh's process: its parent is bpsh's parent
	read -r got want <<< "$(sh -c 'bpsh 1 sh -c "echo \$PPID"; echo $$' | tr '\n' ' ')"
	expect "bpsh 1 sh -c 'echo \$PPID'" "$got" "$want" || st=1
	# its parent cannot follow it there while it has it as a child
	rm -f "$W/pm.in" "$W/pm.out"
	mkfifo "$W/pm.in"
	sh -c 'mover 1 < "$1" > "$2" 2>&1 & echo $!; exec sleep 600' pm \
		"$W/pm.in" "$W/pm.out" > "$W/pm.pid" &
	parent=$!
	exec {fd}> "$W/pm.in"
	IN[pm]=$fd
	wait_for "$W/pm.out" "^ready " 600 || st=1
	pid=$(cat "$W/pm.pid")
	expect "pm: move" "$(moveto node1 $pid)" ok || st=1
	ask pm where
	expect "pm: getppid() on node1" "$REPLY" "where node1 $pid $parent" || st=1
	# (a parent with children does not move: it would not find them to
	# wait for there)
	expect "pm: its parent's move there" "$(moveto node1 $parent)" EOPNOTSUPP || st=1
	ask pm where
	expect "pm: getppid() still" "$REPLY" "where node1 $pid $parent" || st=1
	echo "exit 3" >&"${IN[pm]}"
	mover_end pm
	# (its parent does not wait for it: it is reaped once that one ends)
	kill $parent
	ended $parent; expect "pm: its parent's status" "$STATUS" 143 || st=1
	for i in $(seq 600); do kill -0 $pid 2> /dev/null || break; sleep 0.1; done
	kill -0 $pid 2> /dev/null && { echo "pm did not end"; st=1; }
	# its parent killed here: getppid() is 1 there
	rm -f "$W/pk.in" "$W/pk.out"
	mkfifo "$W/pk.in"
	sh -c 'mover 1 < "$1" > "$2" 2>&1 & echo $!; wait' pk "$W/pk.in" \
		"$W/pk.out" > "$W/pk.pid" &
	parent=$!
	exec {fd}> "$W/pk.in"
	IN[pk]=$fd
	wait_for "$W/pk.out" "^ready " 600 || st=1
	pid=$(cat "$W/pk.pid")
	expect "pk: move" "$(moveto node1 $pid)" ok || st=1
	ask pk where
	expect "pk: getppid() on node1" "$REPLY" "where node1 $pid $parent" || st=1
	kill -9 $parent
	wait $parent 2> /dev/null
	t0=$(date +%s)
	for i in $(seq 50); do
		ask pk where
		[ "$REPLY" = "where node1 $pid 1" ] && break
		sleep 0.2
	done
	expect "pk: getppid() once its parent is gone" "$REPLY" "where node1 $pid 1" || st=1
	echo "getppid() was 1 after $(( $(date +%s) - t0 )) s"
	[ $(( $(date +%s) - t0 )) -le 10 ] || { echo "too slow"; st=1; }
	echo "exit 3" >&"${IN[pk]}"
	mover_end pk
	for i in $(seq 600); do kill -0 $pid 2> /dev/null || break; sleep 0.1; done
	kill -0 $pid 2> /dev/null && { echo "pk did not end"; st=1; }
	# no stand-in, no zombie left there
	for i in $(seq 100); do
		left="$(vcrun 1 'ps -o comm' | grep -c '^bproc-standin$')"
		left="$left $(vcrun 1 'ps -o stat' | grep -c '^Z')"
		[ "$left" = "0 0" ] && break
		sleep 0.1
	done
	expect "stand-ins and zombies on node1" "$left" "0 0" ||
		{ vcrun 1 'ps -o pid,ppid,stat,comm' | awk '$2 != 2'; st=1; }
	result getppid $st
fi

if want stdin; then
	# Binary data through a moved cat both ways, and EOF passed on.
	st=0
	head -c 3000000 /dev/urandom > "$W/blob"
	a=$(md5sum < "$W/blob")
	b=$(bpsh 2 cat < "$W/blob" | md5sum)
	expect "through node2" "$b" "$a" || st=1
	c=$(cat "$W/blob" | bpsh 1 cat | bpsh 2 cat | md5sum)
	expect "through node1 and node2" "$c" "$a" || st=1
	result stdin $st
fi

if want getpid-creds; then
	# Inside, getpid() is still its pid and the credentials are its own.
	st=0
	rm -f "$W/cr.in" "$W/cr.out"; mkfifo "$W/cr.in"
	asuser 65534 65534 mover 1 < "$W/cr.in" > "$W/cr.out" 2>&1 &
	PID[cr]=$!
	exec {fd}> "$W/cr.in"; IN[cr]=$fd
	wait_for "$W/cr.out" "^ready ${PID[cr]}\$" 300 || st=1
	ask cr ids; before=$REPLY
	expect "move" "$(moveto node1 ${PID[cr]})" ok || st=1
	ask cr where
	expect "getpid" "${REPLY% *}" "where node1 ${PID[cr]}" || st=1
	ask cr ids
	expect "ids" "$REPLY" "$before" || st=1
	expect "ids" "$REPLY" "ids 65534 65534 65534 65534 65534 65534 65534" || st=1
	expect "uid in its file" "$(awk '$1 == "uid" { print $2 }' $M/node1/${PID[cr]})" 65534 || st=1
	mover_end cr
	ended ${PID[cr]}; expect "exit status" "$STATUS" 3 || st=1
	result getpid-creds $st
fi

if want files; then
	# An open regular file is reopened there by path, at its offset.
	st=0
	rm -f "$W/f.txt"
	vcrun 1 "mkdir -p $W; : > $W/f.txt" || st=1
	mover_start fl 1 "$W/f.txt" || st=1
	ask fl "write abc"
	expect "offset" "$REPLY" "write 4" || st=1
	expect "move" "$(moveto node1 ${PID[fl]})" ok || st=1
	ask fl "write de"
	expect "offset there" "$REPLY" "write 7" || st=1
	expect "node1's file" "$(vcrun 1 "od -An -c $W/f.txt" | tr -s ' ')" " \\0 \\0 \\0 \\0 d e \\n" || st=1
	expect "the front end's" "$(cat "$W/f.txt")" abc || st=1
	# its close-on-exec flag goes with it, there and back
	ask fl "fdflags 3"
	expect "fd 3 there" "$REPLY" "fdflags 3 0" || st=1
	ask fl "cloexec 3"
	ask fl "cloexec 1"
	vcrun 2 "mkdir -p $W; : > $W/f.txt" || st=1
	expect "to node2" "$(moveto node2 ${PID[fl]})" ok || st=1
	ask fl "fdflags 3"
	expect "fd 3 close-on-exec on node2" "$REPLY" "fdflags 3 1" || st=1
	ask fl "fdflags 1"
	expect "its stdout close-on-exec on node2" "$REPLY" "fdflags 1 1" || st=1
	ask fl "fdflags 0"
	expect "its stdin not" "$REPLY" "fdflags 0 0" || st=1
	expect "home" "$(moveto master ${PID[fl]})" ok || st=1
	ask fl "fdflags 3"
	expect "fd 3 close-on-exec home" "$REPLY" "fdflags 3 1" || st=1
	ask fl "fdflags 1"
	expect "its stdout close-on-exec home" "$REPLY" "fdflags 1 1" || st=1
	mover_end fl
	ended ${PID[fl]}
	result files $st
fi

if want files-missing; then
	# A file the node does not have: the move fails, the process goes on.
	st=0
	rm -f "$W/only-here.txt"
	vcrun 2 "rm -f $W/only-here.txt"
	mover_start fm 1 "$W/only-here.txt" || st=1
	expect "move" "$(moveto node2 ${PID[fm]})" EIO || st=1
	grep "move pid ${PID[fm]} (mover) master -> node2 failed" $M/events | tail -n 1
	grep -q "move pid ${PID[fm]} (mover) master -> node2 failed: EIO: node2: ENOENT: .*only-here.txt" $M/events || st=1
	ask fm where
	expect "still here" "${REPLY% *}" "where master ${PID[fm]}" || st=1
	mover_end fm
	ended ${PID[fm]}; expect "exit status" "$STATUS" 3 || st=1
	result files-missing $st
fi

# moved_bytes PID NODE: the image bytes of PID's last move to NODE (events).
moved_bytes() {
	grep "move pid $1 (.*) .* -> $2 done (" $M/events | tail -n 1 |
		sed 's/.*done (\([0-9]*\) bytes.*/\1/'
}

# exe_on N COMM: what /proc/PID/exe names for the process COMM on node N.
exe_on() {
	vcrun "$1" "for p in /proc/[0-9]*; do [ \"\$(cat \$p/comm 2>/dev/null)\" = $2 ] && readlink \$p/exe; done" | head -n 1
}

# The front end's agent says what a move sent whole (send.c).
AGENT_LOG=/var/log/bproc-nodeagent.log

if want send-auto; then
	# A program only the front end has (node1 never had it) runs there:
	# by default the source asks, and its program goes whole; its
	# libraries, the same on every node, go by path. Its /proc/PID/exe
	# there is the program's file carried whole, in memory, named as a
	# program removed after it was executed, and stays so on to node2;
	# home, its own file again.
	st=0
	mkdir -p /tmp/only-here
	cp $V/mover /tmp/only-here/sa-prog
	vcrun 1 "rm -rf /tmp/only-here"
	vcrun 2 "rm -rf /tmp/only-here"
	MOVER=/tmp/only-here/sa-prog mover_start sa 4 || st=1
	pid=${PID[sa]}
	expect "comm" "$(cat /proc/$pid/comm)" sa-prog || st=1
	expect "move" "$(moveto node1 $pid)" ok || st=1
	ask sa where
	expect "on node1" "${REPLY% *}" "where node1 $pid" || st=1
	ask sa check
	expect "memory there" "$REPLY" "check ok" || st=1
	grep "pid $pid to node1: sent whole" $AGENT_LOG
	grep -q "pid $pid to node1: sent whole: its program\$" $AGENT_LOG || st=1
	expect "exe on node1" "$(exe_on 1 sa-prog)" "/tmp/only-here/sa-prog (deleted)" || st=1
	expect "it runs it" "$(vcrun 1 "/proc/\$(pidof sa-prog)/exe 2>&1")" "usage: mover MB [FILE]" || st=1
	expect "node1 -> node2" "$(moveto node2 $pid)" ok || st=1
	ask sa check
	expect "memory on node2" "$REPLY" "check ok" || st=1
	expect "exe on node2" "$(exe_on 2 sa-prog)" "/tmp/only-here/sa-prog (deleted)" || st=1
	# home again: what node2 runs is content now, nothing to ask about
	expect "home" "$(moveto master $pid)" ok || st=1
	ask sa check
	expect "memory home" "$REPLY" "check ok" || st=1
	expect "exe home" "$(readlink /proc/$pid/exe)" /tmp/only-here/sa-prog || st=1
	[ "$(grep -c "pid $pid to .*: sent whole" $AGENT_LOG)" = 1 ] || st=1
	mover_end sa
	ended $pid; expect "exit status" "$STATUS" 3 || st=1
	result send-auto $st
fi

if want send-path-refused; then
	# The same sent by path, as asked by the move or by the config: the
	# node lacks it, the move is refused before any dump, naming it, and
	# the process goes on here.
	st=0
	mkdir -p /tmp/only-here
	cp $V/mover /tmp/only-here/sp-prog
	vcrun 1 "rm -rf /tmp/only-here"
	MOVER=/tmp/only-here/sp-prog mover_start sp 1 || st=1
	pid=${PID[sp]}
	expect "move" "$(moveto node1 "$pid path")" EIO || st=1
	grep "pid $pid" $M/events
	grep -q "move pid $pid (sp-prog) master -> node1 failed: EIO: node1: ENOENT: its program /tmp/only-here/sp-prog is not here" $M/events || st=1
	ask sp where
	expect "still here" "${REPLY% *}" "where master $pid" || st=1
	expect "a bad word" "$(moveto node1 "$pid wholly")" EINVAL || st=1
	grep -q "failed: EINVAL: 'wholly' is not path, whole, auto, keep or copy PID" $M/events || st=1
	# node1 set to "path" in the config: the same, with no word
	cp /etc/bproc/config "$W/config.saved"
	echo "send 1 path" >> /etc/bproc/config
	kill -HUP "$(pidof bprocfs)"
	sleep 1
	expect "config path" "$(moveto node1 $pid)" EIO || st=1
	[ "$(grep -c "move pid $pid (sp-prog) master -> node1 failed: EIO: node1: ENOENT: its program /tmp/only-here/sp-prog is not here" $M/events)" = 2 ] || st=1
	expect "its word wins" "$(moveto node1 "$pid auto")" ok || st=1
	ask sp check
	expect "there" "$REPLY" "check ok" || st=1
	cp "$W/config.saved" /etc/bproc/config
	kill -HUP "$(pidof bprocfs)"
	sleep 1
	mover_end sp
	ended $pid; expect "exit status" "$STATUS" 3 || st=1
	result send-path-refused $st
fi

if want send-whole; then
	# A program every node has, sent whole on request: it runs there,
	# its image larger than by path by its program and libraries, and
	# its /proc/PID/exe is the program's file carried whole, on to node2
	# too, where it moves by auto; home, its own file again.
	st=0
	mover_start sw 1 || st=1
	pid=${PID[sw]}
	expect "by path" "$(moveto node1 "$pid path")" ok || st=1
	path_bytes=$(moved_bytes $pid node1)
	expect "exe on node1 by path" "$(exe_on 1 mover)" "$V/mover" || st=1
	expect "back" "$(moveto master $pid)" ok || st=1
	expect "whole" "$(moveto node1 "$pid whole")" ok || st=1
	whole_bytes=$(moved_bytes $pid node1)
	echo "by path $path_bytes bytes, whole $whole_bytes bytes"
	[ "$whole_bytes" -gt $((path_bytes + 500000)) ] || st=1
	ask sw where
	expect "on node1" "${REPLY% *}" "where node1 $pid" || st=1
	ask sw check
	expect "memory there" "$REPLY" "check ok" || st=1
	expect "exe on node1 after whole" "$(exe_on 1 mover)" "$V/mover (deleted)" || st=1
	expect "auto, the same everywhere" "$(moveto node2 $pid)" ok || st=1
	grep -q "pid $pid to node2: sent whole" $AGENT_LOG && st=1
	vcrun 1 "grep -q 'pid $pid to node2: sent whole' $AGENT_LOG" && st=1
	expect "exe on node2" "$(exe_on 2 mover)" "$V/mover (deleted)" || st=1
	ask sw check
	expect "memory on node2" "$REPLY" "check ok" || st=1
	expect "home" "$(moveto master $pid)" ok || st=1
	expect "exe home" "$(readlink /proc/$pid/exe)" "$V/mover" || st=1
	mover_end sw
	ended $pid; expect "exit status" "$STATUS" 3 || st=1
	result send-whole $st
fi

if want send-libs; then
	# A library node1 has another copy of (another mtime) and node2 has
	# not at all: the libraries of a process that maps it go whole to
	# either, its program by path. (Once restored whole, a mapping is
	# its content: moving on from there asks about nothing.)
	st=0
	libc=/lib/x86_64-linux-gnu/libc.so.6
	mkdir -p /tmp/only-libs
	cp $libc /tmp/only-libs/
	vcrun 1 "mkdir -p /tmp/only-libs && sleep 1 && cp $libc /tmp/only-libs/" || st=1
	vcrun 2 "rm -rf /tmp/only-libs"
	for n in 1 2; do
		LD_LIBRARY_PATH=/tmp/only-libs mover_start sl$n 1 || st=1
		pid=${PID[sl$n]}
		grep -q /tmp/only-libs/libc /proc/$pid/maps || { echo "not the copy"; st=1; }
		expect "move to node$n" "$(moveto node$n $pid)" ok || st=1
		ask sl$n check
		expect "memory on node$n" "$REPLY" "check ok" || st=1
		expect "home" "$(moveto master $pid)" ok || st=1
		ask sl$n check
		expect "memory home" "$REPLY" "check ok" || st=1
		grep "pid $pid to node$n: sent whole" $AGENT_LOG
		grep -q "pid $pid to node$n: sent whole: its libraries\$" $AGENT_LOG || st=1
		mover_end sl$n
		ended $pid; expect "exit status" "$STATUS" 3 || st=1
	done
	result send-libs $st
fi

# nofds CMD...: exec CMD without the fds above 2 this script holds (the
# FIFOs of earlier movers: a plain dump refuses pipes).
nofds() {
	local f n
	for f in /proc/$BASHPID/fd/*; do
		n=${f##*/}
		[ "$n" -gt 2 ] && eval "exec $n>&-"
	done 2>/dev/null
	exec "$@"
}

if want send-ckpt; then
	# bproc-ckpt dump --send whole: an image of a program only the front
	# end has restores on node1; --send path names it and the restore
	# there fails naming the file; auto is for moves only.
	st=0
	mkdir -p /tmp/only-here
	cp $V/mover /tmp/only-here/ck-prog
	vcrun 1 "rm -rf /tmp/only-here"
	out=$(bproc-ckpt dump --send auto 1 "$W/x.img" 2>&1); rc=$?
	echo "$out"
	expect "--send auto" "$rc" 2 || st=1
	for how in whole path; do
		MOVER="nofds /tmp/only-here/ck-prog" mover_start ck-$how 2 || st=1
		pid=${PID[ck-$how]}
		rm -f "$W/ck.img"
		vcrun 1 "rm -f /tmp/ck.img /tmp/ck.out"
		bproc-ckpt dump --kill --send $how $pid "$W/ck.img" || st=1
		ended $pid
		mover_end ck-$how
		vccp "$W/ck.img" 1:/tmp/ck.img || st=1
		vcrun 1 "cd /; printf 'check\nwhere\nexit 5\n' |
			bproc-ckpt restore /tmp/ck.img > /tmp/ck.out 2>&1; echo rc \$? >> /tmp/ck.out"
		vcrun 1 "cat /tmp/ck.out" > "$W/ck-$how.out"
		cat "$W/ck-$how.out"
		if [ $how = whole ]; then
			grep -q "^check ok\$" "$W/ck-$how.out" || st=1
			grep -q "^where node1 " "$W/ck-$how.out" || st=1
			grep -q "^rc 5\$" "$W/ck-$how.out" || st=1
		else
			grep -q "/tmp/only-here/ck-prog" "$W/ck-$how.out" || st=1
			grep -q "^rc 1\$" "$W/ck-$how.out" || st=1
		fi
	done
	result send-ckpt $st
fi

# same NAME FILE FILE: the two files hold the same bytes, or say how not.
same() {
	cmp -s "$2" "$3" && return 0
	echo "$1: $2 ($(wc -c < "$2") bytes) differs from $3 ($(wc -c < "$3") bytes)"
	cmp "$2" "$3" | head -n 1
	diff "$2" "$3" | head -n 6
	return 1
}

if want streams-files; then
	# Output redirected to a file lands in the front end's file, at the
	# offset the front end's writers share; nothing is opened on the node.
	st=0
	vcrun 1 "mkdir -p $W; echo node-copy > $W/same.txt" > /dev/null || st=1
	bpsh 1 echo hi > "$W/same.txt"
	expect "> file" "$(cat "$W/same.txt")" hi || st=1
	expect "node1's own file" "$(vcrun 1 "cat $W/same.txt")" node-copy || st=1
	bpsh 1 echo a >> "$W/same.txt"
	bpsh 2 echo b >> "$W/same.txt"
	expect ">> file twice" "$(cat "$W/same.txt" | tr '\n' ' ')" "hi a b " || st=1
	{ echo a; bpsh 1 echo b; echo c; } > "$W/abc.txt"
	expect "front end and node in order" "$(tr '\n' ' ' < "$W/abc.txt")" "a b c " || st=1
	bpsh 2 sh -c 'echo out; echo err >&2' > "$W/oe.txt" 2> "$W/oe.err"
	expect "stdout and stderr files" "$(cat "$W/oe.txt") $(cat "$W/oe.err")" "out err" || st=1
	# a running process whose stdout is a file, moved by someone else
	seq 0 19999 > "$W/lines.want"
	lines 20000 20 > "$W/lines.txt" &
	pid=$!
	for n in node1 node2; do
		sleep 0.5
		expect "move to $n" "$(moveto $n $pid)" ok || st=1
	done
	ended $pid; expect "exit status" "$STATUS" 0 || st=1
	same "moved writer" "$W/lines.txt" "$W/lines.want" || st=1
	# appending between the front end's own writes, moving twice
	{ echo first; seq 0 19999; echo last; } > "$W/app.want"
	rm -f "$W/app.txt"
	( echo first; lines 20000 20; echo last ) >> "$W/app.txt" &
	sub=$!
	sleep 0.5
	pid=$(pidof lines)
	for n in node1 master; do
		expect "appender to $n" "$(moveto $n $pid)" ok || st=1
		sleep 0.5
	done
	wait $sub
	same "appender" "$W/app.txt" "$W/app.want" || st=1
	result streams-files $st
fi

if want streams-2to1; then
	# stdout and stderr as one description (2>&1), or as two descriptions
	# appending to one file, or one pipe: their bytes keep their order.
	st=0
	interleave 3000 > "$W/il.want" 2>&1
	bpsh 1 interleave 3000 > "$W/il.txt" 2>&1
	same "2>&1 to a file" "$W/il.txt" "$W/il.want" || st=1
	rm -f "$W/ap.txt"
	bpsh 2 interleave 3000 >> "$W/ap.txt" 2>> "$W/ap.txt"
	same ">> f 2>> f" "$W/ap.txt" "$W/il.want" || st=1
	bpsh 1 interleave 3000 2>&1 | cat > "$W/ilp.txt"
	same "2>&1 | cat" "$W/ilp.txt" "$W/il.want" || st=1
	# and the process moves while it writes them
	interleave 3000 50 > "$W/ilm.txt" 2>&1 &
	pid=$!
	sleep 0.3
	expect "move" "$(moveto node2 $pid)" ok || st=1
	ended $pid; expect "exit status" "$STATUS" 0 || st=1
	same "moved 2>&1" "$W/ilm.txt" "$W/il.want" || st=1
	result streams-2to1 $st
fi

if want streams-stdin; then
	# Input from a file is the front end's file, from its offset, with EOF
	# at its end, and what the process never read is left for whoever
	# reads the file next, as with no move.
	st=0
	seq 1 5000 > "$W/data"
	expect "wc -l < file" "$(bpsh 1 wc -l < "$W/data")" 5000 || st=1
	expect "from its offset" "$({ read first; bpsh 2 cat; } < "$W/data" | head -n 1)" 2 || st=1
	out=$({ bpsh 1 sh -c 'read a; echo "got $a"'; cat; } < "$W/data" | head -n 3 | tr '\n' ' ')
	expect "unread bytes put back" "$out" "got 1 2 3 " || st=1
	seq 1 5 > "$W/five"
	out=$(while read n; do bpsh 1 true; echo "$n"; done < "$W/five" | tr '\n' ' ')
	expect "while read; bpsh" "$out" "1 2 3 4 5 " || st=1
	expect "< /dev/null" "$(bpsh 2 cat < /dev/null | wc -c)" 0 || st=1
	expect "stdin /dev/null there" "$(bpsh 2 readlink /proc/self/fd/0 < /dev/null)" /dev/null || st=1
	# a process that reads a line on node1 and comes home gives back what
	# it never read
	{ lineread 1500 4000; cat; } < "$W/data" > "$W/home.txt" &
	sub=$!
	sleep 0.3
	pid=$(pidof lineread)
	expect "reader to node1" "$(moveto node1 $pid)" ok || st=1
	sleep 2.5
	expect "reader home" "$(moveto master $pid)" ok || st=1
	wait $sub
	expect "home with unread stdin" "$(head -n 3 "$W/home.txt" | tr '\n' ' ')" "got 1 2 3 " || st=1
	result streams-stdin $st
fi

if want streams-null-closed; then
	# /dev/null is /dev/null on the node, nothing forwarded; a closed
	# descriptor stays closed.
	st=0
	bpsh 1 sh -c 'l=$(readlink /proc/$$/fd/1); echo "$l" >&2' > /dev/null 2> "$W/nl.txt"
	expect "stdout /dev/null there" "$(cat "$W/nl.txt")" /dev/null || st=1
	bpsh 2 seq 1 200000 > /dev/null
	expect "to /dev/null" $? 0 || st=1
	out=$(bpsh 1 sh -c '[ -e /proc/self/fd/2 ] && echo open || echo closed' 2>&-)
	expect "stderr closed" "$out" closed || st=1
	out=$(bpsh 2 sh -c '[ -e /proc/self/fd/0 ] && echo open || echo closed' <&-)
	expect "stdin closed" "$out" closed || st=1
	result streams-null-closed $st
fi

if want streams-sockets; then
	# stdout a socket, as a harness or a service manager gives one:
	# unix stream, datagram and seqpacket pairs, TCP and UDP on loopback.
	# Datagrams keep their boundaries.
	st=0
	expect "unix stream" "$(sockrun unix-stream bpsh 1 sh -c 'echo one; hostname' | tr '\n' ' ')" "one node1 " || st=1
	for k in unix-dgram unix-seqpacket udp; do
		# (few enough that UDP on loopback drops none)
		sockrun $k dgrams 20 > "$W/dg.want"
		sockrun $k bpsh 2 dgrams 20 > "$W/dg.txt"
		expect "$k status" $? 0 || st=1
		same "$k datagrams" "$W/dg.txt" "$W/dg.want" || st=1
	done
	seq 1 3000 > "$W/tcp.want"
	sockrun tcp bpsh 1 seq 1 3000 > "$W/tcp.txt"
	same "tcp" "$W/tcp.txt" "$W/tcp.want" || st=1
	# a running process with a socket for stdout, moved twice
	seq 0 19999 > "$W/sk.want"
	sockrun unix-stream lines 20000 20 > "$W/sk.txt" &
	run=$!
	sleep 0.5
	pid=$(pidof lines)
	for n in node1 node2; do
		expect "socket writer to $n" "$(moveto $n $pid)" ok || st=1
		sleep 0.5
	done
	wait $run
	same "moved socket writer" "$W/sk.txt" "$W/sk.want" || st=1
	result streams-sockets $st
fi

# node_pid PID: is it one of the pids nodes hand out (2^21 and up)?
node_pid() {
	[ "$1" -ge 2097152 ]
}

# stat_field PID N: field N of the front end's /proc/PID/stat (after comm).
stat_field() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f"$2"
}

if want born-tree; then
	# A job on a node starts processes there: they are in the cluster, in
	# /bproc and in ps with their parent and process group, and at the
	# terminal one Ctrl-C ends the whole tree as it would here (the shell
	# ends, the terminal hangs up the sleeps).
	st=0
	rm -f "$W/bt.keys"
	mkfifo "$W/bt.keys"
	ptyrun -s bpsh 1 sh -c 'sleep 300 & sleep 300 & echo started; wait' \
		< "$W/bt.keys" > "$W/bt.out" 2>&1 &
	run=$!
	exec 8> "$W/bt.keys"
	echo "expect started" >&8
	echo "pid" >&8
	wait_for "$W/bt.out" '^pid ' 600 || st=1
	job=$(awk '$1 == "pid" { print $2 }' "$W/bt.out")
	sleeps=$(procs_named node1 sleep 2)
	expect "sleeps in /bproc/node1" "$(echo $sleeps | wc -w)" 2 || st=1
	for p in $sleeps; do
		node_pid $p || { echo "pid $p is no node's"; st=1; }
		expect "$p: ppid and pgid" "$(grep -E '^(ppid|pgid) ' $M/node1/$p | tr '\n' ' ')" \
			"ppid $job pgid $job " || st=1
		expect "$p: its ghost's parent, group, session" \
			"$(stat_field $p 2) $(stat_field $p 3) $(stat_field $p 4)" "$job $job $job" || st=1
	done
	expect "ps" "$(ps -o pid,ppid,pgid | awk -v j=$job '$2 == j && $3 == j' | wc -l)" 2 || st=1
	echo 'send \003' >&8
	echo status >&8
	exec 8>&-
	wait $run
	grep -q '^killed 2$' "$W/bt.out" || { cat "$W/bt.out"; st=1; }
	for i in $(seq 100); do
		left=$(vcrun 1 'ps -o comm' | grep -c '^sleep$')
		[ "$left" = 0 ] && break
		sleep 0.1
	done
	expect "sleeps left on node1" "$left" 0 || st=1
	for p in $sleeps $job; do
		for i in $(seq 100); do [ -e /proc/$p ] || break; sleep 0.1; done
		[ -e /proc/$p ] && { echo "ghost $p left: $(cat /proc/$p/stat)"; st=1; }
		[ -e $M/node1/$p ] && { echo "$M/node1/$p left"; st=1; }
	done
	result born-tree $st
fi

if want born-many; then
	# 200 processes started at once on a node: 200 pids of the node's,
	# each a ghost here and nothing else, each with its parent's pid.
	# (They live until they are checked: then they are killed.)
	st=0
	bpsh 2 sh -c 'i=0; while [ $i -lt 200 ]; do
		sh -c "echo \$\$ \$PPID; exec sleep 600" & i=$((i+1)); done; echo shell $$; wait' \
		> "$W/many.out" 2>&1 &
	run=$!
	wait_for "$W/many.out" '^shell ' 600 || st=1
	for i in $(seq 300); do
		[ "$(grep -vc '^shell ' "$W/many.out")" -ge 200 ] && break
		sleep 0.1
	done
	shell=$(awk '$1 == "shell" { print $2 }' "$W/many.out")
	grep -v '^shell ' "$W/many.out" > "$W/many.pids"
	expect "children" "$(wc -l < "$W/many.pids")" 200 || st=1
	# their ghosts come a little after them
	for i in $(seq 300); do
		n=$(ps -eo pid= | awk '$1 >= 2097152' | wc -l)
		[ "$n" -ge 200 ] && break
		sleep 0.1
	done
	expect "ghosts" "$n" 200 || st=1
	expect "distinct pids" "$(cut -d' ' -f1 "$W/many.pids" | sort -u | wc -l)" 200 || st=1
	awk -v s=$shell '$2 != s { bad++ } END { exit bad > 0 }' "$W/many.pids" ||
		{ echo "a getppid() is not $shell"; st=1; }
	bad=0
	while read p pp; do
		node_pid $p || { echo "pid $p is no node's"; bad=$((bad + 1)); }
		# what holds the pid here is its ghost, a child of the shell's
		pp=$(stat_field $p 2)
		[ -n "$pp" ] && [ "$pp" != $shell ] &&
			{ echo "pid $p here has parent $pp: $(cat /proc/$p/stat 2>&1)"; bad=$((bad + 1)); }
	done < "$W/many.pids"
	expect "pids not the node's, or held by another" $bad 0 || st=1
	kill $(cut -d' ' -f1 "$W/many.pids")
	# a child without a ghost would be out of reach: end them anyway
	[ $st = 0 ] || vcrun 2 "pkill -9 -f 'sleep 600'"
	wait $run; expect "status" $? 0 || st=1
	result born-many $st
fi

if want born-quick; then
	# A parent that forks and ends at once, its output read to EOF by
	# $(...): the parent's ghost waits for its child's to be made, and
	# each ends; nothing hangs, nothing is left here. (Once, a ghost that
	# ended during its child's fork left that child's ghost behind, holding
	# the pipe: the read never ended.)
	st=0
	for i in $(seq 20); do
		out=$(timeout 60 bpsh 1 sh -c 'true & echo x$!')
		r=$?
		[ $r = 0 ] && [ "${out#x}" -ge 2097152 ] 2>/dev/null ||
			{ echo "run $i: status $r, output '$out'"; st=1; break; }
	done
	out=$(timeout 60 bpsh 1 /extra/victims/forkloop 300 2>&1)
	expect "forkloop" "$?" 0 || { echo "$out"; st=1; }
	for i in $(seq 100); do
		left=$(ps -eo pid= | awk '$1 >= 2097152' | wc -l)
		[ "$left" = 0 ] && break
		sleep 0.1
	done
	expect "ghosts left" "$left" 0 || { ps -eo pid,ppid,stat,comm | awk '$1 >= 2097152'; st=1; }
	result born-quick $st
fi

if want born-late; then
	# A child's child forked before the child's own ghost is made joins
	# too (its ghost waits for its parent's), and what the child writes
	# after its parent ended arrives. (Once, the grandchild was killed
	# for want of a ghost, and the output after it with it.)
	st=0
	before=$(wc -l < $M/events)
	for i in $(seq 6); do
		out=$(bpsh 2 sh -c '(sleep 1; echo late) & echo early')
		expect "run $i" "$(echo $out)" "early late" || st=1
	done
	if tail -n +$((before + 1)) $M/events | grep "killed: no ghost"; then
		st=1
	fi
	result born-late $st
fi

if want born-move; then
	# A process started on node1 by a cluster process moves to node2,
	# back to node1 and home to the front end, keeping its pid; its parent
	# on node1 still waits for it and gets its status; signals reach it
	# wherever it is, from the front end and from its parent's node; its
	# output arrives. Back on node1 its proxy there has become it again:
	# its parent's child, one process, nothing of it left on node2.
	st=0
	bpsh 1 /extra/victims/jobwait /extra/victims/linger 7 > "$W/bm.out" 2>&1 &
	run=$!
	wait_for "$W/bm.out" '^linger ' 600 || st=1
	p=$(awk '$1 == "linger" { print $2 }' "$W/bm.out")
	node_pid "$p" || { echo "linger's pid '$p' is no node's"; st=1; }
	for i in $(seq 100); do [ -e /proc/$p ] && break; sleep 0.1; done
	parent=$(stat_field $p 2)
	expect "where first" "$(where_is $p)" node1 || st=1
	echo $p > $M/node2/move || { echo "move to node2 failed"; st=1; }
	expect "where after the move" "$(where_is $p)" node2 || st=1
	expect "its ghost's parent" "$(stat_field $p 2)" "$parent" || st=1
	# on node2 a stand-in holds its parent's pid
	expect "its parent on node2" \
		"$(bpsh 2 awk '/^PPid:/ { print $2 }' /proc/$p/status)" "$parent" || st=1
	kill -USR2 $p
	wait_for "$W/bm.out" "^here $p\$" 300 || { echo "no output from node2"; st=1; }
	# its parent's node signals it: jobwait's own kill is a node's kill
	bpsh 1 kill -USR2 $p
	for i in $(seq 300); do
		[ "$(grep -c "^here $p\$" "$W/bm.out")" -ge 2 ] && break
		sleep 0.1
	done
	expect "output after a signal on node1" "$(grep -c "^here $p\$" "$W/bm.out")" 2 || st=1
	# not while its parent there has its proxy stopped: the proxy would
	# restore it only once continued
	bpsh 1 kill -STOP $p
	wait_for "$W/bm.out" '^stopped 19$' 300 || { echo "its parent did not see it stop"; st=1; }
	expect "back to node1, its proxy stopped" "$(moveto node1 $p)" EIO || st=1
	tail -n 3 $M/events | grep -q "node1: EOPNOTSUPP: its proxy here is stopped" ||
		{ echo "no reason in events"; tail -n 3 $M/events; st=1; }
	bpsh 1 kill -CONT $p
	wait_for "$W/bm.out" '^continued$' 300 || { echo "its parent did not see it continue"; st=1; }
	# back to node1, where it was born
	expect "move back to node1" "$(moveto node1 $p)" ok || st=1
	expect "where back" "$(where_is $p)" node1 || st=1
	expect "bpstat -p lists it on node1" \
		"$(bpstat -p 1 | awk -v p=$p '$1 == p { print $4 }')" linger || st=1
	tail -n 5 $M/events | grep -q "move pid $p (linger) node2 -> node1 done" ||
		{ echo "no move back in events"; tail -n 5 $M/events; st=1; }
	expect "its ghost's parent, back" "$(stat_field $p 2)" "$parent" || st=1
	expect "its parent on node1, back" \
		"$(bpsh 1 awk '/^PPid:/ { print $2 }' /proc/$p/status)" "$parent" || st=1
	expect "lingers on node1" "$(vcrun 1 'ps -o comm' | grep -cx linger)" 1 || st=1
	expect "lingers on node2" "$(vcrun 2 'ps -o comm' | grep -cx linger)" 0 || st=1
	kill -USR2 $p
	for i in $(seq 300); do
		[ "$(grep -c "^here $p\$" "$W/bm.out")" -ge 3 ] && break
		sleep 0.1
	done
	expect "output back on node1" "$(grep -c "^here $p\$" "$W/bm.out")" 3 || st=1
	bpsh 1 kill -USR2 $p
	for i in $(seq 300); do
		[ "$(grep -c "^here $p\$" "$W/bm.out")" -ge 4 ] && break
		sleep 0.1
	done
	expect "output after a signal on node1, back" "$(grep -c "^here $p\$" "$W/bm.out")" 4 || st=1
	# and away again: to the front end, its proxy holding its pid on node1
	echo $p > $M/master/move || { echo "move home failed"; st=1; }
	expect "where at home" "$(where_is $p)" master || st=1
	expect "at home, its parent" "$(stat_field $p 2)" "$parent" || st=1
	expect "at home, its name" "$(cat /proc/$p/comm 2>/dev/null)" linger || st=1
	kill -USR2 $p
	for i in $(seq 300); do
		[ "$(grep -c "^here $p\$" "$W/bm.out")" -ge 5 ] && break
		sleep 0.1
	done
	expect "output at home" "$(grep -c "^here $p\$" "$W/bm.out")" 5 || st=1
	kill -USR1 $p
	ended $run
	expect "bpsh" "$STATUS" 0 || st=1
	grep -q '^exited 7$' "$W/bm.out" || { echo "jobwait did not see status 7"; st=1; }
	for i in $(seq 100); do [ -e /proc/$p ] || break; sleep 0.1; done
	[ -e /proc/$p ] && { echo "$p left here: $(cat /proc/$p/stat)"; st=1; }
	[ $st = 0 ] || { cat "$W/bm.out"; vcrun 1 'ps -o pid,ppid,stat,comm'; }
	# From the front end straight back to node1, where it ends: its parent
	# there waits for it and gets its status; nothing of it is left.
	bpsh 1 /extra/victims/jobwait /extra/victims/linger 5 > "$W/bm3.out" 2>&1 &
	run=$!
	wait_for "$W/bm3.out" '^linger ' 600 || st=1
	q=$(awk '$1 == "linger" { print $2 }' "$W/bm3.out")
	for i in $(seq 100); do [ -e /proc/$q ] && break; sleep 0.1; done
	expect "to the front end" "$(moveto master $q)" ok || st=1
	expect "back to node1 from the front end" "$(moveto node1 $q)" ok || st=1
	expect "where, back from the front end" "$(where_is $q)" node1 || st=1
	kill -USR2 $q
	wait_for "$W/bm3.out" "^here $q\$" 300 || { echo "no output back on node1"; st=1; }
	kill -USR1 $q
	ended $run
	expect "bpsh, back from the front end" "$STATUS" 0 || st=1
	grep -q '^exited 5$' "$W/bm3.out" || { echo "jobwait did not see status 5"; cat "$W/bm3.out"; st=1; }
	for i in $(seq 100); do [ -e /proc/$q ] || break; sleep 0.1; done
	[ -e /proc/$q ] && { echo "$q left here: $(cat /proc/$q/stat)"; st=1; }
	expect "lingers left on node1" "$(vcrun 1 'ps -o comm' | grep -cx linger)" 0 || st=1
	expect "in /bproc still" "$(where_is $q)" none || st=1
	# One with children on its node does not move (they would be its
	# proxy's): refused, with the reason, and it goes on.
	bpsh 1 sh -c '(sleep 300; echo after) & echo sub $!; wait' > "$W/bm2.out" 2>&1 &
	run=$!
	wait_for "$W/bm2.out" '^sub ' 600 || st=1
	sub=$(awk '$1 == "sub" { print $2 }' "$W/bm2.out")
	for i in $(seq 100); do [ -e $M/node1/$sub ] && break; sleep 0.1; done
	expect "parent of a child" "$(moveto node2 $sub)" EOPNOTSUPP || st=1
	tail -n 3 $M/events | grep -q "has children there" ||
		{ echo "no reason in events"; tail -n 3 $M/events; st=1; }
	kill $(procs_named node1 sleep 1) $sub
	ended $run
	result born-move $st
fi

if want born-back; then
	# A process born on node1, with a thread, moves to node2 and back:
	# its proxy restores it with its thread, its memory, its stdin and
	# stdout. One whose working directory changed meanwhile is refused
	# (its proxy would take it back to the old one) and goes on. One with
	# kernel objects has them back.
	st=0
	rm -f "$W/bb.in" "$W/bb.out"
	mkfifo "$W/bb.in"
	bpsh 1 sh -c 'mover 1; exit $?' < "$W/bb.in" > "$W/bb.out" 2>&1 &
	bp=$!
	exec {fd}> "$W/bb.in"
	IN[bb]=$fd
	wait_for "$W/bb.out" "^ready " 600 || st=1
	bb=$(awk '$1 == "ready" { print $2 }' "$W/bb.out")
	expect "born on node1" "$(where_is $bb)" node1 || st=1
	ask bb where
	sh_pid=$(echo $REPLY | cut -d' ' -f4)
	ask bb cwd
	dir=${REPLY#cwd }
	ask bb thread
	T=${REPLY#thread }
	expect "to node2" "$(moveto node2 $bb)" ok || st=1
	ask bb "cd /tmp"
	expect "cd on node2" "$REPLY" "cd /tmp" || st=1
	expect "back with another cwd" "$(moveto node1 $bb)" EIO || st=1
	tail -n 3 $M/events | grep -q "node1: EOPNOTSUPP: its working directory changed" ||
		{ echo "no reason in events"; tail -n 3 $M/events; st=1; }
	expect "where, refused" "$(where_is $bb)" node2 || st=1
	ask bb "cd $dir"
	expect "back with its cwd" "$(moveto node1 $bb)" ok || st=1
	expect "where back" "$(where_is $bb)" node1 || st=1
	ask bb where
	expect "its pid and parent back on node1" "$(echo $REPLY | cut -d' ' -f3,4)" "$bb $sh_pid" || st=1
	ask bb cwd
	expect "its cwd" "$REPLY" "cwd $dir" || st=1
	ask bb check
	expect "memory" "$REPLY" "check ok" || st=1
	expect "its threads" "$(ls /proc/$bb/task | sort -n | tr '\n' ' ')" "$bb $T " || st=1
	tgkill $bb $T URG || st=1
	sleep 0.5
	ask bb urg
	expect "SIGURG ran in thread $T back on node1" "$REPLY" "urg $T" || st=1
	ask bb unthread
	mover_end bb
	ended $bp; expect "bpsh's status" "$STATUS" 3 || st=1
	grep -q '^eof$' "$W/bb.out" || { echo "no eof"; st=1; }
	[ $st = 0 ] || cat "$W/bb.out"
	# one with kernel objects: they are made among its streams there
	rm -f "$W/bf.in" "$W/bf.out"
	mkfifo "$W/bf.in"
	bpsh 1 sh -c 'fds read; exit $?' < "$W/bf.in" > "$W/bf.out" 2>&1 &
	bp=$!
	exec 8> "$W/bf.in"
	wait_for "$W/bf.out" '^ready ' 600 || st=1
	f=$(awk '$1 == "ready" { print $2 }' "$W/bf.out")
	expect "fds born on node1" "$(where_is $f)" node1 || st=1
	expect "fds to node2" "$(moveto node2 $f)" ok || st=1
	expect "fds back to node1" "$(moveto node1 $f)" ok ||
		{ st=1; tail -n 3 $M/events; }
	echo go >&8
	exec 8>&-
	ended $bp; expect "fds's status" "$STATUS" 0 || st=1
	grep -q '^PASS' "$W/bf.out" || { cat "$W/bf.out"; st=1; }
	result born-back $st
fi

if want streams-end; then
	# A stream that nothing holds on the node any more is not held here
	# either: $(...) of a command that leaves a child running with its
	# output elsewhere returns at once, the child's ghost holds none of
	# the pipe; a child that still holds stdout keeps it, and what it
	# writes after its parent ended arrives; a process that moves on
	# while its parent keeps their streams on the old node goes on
	# writing after that parent has ended.
	st=0
	t0=$(date +%s)
	out=$(bpsh 1 sh -c 'sleep 30 >/dev/null & echo hi $!')
	t=$(( $(date +%s) - t0 ))
	expect "its parent's output" "${out% *}" hi || st=1
	kill ${out#hi } || st=1
	[ $t -lt 10 ] || { echo "\$(...) took $t s: a ghost held the pipe"; st=1; }
	# (forked as soon as its parent arrived, before the master heard that
	# the move had ended: it is in the cluster all the same)
	daemon=$(bpsh 1 sh -c 'sleep 30 >/dev/null 2>&1 </dev/null & echo $!' 2>&1)
	expect "a cluster pid" "$([ "$daemon" -ge 2097152 ] 2>/dev/null && echo yes)" yes || st=1
	expect "daemon listed" "$(where_is $daemon)" node1 || st=1
	# its ghost has its fds but none of the pipe of $(...)
	[ -e /proc/$daemon/fd/0 ] || { echo "no ghost of $daemon"; st=1; }
	if ls -l /proc/$daemon/fd | grep -e ' 1 -> ' -e 'pipe:'; then
		echo "the daemon's ghost holds the pipe"
		st=1
	fi
	kill $daemon || st=1
	for i in $(seq 100); do
		[ -e $M/node1/$daemon ] || break
		sleep 0.1
	done
	[ -e $M/node1/$daemon ] && { echo "daemon $daemon still there"; st=1; }
	t0=$(date +%s)
	out=$(bpsh 2 sh -c '(sleep 2; echo late) & echo early')
	t=$(( $(date +%s) - t0 ))
	expect "a child still holding stdout" "$(echo $out)" "early late" || st=1
	[ $t -ge 2 ] || { echo "\$(...) returned after $t s, before the child wrote"; st=1; }
	# (a parent with children does not move: its child moves on)
	bpsh 1 sh -c 'lines 3000 100 & echo child $!; sleep 1.5' > "$W/split.out" &
	sub=$!
	wait_for "$W/split.out" '^child ' 100 || st=1
	kid=$(awk '$1 == "child" { print $2 }' "$W/split.out")
	expect "move on" "$(moveto node2 $kid)" ok || st=1
	wait $sub
	wait_for "$W/split.out" '^2999$' 100 || st=1
	expect "lines after its parent ended" "$(grep -c '^[0-9]*$' "$W/split.out")" 3000 || st=1
	result streams-end $st
fi

# ghost_named PID COMM ARGS: PID's ghost here has that comm and command
# line (ARGS with spaces for the NULs) within 10 s; else says what it has.
ghost_named() {
	local i comm args
	for i in $(seq 100); do
		comm=$(cat /proc/$1/comm 2>/dev/null)
		args=$(tr '\0' ' ' < /proc/$1/cmdline 2>/dev/null)
		[ "$comm" = "$2" ] && [ "$args" = "$3 " ] && return 0
		sleep 0.1
	done
	echo "pid $1 here: comm '$comm', cmdline '$args', wanted '$2', '$3'"
	return 1
}

if want born-pgrp; then
	# A process on a node that goes into a process group of its own
	# (jobwait puts its child in one) or a session of its own (setsid):
	# its ghost follows within about a heartbeat, so that kill -- -PGID on
	# the front end reaches that group, and /bproc says so.
	st=0
	bpsh 1 /extra/victims/jobwait /extra/victims/linger 5 > "$W/bp.out" 2>&1 &
	run=$!
	wait_for "$W/bp.out" '^linger ' 600 || st=1
	p=$(awk '$1 == "linger" { print $2 }' "$W/bp.out")
	for i in $(seq 100); do [ "$(stat_field $p 3)" = "$p" ] && break; sleep 0.1; done
	expect "its ghost's group" "$(stat_field $p 3)" "$p" || st=1
	expect "its pgid in /bproc" "$(awk '$1 == "pgid" { print $2 }' $M/node1/$p)" "$p" || st=1
	kill -USR1 -- -$p
	ended $run
	grep -q '^exited 5$' "$W/bp.out" || { cat "$W/bp.out"; st=1; }
	bpsh 1 sh -c 'setsid /extra/victims/linger 0 & echo sid $!; wait' > "$W/bs.out" 2>&1 &
	run=$!
	wait_for "$W/bs.out" '^linger ' 600 || st=1
	p=$(awk '$1 == "linger" { print $2 }' "$W/bs.out")
	for i in $(seq 100); do [ "$(stat_field $p 4)" = "$p" ] && break; sleep 0.1; done
	expect "its ghost's session" "$(stat_field $p 4)" "$p" || st=1
	expect "its ghost's group" "$(stat_field $p 3)" "$p" || st=1
	kill -USR1 $p
	ended $run
	expect "bpsh" "$STATUS" 0 || st=1
	result born-pgrp $st
fi

if want ghost-names; then
	# ps here names what runs there: a ghost takes the comm and command
	# line of its process when it executes a program on its node (bpsh's
	# shell becoming the command, a node-born child's exec), and keeps
	# its own when it moves; /bproc names it at once.
	st=0
	bpsh 1 sleep 101 &
	pid=$!
	ghost_named $pid sleep "sleep 101" || st=1
	expect "/bproc comm" "$(awk '$1 == "comm" { print $2 }' $M/node1/$pid)" sleep || st=1
	bpsh 2 sh -c 'sleep 102 & sleep 103 & wait' &
	sh_pid=$!
	kids=$(procs_named node2 sleep 2)
	expect "node-born sleeps" "$(echo $kids | wc -w)" 2 || st=1
	ghost_named $sh_pid sh "sh -c sleep 102 & sleep 103 & wait" || st=1
	for i in $(seq 100); do
		got=$(for k in $kids; do echo "$(cat /proc/$k/comm):$(tr '\0' ' ' < /proc/$k/cmdline)"; done | sort | tr '\n' ,)
		[ "$got" = "sleep:sleep 102 ,sleep:sleep 103 ," ] && break
		sleep 0.1
	done
	expect "node-born ghosts' names" "$got" "sleep:sleep 102 ,sleep:sleep 103 ," || st=1
	for k in $kids; do
		expect "parent of $k" "$(awk '{ print $4 }' /proc/$k/stat)" $sh_pid || st=1
	done
	# a moved process keeps its name and command line
	mover_start gn 1 || st=1
	args=$(tr '\0' ' ' < /proc/${PID[gn]}/cmdline)
	expect "move" "$(moveto node1 ${PID[gn]})" ok || st=1
	ghost_named ${PID[gn]} mover "${args% }" || st=1
	mover_end gn
	# nothing left behind: the node-born sleeps outlive their shell
	kill $pid $sh_pid $kids
	wait $pid $sh_pid 2>/dev/null
	for i in $(seq 100); do
		left=$(ps -eo pid= | awk '$1 >= 2097152' | wc -l)
		[ "$left" = 0 ] && break
		sleep 0.1
	done
	expect "ghosts left" "$left" 0 || st=1
	result ghost-names $st
fi

if want procfiles; then
	# /bproc/NODE/PID follows the process and goes when it ends.
	st=0
	mover_start pf 1 || st=1
	pid=${PID[pf]}
	expect "before" "$(where_is $pid)" master || st=1
	expect "move" "$(moveto node2 $pid)" ok || st=1
	expect "after" "$(where_is $pid)" node2 || st=1
	[ -e $M/master/$pid ] && { echo "still in master/"; st=1; }
	cat $M/node2/$pid
	expect "node" "$(awk '$1 == "node" { print $2 }' $M/node2/$pid)" node2 || st=1
	expect "moves" "$(awk '$1 == "moves" { print $2 }' $M/node2/$pid)" 1 || st=1
	expect "comm" "$(awk '$1 == "comm" { print $2 }' $M/node2/$pid)" mover || st=1
	for i in $(seq 50); do
		[ "$(awk '$1 == "rss_kb" { print $2 }' $M/node2/$pid)" != 0 ] && break
		sleep 0.1
	done
	[ "$(awk '$1 == "rss_kb" { print $2 }' $M/node2/$pid)" -gt 0 ] || { echo "no rss reported"; st=1; }
	mover_end pf
	ended $pid
	for i in $(seq 50); do [ -e $M/node2/$pid ] || break; sleep 0.1; done
	[ -e $M/node2/$pid ] && { echo "node2/$pid outlives it"; st=1; }
	result procfiles $st
fi

if want metrics-events; then
	st=0
	ok0=$(metric 'bproc_moves_total{result="ok"}')
	bad0=$(metric 'bproc_moves_total{result="eopnotsupp"}')
	bytes0=$(metric bproc_moved_bytes_total)
	n0=$(metric bproc_move_duration_seconds_count)
	mover_start me 4 || st=1
	expect "move" "$(moveto node1 ${PID[me]})" ok || st=1
	start_victim refuse socket || st=1
	expect "socket" "$(moveto node1 $VPID)" EOPNOTSUPP || st=1
	kill -USR1 $VPID; wait $VPID; exec 7>&-
	expect "ok moves" "$(metric 'bproc_moves_total{result="ok"}')" $((ok0 + 1)) || st=1
	expect "refused moves" "$(metric 'bproc_moves_total{result="eopnotsupp"}')" $((bad0 + 1)) || st=1
	expect "durations" "$(metric bproc_move_duration_seconds_count)" $((n0 + 1)) || st=1
	bytes=$(metric bproc_moved_bytes_total)
	[ $((bytes - bytes0)) -gt $((4 << 20)) ] || { echo "bytes moved: $bytes0 -> $bytes"; st=1; }
	grep -Eq "move pid ${PID[me]} \(mover\) master -> node1 done \([0-9]+ bytes, [0-9]+ ms\)" $M/events || st=1
	grep -q "move pid $VPID (refuse) master -> node1 failed: EOPNOTSUPP: .*socket" $M/events || st=1
	grep "pid $VPID" $M/events
	mover_end me
	ended ${PID[me]}
	result metrics-events $st
fi

if want concurrent; then
	# Eight at once there, eight at once back.
	st=0
	for k in 1 2 3 4 5 6 7 8; do mover_start c$k 2 || st=1; done
	for dest in node odd master; do
		movers=
		for k in 1 2 3 4 5 6 7 8; do
			n=$dest
			[ $dest = node ] && n=node$(( (k % 2) + 1 ))
			[ $dest = odd ] && n=node$(( ((k + 1) % 2) + 1 ))
			moveto $n ${PID[c$k]} > "$W/c$k.r" &
			movers="$movers $!"
		done
		wait $movers
		for k in 1 2 3 4 5 6 7 8; do
			expect "c$k to $dest" "$(cat "$W/c$k.r")" ok || st=1
		done
	done
	for k in 1 2 3 4 5 6 7 8; do
		ask c$k check
		expect "c$k" "$REPLY" "check ok" || st=1
		mover_end c$k
	done
	for k in 1 2 3 4 5 6 7 8; do ended ${PID[c$k]}; done
	result concurrent $st
fi

if want children-refused; then
	# A process with children where it runs (living or not yet reaped,
	# moved or not) does not move: its wait() would not find them there.
	st=0
	sh -c 'sleep 60 & wait' & pid=$!
	for i in $(seq 50); do [ -n "$(cat /proc/$pid/task/*/children 2>/dev/null)" ] && break; sleep 0.1; done
	kid=$(cat /proc/$pid/task/*/children | awk '{ print $1 }')
	expect "with a child here" "$(moveto node1 $pid)" EOPNOTSUPP || st=1
	grep -q "move pid $pid (sh) master -> node1 failed: EOPNOTSUPP: it has children on master (pid $kid), which it could not wait for where it goes" $M/events || st=1
	# its child moved away: still its child
	expect "the child moves" "$(moveto node1 $kid)" ok || st=1
	expect "with a child away" "$(moveto node2 $pid)" EOPNOTSUPP || st=1
	kill $kid
	wait $pid
	# on a node: a shell there with a child there
	bpsh 1 sh -c 'sleep 60 & wait' & bp=$!
	for i in $(seq 100); do
		npid=$(grep -l '^comm sh$' $M/node1/[0-9]* 2>/dev/null | head -n 1 | sed 's|.*/||')
		nkid=$(grep -l '^comm sleep$' $M/node1/[0-9]* 2>/dev/null | head -n 1 | sed 's|.*/||')
		[ -n "$npid" ] && [ -n "$nkid" ] && break
		sleep 0.1
	done
	expect "with a child on node1" "$(moveto node2 $npid)" EOPNOTSUPP || st=1
	grep -q "move pid $npid (sh) node1 -> node2 failed: EOPNOTSUPP: it has children on node1 (pid $nkid)" $M/events || { grep "pid $npid" $M/events; st=1; }
	kill $nkid
	wait $bp
	result children-refused $st
fi

if want errnos; then
	# Every errno of the contract, each with its reason in events.
	st=0
	mover_start er 64 || st=1
	pid=${PID[er]}
	expect EINVAL "$(moveto node1 'not a pid')" EINVAL || st=1
	sh -c 'exit 0' & dead=$!; wait $dead
	expect ESRCH "$(moveto node1 $dead)" ESRCH || st=1
	expect EPERM "$(asuser 65534 65534 moveto node1 $pid)" EPERM || st=1
	asuser 65534 65534 sleep 30 & nob=$!
	chmod 0550 $M/node1
	expect EACCES "$(asuser 65534 65534 moveto node1 $nob)" EACCES || st=1
	chmod 0555 $M/node1
	expect "allowed again" "$(asuser 65534 65534 moveto node1 $nob)" ok || st=1
	kill $nob
	moveto node2 $pid > "$W/busy.r" &
	mpid=$!
	for i in $(seq 100); do grep -q "move pid $pid (mover) master -> node2 started" $M/events && break; sleep 0.05; done
	expect EBUSY "$(moveto node1 $pid)" EBUSY || st=1
	wait $mpid
	expect "the first move" "$(cat "$W/busy.r")" ok || st=1
	start_victim refuse socket || st=1
	expect EOPNOTSUPP "$(moveto node1 $VPID)" EOPNOTSUPP || st=1
	kill -USR1 $VPID; wait $VPID; exec 7>&-
	agent_kill 2
	wait_state node2 down || st=1
	ended $pid; expect "its ghost, lost with node2" "$STATUS" 137 || st=1
	expect EHOSTDOWN "$(moveto node2 $$)" EHOSTDOWN || st=1
	agent_restart 2 || st=1
	for e in EINVAL ESRCH EPERM EACCES EBUSY EOPNOTSUPP EHOSTDOWN; do
		grep -q "failed: $e: ." $M/events || { echo "no $e in events"; st=1; }
	done
	result errnos $st
fi

if want reads-never-wait; then
	# A big move in flight: every file still reads at once.
	st=0
	mover_start rd 192 || st=1
	moveto node1 ${PID[rd]} > "$W/rd.r" &
	mpid=$!
	for i in $(seq 100); do grep -q "move pid ${PID[rd]} (mover) master -> node1 started" $M/events && break; sleep 0.05; done
	cat $M/status $M/metrics $M/events $M/node1/status $M/node1/info $M/master/${PID[rd]} > /dev/null || st=1
	ls $M/node1 $M/master > /dev/null || st=1
	if grep -q "move pid ${PID[rd]} (mover) master -> node1 done" $M/events; then
		echo "the move was over before the reads: nothing shown"; st=1
	fi
	wait $mpid
	expect "move" "$(cat "$W/rd.r")" ok || st=1
	ask rd check
	expect "memory" "$REPLY" "check ok" || st=1
	mover_end rd
	ended ${PID[rd]}
	result reads-never-wait $st
fi

if want dest-refuses-cwd; then
	# Its working directory is not on the node: refused, it goes on here.
	st=0
	mkdir -p /tmp/only-on-master
	cd /tmp/only-on-master && mover_start cw 1 || st=1
	cd /extra
	expect "move" "$(moveto node1 ${PID[cw]})" EIO || st=1
	grep "pid ${PID[cw]}" $M/events
	grep -q "move pid ${PID[cw]} (mover) master -> node1 failed: EIO: node1: ENOENT: restore: working directory: .*/tmp/only-on-master" $M/events || st=1
	ask cw cwd
	expect "still here" "$REPLY" "cwd /tmp/only-on-master" || st=1
	mover_end cw
	ended ${PID[cw]}; expect "exit status" "$STATUS" 3 || st=1
	result dest-refuses-cwd $st
fi

if want dest-oom; then
	# The node has not the memory: refused at once, it goes on here.
	st=0
	vcrun 1 'mkdir -p /tmp/fill && mount -t tmpfs -o size=95% none /tmp/fill &&
		head -c $(( $(awk "/MemAvailable/ { print \$2 }" /proc/meminfo) * 1024 - (64 << 20) )) /dev/zero > /tmp/fill/fill' || st=1
	mover_start om 128 || st=1
	expect "move" "$(moveto node1 ${PID[om]})" EIO || st=1
	grep -q "move pid ${PID[om]} (mover) master -> node1 failed: EIO: node1: ENOMEM: it needs 128 MiB" $M/events ||
		{ grep "pid ${PID[om]}" $M/events; st=1; }
	vcrun 1 'umount /tmp/fill'
	ask om check
	expect "here" "$REPLY" "check ok" || st=1
	expect "then there" "$(moveto node1 ${PID[om]})" ok || st=1
	ask om check
	expect "there" "$REPLY" "check ok" || st=1
	mover_end om
	ended ${PID[om]}
	result dest-oom $st
fi

if want front-agent-stopped; then
	# The front end's agent hangs past the timeout: the master gives its
	# ghosts up and ends the processes away; once the agent goes on, the
	# ghost hears of it and ends as killed by SIGKILL, for its parent.
	st=0
	mover_start fs 1 || st=1
	expect "move" "$(moveto node1 ${PID[fs]})" ok || st=1
	fa=$(pidof bproc-nodeagent)
	kill -STOP $fa
	wait_state master down || st=1
	kill -CONT $fa
	wait_state master up || st=1
	ended ${PID[fs]}; expect "exit status" "$STATUS" 137 || st=1
	grep "pid ${PID[fs]}" $M/events
	grep -q "pid ${PID[fs]} (mover) on node1 killed: its ghost is gone" $M/events || st=1
	expect "gone from node1" "$(where_is ${PID[fs]})" none || st=1
	mover_start fs2 1 || st=1
	expect "then a move" "$(moveto node1 ${PID[fs2]})" ok || st=1
	expect "and back" "$(moveto master ${PID[fs2]})" ok || st=1
	ask fs2 check
	expect "memory" "$REPLY" "check ok" || st=1
	mover_end fs2
	ended ${PID[fs2]}
	result front-agent-stopped $st
fi

if want agent-killed; then
	# The destination's agent dies in the middle of the transfer: the
	# write fails, the process runs on where it was.
	st=0
	mover_start ak 160 || st=1
	moveto node1 ${PID[ak]} > "$W/ak.r" &
	mpid=$!
	for i in $(seq 100); do grep -q "move pid ${PID[ak]} (mover) master -> node1 started" $M/events && break; sleep 0.05; done
	sleep 0.3
	agent_kill 1
	wait $mpid
	r=$(cat "$W/ak.r")
	[ "$r" = ECONNRESET ] || [ "$r" = EIO ] || { echo "move: $r"; st=1; }
	grep "pid ${PID[ak]}" $M/events
	ask ak where
	expect "still here" "${REPLY% *}" "where master ${PID[ak]}" || st=1
	ask ak check
	expect "memory" "$REPLY" "check ok" || st=1
	agent_restart 1 || st=1
	expect "then there" "$(moveto node1 ${PID[ak]})" ok || st=1
	ask ak check
	expect "there" "$REPLY" "check ok" || st=1
	mover_end ak
	ended ${PID[ak]}
	result agent-killed $st
fi

if want poweroff; then
	# The node goes: the ghost ends as killed by SIGKILL, events say why.
	st=0
	mover_start po 1 || st=1
	expect "move" "$(moveto node2 ${PID[po]})" ok || st=1
	# and a tree of processes started there
	bpsh 2 sh -c 'sleep 300 & sleep 300 & echo up; wait' > "$W/po.out" 2>&1 &
	tree=$!
	wait_for "$W/po.out" '^up$' 600 || st=1
	kids=$(procs_named node2 sleep 2)
	expect "the tree on node2" "$(echo $kids | wc -w)" 2 || st=1
	vcpoweroff 2 || st=1
	ended ${PID[po]}; expect "exit status" "$STATUS" 137 || st=1
	ended $tree; expect "the tree's shell" "$STATUS" 137 || st=1
	for p in $kids; do
		for i in $(seq 100); do [ -e /proc/$p ] || break; sleep 0.1; done
		[ -e /proc/$p ] && { echo "ghost $p left"; st=1; }
		grep -q "pid $p (sleep) lost on node2: node2 down" $M/events || st=1
	done
	grep "pid ${PID[po]}" $M/events
	grep -q "pid ${PID[po]} (mover) lost on node2: node2 down" $M/events || st=1
	expect EHOSTDOWN "$(moveto node2 $$)" EHOSTDOWN || st=1
	result poweroff $st
fi

exit $FAILED
