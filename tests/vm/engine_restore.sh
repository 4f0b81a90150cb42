#!/bin/bash
# engine_restore.sh IMAGE NAME MODE [MAPS]: restore IMAGE (a victim NAME
# waiting in MODE) in this VM, check its memory layout against the file MAPS
# (from /proc/PID/maps before the dump) if given, wake it, require PASS.
# With STOPPED=1 in the environment the image is of a stopped process: the
# restored one must be stopped, and is continued first.
. /extra/vm/engine_lib.sh
img=$1 name=$2 mode=$3 maps=${4:-}
out=$W/$name.restored.out
rm -f "$out" "$W/$name.rin"
mkfifo "$W/$name.rin"
bproc-ckpt restore "$img" < "$W/$name.rin" > "$out" 2>&1 &
rpid=$!
exec 8> "$W/$name.rin"
# The restore process becomes the victim: its comm changes to NAME.
for i in $(seq 100); do
	[ "$(cat /proc/$rpid/comm 2>/dev/null)" = "$name" ] && break
	kill -0 $rpid 2>/dev/null || break
	sleep 0.1
done
if [ "$(cat /proc/$rpid/comm 2>/dev/null)" != "$name" ]; then
	echo "restore did not become $name"; cat "$out"; exit 1
fi
status=0
if [ "${STOPPED:-0}" = 1 ]; then
	for i in $(seq 100); do
		[ "$(awk '{print $3}' /proc/$rpid/stat)" = T ] && break
		sleep 0.1
	done
	state=$(awk '{print $3}' /proc/$rpid/stat)
	[ "$state" = T ] || { echo "restored in state $state, not stopped"; status=1; }
	kill -CONT $rpid
fi
if [ -n "$maps" ]; then
	norm_maps < "$maps" > "$W/maps.before"
	norm_maps < /proc/$rpid/maps > "$W/maps.after"
	if ! diff "$W/maps.before" "$W/maps.after"; then
		echo "memory layout differs after the restore"; status=1
	fi
fi
wake $rpid "$mode" 8
finish $rpid "$out" || status=1
exit $status
