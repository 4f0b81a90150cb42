"""Faults in a virtual cluster while processes move or are away: a node's
link dropped and restored in the middle of a move (shorter and longer than
the timeout), the destination running out of memory while it restores, a
slow reader on the front end of a fast writer on a node, and the master's
bprocfs killed with -9 and started again while processes are away. For each, what the user sees and that no process is lost
or duplicated (tests/vm/fault_cases.sh says how). One boot of a front end
and two nodes runs every case; each is reported here as its own test.
"""

import os
import subprocess

import pytest

from vcluster import case_results

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VCLUSTER_TIMEOUT = 1200

CASES = ["link-flap-short", "link-flap-long", "dest-oom-restoring",
         "slow-reader", "master-restart"]


@pytest.fixture(scope="module")
def fault_run():
    for part in ("ckpt", "tests/victims"):  # vcluster builds kmod/ itself
        subprocess.run(["make", "-s", "-C", os.path.join(TOP, part)],
                       check=True, timeout=600)
    proc = subprocess.run(
        [os.path.join(TOP, "tools", "vcluster"), "--nodes", "2",
         "--mem", "512", "--timeout", str(VCLUSTER_TIMEOUT - 100),
         "--add", os.path.join(TOP, "tests", "victims"),
         "--add", os.path.join(TOP, "tests", "vm"),
         "--run", os.path.join(TOP, "tests", "vm", "fault_cases.sh")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=VCLUSTER_TIMEOUT + 300, check=False)
    return case_results(proc.stdout, tail=60), proc


@pytest.mark.timeout(VCLUSTER_TIMEOUT + 600)
@pytest.mark.parametrize("case", CASES)
def test_fault_case(fault_run, case):
    results, proc = fault_run
    if case not in results:
        pytest.fail("case %s did not run (vcluster exit %d):\n%s"
                    % (case, proc.returncode, proc.stdout[-3000:]))
    ok, details = results[case]
    assert ok, details
