#!/bin/sh
# package_setup.sh ROLE: on one VM of the virtual cluster, put the Debian
# packages' files in place of the tree's build and start the services as
# their systemd units say (tests/test_packaging.py). ROLE is master or
# node. /extra/pkgroot holds bproc and bproc-dkms unpacked (dpkg-deb -x)
# and the module DKMS built for this kernel, where `dkms install` puts it.
#
# What systemd would do is done by hand, in its order: systemd-modules-load
# loads what /usr/lib/modules-load.d names, then each unit's ExecStart runs
# (with the unit's own command line, %i expanded) and counts as started
# once it is ready: /bproc mounted, the agent listening.
set -eu
role=$1
R=/extra/pkgroot
kver=$(cat /etc/vcluster/kernel)
log() { echo "[$(hostname 2>/dev/null || echo vm)] $*"; }

# the virtual cluster's own daemons and module go first
for p in $(pidof bprocfs bproc-nodeagent 2>/dev/null); do kill "$p" 2>/dev/null || true; done
for i in $(seq 100); do
	pidof bprocfs bproc-nodeagent >/dev/null 2>&1 || break
	sleep 0.1
done
if grep -q ' /bproc fuse' /proc/mounts; then umount /bproc; fi
if [ -d /sys/module/bproc ]; then rmmod bproc; fi

# "dpkg -i": the files, the package's config beside the cluster's own (a
# changed conffile is kept), and the postinst's key (the cluster has one)
cp /etc/bproc/config /tmp/cluster.config
(cd "$R" && tar -cf - .) | (cd / && tar -xf -)
mv /etc/bproc/config /etc/bproc/config.dpkg-dist
cp /tmp/cluster.config /etc/bproc/config
test -e /etc/bproc/cluster.key || /usr/sbin/bproc-keygen /etc/bproc/cluster.key
mkdir -p /var/lib/bproc

# the package's module, not the one the virtual cluster was booted with
rm -f "/lib/modules/$kver/extra/bproc.ko"

# systemd-modules-load
depmod -a "$kver"
for f in /usr/lib/modules-load.d/*.conf; do
	sed -e 's/#.*//' "$f" | while read -r m; do
		[ -z "$m" ] || modprobe "$m"
	done
done
log "module $(cat /sys/module/bproc/version) from $(modinfo -n bproc 2>/dev/null || echo '?')"

# systemctl start: the units' ExecStart, detached, logging to a file
start_unit() { # UNIT [INSTANCE]
	cmd=$(sed -n 's/^ExecStart=//p' "/lib/systemd/system/$1")
	cmd=$(echo "$cmd" | sed "s/%i/${2:-}/g")
	log "starting $1${2:+ ($2)}: $cmd"
	setsid sh -c "exec $cmd" < /dev/null > "/var/log/pkg-$1.log" 2>&1 &
}
if [ "$role" = master ]; then
	mkdir -p /bproc
	start_unit bprocfs.service
	for i in $(seq 100); do
		grep -q ' /bproc fuse' /proc/mounts && break
		sleep 0.1
	done
	grep -q ' /bproc fuse' /proc/mounts || { cat /var/log/pkg-bprocfs.service.log; exit 1; }
fi
start_unit bproc-nodeagent.service
