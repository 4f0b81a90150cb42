"""Membership: nodes come up from real agents, go down when an agent dies or
hangs, come back when it returns, and every change is an event."""

import os
import select
import signal
import time

import pytest

pytestmark = pytest.mark.timeout(90)


def test_nodes_come_up(cluster):
    status = cluster.read("status").splitlines()
    assert status[0].split()[:2] == ["node", "state"]
    rows = {line.split()[0]: line.split() for line in status[1:]}
    assert set(rows) == {"master", "node0", "node1", "node2"}
    for row in rows.values():
        assert row[1] == "up"
    assert sorted(os.listdir(cluster.mnt)) == [
        "events", "master", "metrics", "node0", "node1", "node2", "status"]
    assert sorted(os.listdir(cluster.path("node1"))) == [
        "addr", "info", "move", "status"]
    assert cluster.read("node1", "addr") == "%s:%d\n" % cluster.node_addr(1)
    info = cluster.info(1)
    assert info["state"] == "up"
    assert info["kernel"] == os.uname().release
    assert int(info["cpus"]) == os.cpu_count()
    assert int(info["mem_total_kb"]) > 0
    assert 0 <= int(info["last_seen_ms"]) < 1000
    assert int(info["procs"]) > 10
    assert abs(int(info["since"]) - time.time()) < 30
    assert info["engine"].startswith("none (")
    for k in ("load1", "load5", "load15"):
        float(info[k])


def test_configured_node_without_agent_is_down(make_cluster):
    c = make_cluster(nodes=[0, 7])
    c.stop_agent(7)
    c.wait_state(7, "down")
    assert c.read("node7", "status") == "down\n"
    info = c.info(7)
    assert info["state"] == "down"


def test_nodes_listed_before_any_agent(make_cluster):
    c = make_cluster(nodes=[3, 100, 42], start=False)
    c.start_fs()
    names = sorted(os.listdir(c.mnt))
    assert names == ["events", "master", "metrics", "node100", "node3",
                     "node42", "status"]
    for n in (3, 42, 100):
        assert c.state(n) == "down"
    assert c.info(42)["last_seen_ms"] == "-"


def test_kill9_goes_down_and_restart_comes_back(cluster):
    t0 = time.time()
    cluster.kill_agent(1, signal.SIGKILL)
    t1 = cluster.wait_state(1, "down", timeout=5)
    # a closed connection is seen at once, well within one heartbeat
    assert t1 - t0 < cluster.heartbeat + 1.0
    assert cluster.state(0) == "up" and cluster.state(2) == "up"
    cluster.start_agent(1)
    cluster.wait_state(1, "up", timeout=5)
    ev = cluster.events()
    assert "node1 down (was up: connection closed)" in ev
    assert ev.count("node1 up (was boot") == 2


def test_stopped_agent_goes_down(cluster):
    t0 = time.time()
    cluster.kill_agent(2, signal.SIGSTOP)
    t1 = cluster.wait_state(2, "down", timeout=10)
    elapsed = t1 - t0
    assert elapsed >= cluster.timeout - cluster.heartbeat - 0.05
    assert elapsed < cluster.timeout + cluster.heartbeat + 1.0
    assert "node2 down (was up: silent for" in cluster.events()
    assert cluster.state(0) == "up"
    # once running again the agent notices and joins again
    cluster.agents[2].kill(signal.SIGCONT)
    cluster.wait_state(2, "up", timeout=10)


def test_poll_wakes_on_change(cluster):
    fd = os.open(cluster.path("node0", "status"), os.O_RDONLY)
    try:
        assert os.read(fd, 100) == b"up\n"
        p = select.poll()
        p.register(fd, select.POLLIN | select.POLLPRI)
        # nothing changes: poll must wait the whole time
        t0 = time.time()
        assert p.poll(600) == []
        assert time.time() - t0 >= 0.55
        t0 = time.time()
        cluster.kill_agent(0, signal.SIGKILL)
        ev = p.poll(5000)
        assert ev and ev[0][1] & (select.POLLIN | select.POLLPRI)
        assert time.time() - t0 < 2
        assert os.pread(fd, 100, 0) == b"down\n"
        # read again: quiet until the next change
        assert p.poll(300) == []
        cluster.start_agent(0)
        assert p.poll(5000)
        assert os.pread(fd, 100, 0) in (b"boot\n", b"up\n")
    finally:
        os.close(fd)


def test_events_record_each_change(cluster):
    size0 = os.stat(cluster.path("events")).st_size
    with open(cluster.path("events"), "rb") as f:
        f.seek(size0)
        cluster.kill_agent(0)
        cluster.wait_state(0, "down")
        cluster.start_agent(0)
        cluster.wait_state(0, "up")
        deadline = time.time() + 5
        new = b""
        while time.time() < deadline and new.count(b"\n") < 3:
            new += f.read()
            time.sleep(0.05)
    lines = new.decode().splitlines()
    assert len(lines) == 3, lines
    assert lines[0].endswith("node0 down (was up: connection closed)")
    assert lines[1].endswith("node0 boot (was down: agent joining)")
    assert lines[2].endswith("node0 up (was boot: agent reported)")
    for line in lines:
        stamp = line.split()[0]
        t = time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
        assert abs(t - time.mktime(time.gmtime())) < 60
    assert os.stat(cluster.path("events")).st_size > size0


def test_agent_stop_is_clean_and_node_goes_down(cluster):
    assert cluster.stop_agent(1) == 0
    cluster.wait_state(1, "down", timeout=2)
    assert "node1 down (was up: agent stopped)" in cluster.events()


def test_agent_says_which_node_this_is(cluster):
    """Programs on a node learn its number from RUN_DIR/node (libbproc's
    bproc_currnode): -1 on the front end; gone once the agent stops."""
    for node, text in ((1, "1\n"), (2, "2\n"), ("master", "-1\n")):
        with open(os.path.join(cluster.run_dir(node), "node")) as f:
            assert f.read() == text
        assert os.stat(os.path.join(cluster.run_dir(node), "node")).st_mode \
            & 0o777 == 0o644
    assert cluster.stop_agent(1) == 0
    assert not os.path.exists(os.path.join(cluster.run_dir(1), "node"))
    assert os.listdir(cluster.run_dir(1)) == []


def test_master_restart_agents_rejoin(cluster):
    cluster.stop_fs()
    cluster.start_fs()
    for n in ("master", 0, 1, 2):
        cluster.wait_state(n, "up", timeout=15)


def test_sighup_adds_and_removes_nodes(cluster):
    cluster.write_config(nodes=[0, 1, 9])
    cluster.fs.kill(signal.SIGHUP)
    deadline = time.time() + 5
    while time.time() < deadline:
        names = set(os.listdir(cluster.mnt))
        if "node9" in names and "node2" not in names:
            break
        time.sleep(0.05)
    assert "node9" in names and "node2" not in names
    assert cluster.state(9) == "down"
    assert not os.path.exists(cluster.path("node2", "status"))
    ev = cluster.events()
    assert "node2 removed from the config" in ev
    assert "node9 added to the config" in ev
    assert cluster.state(0) == "up"
    cluster.start_agent(9)
    cluster.wait_state(9, "up")
    cluster.stop_agent(2)
