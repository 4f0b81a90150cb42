"""The wire protocol under attack: malformed frames, a peer with the wrong
key, bad MACs, replays and lies each close that one connection while every
other node stays up; a correct independent implementation is accepted."""

import os
import socket
import struct
import time

import pytest

from helpers import proto
from helpers.cluster import binary

pytestmark = pytest.mark.timeout(60)


def targets(c):
    """The master's listener and one agent's listener."""
    return {"master": c.master_addr, "agent": c.node_addr(1)}


def assert_others_up(c):
    for n in ("master", 0, 1, 2):
        assert c.state(n) == "up", n


def raw_closed(addr, data, timeout=5):
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
    finally:
        s.close()


BAD_FRAMES = {
    "garbage": b"GET / HTTP/1.0\r\n\r\n",
    "bad version": proto.frame(proto.HELLO, b"\0" * 64, version=9),
    "flags set": proto.frame(proto.HELLO, b"\0" * 64, flags=1),
    "oversized": proto.frame(proto.HELLO, b"", length=0xffffffff),
    "unknown type": proto.frame(999, b""),
    "short hello": proto.frame(proto.HELLO, b"\0" * 10),
    "status first": proto.frame(proto.STATUS, proto.status_payload()),
    "auth first": proto.frame(proto.AUTH, b"\0" * 32),
    "hello unterminated name": proto.frame(
        proto.HELLO, struct.pack("<II32s16sQ", 1, 0, b"n" * 32, b"x" * 16, 0)),
}


@pytest.mark.parametrize("which", ["master", "agent"])
@pytest.mark.parametrize("name", sorted(BAD_FRAMES))
def test_malformed_frame_closes_only_that_connection(cluster, which, name):
    assert raw_closed(targets(cluster)[which], BAD_FRAMES[name])
    time.sleep(cluster.heartbeat * 2)
    assert_others_up(cluster)
    # the daemon still serves: a correct peer gets through
    p = proto.Peer(targets(cluster)[which], cluster.key)
    p.handshake()
    p.close()


@pytest.mark.parametrize("which", ["master", "agent"])
def test_wrong_key_is_refused(cluster, which):
    p = proto.Peer(targets(cluster)[which], os.urandom(32))
    with pytest.raises((proto.Closed, ConnectionResetError)):
        p.handshake()
    p.close()
    assert_others_up(cluster)
    log = (cluster.fs if which == "master" else cluster.agents[1]).output()
    assert "peer failed authentication (wrong cluster key)" in log


def test_wrong_key_agent_never_joins(make_cluster):
    c = make_cluster(nodes=[0, 1])
    c.stop_agent(1)
    c.wait_state(1, "down")
    good = c.key_path
    bad = os.path.join(c.dir, "other.key")
    fd = os.open(bad, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, os.urandom(32))
    os.close(fd)
    c.key_path = bad
    c.write_config()
    c.start_agent(1)
    time.sleep(1.5)
    assert c.state(1) == "down"
    assert "wrong cluster key" in c.fs.output()
    c.stop_agent(1)
    c.key_path = good
    c.write_config()


@pytest.mark.parametrize("which", ["master", "agent"])
def test_silent_unauthenticated_peer_is_dropped(cluster, which):
    s = socket.create_connection(targets(cluster)[which], timeout=10)
    t0 = time.time()
    assert s.recv(1) == b""  # closed after the handshake timeout
    assert time.time() - t0 < cluster.timeout + 1
    s.close()


@pytest.mark.parametrize("which", ["master", "agent"])
def test_bad_mac_closes(cluster, which):
    role = proto.ROLE_AGENT if which == "master" else proto.ROLE_PEER
    p = proto.Peer(targets(cluster)[which], cluster.key, role=role,
                   node="node2" if which == "master" else "tester")
    p.handshake()
    p.send(proto.PING, struct.pack("<Q", 1), corrupt_mac=True)
    assert p.expect_closed()
    p.close()
    time.sleep(cluster.heartbeat * 2)
    if which == "master":
        # the real node2 agent was replaced by the fake, then rejoins
        cluster.wait_state(2, "up", timeout=10)
    assert_others_up(cluster)


def test_replayed_frame_closes(cluster):
    p = proto.Peer(targets(cluster)["agent"], cluster.key)
    p.handshake()
    p.send(proto.PING, struct.pack("<Q", 7))
    t, payload = p.recv_frame()
    assert (t, payload) == (proto.PONG, struct.pack("<Q", 7))
    # the same frame again, with the sequence number it had: a replay
    p.send(proto.PING, struct.pack("<Q", 7), seq=0)
    assert p.expect_closed()


