"""The process files /bproc/<node>/<pid>: every process of the front end
(kernel threads aside) under master/, its fields as /proc shows them, and
signals written to it, by kill(2)'s rule for the writer."""

import errno
import os
import re
import signal
import stat
import subprocess
import threading

import pytest

from helpers.threads import running_thread
from helpers.users import NOBODY, as_user

pytestmark = pytest.mark.timeout(60)

KEYS = ["pid", "node", "state", "comm", "uid", "ppid", "pgid", "rss_kb",
        "utime_ms", "stime_ms", "moves", "moved_at"]
TICK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGESIZE") // 1024


def fields(text):
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        out[k] = v
    return out


def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    comm = s[s.index("(") + 1:s.rindex(")")]
    rest = s[s.rindex(")") + 2:].split()
    # rest[0] is field 3 (state)
    return {"comm": comm, "state": rest[0], "ppid": int(rest[1]),
            "pgid": int(rest[2]), "flags": int(rest[6]),
            "utime": int(rest[11]), "stime": int(rest[12]),
            "start": int(rest[19]), "rss": int(rest[21])}


def boot_time():
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("btime "):
                return int(line.split()[1])
    raise AssertionError("no btime in /proc/stat")


def is_kthread(pid):
    try:
        return bool(proc_stat(pid)["flags"] & 0x00200000)
    except (OSError, ValueError):
        return None


def sleeper(settle=False):
    """A `sleep 1000`; settled: once it sleeps, its numbers no longer
    moving (its start-up faults and ticks done)."""
    p = subprocess.Popen(["sleep", "1000"])
    if settle:
        last, same = None, 0
        for _ in range(1000):
            s = proc_stat(p.pid)
            now = (s["comm"], s["state"], s["rss"], s["utime"], s["stime"])
            same = same + 1 if now == last and s["state"] == "S" else 0
            if same == 3:
                break
            last = now
            threading.Event().wait(0.02)
        assert same == 3, "sleep did not settle"
    return p


def signal_file(cluster, pid, data, flags=os.O_WRONLY):
    fd = os.open(cluster.path("master", str(pid)), flags)
    try:
        return os.write(fd, data if isinstance(data, bytes) else
                        data.encode())
    finally:
        os.close(fd)


def signal_errno(cluster, pid, data):
    with pytest.raises(OSError) as e:
        signal_file(cluster, pid, data)
    return e.value.errno


