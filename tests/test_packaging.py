"""The Debian packages, built as `make deb` builds them (dpkg-buildpackage
-us -uc -b from a copy of the tree), checked the way an administrator meets
them: lintian, what they hold, the manuals, the units, DKMS building the
module for the Debian cloud kernel, the programs from a throwaway root on
this machine (readiness to systemd, the agent finding its node, a restart
over a dead mount, an fstab-style mount), and finally installed on a
virtual cluster, its services started and a process moved.
"""

import errno
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from helpers.cluster import free_ports
from vcluster import case_results, run_in_cluster

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSION = open(os.path.join(TOP, "debian", "changelog")).readline().split(
    "(")[1].split(")")[0]
KVER = subprocess.run([os.path.join(TOP, "tools", "kernel-version")],
                      stdout=subprocess.PIPE, text=True,
                      check=True).stdout.split()[0]

MANUALS = ["man1/bpsh.1", "man1/bpstat.1", "man1/bproc-ckpt.1",
           "man1/bproc-imgdump.1", "man5/bproc.conf.5", "man5/bprocfs.5",
           "man8/bprocfs.8", "man8/bproc-nodeagent.8", "man8/bproc-keygen.8"]
# libbproc-dev's, and the functions that share a page (.so links in the
# tree, symbolic links in the package)
LIB_MANUALS = ["man3/bproc.3", "man3/bproc_nodestatus.3",
               "man3/bproc_currnode.3", "man3/bproc_move.3",
               "man3/bproc_rfork.3", "man3/bproc_execmove.3"]
LIB_LINKS = {"bproc_numnodes": "bproc_nodestatus",
             "bproc_nodeup": "bproc_nodestatus",
             "bproc_nodestatus_name": "bproc_nodestatus",
             "bproc_nodeaddr": "bproc_nodestatus",
             "bproc_vrfork": "bproc_rfork",
             "bproc_vexecmove": "bproc_execmove",
             "bproc_rexec": "bproc_execmove"}
LIB_FUNCTIONS = ["bproc_numnodes", "bproc_currnode", "bproc_nodestatus",
                 "bproc_nodestatus_name", "bproc_nodeup", "bproc_nodeaddr",
                 "bproc_move", "bproc_rfork", "bproc_vrfork",
                 "bproc_execmove", "bproc_vexecmove", "bproc_rexec"]
