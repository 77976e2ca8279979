"""What tests/mpi_worker_user_scripts.py and its scenarios share: the global batch, each rank's
share of it, a small float64 MLP, and the checks."""
import numpy as np

import xpgrad as xg
from xpgrad import distributed as dist

#: the global batch: uneven shares on 2 and 3 ranks
BATCH = 7


def ok(what):
    print(f"rank {dist.rank()} ok: {what}", flush=True)


def data(batch=BATCH, shape=(3,), out=(2,), seed=0):
    """The global batch (x, y), the same on every rank."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, *shape)), rng.normal(size=(batch, *out))


def share(array):
    """This rank's contiguous share of ``array`` (its first axis)."""
    bounds = np.linspace(0, len(array), dist.size() + 1).astype(int)
    return array[bounds[dist.rank()]:bounds[dist.rank() + 1]]


def mlp(seed=0):
    return xg.nn.MLP([3, 5, 2], rng=seed, dtype=xg.float64)


def assert_same(reference, model, what, rtol=1e-10):
    for (name, want), got in zip(reference.named_variables().items(), model.variables):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=rtol, atol=1e-13,
                                   err_msg=f"{what}: {name}")


def mse_step(model, x, y):
    """A tape holding the mean squared error of ``model`` on (x, y); None loss for no rows."""
    with xg.GradientTape() as tape:
        loss = xg.losses.mse(model(xg.asarray(x)), xg.asarray(y)) if len(x) else None
    return tape, loss


def expect_error(action, error, words):
    """``action()`` must raise ``error`` with ``words`` in its message (on every rank alike,
    so the ranks stay in step)."""
    try:
        action()
    except error as e:
        assert words in str(e), (words, str(e))
    else:
        raise AssertionError(f"no {error.__name__} ({words})")
