"""The migration engine (bproc.ko) and bproc-ckpt, in a virtual cluster.

One boot of a front end and one node runs every case of
tests/vm/engine_cases.sh (victims of tests/victims dumped and restored in
the same VM and across VMs, refusals, malformed images, the kernel log);
each case is reported here as its own test. Run alone with
  /usr/bin/python3 -m pytest -v tests/test_engine.py
"""

import os
import subprocess

import pytest

from vcluster import case_results

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VCLUSTER_TIMEOUT = 1500

LOCAL = ["mem-pause", "mem-busy", "mem-nanosleep", "mem-read", "regs-pause",
         "regs-busy", "regs-nanosleep", "sigstate-pause", "filemap-pause",
         "vdso-pause", "tls-pause", "tls-nanosleep", "creds-pause",
         "shanon-pause", "shanon-busy", "fds-read", "bigmem-pause"]
CROSS = ["mem-pause", "regs-busy", "regs-nanosleep", "sigstate-pause",
         "filemap-pause", "vdso-pause", "tls-read", "creds-pause",
         "shanon-read", "fds-read"]
SPECIAL = ["local-mem-pause-content", "local-filemap-pause-content",
           "dump-and-continue", "stopped", "ptrace-stopped", "stream",
           "missing-file",
           "image-version-1", "image-version-2", "fds-imgdump",
           "dump-killed-gone", "agent-restore", "stream-agent",
           "dump-signalled",
           "agent-restore-bad", "exe-whole", "exe-deleted"]
GHOST = ["code", "signal", "close", "code-0", "code-255", "signal-kill",
         "signal-segv", "signal-abrt", "jobcontrol", "sigkill", "restore",
         "roundtrip", "restore-files", "restore-map", "threads",
         "restore-objects", "restore-objects-missing", "noimage"]
MOVE = ["async-ret", "async-fail", "async-cancel", "noimage-ghost",
        "noimage-resume", "noimage-ret", "noimage-threads"]
SPACE = ["space-events", "space-steer", "ghost-fork-root", "ghost-fork-user"]
THREADS = ["local-threads-pause", "cross-threads-pause", "criu-threads",
           "threads-tid-taken",
           "threads-dump-fails", "threads-stopped", "threads-stream",
           "refuse-threads-move"]
REFUSE = ["shm", "shanonfork", "socket", "pipe", "dev", "devmap", "inotify",
          "epollstdin", "fds-reasons", "fds-move", "shanon-move",
          "zeromap-move"]
MALFORMED = ["empty", "truncated-header", "truncated-vmas", "truncated-pages",
             "truncated-pages-early", "magic", "version", "no-sections",
             "many-sections", "huge-section", "vmas-size-short", "kernel-rip",
             "kernel-fsbase", "kernel-vma", "unaligned-vma",
             "overlapping-vmas", "bad-path", "bad-vma-kind", "kernel-pagemap",
             "pagemap-count", "pagemap-empty-run", "xstate-compacted",
             "xstate-features", "mxcsr", "sigkill-handler", "kernel-handler",
             "bad-section-type", "threads-none-waiting", "threads-count",
             "threads-xstate-size", "thread-rip", "thread-tid",
             "thread-pending", "threads-version-1", "fds-not-made",
             "fds-count", "fds-targets-count", "fds-bad-fd", "fds-stdio-fd",
             "fds-eventfd-count", "fds-kind", "fds-clock", "fds-timer-nsec",
             "fds-memfd-size", "fds-target-fd", "fds-version-2",
             "exefile-size", "exefile-path", "exefile-version-3", "fuzz"]

CASES = (["local-" + c for c in LOCAL] + ["cross-" + c for c in CROSS]
         + SPECIAL + ["ghost-" + c for c in GHOST]
         + ["move-" + c for c in MOVE] + SPACE + THREADS
         + ["refuse-" + c for c in REFUSE]
         + ["malformed-" + c for c in MALFORMED] + ["dmesg-clean"])


@pytest.fixture(scope="module")
def engine_run():
    """Build, boot the cluster once, run all cases; {case: (ok, details)}."""
    for part in ("ckpt", "tests/victims"):  # vcluster builds kmod/ itself
        subprocess.run(["make", "-s", "-C", os.path.join(TOP, part)],
                       check=True, timeout=600)
    proc = subprocess.run(
        [os.path.join(TOP, "tools", "vcluster"), "--nodes", "1",
         "--add", os.path.join(TOP, "tests", "victims"),
         "--add", os.path.join(TOP, "tests", "vm"),
         "--run", os.path.join(TOP, "tests", "vm", "engine_cases.sh")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=VCLUSTER_TIMEOUT, check=False)
    return case_results(proc.stdout, tail=40), proc


@pytest.mark.timeout(VCLUSTER_TIMEOUT + 600)
@pytest.mark.parametrize("case", CASES)
def test_engine_case(engine_run, case):
    results, proc = engine_run
    if case not in results:
        pytest.fail("case %s did not run (vcluster exit %d):\n%s"
                    % (case, proc.returncode, proc.stdout[-3000:]))
    ok, details = results[case]
    assert ok, details


@pytest.mark.timeout(VCLUSTER_TIMEOUT + 600)
def test_engine_script_status(engine_run):
    """The script's own status: 0 when every case passed."""
    results, proc = engine_run
    failed = [c for c, (ok, _) in results.items() if not ok]
    assert proc.returncode == 0, "failed: %s" % failed
