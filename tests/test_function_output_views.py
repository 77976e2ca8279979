"""A traced function returning a view of an argument or of a Variable (``return x[0]``, ``x.T``)
returns a view on every call -- eager, traced and replayed -- as ``torch.compile`` regenerates
an output view of an input (``xpgrad/jit/output_views.py``). Before, the traced call and the
replays returned a tensor of its own, which a write did not carry into ``x``."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xpgrad as xg

START = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def _eager_traced_replayed(f, make_args, check):
    """``check(result, args)`` on the eager call, the trace and two replays of ``f``."""
    function = xg.function(f)
    for _ in range(4):
        args = make_args()
        check(function(*args), args)
    assert function.trace_count == 1


VIEWS = {"x[0]": lambda x: x[0], "x.T": lambda x: x.T, "x.mT": lambda x: x.mT,
         "x[:, 1:][1]": lambda x: x[:, 1:][1], "x.data": lambda x: x.data,
         "x.swapaxes(0, 1)[::2]": lambda x: x.swapaxes(0, 1)[::2]}


@pytest.mark.parametrize("name", list(VIEWS))
def test_a_returned_view_writes_through_and_reads_its_argument_as_torchs(name):
    take = VIEWS[name]

    def check(view, args):
        (x,) = args
        tx = torch.tensor(START, dtype=torch.float64)
        tview = take(tx)
        assert view.base is not None and view.shape == tuple(tview.shape)
        view[...] = 10.0 * view + 1.0        # lands in x, as torch's write lands in tx
        tview[...] = 10.0 * tview + 1.0
        np.testing.assert_array_equal(x.numpy(), tx.numpy())
        x[0, 0] = -7.0                        # and the view sees a write into x
        tx[0, 0] = -7.0
        np.testing.assert_array_equal(view.numpy(), tview.numpy())

    _eager_traced_replayed(take, lambda: (xg.asarray(START, dtype=xg.float64),), check)


def test_views_inside_a_result_structure_and_of_later_arguments():
    def f(scale, pair, *, named):
        return {"row": pair[1][0], "made": pair[1] * scale}, named.T

    def check(result, args):
        scale, pair, named = args
        first, transposed = result
        first["row"] += 1.0
        transposed[0, 1] = 50.0
        first["made"][...] = 0.0              # computed in the function: no write into an arg
        assert pair[1].tolist() == [[2.0, 3.0, 4.0], [4.0, 5.0, 6.0]]
        assert named.tolist() == [[1.0, 2.0, 3.0], [50.0, 5.0, 6.0]]
        assert pair[0].tolist() == START and first["made"].base is None

    def make():
        return (xg.asarray(2.0, dtype=xg.float64),
                (xg.asarray(START, dtype=xg.float64), xg.asarray(START, dtype=xg.float64)),
                xg.asarray(START, dtype=xg.float64))

    function = xg.function(f)
    for _ in range(4):
        scale, pair, named = make()
        check(function(scale, pair, named=named), (scale, pair, named))
    assert function.trace_count == 1


def test_an_argument_that_is_a_view_gets_a_view_of_it():
    def check(view, args):
        (row,) = args
        view[0] = 9.0
        assert row.base.tolist() == [[1.0, 2.0, 3.0], [9.0, 5.0, 6.0]]

    _eager_traced_replayed(lambda x: x[::2], lambda: (xg.asarray(START)[1],), check)


def test_a_view_of_a_variable_writes_into_the_variable():
    w = xg.Variable(START, name="w", dtype=xg.float64)

    def check(view, args):
        view[1, 0] = 8.0
        assert w.tolist() == [[1.0, 8.0, 3.0], [4.0, 5.0, 6.0]] and view.base is w
        w.assign(START)

    _eager_traced_replayed(lambda x: (w * x, w.T)[1], lambda: (xg.ones(3, dtype=xg.float64),),
                           check)


def test_a_replayed_view_feeds_a_tape_as_the_eager_one():
    function = xg.function(lambda x: x[1])
    for _ in range(4):
        x = xg.asarray(START, dtype=xg.float64)
        row = function(x)
        with xg.GradientTape() as tape:
            tape.watch(row)
            loss = xg.sum(row * row)
        tx = torch.tensor(START, dtype=torch.float64)
        trow = tx[1].clone().requires_grad_(True)
        (trow * trow).sum().backward()
        np.testing.assert_array_equal(tape.gradient(loss, row).numpy(), trow.grad.numpy())


def test_a_result_without_views_of_arguments_notes_none():
    # a view of a tensor the function made: nothing outside sees its base, so a replay's
    # tensor of its own behaves as the eager view does
    function = xg.function(lambda x: ((x * 2.0)[0], x + 1.0))
    x = xg.asarray(START)
    for _ in range(3):
        made, plus = function(x)
        made[0] = 0.0
        assert plus.base is None and x.tolist() == START
    assert function.programs()[0].output_views is None and made.base is None
    same = xg.function(lambda x: x)
    for _ in range(3):
        assert same(x).base is None            # the argument itself: a tensor of its own