def test_agent_answers_ping(cluster):
    p = proto.Peer(targets(cluster)["agent"], cluster.key)
    assert p.handshake() == "node1"
    for cookie in (1, 2, 3):
        p.send(proto.PING, struct.pack("<Q", cookie))
        assert p.recv_frame() == (proto.PONG, struct.pack("<Q", cookie))
    p.close()


# FILES_QUERY (proto.h): one bproc_msg_file per file, then its path.
FILE_ENTRY = struct.Struct("<QQBBHI32s")
EXEC, LIB, OTHER, SHARED = 0, 1, 2, 3
SAME, MISSING, DIFFERS = 0, 1, 2


def files_query(files):
    """files: (path, size, mtime_ns, kind, build_id bytes)."""
    out = struct.pack("<II", len(files), 0)
    for path, size, mtime, kind, bid in files:
        p = path.encode() + b"\0"
        out += FILE_ENTRY.pack(size, mtime, kind, len(bid), len(p), 0,
                               bid) + p
    return out


def gnu_build_id(path):
    """The NT_GNU_BUILD_ID of an ELF64 file, read here from its notes."""
    with open(path, "rb") as f:
        data = f.read()
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        ptype, _, off, _, _, filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize)
        if ptype != 4:  # PT_NOTE
            continue
        pos = off
        while pos + 12 <= off + filesz:
            namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
            name = data[pos + 12:pos + 12 + namesz]
            desc = pos + 12 + (namesz + 3) // 4 * 4
            if ntype == 3 and name == b"GNU\0":
                return data[desc:desc + descsz]
            pos = desc + (descsz + 3) // 4 * 4
    return b""


def test_agent_answers_which_files_it_has(cluster, tmp_path):
    """An agent says, per file, whether it has the same one (size, mtime,
    build id), another, or none."""
    plain = tmp_path / "data.bin"
    plain.write_bytes(b"x" * 5000)
    st = os.stat(plain)
    elf = binary("bproc-nodeagent", asan=False)
    est = os.stat(elf)
    bid = gnu_build_id(elf)
    assert len(bid) == 20
    other = bytes(b ^ 0xff for b in bid)
    cases = [
        ((str(plain), st.st_size, st.st_mtime_ns, OTHER, b""), SAME),
        ((str(plain), st.st_size, st.st_mtime_ns + 1, OTHER, b""), DIFFERS),
        ((str(plain), st.st_size + 1, st.st_mtime_ns, LIB, b""), DIFFERS),
        ((str(tmp_path / "nope"), 1, 1, EXEC, b""), MISSING),
        ((str(tmp_path), 0, 0, OTHER, b""), MISSING),  # not a regular file
        ((elf, est.st_size, est.st_mtime_ns, EXEC, bid), SAME),
        ((elf, est.st_size, est.st_mtime_ns, EXEC, other), DIFFERS),
        ((elf, est.st_size, est.st_mtime_ns, LIB, bid[:8]), DIFFERS),
        ((str(plain), st.st_size, st.st_mtime_ns, SHARED, bid), DIFFERS),
    ]
    p = proto.Peer(targets(cluster)["agent"], cluster.key)
    assert p.handshake() == "node1"
    p.send(proto.FILES_QUERY, files_query([f for f, _ in cases]), stream=1)
    t, payload = p.recv_frame()
    assert t == proto.FILES_ANSWER
    nr, pad = struct.unpack_from("<II", payload)
    assert (nr, pad) == (len(cases), 0)
    assert list(payload[8:]) == [v for _, v in cases]
    # asked again before the transfer begins: answered again
    p.send(proto.FILES_QUERY, files_query([]), stream=1)
    assert p.recv_frame() == (proto.FILES_ANSWER, struct.pack("<II", 0, 0))
    p.close()
    assert_others_up(cluster)


def _entry(path=b"/x\0", kind=OTHER, bid_len=0, bid=b"", plen=None, pad=0):
    return FILE_ENTRY.pack(1, 1, kind, bid_len,
                           len(path) if plen is None else plen, pad,
                           bid) + path


