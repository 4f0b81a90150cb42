#!/bin/bash
# engine_roundtrip.sh IMAGE OUT: restore IMAGE (a mem victim) in this VM,
# then dump the restored process to OUT and end it: a process's stay on a
# node between two moves.
. /extra/vm/engine_lib.sh
bproc-ckpt restore "$1" < /dev/null > "$W/roundtrip.out" 2>&1 &
rpid=$!
for i in $(seq 100); do
	[ "$(cat /proc/$rpid/comm 2>/dev/null)" = mem ] && break
	kill -0 $rpid 2>/dev/null || break
	sleep 0.1
done
if [ "$(cat /proc/$rpid/comm 2>/dev/null)" != mem ]; then
	echo "restore did not become mem"; cat "$W/roundtrip.out"; exit 1
fi
bproc-ckpt dump --kill $rpid "$2" || exit 1
wait $rpid 2>/dev/null
exit 0
