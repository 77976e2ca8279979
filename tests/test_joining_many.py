"""concat and stack of many tensors: one joint rule slices every input's gradient in one pass
(a rule per input took each one all the inputs, quadratic in their number) and saves no
input; gradients against NumPy's, with inputs that need none among them, to second order."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("join, axis", [("concat", 0), ("concat", 1), ("stack", 0),
                                        ("stack", 2)])
def test_gradients_of_many_pieces_some_constant(backend, join, axis):
    rng = np.random.default_rng(0)
    values = [rng.standard_normal((2, 1 + i % 3)) if join == "concat" and axis == 1
              else rng.standard_normal((2, 3)) for i in range(60)]
    pieces = [xg.asarray(v, backend=backend) for v in values]
    watched = pieces[::3]                       # the others are constants of the join
    with xg.GradientTape() as tape:
        for p in watched:
            tape.watch(p)
        joined = getattr(xg, join)(pieces, axis=axis)
        loss = xg.sum(joined ** 2 * xg.arange(joined.shape[-1], dtype=xg.float64,
                                              backend=backend))
    grads = tape.gradient(loss, watched)
    big = getattr(np, "concatenate" if join == "concat" else "stack")(values, axis=axis)
    dbig = 2 * big * np.arange(big.shape[-1])
    offsets = np.cumsum([0] + [v.shape[axis] for v in values]) if join == "concat" else None
    for k, g in zip(range(0, 60, 3), grads):
        if join == "concat":
            want = np.take(dbig, np.arange(offsets[k], offsets[k + 1]), axis=axis)
        else:
            want = np.take(dbig, k, axis=axis)
        np.testing.assert_allclose(g.numpy(), want, rtol=1e-13)


def test_second_order_through_concat_and_stack():
    rng = np.random.default_rng(1)
    a, b = (xg.asarray(rng.standard_normal((3, 2))) for _ in range(2))
    check_grads(lambda x, y: xg.sum(xg.concat([x, y, x], axis=1) ** 3), [a, b], order=2)
    check_grads(lambda x, y: xg.sum(xg.stack([y, x * y, x], axis=1) ** 3), [a, b], order=2)