BAD_QUERIES = {
    "stream 0": (struct.pack("<II", 0, 0), 0),
    "pad set": (struct.pack("<II", 0, 1), 1),
    "more files than sent": (struct.pack("<II", 2, 0) + _entry(), 1),
    "path without its NUL": (struct.pack("<II", 1, 0) + _entry(b"/x"), 1),
    "path not absolute": (struct.pack("<II", 1, 0) + _entry(b"x\0"), 1),
    "NUL inside the path": (struct.pack("<II", 1, 0) + _entry(b"/a\0b\0"), 1),
    "path longer than sent": (struct.pack("<II", 1, 0) + _entry(plen=9), 1),
    "bad kind": (struct.pack("<II", 1, 0) + _entry(kind=4), 1),
    "build id too long": (struct.pack("<II", 1, 0) + _entry(bid_len=33), 1),
    "bytes past the build id": (struct.pack("<II", 1, 0) +
                                _entry(bid_len=1, bid=b"ab"), 1),
    "entry pad set": (struct.pack("<II", 1, 0) + _entry(pad=1), 1),
    "bytes after": (struct.pack("<II", 0, 0) + b"\0", 1),
}


@pytest.mark.parametrize("name", sorted(BAD_QUERIES))
def test_malformed_files_query_closes_that_connection(cluster, name):
    payload, stream = BAD_QUERIES[name]
    p = proto.Peer(targets(cluster)["agent"], cluster.key)
    p.handshake()
    p.send(proto.FILES_QUERY, payload, stream=stream)
    assert p.expect_closed()
    assert_others_up(cluster)


def test_master_rejects_unknown_node(cluster):
    p = proto.Peer(cluster.master_addr, cluster.key, role=proto.ROLE_AGENT,
                   node="node77")
    p.handshake()
    t, payload = p.recv_frame()
    assert t == proto.BYE
    assert struct.unpack("<I", payload[:4])[0] == 2  # BPROC_BYE_UNKNOWN_NODE
    assert p.expect_closed()
    assert not os.path.exists(cluster.path("node77"))


def test_fake_agent_fault_makes_error(make_cluster):
    c = make_cluster(nodes=[0, 5])
    c.stop_agent(5)
    c.wait_state(5, "down")
    p = proto.Peer(c.master_addr, c.key, role=proto.ROLE_AGENT, node="node5")
    p.handshake()
    c.wait_state(5, "boot")
    # once joined, a node hears of its pids: node 5's range
    t, payload = p.recv_frame()
    assert t == proto.PID_RANGE
    assert struct.unpack("<II", payload) == ((1 << 21) + 5 * 2048,
                                             (1 << 21) + 6 * 2048)
    p.send(proto.STATUS, proto.status_payload(
        kernel="9.9.9", procs=42, load=(1500, 0, 0)))
    assert p.recv_frame()[0] == proto.STATUS_ACK
    c.wait_state(5, "up")
    info = c.info(5)
    assert info["kernel"] == "9.9.9" and info["procs"] == "42"
    assert info["load1"] == "1.50"
    p.send(proto.STATUS, proto.status_payload(
        flags=proto.STATUS_FAULT, fault="disk on fire"))
    c.wait_state(5, "error")
    assert c.info(5)["fault"] == "disk on fire"
    assert "node5 error (was up: disk on fire)" in c.events()
    # a status with a control character in a string is malformed
    p.send(proto.STATUS, proto.status_payload(kernel="bad\nline"))
    assert p.expect_closed()
    c.wait_state(5, "down")
    assert c.state(0) == "up"


def test_fake_agent_silent_goes_down(make_cluster):
    c = make_cluster(nodes=[0, 5])
    c.stop_agent(5)
    p = proto.Peer(c.master_addr, c.key, role=proto.ROLE_AGENT, node="node5")
    p.handshake()
    p.send(proto.STATUS, proto.status_payload())
    c.wait_state(5, "up")
    t0 = time.time()
    # then nothing: the master must give up after the timeout
    assert p.expect_closed(timeout=c.timeout + 2)
    assert time.time() - t0 < c.timeout + c.heartbeat + 0.5
    assert c.state(5) == "down"


def test_own_siphash_matches_the_reference_vectors():
    """The frame MACs of the test peers come from helpers.proto's own
    SipHash-2-4-128; its answers for the reference implementation's key
    00..0f and messages 00..n-1, so that an agreement with the daemons
    means both follow SipHash."""
    key, msg = bytes(range(16)), bytes(range(64))
    assert proto.siphash128(key, b"").hex() == \
        "a3817f04ba25a8e66df67214c7550293"
    assert proto.siphash128(key, msg[:7]).hex() == \
        "a1f1ebbed8dbc153c0b84aa61ff08239"
    assert proto.siphash128(key, msg).hex() == \
        "1eaf077dc0d4cd3f8cad4d383658a74b"
