"""Moving processes in a virtual cluster, from the outside as a user would:
`echo PID > /bproc/nodeN/move`, kill, wait, pipes, bpsh, the errnos of the
contract, failures in the middle of a move and a node powered off.

One boot of a front end and two nodes runs every case of
tests/vm/move_cases.sh; each is reported here as its own test. Run alone
with
  /usr/bin/python3 -m pytest -v tests/test_cluster_moves.py
"""

import os
import subprocess

import pytest

from vcluster import case_results

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VCLUSTER_TIMEOUT = 1500

CASES = ["roundtrip", "exit-abort", "signals", "kill-on-node", "jobcontrol",
         "stopped-move", "terminal-stopped", "threads-move", "threads-killed",
         "threads-born", "omp-move",
         "fds-move", "terminal", "pipeline",
         "self-move", "bpsh", "copies", "tree", "getppid", "stdin", "getpid-creds", "files",
         "files-missing", "send-auto", "send-path-refused", "send-whole",
         "send-libs", "send-ckpt", "streams-files", "streams-2to1", "streams-stdin",
         "streams-null-closed", "streams-sockets", "born-tree", "born-many",
         "born-quick", "born-late", "born-move", "born-pgrp",
         "ghost-names", "streams-end",
         "procfiles", "metrics-events", "concurrent", "children-refused",
         "errnos", "reads-never-wait", "dest-refuses-cwd", "dest-oom",
         "front-agent-stopped", "agent-killed", "poweroff"]


@pytest.fixture(scope="module")
def move_run():
    """Build, boot the cluster once, run all cases; {case: (ok, details)}."""
    for part in ("ckpt", "tests/victims"):  # vcluster builds kmod/ itself
        subprocess.run(["make", "-s", "-C", os.path.join(TOP, part)],
                       check=True, timeout=600)
    proc = subprocess.run(
        [os.path.join(TOP, "tools", "vcluster"), "--nodes", "2",
         "--mem", "768", "--timeout", str(VCLUSTER_TIMEOUT - 100),
         "--add", os.path.join(TOP, "tests", "victims"),
         "--add", os.path.join(TOP, "tests", "vm"),
         "--run", os.path.join(TOP, "tests", "vm", "move_cases.sh")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=VCLUSTER_TIMEOUT + 300, check=False)
    return case_results(proc.stdout, tail=60), proc


@pytest.mark.timeout(VCLUSTER_TIMEOUT + 600)
@pytest.mark.parametrize("case", CASES)
def test_move_case(move_run, case):
    results, proc = move_run
    if case not in results:
        pytest.fail("case %s did not run (vcluster exit %d):\n%s"
                    % (case, proc.returncode, proc.stdout[-3000:]))
    ok, details = results[case]
    assert ok, details


@pytest.mark.timeout(VCLUSTER_TIMEOUT + 600)
def test_move_script_status(move_run):
    """The script's own status: 0 when every case passed."""
    results, proc = move_run
    failed = [c for c, (ok, _) in results.items() if not ok]
    assert proc.returncode == 0, "failed: %s" % failed
