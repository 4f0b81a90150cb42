"""libbproc, BProc's C API over /bproc (include/sys/bproc.h), through
tests/victims/libtest, a program built against the library of this tree.

On this machine (a real bprocfs and agents on loopback, BPROC_MOUNT
pointing at the mount, library and program built with AddressSanitizer
and UBSan): node count, status and address; every way a move can be
refused (a node down, not there, not allowed, no engine here) with the
errno of the contract and no child left behind by bproc_rfork or
bproc_vrfork; what bproc_execmove refuses before it moves; and ENOSYS
where /bproc is not mounted.

In a virtual cluster (one boot of a front end and two nodes runs every case
of tests/vm/lib_cases.sh, each reported here as its own test): the calls
for real, with the shared and the static library: rfork and vrfork to the
nodes (the child's pid and node, the parent's wait), the moves of vrfork
at once, move, execmove of a program only the front end has, rexec of the
node's, vexecmove, fast start (the children of a vrfork copies of the
first one's image, each still itself), and on a node which node it is (the agent's
/run/bproc/node) and ENOSYS for the rest. Run alone with
  /usr/bin/python3 -m pytest -v tests/test_libbproc.py
"""

import os
import shutil
import subprocess

import pytest

from helpers.cluster import ROOT, sanitizer_env
from helpers.users import NOBODY
from vcluster import case_results, run_in_cluster

LIBTEST = os.path.join(ROOT, "tests", "victims", "libtest-asan")
ASUSER = os.path.join(ROOT, "tests", "victims", "asuser")
VCLUSTER_TIMEOUT = 1200

CASES = ["setup", "info-front", "info-node", "rfork", "rfork-static",
         "rfork-fail", "vrfork", "vrfork-copies", "move", "execmove",
         "execmove-again", "execmove-fail", "rexec", "vexecmove"]


# ---- on this machine ----

@pytest.fixture(scope="module")
def libtest(built):
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "lib"), "asan"],
                   check=True, timeout=300)
    subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "tests",
                                                      "victims"),
                    "libtest-asan", "asuser"], check=True, timeout=300)
    return LIBTEST


