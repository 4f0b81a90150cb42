#!/bin/bash
# package_cases.sh - the Debian packages installed on a virtual cluster of a
# front end and one node, their services started, and a process moved
# (tests/test_packaging.py; vcluster --nodes 1 --add PKGROOT --add tests/vm).
# Prints "CASE <name> PASS|FAIL" lines; exits 1 if any failed.
FAILED=0
pass() { echo "CASE $1 PASS"; }
fail() { echo "CASE $1 FAIL"; FAILED=1; }

wait_up() { # NODE
	local i
	for i in $(seq 300); do
		[ "$(cat /bproc/$1/status 2>/dev/null)" = up ] && return 0
		sleep 0.1
	done
	echo "$1 is $(cat /bproc/$1/status 2>&1), not up"
	return 1
}

echo "--- install and start"
if sh /extra/vm/package_setup.sh master && vcrun -t 120 1 sh /extra/vm/package_setup.sh node &&
	wait_up master && wait_up node1; then
	pass install-start
else
	for f in /var/log/pkg-*.log; do echo "== $f"; tail -n 20 "$f"; done
	vcrun 1 'tail -n 20 /var/log/pkg-*.log'
	fail install-start
fi

echo "--- the services are the packages' programs"
ok=1
for p in bprocfs bproc-nodeagent; do
	exe=$(readlink "/proc/$(pidof "$p" | cut -d' ' -f1)/exe")
	echo "$p: $exe"
	[ "$exe" = "/usr/sbin/$p" ] || ok=0
done
nexe=$(vcrun 1 'readlink /proc/$(pidof bproc-nodeagent)/exe')
echo "node1 bproc-nodeagent: $nexe"
[ "$nexe" = /usr/sbin/bproc-nodeagent ] || ok=0
# the engine node1 reports is the DKMS-built module it loaded
ver=$(vcrun 1 cat /sys/module/bproc/version)
grep -q "^engine $ver\$" /bproc/node1/info || { grep engine /bproc/node1/info; ok=0; }
expect_path=$(vcrun 1 'modinfo -n bproc')
echo "node1 module: $expect_path version $ver"
case $expect_path in */updates/dkms/bproc.ko) ;; *) ok=0 ;; esac
[ $ok = 1 ] && pass packaged-programs || fail packaged-programs

echo "--- a process moves to node1 and back"
sleep 600 &
p=$!
if echo $p > /bproc/node1/move && grep -q "^node node1$" /bproc/node1/$p &&
	echo $p > /bproc/master/move && [ -e /bproc/master/$p ]; then
	kill $p
	wait $p
	st=$?
	echo "status $st"
	[ $st = 143 ] && pass move || fail move
else
	tail -n 5 /bproc/events
	kill $p
	fail move
fi

echo "--- bpsh from the package"
out=$(/usr/bin/bpsh 1 cat /proc/sys/kernel/hostname 2>&1)
echo "bpsh 1: $out"
[ -n "$out" ] && [ "$out" != "$(cat /proc/sys/kernel/hostname)" ] && pass bpsh || fail bpsh

echo "--- stop"
fs=$(pidof bprocfs)
echo "bprocfs: $fs"
kill $fs
for i in $(seq 300); do
	kill -0 $fs 2> /dev/null || break
	sleep 0.1
done
if ! kill -0 $fs 2> /dev/null && ! grep -q ' /bproc fuse' /proc/mounts; then
	pass stop
else
	ps -o pid,stat,args | grep '[b]proc'
	grep ' /bproc ' /proc/mounts
	tail -n 5 /var/log/pkg-bprocfs.service.log
	fail stop
fi
exit $FAILED
