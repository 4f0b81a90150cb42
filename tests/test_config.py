"""Configuration: every bad line stops both daemons with one line
FILE:LINE: reason and a non-zero status; a good file with every tag loads."""

import os
import subprocess

import pytest

from helpers.cluster import binary

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def confdir(tmp_path, built):
    key = tmp_path / "k"
    key.write_bytes(os.urandom(32))
    key.chmod(0o600)
    return tmp_path


GOOD = ["master 127.0.0.1:2223", "key k", "# heartbeat and timeout: defaults",
        "node 0 127.0.0.9"]

BAD = [
    # (extra line, reason fragment)
    ("frobnicate 1", "unknown tag 'frobnicate'"),
    ("node 1 127.0.0.2", None),  # placeholder: duplicate built below
    ("node x 127.0.0.2", "bad node number 'x'"),
    ("node -1 127.0.0.2", "bad node number '-1'"),
    ("node 1 127.0.0.256", "bad address '127.0.0.256'"),
    ("node 1 127.0.0.2:99999", "bad address '127.0.0.2:99999'"),
    ("node 1 localhost", "bad address 'localhost'"),
    ("node 1", "usage: node N ADDR[:PORT]"),
    ("heartbeat 0", "bad heartbeat '0'"),
    ("timeout abc", "bad timeout 'abc'"),
    ("iprange 1 127.0.0.9 127.0.0.3", "iprange last address before first"),
    ("iprange 1 127.0.0.3", "usage: iprange"),
    ("master 127.0.0.1", "duplicate master line"),
    ("state", "usage: state FILE"),
    ("send 1", "usage: send N|master|all path|whole|auto"),
    ("send 1 copy", "bad send mode 'copy' (path, whole or auto)"),
    ("send 1 Whole", "bad send mode 'Whole' (path, whole or auto)"),
    ("send x whole", "bad node 'x' (a number, master or all)"),
    ("send -1 whole", "bad node '-1' (a number, master or all)"),
    ("send 7 whole", "send line for node 7, which is not configured"),
    ("send 1 whole path", "usage: send N|master|all path|whole|auto"),
    ("fanout", "usage: fanout N"),
    ("fanout 65", "bad fanout '65' (0 to 64)"),
    ("fanout -1", "bad fanout '-1' (0 to 64)"),
    ("fanout two", "bad fanout 'two' (0 to 64)"),
    ("fanout 2 3", "usage: fanout N"),
]


def run_both(path, node="1"):
    out = []
    for argv in ([binary("bprocfs"), "-f", "--config", str(path), "/bproc"],
                 [binary("bproc-nodeagent"), "-f", "--config", str(path),
                  "--node", node]):
        out.append(subprocess.run(argv, capture_output=True, text=True,
                                  timeout=10))
    return out


@pytest.mark.parametrize("extra,reason", BAD)
def test_bad_line_names_file_and_line(confdir, extra, reason):
    lines = GOOD + ["node 1 127.0.0.2:2224", "# a comment", extra]
    if reason is None:
        reason = "duplicate node1 (line 5)"
    cfg = confdir / "config"
    cfg.write_text("\n".join(lines) + "\n")
    for r in run_both(cfg):
        assert r.returncode != 0
        assert r.stderr == "%s:%d: %s\n" % (cfg, len(lines), reason) or \
            (r.stderr.startswith("%s:%d: %s" % (cfg, len(lines), reason))
             and r.stderr.count("\n") == 1), r.stderr


@pytest.mark.parametrize("first,second", [
    ("send all path", "send all whole"), ("send 1 path", "send 1 path"),
    ("send master auto", "send master whole")])
def test_duplicate_send_line(confdir, first, second):
    cfg = confdir / "config"
    cfg.write_text("\n".join(GOOD + ["node 1 127.0.0.2", first, second])
                   + "\n")
    for r in run_both(cfg):
        assert r.returncode != 0
        assert r.stderr == "%s:7: duplicate send line for %s (line 6)\n" % (
            cfg, first.split()[1])


def test_duplicate_fanout_line(confdir):
    cfg = confdir / "config"
    cfg.write_text("\n".join(GOOD + ["fanout 0", "fanout 3"]) + "\n")
    for r in run_both(cfg, node="0"):
        assert r.returncode != 0
        assert r.stderr == "%s:6: duplicate fanout line\n" % cfg


def test_duplicate_address(confdir):
    cfg = confdir / "config"
    cfg.write_text("\n".join(GOOD + ["iprange 1 127.0.0.2 127.0.0.5",
                                      "node 9 127.0.0.4"]) + "\n")
    for r in run_both(cfg):
        assert r.returncode != 0
        assert r.stderr == ("%s:6: node9 has the address of node3 "
                            "(127.0.0.4:2224)\n" % cfg)


@pytest.mark.parametrize("mode,size,reason", [
    (0o644, 32, "mode 0644 lets others read it; chmod 600 it"),
    (0o640, 32, "mode 0640 lets others read it; chmod 600 it"),
    (0o600, 16, "16 bytes; a key is 32 to 4096 bytes"),
])
def test_bad_key_file(confdir, mode, size, reason):
    key = confdir / "weak"
    key.write_bytes(os.urandom(size))
    key.chmod(mode)
    cfg = confdir / "config"
    cfg.write_text("master 127.0.0.1\nkey weak\nnode 1 127.0.0.2\n")
    for r in run_both(cfg):
        assert r.returncode != 0
        assert r.stderr.startswith("%s:2: key weak: %s" % (cfg, reason))
        assert r.stderr.count("\n") == 1


def test_missing_key_and_master(confdir):
    cfg = confdir / "config"
    cfg.write_text("master 127.0.0.1\nnode 1 127.0.0.2\n")
    for r in run_both(cfg):
        assert r.returncode != 0
        assert r.stderr == "%s: no key line: the cluster needs a key\n" % cfg
    cfg.write_text("key k\n")
    for r in run_both(cfg):
        assert r.stderr == "%s: no master line\n" % cfg
    cfg.write_text("master 127.0.0.1\nkey k\nheartbeat 2\ntimeout 1\n"
                   "node 1 127.0.0.2\n")
    for r in run_both(cfg):
        assert "timeout (1000 ms) is shorter than the heartbeat" in r.stderr


def test_missing_file(confdir):
    for r in run_both(confdir / "nope"):
        assert r.returncode != 0
        assert "nope: No such file or directory" in r.stderr


def test_agent_node_not_in_config(confdir):
    cfg = confdir / "config"
    cfg.write_text("\n".join(GOOD + ["node 1 127.0.0.2"]) + "\n")
    r = subprocess.run([binary("bproc-nodeagent"), "-f", "--config",
                        str(cfg), "--node", "7"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode != 0
    assert r.stderr == "%s: node7 is not in the config\n" % cfg


def test_every_tag_loads(make_cluster):
    c = make_cluster(nodes=[0], start=False,
                     extra_config="iprange 20 %s %s\n" % (
                         "127.0.0.0", "127.0.0.0"))
    # iprange on this cluster's own network, default port unused by tests
    c.extra_config = "iprange 20 %s50:%d %s52:%d\nfanout 0\n" % (
        c.net, c.node_port, c.net, c.node_port)
    c.write_config()
    c.start()
    names = set(os.listdir(c.mnt))
    assert {"node20", "node21", "node22"} <= names
    assert c.read("node21", "addr") == "%s51:%d\n" % (c.net, c.node_port)
    assert c.state(21) == "down"