def run(mnt, *args, user=None, env=None):
    """libtest ARGS with /bproc at mnt: (status, stdout lines); the
    sanitizers must have nothing to say."""
    env = dict(sanitizer_env(), **(env or {}))
    env["BPROC_MOUNT"] = mnt
    argv = [LIBTEST] + [str(a) for a in args]
    if user is not None:
        argv = [ASUSER, str(user), str(user)] + argv
    r = subprocess.run(argv, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, \
        r.stderr
    return r.returncode, r.stdout.splitlines()


def agent_says():
    """What this machine's /run/bproc/node says, if anything."""
    try:
        with open("/run/bproc/node") as f:
            return f.read().strip()
    except OSError:
        return None


@pytest.mark.timeout(120)
def test_node_information(make_cluster, libtest):
    """Sparse node numbers: numnodes is one more than the highest, the
    numbers in between are ENOENT; status words and addresses as
    /bproc has them."""
    c = make_cluster(nodes=(0, 1, 5))
    c.stop_agent(1)
    c.wait_state(1, "down")
    rc, out = run(c.mnt, "info")
    assert rc == 0
    assert out[0] == "numnodes 6"
    assert out[1] == "currnode %s" % (agent_says() or "-1")
    nodes = out[2:]
    assert nodes[0] == "node -1 up %s:%d up=1" % c.node_addr("master")
    assert nodes[1] == "node 0 up %s:%d up=1" % c.node_addr(0)
    assert nodes[2] == "node 1 down %s:%d up=0" % c.node_addr(1)
    for n in (2, 3, 4):
        assert nodes[n + 1] == "node %d ENOENT ENOENT up=-1" % n
    assert nodes[6] == "node 5 up %s:%d up=1" % c.node_addr(5)
    assert len(nodes) == 7


@pytest.mark.timeout(60)
def test_nodeaddr_size(cluster, libtest):
    """As getsockname(2): truncated to *size, which then says the whole
    length; nothing written past *size."""
    assert run(cluster.mnt, "addr", 0, 128) == (0, ["addr 16 2"])
    assert run(cluster.mnt, "addr", 0, 4) == (0, ["addr 16 2"])
    assert run(cluster.mnt, "addr", 0, 0) == (0, ["addr 16 -1"])
    assert run(cluster.mnt, "addr", 9, 128) == (1, ["addr ENOENT"])
    assert run(cluster.mnt, "addr", -2, 128) == (1, ["addr EINVAL"])


@pytest.mark.timeout(120)
def test_failed_rfork_leaves_no_child(cluster, libtest):
    """Each refusal of the move is bproc_rfork's errno, and the child that
    tried it is gone (libtest checks with waitpid(-1, WNOHANG)). This
    machine has no engine: a node that is up refuses with EOPNOTSUPP."""
    cluster.stop_agent(2)
    cluster.wait_state(2, "down")
    for node, err in ((2, "EHOSTDOWN"), (1, "EOPNOTSUPP"), (7, "ENOENT"),
                      (-2, "EINVAL"), (-3, "EINVAL")):
        assert run(cluster.mnt, "rfork-fail", node, err) == (0, ["ok"]), node
    os.chmod(cluster.path("node1"), 0o750)
    assert run(cluster.mnt, "rfork-fail", 1, "EACCES", user=NOBODY) == \
        (0, ["ok"])
    os.chmod(cluster.path("node1"), 0o555)
    # where it already runs: a plain fork
    rc, out = run(cluster.mnt, "rfork", "master", 3)
    pid = out[0].split()[1]
    assert rc == 0 and sorted(out) == sorted([
        "parent " + pid, "child %s -1" % pid, "status %s 3" % pid,
        "nochild"]), out


@pytest.mark.timeout(120)
def test_vrfork_results(cluster, libtest):
    """n in the parent whatever the children; pids[i] a pid or -errno;
    the children that could not move are reaped before it returns."""
    cluster.stop_agent(2)
    cluster.wait_state(2, "down")
    rc, out = run(cluster.mnt, "vrfork", "master", 0, 2, 9, -5, "master")
    assert rc == 0
    assert "vrfork 6" in out
    pids = dict(line.split()[1:] for line in out if line.startswith("pid "))
    assert pids["1"] == "EOPNOTSUPP" and pids["2"] == "EHOSTDOWN"
    assert pids["3"] == "ENOENT" and pids["4"] == "EINVAL"
    for i in ("0", "5"):
        assert "child %s %s -1" % (i, pids[i]) in out
        assert "status %s %d" % (pids[i], 10 + int(i)) in out
    assert out[-1] == "nochild"
    assert len([line for line in out if line.startswith("status ")]) == 2


@pytest.mark.timeout(120)
def test_execmove_refusals(cluster, libtest, tmp_path):
    """What execve(2) would refuse here is refused before the move, and
    the caller goes on where it was; so is a failed move."""
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"not a program\n")
    garbage.chmod(0o755)
    plain = tmp_path / "plain"
    plain.write_bytes(b"#!/bin/sh\n")
    plain.chmod(0o644)
    suid = tmp_path / "suid"
    shutil.copy(LIBTEST, suid)
    suid.chmod(0o4755)
    cluster.stop_agent(2)
    cluster.wait_state(2, "down")
    for node, cmd, err in ((1, "/nonexistent", "ENOENT"),
                           (1, plain, "EACCES"), (1, tmp_path, "EACCES"),
                           (1, garbage, "ENOEXEC"), (1, suid, "EPERM"),
                           (2, LIBTEST, "EHOSTDOWN"), (9, LIBTEST, "ENOENT"),
                           (1, LIBTEST, "EOPNOTSUPP"),
                           (-2, LIBTEST, "EINVAL")):
        assert run(cluster.mnt, "execmove", node, cmd, "whereami") == \
            (3, ["execmove %s currnode -1" % err]), (node, cmd)
    assert run(cluster.mnt, "rexec", 2, "/bin/true") == \
        (3, ["rexec EHOSTDOWN currnode -1"])
    # where it already runs: an execve, keeping the pid
    rc, out = run(cluster.mnt, "execmove", "master", LIBTEST, "whereami",
                  "5")
    assert rc == 5 and out[0].split()[2:] == ["-1", "-", "5"], out
    rc, out = run(cluster.mnt, "rexec", "master", LIBTEST, "whereami", "6")
    assert rc == 6 and out[0].split()[2:] == ["-1", "-", "6"], out


