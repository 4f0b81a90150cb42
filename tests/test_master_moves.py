"""The master's side of moving processes, with agents played by the test
(helpers/fakeagent.py): the move order, the write answered only when the
move ends (or, for a self-move, once it is armed), EBUSY, results in events
and metrics, and the routing of signals, IO and exits of moved processes
between the agents, held in order while they move."""

import errno
import os
import re
import signal
import subprocess
import sys
import threading

import pytest

from helpers.fakeagent import (EXIT, IO_ACKED, IO_DATA, IO_EOF, IO_MARK,
                               IO_REQUEUE, PROC_FORK, PROC_GHOST, PROC_PARENT,
                               PROC_REAPED, STREAM_OWNER,
                               MOVE_KEEP, MOVE_ORDER, MOVE_SELF, SIGNAL,
                               FakeAgent,
                               fake_cluster, wait_for)

pytestmark = pytest.mark.timeout(60)


class Writer(threading.Thread):
    """echo PID > /bproc/NODE/move in the background: result is the byte
    count or -errno."""

    def __init__(self, cluster, node, pid, word=None):
        super().__init__(daemon=True)
        self.path = cluster.path(cluster.dirname(node), "move")
        self.data = ("%d\n" % pid if word is None else
                     "%d %s\n" % (pid, word)).encode()
        self.result = None
        self.start()

    def run(self):
        fd = os.open(self.path, os.O_WRONLY)
        try:
            self.result = os.write(fd, self.data)
        except OSError as e:
            self.result = -e.errno
        finally:
            os.close(fd)

    def done(self, timeout=5.0):
        self.join(timeout)
        assert not self.is_alive(), "the write was not answered"
        return self.result


@pytest.fixture
def fakes(make_cluster):
    c, agents = fake_cluster(make_cluster)
    yield c, agents
    for a in agents.values():
        a.close()


@pytest.fixture
def sleeper():
    p = subprocess.Popen(["sleep", "60"])
    yield p
    p.kill()
    p.wait()


def metric(cluster, line_start):
    for line in cluster.read("metrics").splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    raise AssertionError("no metric " + line_start)


def move_away(c, agents, pid, node=1, nbytes=1000):
    """Move pid from the front end to node through the fake agents."""
    w = Writer(c, node, pid)
    order = agents["master"].expect(MOVE_ORDER)
    agents["master"].result(order["move_id"], pid, nbytes=nbytes)
    assert w.done() == len(w.data)
    return order


# enum bproc_send (proto.h) and BPROC_DUMP_ALL (bproc.h)
SEND_PATH, SEND_WHOLE, SEND_AUTO = 1, 2, 3
DUMP_ALL = 7


@pytest.mark.parametrize("word,send,dump", [
    (None, SEND_AUTO, 0), ("auto", SEND_AUTO, 0), ("path", SEND_PATH, 0),
    ("whole", SEND_WHOLE, DUMP_ALL)])
def test_move_word_says_how_files_go(fakes, sleeper, word, send, dump):
    c, agents = fakes
    w = Writer(c, 1, sleeper.pid, word)
    order = agents["master"].expect(MOVE_ORDER)
    assert (order["send"], order["dump_flags"]) == (send, dump)
    agents["master"].result(order["move_id"], sleeper.pid)
    assert w.done() == len(w.data)


@pytest.mark.parametrize("data", [b"%d whole\n\n", b"%d Whole", b"%d  path",
                                  b"%d whole path", b"%d whole ", b"%d \n",
                                  b"%d\twhole", b" %d whole", b"%d wholesale",
                                  b"%d keep keep", b"%d copy", b"%d copy x",
                                  b"%d copy 12 copy 13", b"%d copy %d",
                                  b"%d keep", b"%d copy 1", b"%d path copy"])
def test_bad_move_word_is_einval_and_nothing_moves(fakes, sleeper, data):
    c, agents = fakes
    fd = os.open(c.path("node1", "move"), os.O_WRONLY)
    try:
        with pytest.raises(OSError) as e:
            os.write(fd, data.replace(b"%d", str(sleeper.pid).encode()))
        assert e.value.errno == errno.EINVAL
    finally:
        os.close(fd)
    agents["master"].expect_nothing(0.5)
    assert sleeper.poll() is None
    assert "failed: EINVAL" in c.read("events")


