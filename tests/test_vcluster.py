"""The virtual cluster harness itself (tools/vcluster), for real: one boot of
a front end and two nodes runs a script whose sections the tests below check
(exit status, vcrun, vccp, bproc.ko, CRIU across VMs, bprocfs, power-off),
plus one boot that must time out."""

import os
import re
import subprocess
import time

import pytest

from vcluster import (NOT_UP, TIMED_OUT, TOP, VCLUSTER, extra_args,
                      run_in_cluster, sections)

LAST_WORDS = "last line, no newline"

SCRIPT = r"""#!/bin/sh
echo "== whoami"
id -u; pwd; echo "$PATH"
echo "== hostnames"
hostname
for n in 1 2; do vcrun "$n" hostname; done
vcrun node2 hostname
vcrun master hostname

echo "== vcrun-status"
vcrun 1 'echo out; echo err >&2; exit 7' 2>/tmp/err; echo "status=$?"
echo "stderr=$(cat /tmp/err)"
vcrun 9 true 2>/dev/null; echo "nosuch=$?"
echo "== vcrun-stdin"
printf 'abc\n' | vcrun -i 2 'tr a-z A-Z; pwd'

echo "== transfer"
dd if=/dev/urandom of=/tmp/blob bs=1024 count=3000 2>/dev/null
chmod 0750 /tmp/blob
echo "master $(sha256sum < /tmp/blob)"
vccp /tmp/blob 1:/tmp/ && vccp 1:/tmp/blob 2:/tmp/blob2 && vccp 2:/tmp/blob2 /tmp/back
echo "vccp=$?"
echo "node1 $(vcrun 1 'sha256sum < /tmp/blob')"
echo "node2 $(vcrun 2 'sha256sum < /tmp/blob2; stat -c %a /tmp/blob2' | tr '\n' ' ')"
echo "back $(sha256sum < /tmp/back)"
vccp 1:/nonexistent /tmp/x 2>/dev/null; echo "missing=$?"

echo "== extra"
for vm in master 1 2; do echo "$vm $(vcrun "$vm" cat /extra/added.txt)"; done

echo "== bproc-ko"
for vm in master 1 2; do
	echo "$vm $(vcrun "$vm" 'grep -c "^bproc " /proc/modules')"
done

echo "== criu"
# Far above the pids in use on node2: a restore keeps the pid.
vcrun 1 'echo 4999 > /proc/sys/kernel/ns_last_pid
	setsid sleep 1000 < /dev/null > /dev/null 2>&1 & echo $! > /tmp/victim.pid'
pid=$(vcrun 1 cat /tmp/victim.pid)
vcrun 1 "mkdir /tmp/img && criu dump -t $pid -D /tmp/img --shell-job -o dump.log &&
	tar -C /tmp -cf /tmp/img.tar img"
st=$?
echo "dump=$st"
[ $st = 0 ] || vcrun 1 'tail -n 20 /tmp/img/dump.log'
vcrun 1 "kill -0 $pid 2>/dev/null"; echo "alive_after_dump=$?"
vccp 1:/tmp/img.tar 2:/tmp/ && vcrun 2 "tar -C /tmp -xf /tmp/img.tar &&
	criu restore -D /tmp/img --shell-job -d -v4 -o restore.log"
st=$?
echo "restore=$st"
[ $st = 0 ] || vcrun 2 'grep -B5 -A5 Error /tmp/img/restore.log | tail -n 40'
echo "node2 runs $(vcrun 2 "cat /proc/$pid/cmdline | tr '\\0' ' '")"

echo "== bprocfs"
if [ -d /bproc ] && pidof bprocfs > /dev/null; then
	for n in 1 2; do echo "node$n $(cat /bproc/node$n/status)"; done
else
	echo "not running"
fi

echo "== dmesg"
for vm in master 1 2; do
	vcrun "$vm" dmesg | grep -E 'WARNING:|BUG:|Oops|Call Trace|general protection' |
		sed "s/^/$vm: /"
done

echo "== poweroff"
vcpoweroff 2; echo "vcpoweroff=$?"
vcrun -t 20 2 true 2>/dev/null; echo "vcrun_after=$?"
vcrun 1 true; echo "node1_after=$?"
if [ -d /bproc ] && pidof bprocfs > /dev/null; then
	i=0
	while [ "$(cat /bproc/node2/status)" = up ] && [ $i -lt 40 ]; do
		sleep 0.5; i=$((i + 1))
	done
	echo "bproc_node2=$(cat /bproc/node2/status)"
fi

echo "== end"
printf '%s' "LAST_WORDS"
exit 3
""".replace("LAST_WORDS", LAST_WORDS)


