"""Run a small Python snippet as another user (uid 65534 by default), for
the permission tests; returns its stdout."""

import os
import subprocess

NOBODY = 65534


def as_user(code, uid=NOBODY, gid=NOBODY, groups=(), timeout=20):
    def drop():
        os.setgroups(list(groups))
        os.setgid(gid)
        os.setuid(uid)

    r = subprocess.run(["/usr/bin/python3", "-c", code], preexec_fn=drop,
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def write_errno_code(path, what):
    """Code that writes `what` (a str; "$$" means its own pid) to path and
    prints the errno, or 0."""
    return (
        "import os\n"
        "data = %r.replace('$$', str(os.getpid())).encode()\n"
        "try:\n"
        "    fd = os.open(%r, os.O_WRONLY)\n"
        "    os.write(fd, data)\n"
        "    print(0)\n"
        "except OSError as e:\n"
        "    print(e.errno)\n" % (what, path))
