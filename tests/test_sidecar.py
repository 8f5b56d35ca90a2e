"""The second interpreter a release uses for its second core (asi_lib.sidecar).

It may only ever speed things up: every way it can fail still gives the
caller the right result, computed in the caller's process, and a release
built with it is the same as one built without it.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from asi_lib import release as R
from asi_lib.datasets import read_dataset
from asi_lib.sidecar import Sidecar

HERE = str(Path(__file__).parent)


@pytest.fixture
def side(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", HERE)   # the child imports sidecar_work from this folder
    import sidecar_work  # noqa: F401 - importable here too (pytest puts this folder on sys.path)
    with Sidecar() as s:
        yield s


def test_the_call_runs_in_another_process(side):
    import sidecar_work

    job = side.submit(sidecar_work.pid)
    assert job.result() != os.getpid() and job.remote


def test_calls_run_in_the_order_sent(side):
    import math

    jobs = [side.submit(math.comb, 20, k) for k in range(5)]
    assert [j.result() for j in jobs] == [math.comb(20, k) for k in range(5)]
    assert all(j.remote for j in jobs)


def test_a_child_that_dies_mid_call_gives_the_result_computed_here(side):
    import sidecar_work

    job = side.submit(sidecar_work.die_unless, os.getpid())
    assert job.result() == "computed in the parent" and not job.remote
    assert "EOFError" in job.error and side.errors == [job.error] and side.calls == 0
    # later calls are computed here at once, not sent to a dead child
    later = side.submit(sidecar_work.pid)
    assert later.result() == os.getpid()


def test_why_a_child_died_is_in_the_error_not_on_the_callers_screen(side, capfd):
    import sidecar_work

    job = side.submit(sidecar_work.die_saying, os.getpid(), "MemoryError: the child ran out")
    assert job.result() == "computed in the parent"
    assert job.error.endswith("(MemoryError: the child ran out)")
    assert "ran out" not in capfd.readouterr().err


def test_an_error_in_the_child_is_computed_again_here(side):
    import sidecar_work

    job = side.submit(sidecar_work.fail_in_child, os.getpid())
    assert job.result() == "computed in the parent" and "only the child fails" in job.error
    # the child is still usable after a call that raised
    assert side.submit(sidecar_work.pid).result() != os.getpid()


def test_an_argument_that_cannot_be_sent_is_computed_here(side):
    job = side.submit(lambda x: x + 1, 41)   # a lambda cannot be pickled
    assert job.result() == 42 and not job.remote


def test_warnings_of_the_child_are_raised_here(side):
    import sidecar_work

    job = side.submit(sidecar_work.warn_and_return, 7)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert job.result() == 7
    assert job.remote and [str(w.message) for w in caught] == ["a warning from the work"]


def test_a_disabled_sidecar_computes_here():
    import math

    job = Sidecar(enabled=False).submit(math.comb, 6, 2)
    assert job.result() == 15 and not job.remote


def test_close_does_not_wait_for_a_call_nobody_asks_for(side):
    import time

    side.submit(time.sleep, 60)
    t0 = time.perf_counter()
    side.close()
    assert time.perf_counter() - t0 < 5


def test_a_release_on_two_cores_is_the_release_on_one():
    ds = read_dataset("demo", n_clients=600)
    one, two = R.build_release(ds, parallel=False), R.build_release(ds, parallel=True)
    assert one.published.keys() == two.published.keys()
    n = 0
    for unit, tables in one.published.items():
        assert tables.keys() == two.published[unit].keys()
        for title, frame in tables.items():
            other = two.published[unit][title]
            pd_equal = frame.equals(other) and list(frame.dtypes) == list(other.dtypes)
            assert pd_equal and frame.attrs == other.attrs, (unit, title)
            n += 1
    assert n > 100
    assert two.manifest["second_process"] == {"used": True, "calls": 1, "errors": []}
    assert one.manifest["second_process"] == {"used": False, "calls": 0, "errors": []}