def test_keep_and_copy_ride_on_a_self_move(fakes):
    """Fast start's words: a process moving itself may ask that its image
    be kept ("keep") or that it start from another's ("copy PID"); the
    order carries them to the front end's agent, and a success that
    went as a copy says so in events."""
    c, agents = fakes
    code = ("import os, sys\n"
            "fd = os.open(sys.argv[1], os.O_WRONLY)\n"
            "n = os.write(fd, b'%d ' % os.getpid() + sys.argv[2].encode())\n"
            "print(n, flush=True)\n"
            "sys.stdin.read()\n")
    for words, flags, copy_of in (("keep", MOVE_SELF | MOVE_KEEP, 0),
                                  ("whole copy 4321", MOVE_SELF, 4321),
                                  ("copy 99 keep path", MOVE_SELF | MOVE_KEEP,
                                   99)):
        p = subprocess.Popen([sys.executable, "-c", code,
                              c.path("node1", "move"), words],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            order = agents["master"].expect(MOVE_ORDER)
            assert (order["pid"], order["flags"], order["copy_of"]) == \
                (p.pid, flags, copy_of), words
            agents["master"].armed(order["move_id"])
            assert p.stdout.readline().strip() == \
                str(len(str(p.pid)) + 1 + len(words)).encode()
            agents["master"].result(order["move_id"], p.pid, nbytes=10,
                                    reason="a copy of pid %d" % copy_of)
            wait_for(lambda: os.path.exists(c.path("node1", str(p.pid))),
                     what="the process under node1")
            assert ("move pid %d (python3) master -> node1 done (10 bytes, "
                    % p.pid) in c.read("events")
            assert re.search(r"move pid %d \(python3\) master -> node1 done "
                             r"\(10 bytes, \d+ ms, a copy of pid %d\)"
                             % (p.pid, copy_of), c.read("events")), words
        finally:
            p.kill()
            p.wait()


def test_config_send_sets_a_nodes_default(make_cluster, sleeper):
    c, agents = fake_cluster(make_cluster,
                             extra_config="send all path\nsend 2 whole\n")
    try:
        for node, send, dump in ((1, SEND_PATH, 0), (2, SEND_WHOLE, DUMP_ALL)):
            w = Writer(c, node, sleeper.pid)
            order = agents["master"].expect(MOVE_ORDER)
            assert (order["send"], order["dump_flags"]) == (send, dump)
            agents["master"].result(order["move_id"], sleeper.pid,
                                    error=errno.EIO, reason="test")
            assert w.done() == -errno.EIO
        # the move's own word wins over the node's setting
        w = Writer(c, 2, sleeper.pid, "auto")
        order = agents["master"].expect(MOVE_ORDER)
        assert (order["send"], order["dump_flags"]) == (SEND_AUTO, 0)
        agents["master"].result(order["move_id"], sleeper.pid,
                                error=errno.EIO, reason="test")
        assert w.done() == -errno.EIO
    finally:
        for a in agents.values():
            a.close()


def test_order_then_answer_on_result(fakes, sleeper):
    c, agents = fakes
    pid = sleeper.pid
    w = Writer(c, 1, pid)
    order = agents["master"].expect(MOVE_ORDER)
    assert order["pid"] == pid
    assert order["flags"] == 0 and order["dump_flags"] == 0
    assert order["dest"] == "node1"
    assert order["dest_addr"] == "%s:%d" % c.node_addr(1)
    # pending: not answered, and reads do not wait for it
    w.join(0.3)
    assert w.is_alive()
    assert "node1" in c.read("status")
    assert metric(c, "bproc_moves_in_flight") == 1
    assert os.path.exists(c.path("master", str(pid)))
    agents["master"].result(order["move_id"], pid, nbytes=4096, usec=1500)
    assert w.done() == len(w.data)
    # listed under the node it runs on, not under master
    assert str(pid) in os.listdir(c.path("node1"))
    assert str(pid) not in os.listdir(c.path("master"))
    assert not os.path.exists(c.path("master", str(pid)))
    info = c.read("node1", str(pid))
    assert "node node1\n" in info and "moves 1\n" in info
    assert "comm sleep\n" in info
    ev = c.events()
    assert "move pid %d (sleep) master -> node1 started" % pid in ev
    assert "move pid %d (sleep) master -> node1 done (4096 bytes" % pid in ev
    assert metric(c, 'bproc_moves_total{result="ok"}') == 1
    assert metric(c, "bproc_moved_bytes_total") == 4096
    assert metric(c, "bproc_move_duration_seconds_count") == 1
    assert metric(c, "bproc_moves_in_flight") == 0


def test_process_file_is_there_when_the_write_returns(fakes, sleeper):
    """A script that looks right after its move's write finds the process
    under its new node, and the move in events."""
    c, agents = fakes
    pid = sleeper.pid
    src = "master"
    for i, dest in enumerate([1, 2, 1, 2, "master"] * 4):
        w = Writer(c, dest, pid)
        order = agents[src].expect(MOVE_ORDER)
        agents[src].result(order["move_id"], pid)
        assert w.done() == len(w.data)
        assert os.path.exists(c.path(c.dirname(dest), str(pid))), \
            "move %d: no %s/%d" % (i, c.dirname(dest), pid)
        assert c.events().count("(sleep) %s -> %s done" % (
            c.dirname(src), c.dirname(dest))) >= 1
        if dest != 1 and dest != 2:
            assert not os.path.exists(c.path("node1", str(pid)))
            assert not os.path.exists(c.path("node2", str(pid)))
        src = dest


def test_moves_to_one_node_do_not_wait_for_each_other(fakes):
    """Writes to the same move file are in flight together: the kernel's
    lock of a file through a write does not serialise moves."""
    c, agents = fakes
    procs = [subprocess.Popen(["sleep", "60"]) for _ in range(4)]
    try:
        writers = [Writer(c, 1, p.pid) for p in procs]
        orders = [agents["master"].expect(MOVE_ORDER) for _ in procs]
        assert sorted(o["pid"] for o in orders) == sorted(p.pid for p in procs)
        assert metric(c, "bproc_moves_in_flight") == 4
        for o in reversed(orders):
            agents["master"].result(o["move_id"], o["pid"])
        for w in writers:
            assert w.done() == len(w.data)
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_ebusy_then_failure_keeps_it_home(fakes, sleeper):
    c, agents = fakes
    pid = sleeper.pid
    w = Writer(c, 1, pid)
    order = agents["master"].expect(MOVE_ORDER)
    second = Writer(c, 2, pid)
    assert second.done() == -errno.EBUSY
    assert "move pid %d to node2 failed: EBUSY" % pid in c.events()
    agents["master"].result(order["move_id"], pid, error=errno.ENOMEM,
                            reason="no memory for the image")
    assert w.done() == -errno.ENOMEM
    assert ("move pid %d (sleep) master -> node1 failed: ENOMEM: no memory "
            "for the image" % pid) in c.events()
    assert os.path.exists(c.path("master", str(pid)))
    assert metric(c, 'bproc_moves_total{result="ebusy"}') == 1
    assert metric(c, 'bproc_moves_total{result="eio"}') == 1
    # it can move again
    move_away(c, agents, pid)
    assert os.path.exists(c.path("node1", str(pid)))
    # each node counts the moves it took part in
    assert (c.info(1)["moves_in"], c.info(1)["moves_failed"]) == ("1", "1")
    assert c.info("master")["moves_out"] == "1"
    assert c.info(2)["moves_failed"] == "0"  # EBUSY: it never began
    rows = {l.split()[0]: l.split() for l in c.read("status").splitlines()}
    assert rows["node1"][-2:] == ["1", "0"]
    assert rows["master"][-2:] == ["0", "1"]
    assert metric(c, 'bproc_node_moves_total{node="node1",direction="in"}') == 1
    assert metric(c, 'bproc_node_moves_failed_total{node="node1"}') == 1


def test_result_from_wrong_agent_or_move_is_ignored(fakes, sleeper):
    c, agents = fakes
    pid = sleeper.pid
    w = Writer(c, 1, pid)
    order = agents["master"].expect(MOVE_ORDER)
    agents[2].result(order["move_id"], pid)
    agents["master"].result(order["move_id"] + 100, pid)
    w.join(0.3)
    assert w.is_alive()
    agents["master"].result(order["move_id"], pid)
    assert w.done() == len(w.data)


def test_self_move_answered_when_armed(fakes):
    c, agents = fakes
    code = ("import os, sys\n"
            "fd = os.open(sys.argv[1], os.O_WRONLY)\n"
            "n = os.write(fd, b'%d' % os.getpid())\n"
            "print(n, flush=True)\n"
            "sys.stdin.read()\n")
    p = subprocess.Popen([sys.executable, "-c", code,
                          c.path("node1", "move")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        order = agents["master"].expect(MOVE_ORDER)
        assert order["pid"] == p.pid and order["flags"] == MOVE_SELF
        agents["master"].armed(order["move_id"])
        assert p.stdout.readline().strip() == str(len(str(p.pid))).encode()
        assert metric(c, "bproc_moves_in_flight") == 1
        agents["master"].result(order["move_id"], p.pid, nbytes=10)
        wait_for(lambda: os.path.exists(c.path("node1", str(p.pid))),
                 what="the process under node1")
    finally:
        p.kill()
        p.wait()


def test_routing_of_a_moved_process(fakes, sleeper):
    c, agents = fakes
    fe, n1 = agents["master"], agents[1]
    pid = sleeper.pid
    move_away(c, agents, pid)
    # output of the host to the front end, in order
    n1.io(pid, 1, b"hello ")
    n1.io(pid, 2, b"oops")
    n1.io(pid, 1, b"world")
    assert fe.expect(IO_DATA) == {"pid": pid, "fd": 1, "flags": 0,
                                  "data": b"hello "}
    assert fe.expect(IO_DATA)["data"] == b"oops"
    assert fe.expect(IO_DATA)["data"] == b"world"
    # a ghost's signal and stdin to the host
    fe.signal(pid, 15)
    assert n1.expect(SIGNAL) == {"pid": pid, "signo": 15}
    # one to a thread of it alone keeps its tid
    fe.signal(pid, 12, tid=pid + 1)
    assert n1.expect(SIGNAL) == {"pid": pid, "signo": 12, "tid": pid + 1}
    fe.io(pid, 0, b"input")
    fe.io(pid, 0)
    assert n1.expect(IO_DATA)["data"] == b"input"
    assert n1.expect(IO_EOF)["fd"] == 0
    # the host's reports show in its process file
    n1.report(pid, uid=0, rss_kb=1234, utime_ms=50, comm="execd")
    wait_for(lambda: "rss_kb 1234\n" in c.read("node1", str(pid)),
             what="the report")
    assert "comm execd\n" in c.read("node1", str(pid))
    # output from an agent that is not the host goes nowhere
    agents[2].io(pid, 1, b"stray")
    agents[2].exit(pid, 0)
    fe.expect_nothing()
    # the exit goes to the front end and ends the entry
    n1.exit(pid, 3 << 8, stdin_unread=99)
    e = fe.expect(EXIT)
    assert (e["pid"], e["status"], e["stdin_unread"]) == (pid, 3 << 8, 99)
    assert "pid %d (execd) exited on node1: status 3" % pid in c.events()
    wait_for(lambda: not os.path.exists(c.path("node1", str(pid))),
             what="the process file to go")


def test_killed_by_signal_event(fakes, sleeper):
    c, agents = fakes
    pid = sleeper.pid
    move_away(c, agents, pid)
    agents[1].exit(pid, signal.SIGTERM)
    assert agents["master"].expect(EXIT)["status"] == signal.SIGTERM
    assert "pid %d (sleep) exited on node1: killed by SIGTERM" % pid in c.events()


def test_node_to_node_holds_until_mark(fakes, sleeper):
    c, agents = fakes
    fe, n1, n2 = agents["master"], agents[1], agents[2]
    pid = sleeper.pid
    move_away(c, agents, pid)
    fe.io(pid, 0, b"early")
    assert n1.expect(IO_DATA)["data"] == b"early"
    w = Writer(c, 2, pid)
    order = n1.expect(MOVE_ORDER)
    assert order["dest"] == "node2"
    # while it moves: signals and stdin held, the new host's output held
    fe.signal(pid, 10)
    fe.io(pid, 0, b"later")
    n2.io(pid, 1, b"new-1 ")
    n1.io(pid, 1, b"old ")
    assert fe.expect(IO_DATA)["data"] == b"old "
    fe.expect_nothing()
    n1.expect_nothing(0.1)
    n2.expect_nothing(0.1)
    n1.mark(pid, order["move_id"])
    assert fe.expect(IO_DATA)["data"] == b"new-1 "
    n2.io(pid, 1, b"new-2")
    assert fe.expect(IO_DATA)["data"] == b"new-2"
    # the old host hands back what it never delivered, then the result
    # (what its stdin held was acknowledged: the new host must not again)
    n1.io(pid, 0, b"early", flags=IO_REQUEUE | IO_ACKED)
    n1.io(pid, 0, b"queued", flags=IO_REQUEUE)
    n1.result(order["move_id"], pid, nbytes=77)
    assert w.done() == len(w.data)
    assert n2.expect(SIGNAL)["signo"] == 10
    first = n2.expect(IO_DATA)
    assert (first["data"], first["flags"]) == (b"early", IO_ACKED)
    second = n2.expect(IO_DATA)
    assert (second["data"], second["flags"]) == (b"queued", 0)
    assert n2.expect(IO_DATA)["data"] == b"later"
    assert os.path.exists(c.path("node2", str(pid)))
    assert not os.path.exists(c.path("node1", str(pid)))
    assert "move pid %d (sleep) node1 -> node2 done (77 bytes" % pid in \
        c.events()
    # the old host is no host any more
    n1.io(pid, 1, b"ghost output")
    fe.expect_nothing()
    # stdin EOF is remembered for the next host
    fe.io(pid, 0)
    assert n2.expect(IO_EOF)["fd"] == 0
    w = Writer(c, 1, pid)
    order = n2.expect(MOVE_ORDER)
    n2.mark(pid, order["move_id"])
    n2.result(order["move_id"], pid)
    assert w.done() == len(w.data)
    assert n1.expect(IO_EOF)["fd"] == 0


def test_failed_node_move_delivers_to_source(fakes, sleeper):
    c, agents = fakes
    fe, n1, n2 = agents["master"], agents[1], agents[2]
    pid = sleeper.pid
    move_away(c, agents, pid)
    w = Writer(c, 2, pid)
    order = n1.expect(MOVE_ORDER)
    fe.signal(pid, 2)
    n2.io(pid, 1, b"never")
    n1.result(order["move_id"], pid, error=errno.EIO, reason="restore failed")
    assert w.done() == -errno.EIO
    assert n1.expect(SIGNAL)["signo"] == 2
    fe.expect_nothing()
    assert os.path.exists(c.path("node1", str(pid)))


def test_move_home_forwards_mark_and_drops_stdin(fakes, sleeper):
    c, agents = fakes
    fe, n1 = agents["master"], agents[1]
    pid = sleeper.pid
    move_away(c, agents, pid)
    w = Writer(c, "master", pid)
    order = n1.expect(MOVE_ORDER)
    assert order["dest"] == "master"
    assert order["dest_addr"] == "%s:%d" % c.node_addr("master")
    fe.io(pid, 0, b"typed")
    n1.io(pid, 1, b"last words")
    n1.mark(pid, order["move_id"], stdin_unread=1234)
    assert fe.expect(IO_DATA)["data"] == b"last words"
    assert fe.expect(IO_MARK) == {"pid": pid, "move_id": order["move_id"],
                                  "stdin_unread": 1234}
    n1.result(order["move_id"], pid)
    assert w.done() == len(w.data)
    assert os.path.exists(c.path("master", str(pid)))
    assert not os.path.exists(c.path("node1", str(pid)))
    assert "moves 2\n" in c.read("master", str(pid))
    n1.expect_nothing()


def test_node_down_loses_its_processes(fakes, sleeper):
    c, agents = fakes
    pid = sleeper.pid
    move_away(c, agents, pid)
    agents[1].close()
    e = agents["master"].expect(EXIT, timeout=10)
    assert e["pid"] == pid and e["status"] == signal.SIGKILL
    assert e["reason"] == "node1 down"
    assert "pid %d (sleep) lost on node1: node1 down" % pid in c.events()
    assert not os.path.exists(c.path("node1", str(pid)))


def test_source_down_answers_econnreset(fakes, sleeper):
    c, agents = fakes
    pid = sleeper.pid
    move_away(c, agents, pid)
    w = Writer(c, 2, pid)
    agents[1].expect(MOVE_ORDER)
    agents[1].close()
    assert w.done(10) == -errno.ECONNRESET
    assert "node1 -> node2 failed: ECONNRESET: node1 down" in c.events()
    assert agents["master"].expect(EXIT, timeout=10)["status"] == \
        signal.SIGKILL
    assert metric(c, 'bproc_moves_total{result="econnreset"}') == 1
    assert metric(c, "bproc_moves_in_flight") == 0


def test_front_end_agent_down_kills_remote_processes(fakes, sleeper):
    c, agents = fakes
    pid = sleeper.pid
    move_away(c, agents, pid)
    agents["master"].close()
    assert agents[1].expect(SIGNAL, timeout=10) == {"pid": pid, "signo": 9}
    assert "its ghost is gone" in c.events()
    assert not os.path.exists(c.path("node1", str(pid)))
    # if it was only the agent's connection, its ghost is told when it is back
    agents["master"] = fe = FakeAgent(c, "master")
    c.wait_state("master", "up")
    e = fe.expect(EXIT)
    assert e["pid"] == pid and e["status"] == signal.SIGKILL
    assert "away" in e["reason"]
    fe.expect_nothing(1.5)


def test_pending_move_answered_at_shutdown(fakes, sleeper):
    c, agents = fakes
    w = Writer(c, 1, sleeper.pid)
    agents["master"].expect(MOVE_ORDER)
    c.stop_fs()
    assert w.done(10) in (-errno.ECONNRESET, -errno.ENOTCONN,
                          -errno.ECONNABORTED)


def test_self_move_from_another_thread(fakes):
    c, agents = fakes
    code = ("import os, sys, threading\n"
            "def w():\n"
            "    fd = os.open(sys.argv[1], os.O_WRONLY)\n"
            "    print(os.write(fd, b'%d' % os.getpid()), flush=True)\n"
            "t = threading.Thread(target=w)\n"
            "t.start()\n"
            "t.join()\n"
            "sys.stdin.read()\n")
    p = subprocess.Popen([sys.executable, "-c", code,
                          c.path("node1", "move")],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        order = agents["master"].expect(MOVE_ORDER)
        assert order["pid"] == p.pid and order["flags"] == MOVE_SELF
        agents["master"].armed(order["move_id"])
        assert p.stdout.readline().strip() == str(len(str(p.pid))).encode()
        agents["master"].result(order["move_id"], p.pid, error=errno.EIO,
                                reason="test")
    finally:
        p.kill()
        p.wait()


def test_signal_file_of_a_moved_process_reaches_its_ghost(fakes, sleeper):
    c, agents = fakes
    pid = sleeper.pid
    move_away(c, agents, pid)
    # the sleeper plays the ghost: the signal goes to the front-end pid
    with open(c.path("node1", str(pid)), "w") as f:
        f.write("TERM\n")
    assert sleeper.wait(5) == -signal.SIGTERM


def test_unknown_process_reported_by_a_node_is_adopted(fakes, sleeper):
    # as after a master restart: the node hosts it, its ghost holds the pid
    c, agents = fakes
    pid = sleeper.pid
    agents[1].report(pid, rss_kb=42, comm="sleep")
    wait_for(lambda: os.path.exists(c.path("node1", str(pid))),
             what="the adopted process under node1")
    assert not os.path.exists(c.path("master", str(pid)))
    assert "pid %d (sleep) runs on node1 (reported by its agent)" % pid in \
        c.events()
    agents["master"].signal(pid, 1)
    assert agents[1].expect(SIGNAL) == {"pid": pid, "signo": 1}
    agents[1].exit(pid, 0)
    assert agents["master"].expect(EXIT)["pid"] == pid


def test_new_parent_of_a_moved_process_goes_to_its_host(fakes):
    # its ghost here is reparented when its parent ends: the node hears of
    # it at the next report (for getppid() there), once
    c, agents = fakes
    parent = subprocess.Popen(["sh", "-c", "sleep 60 & echo $!; exec sleep 60"],
                              stdout=subprocess.PIPE, text=True)
    pid = int(parent.stdout.readline())
    try:
        move_away(c, agents, pid)
        agents[1].report(pid, comm="sleep")
        agents[1].expect_nothing()
        parent.kill()
        parent.wait()

        def ppid():
            with open("/proc/%d/stat" % pid) as f:
                return int(f.read().rsplit(")", 1)[1].split()[1])
        wait_for(lambda: ppid() != parent.pid, what="the ghost reparented")
        agents[1].report(pid, comm="sleep")
        assert agents[1].expect(PROC_PARENT) == {"pid": pid, "other": ppid()}
        agents[1].report(pid, comm="sleep")
        agents[1].expect_nothing()
    finally:
        os.kill(pid, signal.SIGKILL)


def test_lost_process_reported_again_is_ended(fakes, sleeper):
    c, agents = fakes
    pid = sleeper.pid
    move_away(c, agents, pid)
    agents[1].close()
    assert agents["master"].expect(EXIT, timeout=10)["status"] == 9
    c.wait_state(1, "down")
    agents[1] = FakeAgent(c, 1)
    c.wait_state(1, "up")
    agents[1].report(pid, comm="sleep")
    assert agents[1].expect(SIGNAL) == {"pid": pid, "signo": 9}
    assert not os.path.exists(c.path("node1", str(pid)))


def test_arrived_on_a_node_gone_meanwhile_is_lost(fakes, sleeper):
    c, agents = fakes
    pid = sleeper.pid
    move_away(c, agents, pid)
    w = Writer(c, 2, pid)
    order = agents[1].expect(MOVE_ORDER)
    agents[2].close()
    c.wait_state(2, "down")
    agents[1].mark(pid, order["move_id"])
    agents[1].result(order["move_id"], pid)
    assert w.done() == len(w.data)
    e = agents["master"].expect(EXIT)
    assert e["status"] == 9 and e["reason"] == "node2 down"
    assert "pid %d (sleep) lost on node2" % pid in c.events()


def test_exit_on_new_host_waits_for_the_move_to_end(fakes, sleeper):
    c, agents = fakes
    fe, n1, n2 = agents["master"], agents[1], agents[2]
    pid = sleeper.pid
    move_away(c, agents, pid)
    w = Writer(c, 2, pid)
    order = n1.expect(MOVE_ORDER)
    n2.io(pid, 1, b"bye")
    n2.io(pid, 1)
    n2.exit(pid, 7 << 8)
    n1.io(pid, 1, b"hi ")
    n1.mark(pid, order["move_id"])
    assert fe.expect(IO_DATA)["data"] == b"hi "
    assert fe.expect(IO_DATA)["data"] == b"bye"
    assert fe.expect(IO_EOF)["fd"] == 1
    fe.expect_nothing()
    n1.result(order["move_id"], pid)
    assert w.done() == len(w.data)
    assert fe.expect(EXIT)["status"] == 7 << 8
    ev = c.events()
    assert ev.index("node1 -> node2 done") < ev.index(
        "pid %d (sleep) exited on node2: status 7" % pid)
    assert not os.path.exists(c.path("node2", str(pid)))


def test_front_end_move_holds_output_until_the_ghost_exists(fakes, sleeper):
    """A process moved from the front end may write (and end) on the node
    before the front end has made its ghost, which it does just before it
    reports the move done: its output waits in the master until then."""
    c, agents = fakes
    fe, n1 = agents["master"], agents[1]
    pid = sleeper.pid
    w = Writer(c, 1, pid)
    order = fe.expect(MOVE_ORDER)
    fe.mark(pid, order["move_id"])
    n1.io(pid, 1, b"node1\n")
    n1.io(pid, 1)
    n1.exit(pid, 0)
    fe.expect_nothing()
    fe.result(order["move_id"], pid)
    assert w.done() == len(w.data)
    assert fe.expect(IO_DATA)["data"] == b"node1\n"
    assert fe.expect(IO_EOF)["fd"] == 1
    assert fe.expect(EXIT)["status"] == 0


def test_node_removed_from_config_loses_its_processes(fakes, sleeper):
    c, agents = fakes
    pid = sleeper.pid
    move_away(c, agents, pid, node=2)
    c.write_config(nodes=[1])
    c.fs.kill(signal.SIGHUP)
    e = agents["master"].expect(EXIT, timeout=10)
    assert e["pid"] == pid and e["reason"] == "node2 down"
    assert ("pid %d (sleep) lost on node2: node2 down (removed from the "
            "config)" % pid) in c.events()


def test_late_report_after_exit_or_move_home_is_stale(fakes, sleeper):
    c, agents = fakes
    pid = sleeper.pid
    # moved home: a late report from the old host changes nothing
    move_away(c, agents, pid)
    w = Writer(c, "master", pid)
    order = agents[1].expect(MOVE_ORDER)
    agents[1].mark(pid, order["move_id"])
    assert agents["master"].expect(IO_MARK)["pid"] == pid
    agents[1].result(order["move_id"], pid)
    assert w.done() == len(w.data)
    agents[1].report(pid, comm="sleep")
    # exited on a node: likewise
    move_away(c, agents, pid, node=2)
    agents[2].exit(pid, 0)
    assert agents["master"].expect(EXIT)["pid"] == pid
    agents[2].report(pid, comm="sleep")
    agents[1].expect_nothing()
    agents[2].expect_nothing()
    assert os.path.exists(c.path("master", str(pid)))
    assert "reported by its agent" not in c.events()


NODE_PIDS = 1 << 21  # proto.h: the front end's pids are below, the nodes' above
RANGE = NODE_PIDS // 1024


def test_each_node_gets_its_pid_range(fakes):
    c, agents = fakes
    for n in (1, 2):
        wait_for(lambda: agents[n].pid_range is not None, what="PID_RANGE")
        assert agents[n].pid_range == (NODE_PIDS + n * RANGE,
                                       NODE_PIDS + (n + 1) * RANGE)
    assert agents["master"].pid_range is None


def test_process_started_on_a_node(fakes, sleeper):
    """A moved process forks on node1: the child is listed there, the front
    end hears of it to make its ghost, and of its end and its reaping."""
    c, agents = fakes
    fe, n1, n2 = agents["master"], agents[1], agents[2]
    pid, child = sleeper.pid, NODE_PIDS + RANGE + 7
    move_away(c, agents, pid)
    # from a node that is not its parent's: nothing
    n2.proc_fork(child, pid, comm="stray")
    fe.expect_nothing()
    assert not os.path.exists(c.path("node2", str(child)))
    n1.proc_fork(child, pid, uid=os.getuid(), comm="worker")
    assert fe.expect(PROC_FORK) == {"pid": child, "ppid": pid,
                                    "uid": os.getuid(), "comm": "worker"}
    info = c.read("node1", str(child))
    assert "comm worker\n" in info and "moves 0\n" in info
    # no ghost here (the front end is played): no place in the tree yet
    assert "ppid -\npgid -\n" in info
    assert str(child) in os.listdir(c.path("node1"))
    # its IO, its streams passing on, its end and its reaping
    n1.io(child, 1, b"from the child")
    assert fe.expect(IO_DATA)["data"] == b"from the child"
    n1.pair(STREAM_OWNER, child, pid)
    assert fe.expect(STREAM_OWNER) == {"pid": child, "other": pid}
    n1.exit(child, 4 << 8)
    e = fe.expect(EXIT)
    assert (e["pid"], e["status"], e["flags"]) == (child, 4 << 8, 0)
    assert "pid %d (worker) exited on node1: status 4" % child in c.events()
    n1.pair(PROC_REAPED, child)
    assert fe.expect(PROC_REAPED) == {"pid": child, "other": 0}
    wait_for(lambda: not os.path.exists(c.path("node1", str(child))),
             what="its file to go")


def test_node_born_process_without_ghost_is_ended(fakes, sleeper):
    c, agents = fakes
    fe, n1 = agents["master"], agents[1]
    pid, child = sleeper.pid, NODE_PIDS + RANGE + 9
    move_away(c, agents, pid)
    n1.proc_fork(child, pid, comm="taken")
    fe.expect(PROC_FORK)
    fe.pair(PROC_GHOST, child, errno.EEXIST)
    assert n1.expect(SIGNAL) == {"pid": child, "signo": signal.SIGKILL}
    assert ("pid %d (taken) on node1 killed: no ghost on the front end: "
            "EEXIST: its pid is taken there" % child) in c.events()
    fe.pair(PROC_GHOST, child, 0)  # a ghost made: nothing to do
    n1.expect_nothing()


def test_node_born_process_moves_and_its_proxy_follows(fakes, sleeper):
    """A process born on node1 moves to node2: the master orders node1,
    tells the front end its streams are its own, sends node1 (its proxy's)
    its exit, takes node1's signals for it; back on node1 it has no proxy
    (it is its parent's child there again) until it leaves again."""
    c, agents = fakes
    fe, n1, n2 = agents["master"], agents[1], agents[2]
    pid, child = sleeper.pid, NODE_PIDS + RANGE + 11
    move_away(c, agents, pid)
    n1.proc_fork(child, pid, comm="born")
    fe.expect(PROC_FORK)
    w = Writer(c, 2, child)
    order = n1.expect(MOVE_ORDER)
    assert (order["pid"], order["dest"]) == (child, "node2")
    n1.mark(child, order["move_id"])
    n1.result(order["move_id"], child, nbytes=99)
    assert w.done() == len(w.data)
    assert fe.expect(STREAM_OWNER) == {"pid": child, "other": child}
    assert os.path.exists(c.path("node2", str(child)))
    # its proxy on node1 is signalled there: the signal goes to node2
    n1.signal(child, signal.SIGUSR2)
    assert n2.expect(SIGNAL)["signo"] == signal.SIGUSR2
    # back to node1, where its proxy restores it
    w = Writer(c, 1, child)
    order = n2.expect(MOVE_ORDER)
    assert (order["pid"], order["dest"]) == (child, "node1")
    n2.mark(child, order["move_id"])
    n2.result(order["move_id"], child, nbytes=99)
    assert w.done() == len(w.data)
    assert "move pid %d (born) node2 -> node1 done" % child in c.events()
    assert os.path.exists(c.path("node1", str(child)))
    assert not os.path.exists(c.path("node2", str(child)))
    # its streams stay its own: nothing for the front end
    fe.expect_nothing()
    # the front end's signals go to node1, its output comes from there
    fe.signal(child, signal.SIGUSR1)
    assert n1.expect(SIGNAL)["signo"] == signal.SIGUSR1
    n1.io(child, 1, b"back home")
    assert fe.expect(IO_DATA)["data"] == b"back home"
    # away again: a proxy on node1 again
    w = Writer(c, 2, child)
    order = n1.expect(MOVE_ORDER)
    n1.mark(child, order["move_id"])
    n1.result(order["move_id"], child, nbytes=99)
    assert w.done() == len(w.data)
    assert fe.expect(STREAM_OWNER) == {"pid": child, "other": child}
    # it ends on node2: the front end and the proxy's node both hear
    n2.exit(child, 7 << 8)
    assert fe.expect(EXIT)["status"] == 7 << 8
    assert n1.expect(EXIT)["status"] == 7 << 8


def test_lost_node_ends_its_processes_for_good(fakes, sleeper):
    c, agents = fakes
    fe, n1 = agents["master"], agents[1]
    pid, child = sleeper.pid, NODE_PIDS + RANGE + 13
    move_away(c, agents, pid)
    n1.proc_fork(child, pid, comm="kid")
    fe.expect(PROC_FORK)
    n1.close()
    ends = [fe.expect(EXIT, timeout=10) for _ in range(2)]
    assert {e["pid"] for e in ends} == {pid, child}
    # final: no reaping will be reported for them
    assert all(e["flags"] == 1 and e["status"] == signal.SIGKILL
               for e in ends)
