"""A small view read by a recorded operation: the tape keeps its elements (a copy) or, where the
rule does not read it, its shape, never the view itself, which would keep its whole base alive
(and make every later recorded write into the base copy it)."""
import tracemalloc

import numpy as np
import pytest
import torch

import xpgrad as xg

N, BLOCK = 100_000, 10


def _program(lib, update, writes, n=N):
    """``o = out * 1 + 1`` (``n`` values), then ``writes`` block updates ``o[a:b] op= v``; the
    loss sum(o * o)."""
    if lib == "xg":
        out = xg.Variable(np.linspace(-1.0, 1.0, n))       # watched when read: o is on the tape
        v = xg.asarray(np.linspace(0.5, 1.5, BLOCK))
        sin, total = xg.sin, xg.sum
    else:
        out = torch.linspace(-1.0, 1.0, n, dtype=torch.float64, requires_grad=True)
        v = torch.linspace(0.5, 1.5, BLOCK, dtype=torch.float64, requires_grad=True)
        total = torch.sum

        def sin(blk):           # torch's sin saves blk, which the write then changes
            return torch.sin(blk.clone())

    def run(tape=None):
        if tape is not None:
            tape.watch(v)
        o = out * 1.0 + 1.0
        for i in range(writes):
            blk = o[i * BLOCK:(i + 1) * BLOCK]
            if update == "+=":
                blk += v
            elif update == "*=":
                blk *= v
            else:
                blk[...] = sin(blk) * v
        return total(o * o)
    return run, v, out


UPDATES = ("+=", "*=", "= sin(blk) * v")


@pytest.mark.parametrize("update", UPDATES)
def test_recorded_block_updates_keep_no_copy_of_the_base_per_write(update):
    run, v, out = _program("xg", update, 50)
    tracemalloc.start()
    with xg.GradientTape() as tape:
        loss = run(tape)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8e6                   # the kept views held 50 copies of the 0.8 MB base: 40 MB
    grad_v, grad_out = tape.gradient(loss, [v, out])
    run_t, v_t, out_t = _program("torch", update, 50)
    run_t().backward()
    np.testing.assert_allclose(grad_v.numpy(), v_t.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(grad_out.numpy(), out_t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("update", UPDATES)
def test_recorded_block_updates_match_finite_differences(update):
    run, v, _ = _program("xg", update, 3, n=1000)
    with xg.GradientTape() as tape:
        loss = run(tape)
    grad = tape.gradient(loss, v).numpy()
    base = v.numpy().copy()
    eps = 1e-6
    numeric = []
    for j in range(BLOCK):
        shifted = []
        for sign in (1.0, -1.0):
            values = base.copy()
            values[j] += sign * eps
            v._data = values            # the same tensor, another value (v is a plain input)
            shifted.append(run().item())
        numeric.append((shifted[0] - shifted[1]) / (2 * eps))
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6)   # loss ~1e3: FD error ~1e-7


def test_a_kept_block_keeps_its_values_when_the_base_is_written_later():
    base = xg.asarray(np.arange(1.0, 41.0)) * 1.0
    v = xg.asarray(np.full(10, 2.0))
    with xg.GradientTape() as tape:
        tape.watch(v)
        blk = base[10:20]
        y = blk * v                      # multiply reads blk: the tape keeps its elements
        base[10:20] = xg.zeros(10)       # a later write into the base
        loss = xg.sum(y)
    np.testing.assert_array_equal(tape.gradient(loss, v).numpy(), np.arange(11.0, 21.0))


def test_a_bad_block_update_on_a_tape_names_the_shapes():
    o = xg.zeros(100, dtype=xg.float64) * 1.0
    v = xg.ones(3, dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch(v)
        blk = o[0:10]
        with pytest.raises(ValueError, match=r"\(10,\).*\(3,\)"):
            blk += v
