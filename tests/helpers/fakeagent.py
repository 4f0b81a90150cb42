"""A node agent played by the test: it joins the master, heartbeats with a
migration engine, and lets the test read what the master sends it and send
anything back (move results, signals, IO, exits). The master's side of
moving and routing can so be checked without any engine or real agent."""

import queue
import struct
import threading
import time

from helpers import proto

MOVE_ORDER, MOVE_RESULT, MOVE_ARMED, PROC_REPORT = 32, 33, 34, 35
SIGNAL, IO_DATA, IO_EOF, IO_MARK, EXIT = 64, 80, 81, 82, 96
PID_RANGE, PROC_FORK, PROC_GHOST, PROC_REAPED = 18, 97, 98, 99
STREAM_OWNER = 84
PROC_PARENT = 103
MOVE_SELF = 1
MOVE_KEEP = 2
IO_REQUEUE = 1
IO_ACKED = 2

ORDER = struct.Struct("<QIIII16s48sII")
RESULT = struct.Struct("<QIIQQ128s")
REPORT = struct.Struct("<IIQQQc7s16s")
SIG = struct.Struct("<III")
IO = struct.Struct("<IHH")
MARK = struct.Struct("<IIQ")
EXITMSG = struct.Struct("<IIII48s")
FORK = struct.Struct("<IIII16s")
PAIR = struct.Struct("<II")


def cstr(b):
    return b.split(b"\0", 1)[0].decode()


def decode(type_, payload):
    """A received frame as (type, dict)."""
    if type_ == MOVE_ORDER:
        mid, pid, flags, dump, send, dest, addr, copy_of, _ = \
            ORDER.unpack(payload)
        return {"move_id": mid, "pid": pid, "flags": flags,
                "dump_flags": dump, "send": send, "dest": cstr(dest),
                "dest_addr": cstr(addr), "copy_of": copy_of}
    if type_ == SIGNAL:
        pid, sig, tid = SIG.unpack(payload)
        # a signal to one thread alone has its tid; 0 is the process
        return {"pid": pid, "signo": sig, **({"tid": tid} if tid else {})}
    if type_ in (IO_DATA, IO_EOF):
        pid, fd, flags = IO.unpack(payload[:IO.size])
        return {"pid": pid, "fd": fd, "flags": flags,
                "data": payload[IO.size:]}
    if type_ == IO_MARK:
        pid, unread, mid = MARK.unpack(payload)
        return {"pid": pid, "move_id": mid, "stdin_unread": unread}
    if type_ == EXIT:
        pid, status, unread, flags, reason = EXITMSG.unpack(payload)
        return {"pid": pid, "status": status, "stdin_unread": unread,
                "flags": flags, "reason": cstr(reason)}
    if type_ == PROC_FORK:
        pid, ppid, uid, _, comm = FORK.unpack(payload)
        return {"pid": pid, "ppid": ppid, "uid": uid, "comm": cstr(comm)}
    if type_ in (PROC_GHOST, PROC_REAPED, STREAM_OWNER, PROC_PARENT):
        pid, other = PAIR.unpack(payload)
        return {"pid": pid, "other": other}
    return {"raw": payload}


