# Shared by the VM-side scripts of the virtual cluster (busybox sh).
# /etc/vcluster/cluster is written per run by tools/vcluster:
#   VC_NODES      node numbers, e.g. "1 2"
#   VC_NET        first three octets of the cluster network, node N is $VC_NET.N
#   VC_MASTER_IP  the front end's address
#   VC_PORT       TCP port of every VM's vcrun server
#   VC_TOKEN      per-run secret that tags the lines the host reads
#   VC_MODE       run | shell
#   VC_BOOT_TIMEOUT  seconds the front end waits for the nodes
#   VC_KEEP_LOGS  1 when the host wants the VMs' logs back
#   VC_DEBUG      1 when the daemons log debug messages
. /etc/vcluster/cluster
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root

# vc_addr NODE: print the address of NODE (master, N or nodeN); fail if no such VM.
vc_addr() {
	local n=${1#node}
	case $n in
	master) echo "$VC_MASTER_IP"; return 0 ;;
	'' | *[!0-9]*) return 1 ;;
	esac
	for m in $VC_NODES; do
		[ "$m" = "$n" ] && { echo "$VC_NET.$n"; return 0; }
	done
	return 1
}

# Hex-encode stdin on one line / decode it: the request header carries
# commands and paths this way so that any byte may appear in them.
vc_hex() { xxd -p | tr -d '\n'; }
vc_unhex() { printf '%s' "$1" | xxd -r -p; }

# vc_alive ADDR: true if the vcrun server at ADDR accepts a connection and
# answers within 3 s (an empty request: it hangs up at once).
vc_alive() { timeout 3 nc -w 2 "$1" "$VC_PORT" < /dev/null > /dev/null 2>&1; }
