"""`xpgrad train --compile` split by --max-steps and resumed ends with the uninterrupted run's
weights and optimizer state bit for bit on numba too, whose traced step sums a ReLU layer's
bias gradient otherwise than its replay (training/compiled_step.py)."""
import numpy as np
import pytest

from resumed_runs import assert_resumed_equals_whole

pytestmark = pytest.mark.usefixtures("numpy_default")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_compiled_run_split_and_resumed_equals_the_uninterrupted_one(backend, tmp_path):
    if backend == "numba":
        pytest.importorskip("numba")
    run = ["train", "-q", "--no-log", "--progress", "never", "--backend", backend,
           "--model", "mlp", "--hidden", "16", "--batch-size", "256", "--epochs", "3",
           "--compile"]
    # stopped after step 7: step 8, the first after resuming, replayed in the uninterrupted
    # run; the resumed run traces at its step 9 and at its first batch of the last size
    # (157 rows, step 12)
    assert_resumed_equals_whole(run, tmp_path, stop_after=7)


def test_the_tracing_call_is_followed_by_its_replay_with_the_random_state_put_back():
    import xpgrad as xg
    from xpgrad.training.compiled_step import replayed_after_tracing

    dropout = xg.nn.Dropout(0.5, rng=3)
    calls = []

    def draw(x):
        calls.append(1)
        return dropout(x)

    step = replayed_after_tracing(xg.function(draw), dropout)
    x = xg.ones((4, 8))
    eager = xg.nn.Dropout(0.5, rng=3)
    expected = [eager(x).numpy() for _ in range(4)]
    got = [step(x).numpy() for _ in range(4)]
    assert all(np.array_equal(e, g) for e, g in zip(expected, got))
    assert len(calls) == 2          # the eager call and the trace run the Python function