class FakeAgent:
    """node: "master" or a node number. Frames other than STATUS_ACK,
    PONG and PID_RANGE (kept in pid_range) are queued for expect()."""

    def __init__(self, cluster, node, engine=True):
        self.name = "master" if node == "master" else "node%d" % node
        self.peer = proto.Peer(cluster.master_addr, cluster.key,
                               role=proto.ROLE_AGENT, node=self.name)
        self.peer.handshake()
        self.frames = queue.Queue()
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.engine = engine
        self.pid_range = None
        self.interval = cluster.heartbeat
        self.heartbeat()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.beater = threading.Thread(target=self._beat, daemon=True)
        self.beater.start()

    def heartbeat(self):
        flags = proto.STATUS_ENGINE if self.engine else 0
        self.send(proto.STATUS, proto.status_payload(
            flags=flags, engine="bproc 1.2 (fake)" if self.engine else
            "none (fake)"))

    def _beat(self):
        while not self.closed.wait(self.interval):
            try:
                self.heartbeat()
            except OSError:
                return

    def _read(self):
        try:
            while True:
                t, payload = self.peer.recv_frame()
                if t in (proto.STATUS_ACK, proto.PONG):
                    continue
                if t == PID_RANGE:
                    self.pid_range = struct.unpack("<II", payload)
                    continue
                self.frames.put((t, decode(t, payload)))
        except (proto.Closed, OSError, AssertionError):
            self.closed.set()

    def send(self, type_, payload=b""):
        with self.lock:
            self.peer.send(type_, payload)

    def close(self):
        self.closed.set()
        self.peer.close()

    def expect(self, type_, timeout=5.0):
        """The next frame the master sent, which must be of type_."""
        t, msg = self.frames.get(timeout=timeout)
        assert t == type_, "expected %s, got %s %r" % (
            proto_name(type_), proto_name(t), msg)
        return msg

    def expect_nothing(self, wait=0.3):
        try:
            t, msg = self.frames.get(timeout=wait)
        except queue.Empty:
            return
        raise AssertionError("unexpected %s %r" % (proto_name(t), msg))

    # -- what an agent says --

    def armed(self, move_id):
        self.send(MOVE_ARMED, struct.pack("<Q", move_id))

    def result(self, move_id, pid, error=0, nbytes=0, usec=0, reason=""):
        self.send(MOVE_RESULT, RESULT.pack(move_id, pid, error, nbytes, usec,
                                           reason.encode()))

    def report(self, pid, uid=0, rss_kb=0, utime_ms=0, stime_ms=0,
               state=b"S", comm="proc"):
        self.send(PROC_REPORT, REPORT.pack(pid, uid, rss_kb, utime_ms,
                                           stime_ms, state, b"\0" * 7,
                                           comm.encode()))

    def signal(self, pid, signo, tid=0):
        self.send(SIGNAL, SIG.pack(pid, signo, tid))

    def io(self, pid, fd, data=None, flags=0):
        """IO_DATA with data, or IO_EOF when data is None."""
        if data is None:
            self.send(IO_EOF, IO.pack(pid, fd, flags))
        else:
            self.send(IO_DATA, IO.pack(pid, fd, flags) + data)

    def mark(self, pid, move_id, stdin_unread=0):
        self.send(IO_MARK, MARK.pack(pid, stdin_unread, move_id))

    def exit(self, pid, status, reason="", stdin_unread=0, flags=0):
        self.send(EXIT, EXITMSG.pack(pid, status, stdin_unread, flags,
                                     reason.encode()))

    def proc_fork(self, pid, ppid, uid=0, comm="child"):
        self.send(PROC_FORK, FORK.pack(pid, ppid, uid, 0, comm.encode()))

    def pair(self, type_, pid, other=0):
        self.send(type_, PAIR.pack(pid, other))


def proto_name(t):
    names = {MOVE_ORDER: "MOVE_ORDER", MOVE_RESULT: "MOVE_RESULT",
             MOVE_ARMED: "MOVE_ARMED", PROC_REPORT: "PROC_REPORT",
             SIGNAL: "SIGNAL", IO_DATA: "IO_DATA", IO_EOF: "IO_EOF",
             IO_MARK: "IO_MARK", EXIT: "EXIT", proto.BYE: "BYE"}
    return names.get(t, str(t))


def fake_cluster(make_cluster, nodes=(1, 2), **kw):
    """A master with fake agents for the front end and nodes: (cluster,
    {node: FakeAgent}), every node up."""
    c = make_cluster(start=False, master_agent=False, nodes=list(nodes),
                     **kw)
    c.start_fs()
    agents = {}
    for n in ["master"] + list(nodes):
        agents[n] = FakeAgent(c, n)
    for n in ["master"] + list(nodes):
        c.wait_state(n, "up")
    return c, agents


def wait_for(pred, timeout=5.0, what="condition"):
    deadline = time.time() + timeout
    while not pred():
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)
