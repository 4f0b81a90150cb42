"""Node permissions: owner, group and mode of each node directory decide
who may move processes there; root changes them, they survive a restart of
bprocfs and a node going down."""

import errno
import os
import stat

import pytest

from helpers.users import NOBODY, as_user, write_errno_code

pytestmark = pytest.mark.timeout(60)


def mode_of(c, node):
    return stat.S_IMODE(os.stat(c.path(c.dirname(node))).st_mode)


def test_default_permissions(cluster):
    st = os.stat(cluster.path("node1"))
    assert stat.S_ISDIR(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o555
    assert (st.st_uid, st.st_gid) == (0, 0)


def test_mode_decides_non_root_moves(cluster):
    move = cluster.path("node1", "move")
    os.chmod(cluster.path("node1"), 0o554)
    assert mode_of(cluster, 1) == 0o554
    # others lack execute: refused
    assert int(as_user(write_errno_code(move, "$$"))) == errno.EACCES
    assert "failed: EACCES: uid 65534 has no execute permission on node1" \
        in cluster.events()
    # everyone may read the node's files still
    assert as_user("print(open(%r).read().strip())" %
                   cluster.path("node1", "status")) == "up"
    os.chmod(cluster.path("node1"), 0o555)
    # allowed now: the request goes on to the engine check
    assert int(as_user(write_errno_code(move, "$$"))) == errno.EOPNOTSUPP


def test_owner_and_group_bits(cluster):
    move = cluster.path("node2", "move")
    os.chmod(cluster.path("node2"), 0o510)
    os.chown(cluster.path("node2"), 0, 4242)
    assert int(as_user(write_errno_code(move, "$$"))) == errno.EACCES
    # a member of the node's group (supplementary) may
    assert int(as_user(write_errno_code(move, "$$"),
                       groups=[4242])) == errno.EOPNOTSUPP
    # the owner gets the owner bits
    os.chown(cluster.path("node2"), NOBODY, 0)
    assert int(as_user(write_errno_code(move, "$$"))) == errno.EOPNOTSUPP
    os.chmod(cluster.path("node2"), 0o050)
    assert int(as_user(write_errno_code(move, "$$"))) == errno.EACCES
    # root always may
    with pytest.raises(OSError) as e:
        fd = os.open(move, os.O_WRONLY)
        try:
            os.write(fd, b"%d" % os.getpid())
        finally:
            os.close(fd)
    assert e.value.errno == errno.EOPNOTSUPP


def test_only_root_or_owner_changes_them(cluster):
    code = ("import os\n"
            "for f, a in ((os.chmod, (0o777,)), (os.chown, (65534, 65534)),"
            " (os.chown, (-1, 65534))):\n"
            "    try:\n"
            "        f(%r, *a)\n"
            "        print(0)\n"
            "    except OSError as e:\n"
            "        print(e.errno)\n" % cluster.path("node0"))
    assert as_user(code).split() == [str(errno.EPERM)] * 3
    assert mode_of(cluster, 0) == 0o555
    # a file that is not a directory has no permissions to change
    with pytest.raises(OSError) as e:
        os.chmod(cluster.path("node0", "status"), 0o666)
    assert e.value.errno == errno.EPERM
    # the owner may chmod their node
    os.chown(cluster.path("node0"), NOBODY, 0)
    assert as_user("import os; os.chmod(%r, 0o500); print('ok')" %
                   cluster.path("node0")) == "ok"
    assert mode_of(cluster, 0) == 0o500


def test_kept_across_restart_and_down(cluster):
    os.chmod(cluster.path("node1"), 0o700)
    os.chown(cluster.path("node2"), 1234, 5678)
    os.chmod(cluster.path("master"), 0o111)
    cluster.kill_agent(1)
    cluster.wait_state(1, "down")
    assert mode_of(cluster, 1) == 0o700
    cluster.start_agent(1)
    cluster.wait_state(1, "up")
    assert mode_of(cluster, 1) == 0o700
    cluster.stop_fs()
    with open(cluster.state_path) as f:
        saved = f.read()
    assert "node1 0 0 0700" in saved
    cluster.start_fs()
    assert mode_of(cluster, 1) == 0o700
    st = os.stat(cluster.path("node2"))
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    assert mode_of(cluster, "master") == 0o111
    assert mode_of(cluster, 0) == 0o555
    status = cluster.read("status")
    assert [l.split()[2:5] for l in status.splitlines()
            if l.startswith("node2 ")] == [["0555", "1234", "5678"]]


def test_corrupt_state_file_is_refused(make_cluster):
    import subprocess
    from helpers.cluster import binary
    c = make_cluster(start=False)
    with open(c.state_path, "w") as f:
        f.write("node1 0 0 0555\nnode2 zero 0 0555\n")
    r = subprocess.run([binary("bprocfs"), "-f", "--config", c.config_path,
                        c.mnt], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert r.stderr == "%s:2: expected 'NODE UID GID MODE'\n" % c.state_path