MULTIARCH = "x86_64-linux-gnu"
UNITS = ["bprocfs.service", "bproc-nodeagent.service",
         "bproc-nodeagent@.service"]


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    r = subprocess.run([os.path.join(TOP, "tools", "make-deb"), str(out)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-5000:]
    found = {p: out / ("%s_%s_%s.deb" % (p, VERSION, a))
             for p, a in (("bproc", "amd64"), ("bproc-dkms", "all"),
                          ("libbproc1", "amd64"), ("libbproc-dev", "amd64"))}
    for f in found.values():
        assert f.exists(), r.stdout[-3000:]
    found["changes"] = out / ("bproc_%s_amd64.changes" % VERSION)
    return found


@pytest.fixture(scope="module")
def root(debs, tmp_path_factory):
    """The packages unpacked into a throwaway root, as dpkg would."""
    r = tmp_path_factory.mktemp("root")
    for p in ("bproc", "bproc-dkms", "libbproc1", "libbproc-dev"):
        subprocess.run(["dpkg-deb", "-x", str(debs[p]), str(r)], check=True)
    return r


def contents(deb):
    out = subprocess.run(["dpkg-deb", "-c", str(deb)], stdout=subprocess.PIPE,
                         text=True, check=True).stdout
    return {line.split()[5].lstrip(".") for line in out.splitlines()}


@pytest.mark.timeout(900)
def test_lintian_clean(debs):
    """No error or warning; the overrides are justified in
    debian/bproc.lintian-overrides."""
    r = subprocess.run(["lintian", "--fail-on", "error,warning", "--info",
                        str(debs["changes"])], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    bad = [l for l in r.stdout.splitlines() if l[:2] in ("E:", "W:")]
    assert r.returncode == 0 and not bad, r.stdout


def test_bproc_contents(debs):
    files = contents(debs["bproc"])
    for f in ["/usr/sbin/bprocfs", "/usr/sbin/bproc-nodeagent",
              "/usr/sbin/bproc-keygen", "/usr/bin/bproc-ckpt",
              "/usr/bin/bproc-imgdump", "/usr/bin/bpsh", "/usr/bin/bpstat",
              "/etc/bproc/config", "/var/lib/bproc/",
              "/usr/share/doc/bproc/interface.md.gz"]:
        assert f in files, f
    for m in MANUALS:
        assert "/usr/share/man/%s.gz" % m in files, m
    for u in UNITS:
        assert "/lib/systemd/system/" + u in files, u
    info = subprocess.run(["dpkg-deb", "-I", str(debs["bproc"])],
                          stdout=subprocess.PIPE, text=True).stdout
    assert "libsodium" in info and "libfuse3" in info and "fuse3" in info
    ctl = subprocess.run(["dpkg-deb", "--ctrl-tarfile", str(debs["bproc"])],
                         stdout=subprocess.PIPE, check=True).stdout
    assert b"./conffiles" in subprocess.run(
        ["tar", "-t"], input=ctl, stdout=subprocess.PIPE).stdout


def test_lib_contents(debs):
    """The shared library in the package of its soname, with its symbols;
    what builds against it in libbproc-dev; nothing of it in bproc."""
    lib = "/usr/lib/%s/" % MULTIARCH
    assert lib + "libbproc.so.1" in contents(debs["libbproc1"])
    ctl = subprocess.run(["dpkg-deb", "--ctrl-tarfile",
                          str(debs["libbproc1"])], stdout=subprocess.PIPE,
                         check=True).stdout
    members = subprocess.run(["tar", "-t"], input=ctl,
                             stdout=subprocess.PIPE).stdout.split()
    assert b"./symbols" in members and b"./shlibs" in members
    dev = contents(debs["libbproc-dev"])
    for f in ["/usr/include/sys/bproc.h", lib + "libbproc.a",
              lib + "libbproc.so", lib + "pkgconfig/bproc.pc"]:
        assert f in dev, f
    for m in LIB_MANUALS + ["man3/%s.3" % f for f in LIB_LINKS]:
        assert "/usr/share/man/%s.gz" % m in dev, m
    assert not [f for f in contents(debs["bproc"])
                if "libbproc" in f or "/man3/" in f or "/include/" in f]


def test_lib_symbols(root):
    """Exactly the functions of the header, versioned LIBBPROC_1, and
    libc alone needed; the pkg-config file points at the package's."""
    so = root / ("usr/lib/%s/libbproc.so.1" % MULTIARCH)
    out = subprocess.run(["nm", "-D", "--defined-only", str(so)],
                         stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    syms = sorted(l.split()[-1] for l in out.splitlines())
    assert syms == sorted(["LIBBPROC_1"] + [f + "@@LIBBPROC_1"
                                            for f in LIB_FUNCTIONS])
    needed = subprocess.run(["objdump", "-p", str(so)],
                            stdout=subprocess.PIPE, text=True,
                            check=True).stdout
    assert [l.split()[1] for l in needed.splitlines()
            if l.strip().startswith("NEEDED")] == ["libc.so.6"]
    assert "SONAME               libbproc.so.1" in needed
    pc = (root / ("usr/lib/%s/pkgconfig/bproc.pc" % MULTIARCH)).read_text()
    assert "libdir=/usr/lib/%s\n" % MULTIARCH in pc
    assert "Version: %s\n" % VERSION in pc


def test_dkms_contents(debs):
    files = contents(debs["bproc-dkms"])
    src = "/usr/src/bproc-%s/" % VERSION
    for f in ["dkms.conf", "kmod/Kbuild", "kmod/main.c", "kmod/dump.c",
              "kmod/restore.c", "include/bproc/bproc.h",
              "include/bproc/image.h"]:
        assert src + f in files, f
    assert "/usr/lib/modules-load.d/bproc.conf" in files
    assert not [f for f in files if f.endswith((".o", ".ko", ".mod.c"))]


@pytest.mark.parametrize("page", MANUALS + LIB_MANUALS)
def test_manual_renders_without_warnings(root, page):
    path = str(root / "usr/share/man" / (page + ".gz"))
    r = subprocess.run(["man", "--warnings", "-l", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=dict(os.environ, MANWIDTH="80",
                                           LC_ALL="C.UTF-8"))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "NAME" in r.stdout and "SEE ALSO" in r.stdout
    src = os.path.join(TOP, "man", os.path.basename(page))
    r = subprocess.run(["groff", "-ww", "-z", "-man", src],
                       stderr=subprocess.PIPE, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_manual_links(root):
    """A function that shares a page: `.so man3/PAGE.3` in the tree, a
    symbolic link to PAGE.3.gz in the package, and man finds it."""
    man3 = root / "usr/share/man/man3"
    for name, page in LIB_LINKS.items():
        with open(os.path.join(TOP, "man", name + ".3")) as f:
            assert f.read() == ".so man3/%s.3\n" % page, name
        assert os.readlink(man3 / (name + ".3.gz")) == page + ".3.gz"
        r = subprocess.run(["man", "--warnings", "-l", str(man3 / (
            name + ".3.gz"))], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8"))
        assert r.returncode == 0 and r.stderr == "", r.stderr
        assert name in r.stdout.split("SYNOPSIS")[1], name


def test_units_verify(root, tmp_path):
    """systemd-analyze verify: no unknown key, no bad value; the programs
    are there (ExecStart pointed into the throwaway root)."""
    for u in UNITS:
        text = (root / "lib/systemd/system" / u).read_text()
        text = text.replace("=/usr/sbin/", "=%s/usr/sbin/" % root).replace(
            "/etc/bproc/config", "%s/etc/bproc/config" % root)
        name = u.replace("@.", "@7.")
        (tmp_path / name).write_text(text)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no"] +
                       [str(tmp_path / u.replace("@.", "@7."))
                        for u in UNITS],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    assert r.returncode == 0 and r.stdout == "", r.stdout
    fs = (root / "lib/systemd/system/bprocfs.service").read_text()
    assert "Type=notify" in fs and "Restart=on-failure" in fs
    # its mount must be the machine's: no mount namespace of its own
    assert "\nProtectSystem=" not in fs and "\nPrivateTmp=" not in fs


@pytest.fixture(scope="module")
def dkms_module(root, tmp_path_factory):
    """bproc.ko as DKMS builds it on a machine with the cloud kernel's
    headers (in a DKMS tree of its own: nothing is installed)."""
    tree = tmp_path_factory.mktemp("dkms")
    common = ["-m", "bproc", "-v", VERSION, "--sourcetree",
              str(root / "usr/src"), "--dkmstree", str(tree)]
    for cmd in (["add"], ["build", "-k", KVER]):
        r = subprocess.run(["dkms"] + cmd + common, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=600)
        assert r.returncode == 0, r.stdout
    ko = tree / "bproc" / VERSION / KVER / "x86_64" / "module" / "bproc.ko"
    assert ko.exists()
    return ko


@pytest.mark.timeout(600)
def test_dkms_builds_the_module(dkms_module):
    info = subprocess.run(["modinfo", "-F", "vermagic", str(dkms_module)],
                          stdout=subprocess.PIPE, text=True).stdout
    assert info.split()[0] == KVER
    ver = subprocess.run(["modinfo", "-F", "version", str(dkms_module)],
                         stdout=subprocess.PIPE, text=True).stdout.strip()
    with open(os.path.join(TOP, "kmod", "main.c")) as f:
        assert '#define BPROC_MODULE_VERSION "%s"' % ver in f.read()


# ---- the programs from the throwaway root, on this machine ----

class Notify:
    """The receiving end of sd_notify(3), as systemd holds it."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)

    def wait_for(self, what, timeout=15):
        self.sock.settimeout(timeout)
        got = []
        end = time.time() + timeout
        while time.time() < end:
            msg = self.sock.recv(4096).decode()
            got.append(msg)
            if what in msg.split("\n"):
                return got
        raise AssertionError("no %s in %r" % (what, got))

    def close(self):
        self.sock.close()


@pytest.fixture
def installed(root, tmp_path):
    """The package's example config made this test's: a key of its own
    (made by the package's bproc-keygen, as its postinst does), a free
    loopback address and ports, the state file in tmp_path."""
    etc = tmp_path / "etc"
    shutil.copytree(root / "etc/bproc", etc)
    subprocess.run([str(root / "usr/sbin/bproc-keygen"),
                    str(etc / "cluster.key")], check=True,
                   stdout=subprocess.DEVNULL)
    assert os.stat(etc / "cluster.key").st_mode & 0o777 == 0o600
    ip = "127.0.0.1"
    mport, nport = free_ports(ip, 2)
    text = (etc / "config").read_text()
    assert "master    127.0.0.1:2223\n" in text
    text = text.replace("master    127.0.0.1:2223",
                        "master    %s:%d\nnode master %s:%d" % (
                            ip, mport, ip, nport))
    text = text.replace("/var/lib/bproc/nodes", str(tmp_path / "nodes"))
    (etc / "config").write_text(text)
    mnt = tmp_path / "bproc"
    mnt.mkdir()
    procs = []

    def start(prog, *args, notify=None):
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        if notify:
            env["NOTIFY_SOCKET"] = notify.path
        p = subprocess.Popen([str(root / "usr/sbin" / prog), "-f",
                              "--config", str(etc / "config")] + list(args),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             env=env)
        procs.append(p)
        return p

    yield etc, mnt, start
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    subprocess.run(["umount", "-l", str(mnt)], stderr=subprocess.DEVNULL)


def wait_file(path, text, timeout=15):
    end = time.time() + timeout
    got = None
    while time.time() < end:
        try:
            with open(path) as f:
                got = f.read()
            if got == text:
                return
        except OSError as e:
            got = e
        time.sleep(0.05)
    raise AssertionError("%s: %r, not %r" % (path, got, text))


@pytest.mark.timeout(120)
def test_one_machine_cluster(installed, root, tmp_path):
    """The example config as installed: bprocfs says READY=1 once /bproc
    is mounted, the agent finds it is node master by its address, bpstat
    shows it; SIGTERM unmounts, says STOPPING=1 and exits 0."""
    etc, mnt, start = installed
    n_fs, n_agent = Notify(str(tmp_path / "n1")), Notify(str(tmp_path / "n2"))
    fs = start("bprocfs", str(mnt), notify=n_fs)
    n_fs.wait_for("READY=1")
    assert os.path.ismount(mnt)
    agent = start("bproc-nodeagent", notify=n_agent)
    n_agent.wait_for("READY=1")
    wait_file(mnt / "master/status", "up\n")
    r = subprocess.run([str(root / "usr/bin/bpstat")], stdout=subprocess.PIPE,
                       text=True, env=dict(os.environ, BPROC_MOUNT=str(mnt)))
    assert r.stdout.splitlines()[1].split()[:2] == ["master", "up"]
    # node permissions go to the state file of the config
    os.chmod(mnt / "master", 0o750)
    assert "master 0 0 0750" in (tmp_path / "nodes").read_text()
    fs.send_signal(signal.SIGTERM)
    n_fs.wait_for("STOPPING=1")
    assert fs.wait(10) == 0
    assert not os.path.ismount(mnt)
    agent.send_signal(signal.SIGTERM)
    n_agent.wait_for("STOPPING=1")
    assert agent.wait(10) == 0


@pytest.mark.timeout(120)
def test_agent_without_node_refuses_to_guess(installed, root, tmp_path):
    etc, mnt, start = installed
    text = (etc / "config").read_text() + "node 4 127.0.0.1:%d\n" % (
        free_ports("127.0.0.1", 1)[0])
    (etc / "config").write_text(text)
    agent = start("bproc-nodeagent")
    out = agent.communicate(timeout=10)[0].decode()
    assert agent.returncode == 1
    assert "this machine has the addresses of master and node4: say " \
        "which with --node" in out


@pytest.mark.timeout(120)
def test_restart_over_a_dead_mount(installed, tmp_path):
    """bprocfs killed with -9 leaves readers with ENOTCONN; started again
    (as Restart= does) it mounts over it, and the agent joins it again."""
    etc, mnt, start = installed
    fs = start("bprocfs", str(mnt))
    agent = start("bproc-nodeagent", "--node", "master")
    wait_file(mnt / "master/status", "up\n")
    fs.kill()
    fs.wait()
    with pytest.raises(OSError) as e:
        os.stat(mnt / "status")
    assert e.value.errno == errno.ENOTCONN
    n = Notify(str(tmp_path / "n"))
    fs = start("bprocfs", str(mnt), notify=n)
    n.wait_for("READY=1")
    wait_file(mnt / "master/status", "up\n", timeout=30)
    fs.send_signal(signal.SIGTERM)
    assert fs.wait(10) == 0
    out = fs.stdout.read().decode()
    assert "a dead bprocfs's mount was detached" in out, out
    assert agent.poll() is None  # it waited for the master, as it should


@pytest.mark.timeout(120)
def test_fstab_mount(installed, root, tmp_path):
    """An fstab line `CONFIG /bproc fuse.bprocfs defaults 0 0`: mount(8)
    runs mount.fuse3, which runs bprocfs CONFIG MOUNTPOINT -o ...; umount
    stops it. In a mount namespace of its own, where the package's sbin is
    where mount.fuse3 looks for programs (/usr/local/sbin)."""
    etc, mnt, start = installed
    script = tmp_path / "fstab.sh"
    script.write_text("""set -e
mount --bind %(sbin)s /usr/local/sbin
mount -t fuse.bprocfs -o defaults %(cfg)s %(mnt)s
grep " %(mnt)s " /proc/mounts
for i in $(seq 100); do [ -e %(mnt)s/master/status ] && break; sleep 0.1; done
cat %(mnt)s/master/status
pid=$(pgrep -f "bprocfs %(cfg)s")
umount %(mnt)s
for i in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && echo "bprocfs still running" || echo gone
""" % {"sbin": root / "usr/sbin", "cfg": etc / "config", "mnt": mnt})
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh",
                        str(script)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    assert r.returncode == 0, r.stdout
    lines = r.stdout.splitlines()
    assert lines[0].split()[2] == "fuse.bproc", r.stdout
    assert lines[1:] == ["down", "gone"], r.stdout


@pytest.mark.timeout(120)
def test_permissions_persist_by_default(installed, root, tmp_path):
    """A config without a state line keeps node permissions in
    /var/lib/bproc/nodes (here a tmpfs over /var/lib in a mount namespace
    of its own): a chmod survives a restart of bprocfs."""
    etc, mnt, start = installed
    text = (etc / "config").read_text()
    text = "\n".join(l for l in text.splitlines()
                     if not l.startswith("state")) + "\n"
    (etc / "config").write_text(text)
    script = tmp_path / "state.sh"
    script.write_text("""set -e
mount -t tmpfs none /var/lib
mkdir /var/lib/bproc
up() {
	%(fs)s -f --config %(cfg)s %(mnt)s 2> %(log)s &
	for i in $(seq 100); do [ -e %(mnt)s/master ] && break; sleep 0.1; done
}
up
chmod 0711 %(mnt)s/master
cat /var/lib/bproc/nodes
kill $!; wait $! || true
up
stat -c %%a %(mnt)s/master
kill $!; wait $! || true
""" % {"fs": root / "usr/sbin/bprocfs", "cfg": etc / "config", "mnt": mnt,
       "log": tmp_path / "fs.log"})
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh",
                        str(script)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + (tmp_path / "fs.log").read_text()
    lines = r.stdout.splitlines()
    assert "master 0 0 0711" in lines, r.stdout
    assert lines[-1] == "711", r.stdout


# ---- installed on a virtual cluster ----

@pytest.mark.timeout(1500)
def test_installed_cluster_moves(root, dkms_module, tmp_path):
    """The packages' files on a front end and a node (the DKMS-built module
    where `dkms install` puts it), modules-load.d and the units' ExecStart
    as systemd would run them, then a move there and back, bpsh, a stop."""
    pkg = tmp_path / "pkgroot"
    shutil.copytree(root, pkg, symlinks=True)
    dest = pkg / "lib/modules" / KVER / "updates/dkms"
    dest.mkdir(parents=True)
    shutil.copy(dkms_module, dest / "bproc.ko")
    r = run_in_cluster(os.path.join(TOP, "tests", "vm", "package_cases.sh"),
                       nodes=1, add=[str(pkg), os.path.join(TOP, "tests",
                                                            "vm")],
                       timeout=900)
    results = case_results(r.output)
    for case in ("install-start", "packaged-programs", "move", "bpsh",
                 "stop"):
        assert case in results, r.output[-4000:]
        assert results[case][0], "%s:\n%s" % (case, results[case][1])
    assert r.returncode == 0, r.output[-3000:]
