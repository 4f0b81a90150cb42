"""The bproc wire protocol (include/bproc/proto.h) in Python, for tests that
play a peer: a well-behaved one, or one that lies, breaks frames or holds the
wrong key. Uses only the standard library's BLAKE2b and HMAC, and its own
SipHash-2-4-128 for the frame MACs, so it checks the daemons against an
independent implementation of the same spec."""

import hashlib
import hmac
import os
import socket
import struct

VERSION = 9
MAX_PAYLOAD = 1 << 20
HDR = struct.Struct("<IHBBII")  # len, type, version, flags, stream, reserved
MAC_BYTES = 16

HELLO, AUTH, BYE, PING, PONG = 1, 2, 3, 4, 5
FILES_QUERY, FILES_ANSWER = 53, 54
STATUS, STATUS_ACK, PID_RANGE = 16, 17, 18
ROLE_AGENT, ROLE_MASTER, ROLE_PEER = 1, 2, 3
STATUS_ENGINE, STATUS_FAULT = 1, 2


_M64 = (1 << 64) - 1


def _rotl64(v, n):
    return ((v << n) & _M64) | (v >> (64 - n))


def siphash128(key, msg):
    """SipHash-2-4 with 128-bit output (Aumasson and Bernstein), as
    libsodium's crypto_shorthash_siphashx24: key 16 bytes, tag 16 bytes."""
    k0, k1 = struct.unpack("<QQ", key[:16])
    v = [k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d ^ 0xee,
         k0 ^ 0x6c7967656e657261, k1 ^ 0x7465646279746573]

    def rounds(n):
        for _ in range(n):
            v[0] = (v[0] + v[1]) & _M64
            v[1] = _rotl64(v[1], 13) ^ v[0]
            v[0] = _rotl64(v[0], 32)
            v[2] = (v[2] + v[3]) & _M64
            v[3] = _rotl64(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & _M64
            v[3] = _rotl64(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & _M64
            v[1] = _rotl64(v[1], 17) ^ v[2]
            v[2] = _rotl64(v[2], 32)

    n = len(msg) // 8 * 8
    for (m,) in struct.iter_unpack("<Q", msg[:n]):
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    b = int.from_bytes(msg[n:], "little") | ((len(msg) & 0xff) << 56)
    v[3] ^= b
    rounds(2)
    v[0] ^= b
    v[2] ^= 0xee
    rounds(4)
    out0 = v[0] ^ v[1] ^ v[2] ^ v[3]
    v[1] ^= 0xdd
    rounds(4)
    out1 = v[0] ^ v[1] ^ v[2] ^ v[3]
    return struct.pack("<QQ", out0, out1)


def frame_mac(key, seq, hdr, payload):
    """A frame's MAC (proto.h): SipHash-128 of header and payload under the
    frame's key, SipHash-128 of its sequence number under the direction's."""
    frame_key = siphash128(key[:16], struct.pack("<Q", seq))
    return siphash128(frame_key, hdr + payload)


def master_key(key_file_bytes):
    return hashlib.blake2b(key_file_bytes, digest_size=32).digest()


def hello_payload(role, node, nonce=None):
    nonce = nonce or os.urandom(32)
    return struct.pack("<II32s16sQ", role, 0, nonce, node.encode(), 0)


def status_payload(flags=0, cpus=1, mem_total=1000, mem_avail=500,
                   load=(0, 0, 0), procs=1, kernel="test", engine="none (test)",
                   fault=""):
    return struct.pack("<IIQQIIII64s64s64s", flags, cpus, mem_total, mem_avail,
                       load[0], load[1], load[2], procs, kernel.encode(),
                       engine.encode(), fault.encode())


def frame(type_, payload=b"", stream=0, version=VERSION, flags=0, length=None):
    n = len(payload) if length is None else length
    return HDR.pack(n, type_, version, flags, stream, 0) + payload


class Closed(Exception):
    pass


class Peer:
    """A client connection that speaks the handshake and framing."""

    def __init__(self, addr, key_bytes, role=ROLE_PEER, node="tester",
                 timeout=5.0):
        host, port = addr
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.key = master_key(key_bytes)
        self.role = role
        self.node = node
        self.seq_tx = 0
        self.seq_rx = 0
        self.ready = False
        self.buf = b""

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def _recv_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed()
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self):
        hdr = self._recv_exact(HDR.size)
        length, type_, version, flags, stream, reserved = HDR.unpack(hdr)
        assert version == VERSION and flags == 0 and reserved == 0
        assert length <= MAX_PAYLOAD
        payload = self._recv_exact(length)
        if self.ready:
            mac = self._recv_exact(MAC_BYTES)
            want = self._mac(self.key_rx, self.seq_rx, hdr, payload)
            assert hmac.compare_digest(mac, want), "bad MAC from daemon"
            self.seq_rx += 1
        return type_, payload

    @staticmethod
    def _mac(key, seq, hdr, payload):
        return frame_mac(key, seq, hdr, payload)

    def _proof(self, label):
        msg = label + self.hello_c + self.hello_s
        return hmac.new(self.key, msg, hashlib.sha512).digest()[:32]

    def _derive(self, label):
        h = hashlib.blake2b(key=self.key, digest_size=32)
        h.update(label + self.hello_c[8:40] + self.hello_s[8:40])
        return h.digest()

    def handshake(self):
        """Authenticate; returns the daemon's HELLO node name. Raises Closed
        if the daemon hangs up (for instance on a wrong key)."""
        self.hello_c = hello_payload(self.role, self.node)
        self.send_raw(frame(HELLO, self.hello_c))
        t, self.hello_s = self.recv_frame()
        assert t == HELLO and len(self.hello_s) == 64
        self.send_raw(frame(AUTH, self._proof(b"bproc-auth-client")))
        t, proof = self.recv_frame()
        assert t == AUTH
        assert hmac.compare_digest(proof, self._proof(b"bproc-auth-server"))
        self.key_tx = self._derive(b"bproc-key-c2s")
        self.key_rx = self._derive(b"bproc-key-s2c")
        self.ready = True
        return self.hello_s[40:56].rstrip(b"\0").decode()

    def send(self, type_, payload=b"", stream=0, corrupt_mac=False, seq=None):
        hdr = HDR.pack(len(payload), type_, VERSION, 0, stream, 0)
        mac = self._mac(self.key_tx, self.seq_tx if seq is None else seq, hdr,
                        payload)
        if corrupt_mac:
            mac = bytes([mac[0] ^ 1]) + mac[1:]
        self.seq_tx += 1
        self.send_raw(hdr + payload + mac)

    def expect_closed(self, timeout=5.0):
        """True if the daemon closes the connection (frames before that are
        read and dropped)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
