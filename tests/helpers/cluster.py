"""A real bproc cluster on this machine for the host tests: bprocfs mounted
on a temporary directory and bproc-nodeagent processes, each node on its own
loopback address (127.A.B.N, a random /24 per cluster so clusters of
parallel runs do not meet), all talking TCP with a fresh cluster key."""

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Lines a daemon may print only when something is wrong with it.
BAD_LOG = re.compile(r"(: error: |AddressSanitizer|LeakSanitizer|"
                     r"runtime error:|Segmentation fault)")


def binary(name, asan=True):
    path = {
        "bprocfs": os.path.join(ROOT, "bprocfs", "bprocfs"),
        "bproc-nodeagent": os.path.join(ROOT, "nodeagent", "bproc-nodeagent"),
    }[name]
    return path + "-asan" if asan else path


def build(asan=True):
    targets = ["asan"] if asan else ["all"]
    for d in ("bprocfs", "nodeagent"):
        subprocess.run(["make", "-s", "-C", os.path.join(ROOT, d)] + targets,
                       check=True)


def free_ports(host, n):
    """n distinct ports free on host: the sockets stay bound until all are
    chosen, so the kernel cannot hand out the same port twice."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            socks.append(s)
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def sanitizer_env():
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    env.pop("JOURNAL_STREAM", None)
    return env


class Daemon:
    def __init__(self, name, argv, log_path):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     env=sanitizer_env())

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=10):
        """SIGTERM (after SIGCONT, in case a test stopped it) and the exit
        status."""
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "hung"
        self.log.close()
        return rc

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


class Cluster:
    def __init__(self, nodes=(0, 1, 2), heartbeat=0.2, timeout=1.0,
                 asan=True, extra_config="", base=None, master_agent=True):
        self.asan = asan
        self.heartbeat = heartbeat
        self.timeout = timeout
        self.dir = tempfile.mkdtemp(prefix="bproc-test-")
        os.chmod(self.dir, 0o755)  # other users must reach the mount
        self.mnt = os.path.join(self.dir, "bproc")
        os.mkdir(self.mnt)
        self.key_path = os.path.join(self.dir, "cluster.key")
        self.key = os.urandom(32)
        fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, self.key)
        os.close(fd)
        a, b = base or (random.randint(100, 250), random.randint(1, 250))
        self.net = "127.%d.%d." % (a, b)
        master_port, self.node_port = free_ports(self.net + "1", 2)
        self.master_addr = (self.net + "1", master_port)
        self.nodes = list(nodes)
        self.master_agent = master_agent
        self.extra_config = extra_config
        self.config_path = os.path.join(self.dir, "config")
        self.state_path = os.path.join(self.dir, "nodes.state")
        self.write_config()
        self.fs = None
        self.agents = {}
        self.retired = []  # stopped daemons whose logs still count
        self.allowed_errors = []

    def node_addr(self, node):
        if node == "master":
            return (self.net + "1", self.node_port)
        return (self.net + str(10 + node), self.node_port)

    def write_config(self, nodes=None):
        nodes = self.nodes if nodes is None else nodes
        lines = [
            "# written by the test suite",
            "master %s:%d" % self.master_addr,
            "key %s" % self.key_path,
            "heartbeat %g" % self.heartbeat,
            "timeout %g" % self.timeout,
            "state %s" % self.state_path,
            "node master %s:%d" % self.node_addr("master"),
        ]
        for n in nodes:
            lines.append("node %d %s:%d" % ((n,) + self.node_addr(n)))
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n" + self.extra_config)

    # -- daemons --

    def start_fs(self):
        log = os.path.join(self.dir, "bprocfs.log")
        self.fs = Daemon("bprocfs", [binary("bprocfs", self.asan), "-f",
                                     "--config", self.config_path, self.mnt],
                         log)
        deadline = time.time() + 10
        while not os.path.ismount(self.mnt):
            if not self.fs.alive():
                raise RuntimeError("bprocfs exited: " + self.fs.output())
            if time.time() > deadline:
                raise RuntimeError("bprocfs did not mount: " +
                                   self.fs.output())
            time.sleep(0.02)

    def stop_fs(self):
        rc = self.fs.stop()
        self.retired.append(self.fs)
        assert rc == 0, "bprocfs exit status %r\n%s" % (rc, self.fs.output())
        if os.path.ismount(self.mnt):
            subprocess.run(["umount", "-l", self.mnt])
        self.fs = None

    def run_dir(self, node):
        """Where the agent of node says which node it is (DIR/node)."""
        return os.path.join(self.dir, "run-%s" % node)

    def start_agent(self, node):
        name = "master" if node == "master" else str(node)
        log = os.path.join(self.dir, "agent-%s.log" % name)
        d = Daemon("agent-" + name,
                   [binary("bproc-nodeagent", self.asan), "-f", "--config",
                    self.config_path, "--node", name,
                    "--run-dir", self.run_dir(node)], log)
        self.agents[node] = d
        return d

    def stop_agent(self, node):
        d = self.agents.pop(node)
        rc = d.stop()
        self.retired.append(d)
        return rc

    def kill_agent(self, node, sig=signal.SIGKILL):
        d = self.agents[node]
        d.kill(sig)
        if sig == signal.SIGKILL:
            d.proc.wait()
            self.agents.pop(node)
            self.retired.append(d)
        return d

    def start(self):
        self.start_fs()
        if self.master_agent:
            self.start_agent("master")
        for n in self.nodes:
            self.start_agent(n)
        for n in (["master"] if self.master_agent else []) + self.nodes:
            self.wait_state(n, "up")
        return self

    def stop(self):
        """Stop everything; every daemon must exit 0 and log no errors."""
        problems = []
        for node in list(self.agents):
            d = self.agents[node]
            rc = self.stop_agent(node)
            if rc != 0:
                problems.append("%s exit status %r" % (d.name, rc))
        if self.fs:
            rc = self.fs.stop()
            self.retired.append(self.fs)
            if rc != 0:
                problems.append("bprocfs exit status %r" % (rc,))
            self.fs = None
        if os.path.ismount(self.mnt):
            subprocess.run(["umount", "-l", self.mnt])
        for d in self.retired:
            for line in d.output().splitlines():
                if BAD_LOG.search(line) and not any(
                        re.search(p, line) for p in self.allowed_errors):
                    problems.append("%s: %s" % (d.name, line))
        if not problems:
            shutil.rmtree(self.dir, ignore_errors=True)
        return problems

    # -- the filesystem --

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def read(self, *parts):
        with open(self.path(*parts)) as f:
            return f.read()

    @staticmethod
    def dirname(node):
        return "master" if node == "master" else "node%d" % node

    def state(self, node):
        return self.read(self.dirname(node), "status").strip()

    def wait_state(self, node, state, timeout=10.0):
        deadline = time.time() + timeout
        while True:
            s = self.state(node)
            if s == state:
                return time.time()
            if time.time() > deadline:
                raise AssertionError("%s is %s, not %s after %.1f s" %
                                     (self.dirname(node), s, state, timeout))
            time.sleep(0.01)

    def events(self):
        return self.read("events")

    def info(self, node):
        out = {}
        for line in self.read(self.dirname(node), "info").splitlines():
            k, _, v = line.partition(" ")
            out[k] = v
        return out