@pytest.mark.timeout(120)
def test_vexecmove_here_and_refused(cluster, libtest):
    """Children on the node where the caller runs execute the program at
    once, with their index as BPROC_RANK; those that cannot move are
    reaped."""
    rc, out = run(cluster.mnt, "vexecmove", "master", 1, "master", "--",
                  LIBTEST, "whereami", "4", env={"BPROC_RANK": "x"})
    assert rc == 0
    pids = dict(line.split()[1:] for line in out if line.startswith("pid "))
    assert pids["1"] == "EOPNOTSUPP"
    for i in ("0", "2"):
        assert "whereami %s -1 %s 4" % (pids[i], i) in out
        assert "status %s 4" % pids[i] in out
    assert out[-1] == "nochild"


@pytest.mark.timeout(60)
def test_without_bproc(libtest, tmp_path):
    """Where /bproc is not mounted (a node): ENOSYS, and no child made."""
    mnt = str(tmp_path)
    assert run(mnt, "rfork-fail", 1, "ENOSYS") == (0, ["ok"])
    assert run(mnt, "move", 1)[1][0].startswith("move ENOSYS ")
    assert run(mnt, "vrfork", 1, 2) == (1, ["vrfork ENOSYS"])
    assert run(mnt, "execmove", 1, LIBTEST, "whereami")[1][0].startswith(
        "execmove ENOSYS ")
    rc, out = run(mnt, "info")
    assert out[0] == "numnodes ENOSYS"
    assert out[1] == "currnode %s" % (agent_says() or "ENOSYS")


# ---- in a virtual cluster ----

@pytest.fixture(scope="module")
def lib_run():
    """Build, boot the cluster once, run all cases; {case: (ok, details)}."""
    for part in ("ckpt", "lib", "tests/victims"):
        subprocess.run(["make", "-s", "-C", os.path.join(ROOT, part)],
                       check=True, timeout=600)
    r = run_in_cluster(os.path.join(ROOT, "tests", "vm", "lib_cases.sh"),
                       nodes=2, timeout=VCLUSTER_TIMEOUT,
                       add=[os.path.join(ROOT, "tests", "victims"),
                            os.path.join(ROOT, "tests", "vm"),
                            os.path.join(ROOT, "lib")])
    return case_results(r.output, tail=60), r


@pytest.mark.timeout(VCLUSTER_TIMEOUT + 600)
@pytest.mark.parametrize("case", CASES)
def test_lib_case(lib_run, case):
    results, r = lib_run
    if case not in results:
        pytest.fail("case %s did not run (vcluster exit %d):\n%s"
                    % (case, r.returncode, r.output[-3000:]))
    ok, details = results[case]
    assert ok, details


@pytest.mark.timeout(VCLUSTER_TIMEOUT + 600)
def test_lib_script_status(lib_run):
    """The script's own status: 0 when every case passed."""
    results, r = lib_run
    failed = [c for c, (ok, _) in results.items() if not ok]
    assert r.returncode == 0, "failed: %s\n%s" % (failed, r.output[-2000:])
