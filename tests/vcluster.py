"""Run a script on the virtual cluster (tools/vcluster) from a test.

    from vcluster import run_in_cluster
    rc, out = run_in_cluster("vcrun 1 hostname", nodes=1)

The script runs on the front end as root, cwd /extra, with vcrun, vccp,
vcpoweroff and the project's programs on PATH (see tools/vcluster --help).
VCLUSTER_ARGS in the environment adds options to every run (for example
"-v --keep-logs /tmp/logs" when debugging a test).
"""

import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VCLUSTER = os.path.join(TOP, "tools", "vcluster")

# Time on top of the in-cluster timeout for building bproc.ko and the
# initramfs before the clock of --timeout starts to matter.
BUILD_ALLOWANCE = 300

# vcluster's own exit statuses, apart from the script's.
TIMED_OUT = 124
NOT_UP = 125


class ClusterRun(tuple):
    """(returncode, output) of one run; .log holds vcluster's stderr (why the
    cluster did not come up, boot timings with -v)."""

    def __new__(cls, returncode, output, log):
        self = super().__new__(cls, (returncode, output))
        self.returncode = returncode
        self.output = output
        self.log = log
        return self


def extra_args():
    return shlex.split(os.environ.get("VCLUSTER_ARGS", ""))


def run_in_cluster(script, nodes=1, add=(), mem=None, timeout=600,
                   args=()):
    """Boot a front end and `nodes` nodes, run `script` on the front end and
    tear the cluster down.

    script: the text of a shell script, or the path of an existing file.
    add: files or directories copied to /extra/<basename> on every VM.
    mem: MB per VM (vcluster's default when None).
    timeout: seconds for the whole run, boot included; the run then ends
    with returncode 124 (TIMED_OUT). args: more vcluster options.

    Returns ClusterRun (returncode, output): the script's exit status and its
    stdout and stderr together, as text. vcluster's own diagnostics go to
    this process's stderr (pytest shows them with a failing test) and to
    .log. returncode 125 (NOT_UP) means the cluster did not come up."""
    with tempfile.TemporaryDirectory(prefix="vcluster-test-") as tmp:
        if "\n" not in script and os.path.isfile(script):
            path = os.path.abspath(script)
        else:
            path = os.path.join(tmp, "script")
            with open(path, "w") as f:
                f.write(script)
        cmd = [VCLUSTER, "--nodes", str(nodes), "--run", path,
               "--timeout", str(int(timeout))]
        for a in add:
            cmd += ["--add", a]
        if mem is not None:
            cmd += ["--mem", str(mem)]
        cmd += list(args) + extra_args()
        # Own session, so that a hung run is killed whole, qemu included.
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=TOP,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout + BUILD_ALLOWANCE)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            err += b"\nvcluster: killed by tests/vcluster.py after %ds\n" % (
                timeout + BUILD_ALLOWANCE)
            proc.returncode = TIMED_OUT
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    log = err.decode(errors="replace")
    sys.stderr.write(log)
    return ClusterRun(proc.returncode, out.decode(errors="replace"), log)


def sections(output):
    """Split output made of `== NAME` header lines into {NAME: text}, so one
    cluster boot can serve several tests."""
    parts, name, lines = {}, None, []
    for line in output.splitlines():
        if line.startswith("== "):
            if name is not None:
                parts[name] = "\n".join(lines)
            name, lines = line[3:].strip(), []
        elif name is not None:
            lines.append(line)
    if name is not None:
        parts[name] = "\n".join(lines)
    return parts


def case_results(output, tail=40):
    """{case: (passed, details)} from the output of a script that prints one
    line "CASE <name> PASS|FAIL" per case, after its details (of which the
    last `tail` lines are kept)."""
    results, details = {}, []
    for line in output.splitlines():
        m = re.match(r"^CASE (\S+) (PASS|FAIL)$", line)
        if m:
            results.setdefault(m.group(1), (m.group(2) == "PASS",
                                            "\n".join(details[-tail:])))
            details = []
        else:
            details.append(line)
    return results
