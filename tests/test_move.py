"""The move file: every refusal with the spec's errno and a reason in
events. There is no migration engine on this machine's nodes, so a valid
move to an up node fails with EOPNOTSUPP and says why."""

import errno
import os
import subprocess

import pytest

from helpers.threads import running_thread
from helpers.users import as_user, write_errno_code

pytestmark = pytest.mark.timeout(60)


def move(cluster, node, data):
    fd = os.open(cluster.path(cluster.dirname(node), "move"), os.O_WRONLY)
    try:
        os.write(fd, data if isinstance(data, bytes) else data.encode())
    finally:
        os.close(fd)


def move_errno(cluster, node, data):
    with pytest.raises(OSError) as e:
        move(cluster, node, data)
    return e.value.errno


@pytest.mark.parametrize("data", [
    b"abc", b"12 34", b"12\n34\n", b"-5", b"0", b"+12", b" 12", b"12 ",
    b"12345678901", b"99999999999999999999", b"\n", b"1\n\n", b"0x10",
    b"12\0", b"4294967297",
])
def test_einval_not_a_pid(cluster, data):
    assert move_errno(cluster, 1, data) == errno.EINVAL
    assert "failed: EINVAL" in cluster.events()


def test_esrch_no_such_process(cluster):
    p = subprocess.Popen(["true"])
    p.wait()
    gone = p.pid
    # a pid above pid_max is no process either
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    for pid in (gone, pid_max + 1):
        if os.path.exists("/proc/%d" % pid):
            continue
        assert move_errno(cluster, 1, "%d\n" % pid) == errno.ESRCH
    assert "pid %d to node1 failed: ESRCH: no such process" % gone in \
        cluster.events()


def test_esrch_thread_is_not_a_process(cluster):
    with running_thread() as tid:
        assert tid != os.getpid()
        assert move_errno(cluster, 1, str(tid)) == errno.ESRCH


def test_ehostdown(make_cluster):
    c = make_cluster(nodes=[0, 4])
    c.stop_agent(4)
    c.wait_state(4, "down")
    assert move_errno(c, 4, str(os.getpid())) == errno.EHOSTDOWN
    assert "to node4 failed: EHOSTDOWN: node4 is down" in c.events()


def test_eopnotsupp_without_engine(cluster):
    # the host tests' agents run where bproc.ko is not (the engine's tests
    # run it in the virtual cluster), as test_membership checks too
    assert not os.path.exists("/sys/module/bproc"), \
        "bproc.ko is loaded on this machine: unload it for the host tests"
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        assert move_errno(cluster, 2, "%d\n" % sleeper.pid) == \
            errno.EOPNOTSUPP
        assert sleeper.poll() is None  # a failed move loses nothing
    finally:
        sleeper.kill()
        sleeper.wait()
    ev = cluster.events()
    assert ("move pid %d to node2 failed: EOPNOTSUPP: node2 has no "
            "migration engine: none (bproc.ko not loaded)" % sleeper.pid) in ev
    metrics = cluster.read("metrics")
    assert 'bproc_moves_total{result="eopnotsupp"} 1' in metrics


def test_move_to_master_where_it_runs(cluster):
    move(cluster, "master", "%d\n" % os.getpid())
    assert "to master done: already there" in cluster.events()


def test_eperm_other_users_process(cluster):
    # a root process, moved by nobody: may not signal it
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        out = as_user(write_errno_code(cluster.path("node1", "move"),
                                       str(sleeper.pid)))
        assert int(out) == errno.EPERM
    finally:
        sleeper.kill()
        sleeper.wait()
    assert "failed: EPERM: uid 65534 may not signal a process of uid 0" in \
        cluster.events()


def test_own_process_allowed_then_engine_missing(cluster):
    out = as_user(write_errno_code(cluster.path("node1", "move"), "$$\n"))
    assert int(out) == errno.EOPNOTSUPP


def test_move_file_is_write_only(cluster):
    with pytest.raises(OSError) as e:
        open(cluster.path("node1", "move")).read()
    assert e.value.errno == errno.EACCES
    # shell redirection (O_TRUNC, O_CREAT) works
    r = subprocess.run(["bash", "-c", "echo garbage > %s" %
                        cluster.path("node1", "move")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Invalid argument" in r.stderr
