"""Shared fixtures of the host tests: builds the sanitizer variants of the
daemons once, and gives each test a running cluster that it stops at the
end, failing the test if a daemon did not exit 0 or logged an error."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from helpers import cluster as cl  # noqa: E402


@pytest.fixture(scope="session")
def built():
    cl.build(asan=True)
    return True


@pytest.fixture
def make_cluster(built):
    """Factory: make_cluster(nodes=..., heartbeat=..., ...) -> started
    Cluster (pass start=False to start it yourself)."""
    made = []

    def make(start=True, **kw):
        c = cl.Cluster(**kw)
        made.append(c)
        if start:
            c.start()
        return c

    yield make
    problems = []
    for c in made:
        problems += c.stop()
    if problems:
        pytest.fail("daemon problems:\n" + "\n".join(problems))


@pytest.fixture
def cluster(make_cluster):
    """Master agent plus nodes 0, 1, 2, all up."""
    return make_cluster()
