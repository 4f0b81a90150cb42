#!/bin/bash
# engine_threads.sh IMAGE TIDS SUMS: restore IMAGE of the threads victim
# (tests/victims/threads.c, dumped waiting in pause) in this VM; its
# threads other than the main one must have the tids in the file TIDS
# (sorted, one space after each) again and their names, all stop on SIGSTOP
# and go on after SIGCONT; then wake it (a line on its stdin, SIGUSR1),
# require PASS and its "sums" line equal to the file SUMS's (a run that
# never moved).
. /extra/vm/engine_lib.sh
img=$1 tids=$(cat "$2") sums=$(cat "$3")
out=$W/threads.restored.out
rm -f "$out" "$W/threads.rin"
mkfifo "$W/threads.rin"
bproc-ckpt restore "$img" < "$W/threads.rin" > "$out" 2>&1 &
rpid=$!
exec 8> "$W/threads.rin"
for i in $(seq 100); do
	[ "$(cat /proc/$rpid/comm 2>/dev/null)" = threads ] && break
	kill -0 $rpid 2>/dev/null || break
	sleep 0.1
done
if [ "$(cat /proc/$rpid/comm 2>/dev/null)" != threads ]; then
	echo "restore did not become threads"; cat "$out"; exit 1
fi
status=0
after=$(ls /proc/$rpid/task | grep -vx "$rpid" | sort | tr '\n' ' ')
[ "$after" = "$tids" ] || { echo "thread ids '$after', were '$tids'"; status=1; }
names=$(cat /proc/$rpid/task/*/comm | sort | tr '\n' ' ')
[ "$names" = "threads w0 w1 w2 w3 w4 w5 w6 w7 " ] || { echo "thread names '$names'"; status=1; }
# job control: every thread stops, and goes on
kill -STOP $rpid
sleep 0.5
for t in /proc/$rpid/task/*; do
	s=$(awk '{print $3}' "$t/stat")
	[ "$s" = T ] || { echo "thread ${t##*/} in state $s after SIGSTOP"; status=1; }
done
kill -CONT $rpid
sleep 0.5
for t in /proc/$rpid/task/*; do
	s=$(awk '{print $3}' "$t/stat")
	[ "$s" != T ] || { echo "thread ${t##*/} still stopped after SIGCONT"; status=1; }
done
echo go >&8
kill -USR1 $rpid
finish $rpid "$out" || status=1
got=$(grep '^sums' "$out")
[ "$got" = "$sums" ] || { echo "'$got', a run that never moved: '$sums'"; status=1; }
exit $status
