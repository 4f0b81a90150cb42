"""The node agents' side of moves on this machine, which has no migration
engine: a master played by the test (helpers/fakemaster.py) orders moves
and sends traffic for processes that are not there, and a source played by
the test sends images to an agent's listener, good, bad and malformed. The
agent answers each with the right error and reason, drops only connections
that break the protocol, and goes on serving. A well-formed image even gets
as far as a restorer forked in the pid namespace for moved processes, whose
failure (no /dev/bproc here) comes back as the answer."""

import errno
import struct
import subprocess

import pytest

from helpers import proto
from helpers.fakeagent import EXIT, IO, IO_DATA, IO_EOF, IO_MARK, SIGNAL
from helpers.fakemaster import FakeMaster

pytestmark = pytest.mark.timeout(60)

BEGIN, DATA, END, RESULT, STREAMS = 48, 49, 50, 51, 52
IO_ACK = 83


@pytest.fixture
def fm(make_cluster):
    """Real agents for the front end and node 1, joined to a fake master."""
    c = make_cluster(start=False, nodes=[1])
    master = FakeMaster(c.master_addr, c.key)
    c.start_agent("master")
    front = master.link("master")
    c.start_agent(1)
    node = master.link("node1")
    yield c, master, front, node
    front.close()
    node.close()
    master.close()


def source(c, node, who="master"):
    """An authenticated peer connection to node's agent, as agent who."""
    p = proto.Peer(c.node_addr(node), c.key, node=who)
    p.handshake()
    return p


def begin(p, pid, move_id=7):
    p.send(BEGIN, struct.pack("<QII16sQ", move_id, pid, 0, b"master", 0),
           stream=1)


def streams(p, pairs):
    p.send(STREAMS, struct.pack("<II", len(pairs), 0) +
           b"".join(struct.pack("<II", fd, s) for fd, s in pairs), stream=1)


def image_structure():
    """The smallest image structure: a header and an empty PAGES section."""
    hdr = struct.pack("<IIIIIIII72s", 0x43525042, 1, 62, 4096, 104, 1, 0, 0,
                      b"test")
    return hdr + struct.pack("<IIQ", 9, 0, 0)


def result(p):
    """The IMAGE_RESULT (errno, reason), skipping the agent's PINGs."""
    while True:
        t, d = p.recv_frame()
        if t == RESULT:
            err, _ = struct.unpack("<II", d[:8])
            return err, d[8:].split(b"\0", 1)[0].decode()
        assert t == proto.PING, "unexpected frame %d" % t


def test_front_end_without_engine_refuses_the_order(fm):
    c, master, front, node = fm
    with subprocess.Popen(["sleep", "30"]) as p:
        front.order(11, p.pid, "node1", "%s:%d" % c.node_addr(1))
        r = front.result()
        p.kill()
    assert r["move_id"] == 11 and r["pid"] == p.pid
    assert r["error"] == errno.EOPNOTSUPP
    assert "master has no migration engine" in r["reason"]


def test_node_refuses_the_order_for_a_process_it_has_not(fm):
    c, master, front, node = fm
    node.order(12, 424242, "master", "%s:%d" % c.node_addr("master"))
    r = node.result()
    assert r["error"] == errno.ESRCH
    assert r["reason"] == "it does not run on node1"


def test_traffic_for_processes_not_here_is_ignored(fm):
    c, master, front, node = fm
    for link in (front, node):
        link.send(SIGNAL, struct.pack("<III", 424242, 15, 0))
        link.send(IO_DATA, IO.pack(424242, 0, 0) + b"data")
        link.send(IO_DATA, IO.pack(424242, 1, 0) + b"out")
        link.send(IO_EOF, IO.pack(424242, 10, 0))
        link.send(IO_ACK, struct.pack("<IHHII", 424242, 1, 0, 100, 0))
        link.send(IO_MARK, struct.pack("<IIQ", 424242, 0, 3))
        link.send(EXIT, struct.pack("<IIII48s", 424242, 0, 0, 0, b""))
    # still joined: an order is still answered on the same links
    node.order(13, 424242, "master", "%s:%d" % c.node_addr("master"))
    assert node.result()["move_id"] == 13
    with subprocess.Popen(["sleep", "30"]) as p:
        front.order(14, p.pid, "node1", "%s:%d" % c.node_addr(1))
        assert front.result()["move_id"] == 14
        p.kill()


@pytest.mark.parametrize("payload", [b"", b"\1" * 87, b"\0" * 89])
def test_malformed_order_ends_the_link(fm, payload):
    c, master, front, node = fm
    c.allowed_errors.append("malformed MOVE_ORDER")
    node.send(32, payload)
    assert node.expect(None) == b""  # the agent hung up
    again = master.link("node1")  # and joined again
    again.order(15, 424242, "master", "%s:%d" % c.node_addr("master"))
    assert again.result()["error"] == errno.ESRCH
    again.close()


def test_image_before_its_streams_breaks_the_protocol(fm):
    c, master, front, node = fm
    p = source(c, 1)
    begin(p, 4242)
    p.send(DATA, image_structure(), stream=1)
    assert p.expect_closed()


def test_not_an_image_is_refused(fm):
    c, master, front, node = fm
    p = source(c, 1)
    begin(p, 4242)
    streams(p, [(0, 0), (1, 1), (2, 2)])
    p.send(DATA, b"\xff" * 200, stream=1)
    assert result(p) == (errno.EIO, "not a bproc image")


