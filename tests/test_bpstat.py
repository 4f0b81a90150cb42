"""bpstat, the shell script over /bproc: the node table in BProc's compact
form, the long form with addresses, node selection and bad options."""

import os
import subprocess

import pytest

from helpers.cluster import ROOT

pytestmark = pytest.mark.timeout(60)

BPSTAT = os.path.join(ROOT, "tools", "bpstat")


def bpstat(c, *args):
    env = dict(os.environ, BPROC_MOUNT=c.mnt)
    r = subprocess.run([BPSTAT] + list(args), env=env, capture_output=True,
                       text=True, timeout=20)
    return r.returncode, r.stdout, r.stderr


def rows(out):
    lines = out.splitlines()
    return lines[0].split(), [line.split() for line in lines[1:]]


def test_compact_table_groups_alike_nodes(make_cluster):
    c = make_cluster(nodes=(0, 1, 2, 3, 5))
    for n in (0, 1, 2, 3, 5):
        c.wait_state(n, "up")
    c.stop_agent(2)
    c.wait_state(2, "down")
    os.chmod(c.path("node5"), 0o510)
    rc, out, err = bpstat(c)
    assert rc == 0, err
    head, body = rows(out)
    assert head == ["Node(s)", "Status", "Mode", "User", "Group"]
    assert body == [
        ["master", "up", "-r-xr-xr-x", "root", "root"],
        ["0-1", "up", "-r-xr-xr-x", "root", "root"],
        ["2", "down", "-r-xr-xr-x", "root", "root"],
        ["3", "up", "-r-xr-xr-x", "root", "root"],
        ["5", "up", "-r-x--x---", "root", "root"],
    ]


def test_long_form_and_nodespec(cluster):
    cluster.wait_state(2, "up")
    os.chown(cluster.path("node1"), 65534, 0)
    rc, out, err = bpstat(cluster, "-l", "1-2,master")
    assert rc == 0, err
    head, body = rows(out)
    assert head[-1] == "Address"
    assert [r[0] for r in body] == ["master", "1", "2"]
    byname = {r[0]: r for r in body}
    assert byname["1"][3] != "root"  # the owner is shown, by name or number
    for name in ("1", "2"):
        assert byname[name][5] == "%s:%d" % cluster.node_addr(int(name))


def test_bad_option_and_missing_mount(cluster, tmp_path):
    rc, _, err = bpstat(cluster, "-x")
    assert rc == 2 and "usage" in err
    env = dict(os.environ, BPROC_MOUNT=str(tmp_path))
    r = subprocess.run([BPSTAT], env=env, capture_output=True, text=True)
    assert r.returncode == 1 and "is bprocfs mounted" in r.stderr