def expect_kmod():
    return (os.path.isfile(os.path.join(TOP, "kmod", "Makefile"))
            and "--no-kmod" not in extra_args())


def expect_daemons():
    return all(os.access(os.path.join(TOP, p), os.X_OK)
               for p in ("bprocfs/bprocfs", "nodeagent/bproc-nodeagent"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("extra")
    (d / "added.txt").write_text("added by --add\n")
    logs = tmp_path_factory.mktemp("logs")
    r = run_in_cluster(SCRIPT, nodes=2, add=[str(d / "added.txt")],
                       timeout=600, args=["--keep-logs", str(logs)])
    r.logs = logs
    assert r.returncode not in (NOT_UP, TIMED_OUT), (
        "cluster did not run the script:\n" + r.log)
    return r


@pytest.fixture(scope="module")
def parts(run):
    return sections(run.output)


@pytest.mark.timeout(900)
def test_exit_status_and_output_are_the_scripts(run, parts):
    assert run.returncode == 3
    # Byte for byte: no trailing newline added, nothing after it.
    assert run.output.endswith("== end\n" + LAST_WORDS)
    # Kernel console chatter never reaches the output.
    assert not re.search(r"^\[\s*\d+\.\d+\]", run.output, re.M)


@pytest.mark.timeout(900)
def test_script_runs_as_root_in_extra_with_tools(parts):
    uid, cwd, path = parts["whoami"].splitlines()
    assert uid == "0"
    assert cwd == "/extra"
    assert "/usr/local/bin" in path.split(":")


@pytest.mark.timeout(900)
def test_vcrun_reaches_every_vm(parts):
    assert parts["hostnames"].splitlines() == [
        "master", "node1", "node2", "node2", "master"]


@pytest.mark.timeout(900)
def test_vcrun_streams_and_status(parts):
    lines = parts["vcrun-status"].splitlines()
    assert lines == ["out", "status=7", "stderr=err", "nosuch=255"]
    assert parts["vcrun-stdin"].splitlines() == ["ABC", "/extra"]


@pytest.mark.timeout(900)
def test_file_moves_between_vms(parts):
    lines = parts["transfer"].splitlines()
    assert "vccp=0" in lines
    assert "missing=1" in lines
    got = dict(l.split(" ", 1) for l in lines if " " in l)
    digest = got["master"].split()[0]
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert got["node1"].split()[0] == digest
    assert got["node2"].split() == [digest, "-", "750"]  # mode kept
    assert got["back"].split()[0] == digest


@pytest.mark.timeout(900)
def test_add_reaches_every_vm(parts):
    assert parts["extra"].splitlines() == [
        "master added by --add", "1 added by --add", "2 added by --add"]


@pytest.mark.timeout(900)
def test_bproc_ko_loaded_on_every_vm(run, parts):
    want = "1" if expect_kmod() else "0"
    assert parts["bproc-ko"].splitlines() == [
        "master " + want, "1 " + want, "2 " + want]
    if not expect_kmod():
        assert "without bproc.ko" in run.log


@pytest.mark.timeout(900)
def test_criu_dump_on_one_vm_restores_on_another(parts):
    lines = parts["criu"].splitlines()
    assert "dump=0" in lines, parts["criu"]
    assert "alive_after_dump=1" in lines
    assert "restore=0" in lines, parts["criu"]
    assert "node2 runs sleep 1000 " in lines


@pytest.mark.timeout(900)
def test_bprocfs_shows_every_node_up(parts):
    if not expect_daemons():
        assert parts["bprocfs"] == "not running"
        return
    assert parts["bprocfs"].splitlines() == ["node1 up", "node2 up"]


@pytest.mark.timeout(900)
def test_no_kernel_warnings(parts):
    assert parts["dmesg"] == ""


@pytest.mark.timeout(900)
def test_vcpoweroff_takes_a_node_down(parts):
    lines = parts["poweroff"].splitlines()
    assert lines[:3] == ["vcpoweroff=0", "vcrun_after=255", "node1_after=0"]
    if expect_daemons():
        assert lines[3] == "bproc_node2=down"


@pytest.mark.timeout(600)
def test_timeout_stops_a_hung_script():
    t = time.monotonic()
    r = run_in_cluster("echo started\nsleep 1000\n", nodes=1, timeout=120)
    elapsed = time.monotonic() - t
    assert r.returncode == TIMED_OUT
    assert elapsed < 120 + 60
    # The clock runs from the start, builds included: on a very busy
    # machine the boot itself may be what times out.
    if "while booting" in r.log:
        assert r.output == ""
    else:
        assert "timed out after 120s with the script still running" in r.log
        assert r.output == "started\n"


@pytest.mark.timeout(600)
def test_front_mbit_limits_the_front_ends_link_alone():
    """--front-mbit 8: 4 MB from the front end to node1 take 4 s at least
    (1 MB/s), and the same bytes from node1 to node2, whose links are not
    limited, far less."""
    script = r"""#!/bin/bash
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) * 1000 }'; }
dd if=/dev/urandom of=/tmp/blob bs=1024 count=4000 2>/dev/null
vcrun 1 'nc -l -p 5555 > /tmp/blob' &
sleep 3
t0=$EPOCHREALTIME
cat /tmp/blob > /dev/tcp/10.200.0.1/5555 || exit 9
wait
t1=$EPOCHREALTIME
vcrun 2 'nc -l -p 5555 > /tmp/blob' &
sleep 3
t2=$EPOCHREALTIME
vcrun 1 "bash -c 'cat /tmp/blob > /dev/tcp/10.200.0.2/5555'" || exit 8
wait
t3=$EPOCHREALTIME
echo "front $(ms $t0 $t1) nodes $(ms $t2 $t3)"
vcrun 2 'sha256sum < /tmp/blob'; sha256sum < /tmp/blob
"""
    r = run_in_cluster(script, nodes=2, timeout=500,
                       args=["--front-mbit", "8"])
    assert r.returncode == 0, r.output + r.log
    lines = r.output.split("\n")
    m = re.search(r"front (\d+) nodes (\d+)", r.output)
    assert m, r.output
    front, nodes = int(m.group(1)), int(m.group(2))
    assert front >= 4000, r.output
    assert nodes < front / 2, r.output
    sums = [x for x in lines if x.endswith("  -")]
    assert len(sums) == 2 and sums[0] == sums[1], r.output


@pytest.mark.timeout(60)
@pytest.mark.parametrize("args,msg", [
    (["--nodes", "0"], "--nodes must be 1..32"),
    (["--nodes", "x"], "--nodes must be 1..32"),
    (["--mem", "64"], "--mem must be"),
    (["--run", "/nonexistent/script"], "no such script"),
    (["--add", "/nonexistent/file"], "no such file to add"),
    (["--front-mbit", "fast"], "--front-mbit must be"),
])
def test_bad_options_fail_before_booting(args, msg):
    p = subprocess.run([VCLUSTER] + args, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == NOT_UP
    assert msg in p.stderr
    assert p.stdout == ""


@pytest.mark.timeout(60)
def test_help_names_every_option():
    p = subprocess.run([VCLUSTER, "--help"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0
    for opt in ("--nodes", "--add", "--run", "--mem", "--front-mbit",
                "--timeout",
                "--keep-logs", "--no-kmod", "-v"):
        assert opt in p.stdout
