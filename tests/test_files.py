"""The files of /bproc as files: metrics in valid Prometheus text format,
the same text whether read whole or a byte at a time, read-only files
refuse writes, events grows so `tail -f` follows it."""

import errno
import os
import re
import subprocess
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.timeout(60)


def all_files(c, nodes):
    files = ["status", "metrics", "events"]
    for n in nodes:
        d = c.dirname(n)
        files += [d + "/status", d + "/addr", d + "/info"]
    return files


def read_whole(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        out = b""
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return out
            out += chunk
    finally:
        os.close(fd)


def read_bytewise(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        out = b""
        while True:
            b = os.read(fd, 1)
            if not b:
                return out
            assert len(b) == 1
            out += b
    finally:
        os.close(fd)


# values that change on their own between two reads
VOLATILE = re.compile(rb"^(last_seen_ms .*|bproc_node_last_seen_seconds.*)$",
                      re.M)


def test_metrics_parse(cluster):
    cluster.kill_agent(2)
    cluster.wait_state(2, "down")
    fams = {f.name: f for f in
            text_string_to_metric_families(cluster.read("metrics"))}
    up = {s.labels["node"]: s.value for s in fams["bproc_node_up"].samples}
    assert up == {"master": 1, "node0": 1, "node1": 1, "node2": 0}
    assert fams["bproc_node_up"].type == "gauge"
    nodes = {s.labels["state"]: s.value for s in fams["bproc_nodes"].samples}
    assert nodes == {"up": 3, "down": 1, "boot": 0, "error": 0}
    procs = {s.labels["node"]: s.value
             for s in fams["bproc_node_processes"].samples}
    assert procs["node0"] > 10 and "node2" not in procs
    assert fams["bproc_moves"].type == "counter"
    results = {s.labels["result"] for s in fams["bproc_moves"].samples
               if s.name == "bproc_moves_total"}
    assert {"ok", "einval", "esrch", "eperm", "eacces", "ehostdown",
            "eopnotsupp"} <= results
    assert fams["bproc_move_duration_seconds"].type == "histogram"
    assert fams["bproc_moved_bytes"].type == "counter"
    # every sample line is one family's, and the text ends in a newline
    assert cluster.read("metrics").endswith("\n")


def test_metrics_count_moves(cluster):
    before = cluster.read("metrics")
    for _ in range(3):
        fd = os.open(cluster.path("node0", "move"), os.O_WRONLY)
        with pytest.raises(OSError):
            os.write(fd, b"nonsense")
        os.close(fd)
    fams = {f.name: f for f in
            text_string_to_metric_families(cluster.read("metrics"))}
    einval = [s.value for s in fams["bproc_moves"].samples
              if s.labels.get("result") == "einval"]
    assert einval == [3.0]
    assert 'result="einval"} 0' in before


def test_same_whole_or_bytewise(make_cluster):
    # a slow heartbeat, so nothing changes while the files are read
    c = make_cluster(nodes=[0, 1], heartbeat=5, timeout=20)
    c.kill_agent(1)
    c.wait_state(1, "down")
    for name in all_files(c, ["master", 0, 1]):
        path = c.path(name)
        whole = read_whole(path)
        pieces = read_bytewise(path)
        assert whole.endswith(b"\n") and whole
        assert VOLATILE.sub(b"", whole) == VOLATILE.sub(b"", pieces), name


def test_one_snapshot_per_open(cluster):
    # a reader part-way through a file keeps the text it started with
    fd = os.open(cluster.path("status"), os.O_RDONLY)
    try:
        head = os.read(fd, 10)
        cluster.kill_agent(1)
        cluster.wait_state(1, "down")
        rest = b""
        while True:
            chunk = os.read(fd, 7)
            if not chunk:
                break
            rest += chunk
        text = (head + rest).decode()
        assert [l.split()[1] for l in text.splitlines()
                if l.startswith("node1 ")] == ["up"]
    finally:
        os.close(fd)
    assert cluster.read("status").count("node1      down") == 1


@pytest.mark.parametrize("name", ["status", "metrics", "events",
                                  "node0/status", "node0/addr", "node0/info"])
def test_read_only_files_refuse_writes(cluster, name):
    with pytest.raises(OSError) as e:
        os.open(cluster.path(name), os.O_WRONLY)
    assert e.value.errno == errno.EACCES
    with pytest.raises(OSError) as e:
        os.open(cluster.path(name), os.O_RDWR)
    assert e.value.errno == errno.EACCES


def test_no_creating_or_removing(cluster):
    for fn, args in ((os.mkdir, (cluster.path("node9"),)),
                     (os.rmdir, (cluster.path("node0"),)),
                     (os.unlink, (cluster.path("status"),)),
                     (open, (cluster.path("newfile"), "w"))):
        with pytest.raises(OSError):
            fn(*args)
    with pytest.raises(FileNotFoundError):
        open(cluster.path("node0", "nope"))
    with pytest.raises(FileNotFoundError):
        os.stat(cluster.path("node00"))


def test_tail_follows_events(cluster):
    tail = subprocess.Popen(["tail", "-n", "0", "-f", "-s", "0.1",
                             cluster.path("events")],
                            stdout=subprocess.PIPE)
    try:
        time.sleep(0.5)
        cluster.kill_agent(1)
        cluster.wait_state(1, "down")
        os.set_blocking(tail.stdout.fileno(), False)
        got = b""
        deadline = time.time() + 5
        while b"node1 down" not in got and time.time() < deadline:
            got += tail.stdout.read() or b""
            time.sleep(0.05)
        assert b"node1 down (was up: connection closed)" in got
    finally:
        tail.kill()
        tail.wait()


def test_status_table_columns(cluster):
    lines = cluster.read("status").splitlines()
    head = lines[0].split()
    assert head == ["node", "state", "mode", "uid", "gid", "addr", "load1",
                    "procs", "since", "moves_in", "moves_out"]
    for line in lines[1:]:
        assert len(line.split()) == len(head)