def test_restorer_failure_is_the_answer(fm):
    c, master, front, node = fm
    p = source(c, 1)
    begin(p, 4242)
    # a shell's saved stdout at fd 10 is one of its streams
    streams(p, [(0, 0), (1, 1), (2, 2), (10, 10)])
    img = image_structure()
    p.send(DATA, img, stream=1)
    p.send(END, struct.pack("<QII128s", len(img), 0, 0, b""), stream=1)
    err, reason = result(p)
    assert err == errno.EIO
    assert reason.startswith("ENOENT: open /dev/bproc"), reason
    # the agent is still there for the next one
    p = source(c, 1)
    begin(p, 4243)
    streams(p, [(0, 0)])
    p.send(DATA, b"\0" * 200, stream=1)
    assert result(p)[0] == errno.EIO


def test_source_giving_up_needs_no_answer(fm):
    c, master, front, node = fm
    p = source(c, 1)
    begin(p, 4242)
    p.send(END, struct.pack("<QII128s", 0, errno.ECONNRESET, 0,
                            b"the source gave up"), stream=1)
    p.send(proto.PING, struct.pack("<Q", 99))
    t, d = p.recv_frame()
    while t == proto.PING:
        t, d = p.recv_frame()
    assert (t, d) == (proto.PONG, struct.pack("<Q", 99))


def test_front_end_refuses_a_process_without_a_ghost(fm):
    c, master, front, node = fm
    p = source(c, "master", who="node1")
    begin(p, 424242)
    assert result(p) == (errno.ESRCH, "its ghost is gone")


def test_image_frames_need_stream_1(fm):
    c, master, front, node = fm
    p = source(c, 1)
    p.send(BEGIN, struct.pack("<QII16sQ", 1, 4242, 0, b"master", 0),
           stream=0)
    assert p.expect_closed()


def test_one_connection_carries_one_transfer_after_another(fm):
    c, master, front, node = fm
    p = source(c, 1)
    for transfer in (1, 2, 5):
        p.send(BEGIN, struct.pack("<QII16sQ", transfer, 4242, 0, b"master",
                                  0), stream=transfer)
        p.send(STREAMS, struct.pack("<II", 1, 0) + struct.pack("<II", 0, 0),
               stream=transfer)
        p.send(DATA, b"\0" * 200, stream=transfer)
        assert result(p) == (errno.EIO, "not a bproc image")
        # what still comes of an answered transfer is let be
        p.send(DATA, b"\0" * 10, stream=transfer)
    # a transfer's number only grows
    p.send(BEGIN, struct.pack("<QII16sQ", 9, 4242, 0, b"master", 0),
           stream=3)
    assert p.expect_closed()


KEEP, FETCH, FETCHED = 55, 56, 57


def ref(move_id, pid, nbytes, node=b"", addr=b""):
    return struct.pack("<QIIQ16s48s", move_id, pid, 0, nbytes, node, addr)


@pytest.fixture
def fm2(make_cluster):
    """Real agents for the front end and nodes 1 and 2, a fake master."""
    c = make_cluster(start=False, nodes=[1, 2])
    master = FakeMaster(c.master_addr, c.key)
    c.start_agent("master")
    links = [master.link("master")]
    for n in (1, 2):
        c.start_agent(n)
        links.append(master.link("node%d" % n))
    yield c
    for link in links:
        link.close()
    master.close()


def test_a_node_sends_only_images_it_keeps(fm2):
    """Fast start down a tree: a node asked for an image (IMAGE_FETCH as
    the first frame of a transfer) that it does not keep says so, naming
    it, and goes on serving. (Keeping and sending on need a restore that
    goes through, in the virtual cluster: move case tree.)"""
    c = fm2
    for n in (1, 2):
        for mid, pid, size in ((31, 4242, 1 << 20), (32, 77, 5)):
            p = source(c, n, who="node%d" % (3 - n))
            addr = "%s:%d" % c.node_addr(n)
            p.send(FETCH, ref(mid, pid, size, b"node%d" % n, addr.encode()),
                   stream=1)
            t, d = p.recv_frame()
            while t == proto.PING:
                t, d = p.recv_frame()
            assert t == END
            nbytes, err = struct.unpack("<QI", d[:12])
            assert (nbytes, err) == (0, errno.ENOENT)
            assert d[16:].split(b"\0", 1)[0].decode() == \
                "node%d keeps no image of pid %d" % (n, pid)


@pytest.mark.parametrize("type_,payload", [
    (KEEP, ref(31, 4242, 10, b"node1")),  # a keep names nobody
    (KEEP, ref(31, 0, 10)),  # no pid
    (KEEP, ref(31, 4242, (256 << 20) + 1)),  # more than is ever kept
    (KEEP, ref(31, 4242, 10)[:-1]),  # short
    (FETCH, ref(31, 4242, 10)),  # a fetch names whom from
    (FETCH, ref(31, 4242, 10, b"node2", b"10.0.0.1:2224")),  # before STREAMS
])
def test_malformed_keep_or_fetch_breaks_the_protocol(fm2, type_, payload):
    c = fm2
    p = source(c, 1)
    begin(p, 4242)
    p.send(type_, payload, stream=1)
    assert p.expect_closed()