def test_fields_match_proc(cluster):
    p = sleeper(settle=True)
    try:
        path = cluster.path("master", str(p.pid))
        text = cluster.read("master", str(p.pid))
        ps = proc_stat(p.pid)
        assert text.endswith("\n")
        assert [ln.split(" ")[0] for ln in text.splitlines()] == KEYS
        f = fields(text)
        assert f["pid"] == str(p.pid)
        assert f["node"] == "master"
        assert f["state"] == ps["state"] == "S"
        assert f["comm"] == ps["comm"] == "sleep"
        assert f["uid"] == str(os.getuid())
        assert f["ppid"] == str(ps["ppid"]) == str(os.getpid())
        assert f["pgid"] == str(ps["pgid"]) == str(os.getpgid(0))
        assert int(f["rss_kb"]) == ps["rss"] * PAGE_KB > 0
        assert int(f["utime_ms"]) == ps["utime"] * 1000 // TICK
        assert int(f["stime_ms"]) == ps["stime"] * 1000 // TICK
        assert f["moves"] == "0"
        assert f["moved_at"] == "-"
        st = os.stat(path)
        assert stat.S_ISREG(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o644
        assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
        # dated when it started, as ps(1) reckons it
        assert st.st_mtime == boot_time() + ps["start"] // TICK
        assert st.st_ino != os.stat(cluster.path("master", "status")).st_ino
        listing = os.listdir(cluster.path("master"))
        assert listing[:4] == ["status", "addr", "info", "move"]
        assert str(p.pid) in listing
    finally:
        p.kill()
        p.wait()


def test_owner_is_the_processes_user(cluster):
    code = ("import os, subprocess, time\n"
            "p = subprocess.Popen(['sleep', '1000'])\n"
            "st = os.stat(%r + '/' + str(p.pid))\n"
            "f = open(%r + '/' + str(p.pid)).read()\n"
            "p.kill(); p.wait()\n"
            "print(st.st_uid, st.st_gid, f.splitlines()[4])\n"
            % (cluster.path("master"), cluster.path("master")))
    assert as_user(code).split() == [str(NOBODY), str(NOBODY), "uid",
                                     str(NOBODY)]


def test_gone_after_exit(cluster):
    p = sleeper()
    path = cluster.path("master", str(p.pid))
    assert os.path.exists(path)
    p.kill()
    p.wait()
    assert str(p.pid) not in os.listdir(cluster.path("master"))
    for op in (os.stat, open):
        with pytest.raises(OSError) as e:
            op(path)
        assert e.value.errno == errno.ENOENT


def test_zombie_is_listed_until_reaped(cluster):
    p = sleeper()
    try:
        p.send_signal(signal.SIGKILL)
        path = "/proc/%d/stat" % p.pid
        for _ in range(500):
            if proc_stat(p.pid)["state"] == "Z":
                break
            threading.Event().wait(0.01)
        assert fields(cluster.read("master", str(p.pid)))["state"] == "Z"
        assert os.path.exists(path)
    finally:
        p.wait()
    assert not os.path.exists(cluster.path("master", str(p.pid)))


@pytest.mark.parametrize("data,sig", [
    ("TERM", signal.SIGTERM), ("SIGTERM", signal.SIGTERM),
    ("15", signal.SIGTERM), ("15\n", signal.SIGTERM),
    ("SIGTERM\n", signal.SIGTERM), ("term", signal.SIGTERM),
    ("KILL", signal.SIGKILL), ("9", signal.SIGKILL),
    ("SIGKILL\n", signal.SIGKILL), ("INT", signal.SIGINT),
    ("SIGUSR1", signal.SIGUSR1),
])
def test_signal_kills(cluster, data, sig):
    p = sleeper()
    try:
        assert signal_file(cluster, p.pid, data) == len(data)
        assert p.wait(10) == -sig
    finally:
        p.kill()
        p.wait()


def test_shell_redirection_and_read_write_open(cluster):
    p = sleeper()
    try:
        r = subprocess.run(["bash", "-c", "echo STOP > %s" %
                            cluster.path("master", str(p.pid))],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, r.stderr
        for _ in range(500):
            if proc_stat(p.pid)["state"] == "T":
                break
            threading.Event().wait(0.01)
        assert fields(cluster.read("master", str(p.pid)))["state"] == "T"
        # one handle, read then signal
        with open(cluster.path("master", str(p.pid)), "r+b",
                  buffering=0) as f:
            assert fields(f.read().decode())["state"] == "T"
            f.write(b"CONT\n")
        for _ in range(500):
            if proc_stat(p.pid)["state"] == "S":
                break
            threading.Event().wait(0.01)
        assert fields(cluster.read("master", str(p.pid)))["state"] == "S"
    finally:
        p.kill()
        p.wait()


@pytest.mark.parametrize("data", [
    b"0", b"65", b"999", b"1000", b"-9", b"+9", b" 9", b"9 ", b"9\n\n",
    b"9\0", b"TERMX", b"SIG", b"SIGSIGTERM", b"sig", b"\n", b"0x9",
    b"KILL TERM", b"SIGRTMIN+99", b"A" * 100,
])
def test_einval_not_a_signal(cluster, data):
    p = sleeper()
    try:
        assert signal_errno(cluster, p.pid, data) == errno.EINVAL
        assert p.poll() is None
    finally:
        p.kill()
        p.wait()


def test_eperm_other_users_process(cluster):
    p = sleeper()
    try:
        code = ("import os\n"
                "fd = os.open(%r, os.O_WRONLY)\n"
                "for s in (b'TERM', b'9', b'SIGKILL'):\n"
                "    try:\n"
                "        os.write(fd, s)\n"
                "        print(0)\n"
                "    except OSError as e:\n"
                "        print(e.errno)\n"
                % cluster.path("master", str(p.pid)))
        assert as_user(code).split() == [str(errno.EPERM)] * 3
        assert p.poll() is None
    finally:
        p.kill()
        p.wait()


def test_user_signals_own_process(cluster):
    code = ("import os, subprocess\n"
            "p = subprocess.Popen(['sleep', '1000'])\n"
            "fd = os.open(%r + '/' + str(p.pid), os.O_WRONLY)\n"
            "os.write(fd, b'TERM\\n')\n"
            "os.close(fd)\n"
            "print(p.wait(10))\n" % cluster.path("master"))
    assert as_user(code) == str(-signal.SIGTERM)


def test_esrch_after_the_process_is_gone(cluster):
    p = sleeper()
    fd = os.open(cluster.path("master", str(p.pid)), os.O_WRONLY)
    try:
        p.kill()
        p.wait()
        with pytest.raises(OSError) as e:
            os.write(fd, b"TERM")
        assert e.value.errno == errno.ESRCH
    finally:
        os.close(fd)
    with pytest.raises(OSError) as e:
        signal_file(cluster, p.pid, "TERM")
    assert e.value.errno == errno.ENOENT


def test_whole_read_equals_one_byte_reads(cluster):
    p = sleeper(settle=True)
    try:
        path = cluster.path("master", str(p.pid))
        with open(path, "rb") as f:
            whole = f.read()
        with open(path, "rb", buffering=0) as f:
            pieces = b""
            while True:
                c = f.read(1)
                if not c:
                    break
                assert len(c) == 1
                pieces += c
        assert whole == pieces
        assert whole.endswith(b"\n")
    finally:
        p.kill()
        p.wait()


def test_only_under_the_node_it_runs_on(cluster):
    p = sleeper()
    try:
        for n in cluster.nodes:
            d = cluster.path(cluster.dirname(n))
            assert sorted(os.listdir(d)) == ["addr", "info", "move",
                                             "status"]
            with pytest.raises(OSError) as e:
                os.stat(os.path.join(d, str(p.pid)))
            assert e.value.errno == errno.ENOENT
        # not pids: leading zero, sign, too long
        for name in ("0%d" % p.pid, "+%d" % p.pid, "0", "12345678901"):
            with pytest.raises(OSError) as e:
                os.stat(cluster.path("master", name))
            assert e.value.errno == errno.ENOENT
    finally:
        p.kill()
        p.wait()


def test_threads_and_kernel_threads_are_not_processes(cluster):
    with running_thread() as tid:
        assert os.path.exists("/proc/%d/stat" % tid)
        assert not os.path.exists(cluster.path("master", str(tid)))
        assert str(tid) not in os.listdir(cluster.path("master"))
    kthreads = [int(d) for d in os.listdir("/proc")
                if d.isdigit() and is_kthread(int(d))]
    # the host tests run in the first pid namespace, where kthreadd is 2
    assert kthreads, "no kernel threads visible in this pid namespace"
    listing = os.listdir(cluster.path("master"))
    for k in kthreads[:20]:
        assert str(k) not in listing
        assert not os.path.exists(cluster.path("master", str(k)))


def test_listing_is_every_process(cluster):
    # enough processes that the listing takes several readdir calls
    many = [sleeper() for _ in range(300)]
    try:
        def procs():
            return {int(d) for d in os.listdir("/proc")
                    if d.isdigit() and is_kthread(int(d)) is False}

        before = procs()
        listing = [n for n in os.listdir(cluster.path("master"))
                   if n.isdigit()]
        after = procs()
        listed = {int(n) for n in listing}
        assert len(listing) == len(listed)  # no pid twice
        assert {p.pid for p in many} <= listed
        assert before & after <= listed
        assert listed <= before | after
    finally:
        for p in many:
            p.kill()
        for p in many:
            p.wait()


def test_metrics_count_processes(cluster):
    many = [sleeper() for _ in range(5)]
    try:
        m = cluster.read("metrics")
        got = dict(re.findall(r'^bproc_processes\{node="(\w+)"\} (\d+)$',
                              m, re.M))
        assert set(got) == {"master", "node0", "node1", "node2"}
        assert int(got["master"]) >= len(many) + 1
        assert got["node0"] == got["node1"] == got["node2"] == "0"
    finally:
        for p in many:
            p.kill()
            p.wait()


def test_bpstat_lists_processes(cluster):
    p = sleeper()
    try:
        env = dict(os.environ, BPROC_MOUNT=cluster.mnt)
        r = subprocess.run([os.path.join(os.path.dirname(__file__), "..",
                                         "tools", "bpstat"), "-p", "master"],
                           capture_output=True, text=True, env=env,
                           timeout=30)
        assert r.returncode == 0, r.stderr
        assert re.search(r"^%d\s+master\s+0\s+sleep$" % p.pid, r.stdout,
                         re.M)
    finally:
        p.kill()
        p.wait()
