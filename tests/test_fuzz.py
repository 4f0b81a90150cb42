"""The fuzz targets (fuzz/) in short runs: each runs for FUZZ_SECONDS (20)
from its seed corpus with ASan, UBSan and leak checks, and must end with no
crash, leak, hang or broken invariant, having run its target many times.
Long runs: bench/fuzz (docs/benchmarks.md, Fuzzing)."""

import os
import re
import subprocess

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = ["fuzz_frame", "fuzz_config", "fuzz_image", "fuzz_procmsg"]
SECONDS = int(os.environ.get("FUZZ_SECONDS", "20"))
# Far below what each target does in that time on a slow machine, far
# above what a target that dies or hangs early would get to.
MIN_EXECS = {"fuzz_frame": 2000, "fuzz_config": 10000,
             "fuzz_image": 10000, "fuzz_procmsg": 100000}


@pytest.fixture(scope="module")
def fuzz_built():
    subprocess.run(["make", "-s", "-C", os.path.join(TOP, "fuzz")],
                   check=True)


@pytest.mark.timeout(SECONDS + 120)
@pytest.mark.parametrize("target", TARGETS)
def test_short_run(fuzz_built, target, tmp_path):
    r = subprocess.run([os.path.join(TOP, "bench", "fuzz"), "--time",
                        str(SECONDS), "--out", str(tmp_path), target],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    log = tmp_path / (target + ".log")
    detail = r.stdout + (log.read_text()[-4000:] if log.exists() else "")
    assert r.returncode == 0, detail
    line = [l for l in r.stdout.splitlines() if l.startswith(target)]
    assert len(line) == 1, r.stdout
    name, secs, execs, rate, corpus, result = line[0].split(None, 5)
    assert result == "ok", detail
    assert int(execs) >= MIN_EXECS[target], detail
    # the run grew a corpus beyond the seeds: the target is reachable
    seeds = len(os.listdir(os.path.join(TOP, "fuzz", "corpus", target)))
    assert int(corpus) > seeds, detail
    assert not [f for f in os.listdir(tmp_path)
                if re.match(target + r"-(crash|leak|timeout|oom)-", f)]


def test_seeds_follow_the_encoders(fuzz_built, tmp_path):
    """The procmsg and frame seeds in the tree are what seedgen makes from
    the real encoders today: a protocol change must come with new seeds
    (make -C fuzz seeds)."""
    subprocess.run(["make", "-s", "-C", os.path.join(TOP, "fuzz"),
                    "seedgen"], check=True)
    subprocess.run([os.path.join(TOP, "fuzz", "seedgen"), str(tmp_path)],
                   check=True)
    for target in ("fuzz_procmsg", "fuzz_frame"):
        made = sorted(os.listdir(tmp_path / target))
        tree = os.path.join(TOP, "fuzz", "corpus", target)
        assert made == sorted(os.listdir(tree))
        for f in made:
            with open(os.path.join(tree, f), "rb") as a:
                assert (tmp_path / target / f).read_bytes() == a.read(), f
