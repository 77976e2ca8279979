"""The measure of the reference-cycle tests (tests/gc_counts.py) finds the cycles the calls
make, counts nothing for calls that make none, and leaves the collector as it found it."""
import gc

from gc_counts import cyclic_garbage


def _a_list_holding_itself():
    a = []
    a.append(a)


def test_each_call_s_cycle_is_counted():
    assert cyclic_garbage(_a_list_holding_itself, repeat=4) == 4
    pair = cyclic_garbage(lambda: (lambda d: d.setdefault("e", {"d": d}))({}), repeat=3)
    assert pair == 6 and pair.types == [("dict", 6)]


def test_a_cycle_through_an_object_that_stays_alive_is_counted():
    alive = object()
    assert cyclic_garbage(lambda: (lambda d: d.update(me=d, alive=alive))({}), repeat=2) == 2


def test_calls_without_cycles_count_zero_even_with_older_garbage_around():
    for _ in range(3):
        _a_list_holding_itself()               # garbage made before the measure, not by it
    assert repr(cyclic_garbage(lambda: [[1], {"a": 2}], repeat=5)) == "0"


def test_the_collector_is_left_on_and_frozen_as_it_was():
    # the suite's collection (collection_gc.py); a frozen object can still be freed by its count
    frozen = gc.get_freeze_count()
    cyclic_garbage(_a_list_holding_itself)
    assert gc.isenabled() and gc.get_debug() == 0
    assert (gc.get_freeze_count() > 0) == (frozen > 0) and gc.get_freeze_count() <= frozen


def test_nothing_frozen_is_thawed_and_the_counts_hold_without_a_freeze():
    frozen_by_the_run = gc.get_freeze_count()
    gc.freeze()                                  # what a process had frozen before the measure
    frozen = gc.get_freeze_count()
    try:
        assert cyclic_garbage(_a_list_holding_itself, repeat=3) == 3
        assert 0 < gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()
    try:
        assert cyclic_garbage(_a_list_holding_itself, repeat=3) == 3   # nothing frozen: freezes
        assert gc.get_freeze_count() == 0
    finally:
        if frozen_by_the_run:
            gc.freeze()                          # as the run had it (collection_gc.py)


def test_xpgrad_freezes_nothing():
    """A run of the library leaves the collector's frozen set alone: the measure above, and
    any user's own ``gc.freeze``, rely on it."""
    import xpgrad as xg

    frozen = gc.get_freeze_count()
    x = xg.Variable([1.0, 2.0])
    step = xg.function(lambda: xg.sum(x * x))
    for _ in range(3):
        with xg.GradientTape() as tape:
            y = xg.sum(x * x)
        tape.gradient(y, [x])
        step()
    assert gc.get_freeze_count() <= frozen and gc.isenabled()   # frozen objects may be freed


def test_a_round_that_counts_nothing_ends_the_measure_and_one_that_counts_is_retried():
    calls = []

    def clean():
        calls.append(1)

    assert cyclic_garbage(clean, repeat=3, warmups=1, trials=2) == 0 and len(calls) == 1 + 3
    calls.clear()

    def cyclic():
        calls.append(1)
        _a_list_holding_itself()

    assert cyclic_garbage(cyclic, repeat=3, warmups=1, trials=2) == 3 and len(calls) == 1 + 2 * 3
