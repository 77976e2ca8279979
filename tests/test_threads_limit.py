"""``xpgrad.threads.limit``: Numba imported after a limit (by the Numba backend) gets the
limits then in force, and limits restored in any order leave every pool at the newest limit
still in force, or at its count from before the first."""
import os
import subprocess
import sys
import textwrap

import pytest
from threadpoolctl import threadpool_info

from xpgrad import threads
from xpgrad.threads import limit


def _blas_threads():
    return sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})


@pytest.fixture
def blas():
    before, active = _blas_threads(), list(threads._active)
    if not before:
        pytest.skip("no BLAS that threadpoolctl sees")
    yield before
    assert threads._active == active, "a test left a limit in force"
    assert _blas_threads() == before


def test_out_of_order_restores_leave_blas_at_the_count_before_both(blas):
    outer = limit(3, numba=False, torch=False)
    inner = limit(2, numba=False, torch=False)
    try:
        assert _blas_threads() == [2]
        outer.restore()                  # inner still holds
        assert _blas_threads() == [2]
    finally:
        inner.restore()
        outer.restore()
    assert _blas_threads() == blas       # not outer's 3, nor the count before inner


def test_nested_restores_in_order_step_back_one_limit_at_a_time(blas):
    with limit(3, numba=False, torch=False):
        with limit(2, numba=False, torch=False) as inner:
            assert _blas_threads() == [2]
            inner.restore()              # twice: the second does nothing
        assert _blas_threads() == [3]
    assert _blas_threads() == blas


def test_three_limits_middle_then_newest_then_oldest(blas):
    a, b, c = (limit(n, numba=False, torch=False) for n in (4, 3, 2))
    try:
        b.restore()
        assert _blas_threads() == [2]
        c.restore()
        assert _blas_threads() == [4]    # a is the newest still in force
    finally:
        c.restore()
        a.restore()
    assert _blas_threads() == blas


def _numba_script(body):
    pytest.importorskip("numba")
    env = {**os.environ, "NUMBA_NUM_THREADS": "3"}
    code = textwrap.dedent("""\
        import sys
        from xpgrad.threads import limit
        import xpgrad as xg
        assert "numba" not in sys.modules
        def load():
            xg.get_backend("numba")
            import numba
            return numba
        """) + textwrap.dedent(body)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_numba_imported_after_a_limit_takes_it_and_restore_gives_its_count_back():
    out = _numba_script("""\
        lim = limit(1)
        numba = load()
        print(numba.get_num_threads(), lim.numba)
        lim.restore()
        print(numba.get_num_threads())
        """)
    assert out.split() == ["1", "1", "3"]


@pytest.mark.parametrize("order", ["newest first", "oldest first"])
def test_numba_takes_the_newest_of_nested_limits_made_before_it(order):
    out = _numba_script(f"""\
        outer, inner = limit(2), limit(1)
        numba = load()
        print(numba.get_num_threads(), outer.numba, inner.numba)
        first, second = (inner, outer) if {order!r} == "newest first" else (outer, inner)
        first.restore()
        print(numba.get_num_threads())
        second.restore()
        print(numba.get_num_threads())
        """)
    assert out.split() == ["1", "2", "1", "2" if order == "newest first" else "1", "3"]



@pytest.mark.parametrize("torch_first", [False, True], ids=["alone", "torch imported"])
def test_a_limit_made_after_the_numba_backend_loaded_limits_numba(torch_first):
    """xg.set_backend("numba") then limit(1): Numba stayed at NUMBA_NUM_THREADS (numba=None),
    found measuring an eager Numba GRU step beside PyTorch's."""
    if torch_first:
        pytest.importorskip("torch")
    out = _numba_script(f"""\
        if {torch_first}:
            import torch
        numba = load()
        lim = limit(1)
        print(numba.get_num_threads(), lim.numba)
        lim.restore()
        print(numba.get_num_threads())
        """)
    assert out.split() == ["1", "1", "3"]

def test_a_limit_that_imports_numba_applies_older_waiting_limits_first():
    out = _numba_script("""\
        outer = limit(2)
        inner = limit(1, numba=True)        # imports Numba itself
        import numba
        print(numba.get_num_threads(), outer.numba)
        inner.restore()
        print(numba.get_num_threads())
        outer.restore()
        print(numba.get_num_threads())
        """)
    assert out.split() == ["1", "2", "2", "3"]


def test_a_limit_and_its_restore_leave_no_reference_cycle(blas):
    """threadpoolctl's libraries hold their controller (``parent``): one cycle per limit,
    so per ``xpgrad train`` run, until the controller lets go of them on restore."""
    from gc_counts import cyclic_garbage

    assert cyclic_garbage(lambda: limit(2, numba=False, torch=False).restore()) == 0
    assert cyclic_garbage(lambda: threads.match_blas_threads("scipy")) == 0
    with limit(1, numba=False, torch=False) as one:
        assert one.blas == 1 and _blas_threads() == [1]
    assert _blas_threads() == blas
