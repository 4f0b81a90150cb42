"""The master played by the test, for the node agents' side of moves: it
listens where the config says the master is, lets real agents join (the
server side of the handshake in helpers.proto), acknowledges their
heartbeats and lets the test send them anything (move orders, signals, IO,
exits, malformed frames) and read what they answer."""

import hmac
import queue
import socket
import struct
import threading

from helpers import proto
from helpers.fakeagent import (MOVE_ORDER, MOVE_RESULT, ORDER, RESULT,
                               cstr)


class AgentLink:
    """One agent's connection, once authenticated."""

    def __init__(self, sock, key):
        self.sock = sock
        self.key = proto.master_key(key)
        self.buf = b""
        self.seq_tx = self.seq_rx = 0
        self.lock = threading.Lock()
        self.frames = queue.Queue()
        self.node = None
        self._handshake()
        threading.Thread(target=self._read, daemon=True).start()

    def _recv_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise proto.Closed()
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _recv_frame(self, mac=True):
        hdr = self._recv_exact(proto.HDR.size)
        length = proto.HDR.unpack(hdr)[0]
        type_ = proto.HDR.unpack(hdr)[1]
        payload = self._recv_exact(length)
        if mac:
            got = self._recv_exact(proto.MAC_BYTES)
            want = proto.Peer._mac(self.key_rx, self.seq_rx, hdr, payload)
            assert hmac.compare_digest(got, want), "bad MAC from the agent"
            self.seq_rx += 1
        return type_, payload

    def _proof(self, label):
        msg = label + self.hello_c + self.hello_s
        return hmac.new(self.key, msg, "sha512").digest()[:32]

    def _derive(self, label):
        import hashlib
        h = hashlib.blake2b(key=self.key, digest_size=32)
        h.update(label + self.hello_c[8:40] + self.hello_s[8:40])
        return h.digest()

    def _handshake(self):
        t, self.hello_c = self._recv_frame(mac=False)
        assert t == proto.HELLO
        self.node = self.hello_c[40:56].rstrip(b"\0").decode()
        self.hello_s = proto.hello_payload(proto.ROLE_MASTER, "master")
        self.sock.sendall(proto.frame(proto.HELLO, self.hello_s))
        t, p = self._recv_frame(mac=False)
        assert t == proto.AUTH
        assert hmac.compare_digest(p, self._proof(b"bproc-auth-client"))
        self.sock.sendall(proto.frame(proto.AUTH,
                                      self._proof(b"bproc-auth-server")))
        self.key_rx = self._derive(b"bproc-key-c2s")
        self.key_tx = self._derive(b"bproc-key-s2c")

    def _read(self):
        try:
            while True:
                t, p = self._recv_frame()
                if t == proto.STATUS:
                    self.send(proto.STATUS_ACK, struct.pack("<Q", 0))
                    continue
                self.frames.put((t, p))
        except (proto.Closed, OSError, AssertionError):
            self.frames.put((None, b""))

    def send(self, type_, payload=b"", stream=0):
        with self.lock:
            hdr = proto.HDR.pack(len(payload), type_, proto.VERSION, 0,
                                 stream, 0)
            mac = proto.Peer._mac(self.key_tx, self.seq_tx, hdr, payload)
            self.seq_tx += 1
            self.sock.sendall(hdr + payload + mac)

    def expect(self, type_, timeout=10.0):
        """The next frame but PROC_REPORTs, which must be of type_."""
        while True:
            t, p = self.frames.get(timeout=timeout)
            if t != 35:
                break
        assert t == type_, "expected %r, got %r %r" % (type_, t, p[:64])
        return p

    def order(self, move_id, pid, dest, dest_addr, flags=0):
        self.send(MOVE_ORDER, ORDER.pack(move_id, pid, flags, 0, 0,
                                         dest.encode(),
                                         dest_addr.encode(), 0, 0))

    def result(self):
        mid, pid, err, nbytes, usec, reason = RESULT.unpack(
            self.expect(MOVE_RESULT))
        return {"move_id": mid, "pid": pid, "error": err, "bytes": nbytes,
                "reason": cstr(reason)}

    def close(self):
        self.sock.close()


class FakeMaster:
    """Accepts agents on addr; links() gives them by node name."""

    def __init__(self, addr, key):
        self.key = key
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(addr)
        self.listener.listen(16)
        self.joined = queue.Queue()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                s, _ = self.listener.accept()
            except OSError:
                return
            try:
                self.joined.put(AgentLink(s, self.key))
            except (proto.Closed, OSError, AssertionError):
                s.close()

    def link(self, node, timeout=10.0):
        """The next agent to join, which must be node."""
        a = self.joined.get(timeout=timeout)
        assert a.node == node, "%s joined, not %s" % (a.node, node)
        return a

    def close(self):
        self.listener.close()
