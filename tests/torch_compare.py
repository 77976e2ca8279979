"""A value-and-gradient comparison of one xpgrad function with its PyTorch counterpart, shared
by the edge-case tests of linalg, fft and einsum (real float64 inputs).

Each function may return one array or a tuple of them; complex outputs are compared through
their real and imaginary parts, and the loss is ``sum(w * out)`` over every real part with a
fixed random ``w``, so non-scalar outputs and several outputs are all covered.
"""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg


def _parts(out):
    """The real arrays a result holds: each output, or its real and imaginary parts."""
    outs = out if isinstance(out, (tuple, list)) else (out,)
    parts = []
    for o in outs:
        if o.dtype.is_complex:
            parts += [_real(o), _imag(o)]
        elif getattr(o.dtype, "is_floating_point", getattr(o.dtype, "kind", "") == "f"):
            parts.append(o)
    return parts


def _real(o):
    return o.real if hasattr(o, "resolve_conj") else xg.real(o)


def _imag(o):
    return o.imag if hasattr(o, "resolve_conj") else xg.imag(o)


def _weights(parts, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(tuple(p.shape)) for p in parts]


def xpgrad_values_and_grads(fn, arrays, backend=None, dtype="float64", seed=0):
    """``(outputs, gradients)`` of ``fn`` as NumPy arrays (a gradient None when unconnected),
    on ``backend`` (None: the current one, so that tensors ``fn`` makes itself meet them)."""
    xs = [xg.asarray(a, dtype=dtype, backend=backend) for a in arrays]
    with xg.GradientTape() as tape:
        tape.watch(xs)
        parts = _parts(fn(*xs))
        weights = _weights(parts, seed)
        loss = sum(xg.sum(p * xg.asarray(w, dtype=p.dtype, backend=backend))
                   for p, w in zip(parts, weights))
    grads = tape.gradient(loss, xs)
    return [p.numpy() for p in parts], [None if g is None else g.numpy() for g in grads]


def torch_values_and_grads(fn, arrays, seed=0):
    torch = pytest.importorskip("torch")
    ts = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    parts = _parts(fn(*ts))
    weights = _weights(parts, seed)
    loss = sum((p * torch.as_tensor(w)).sum() for p, w in zip(parts, weights))
    grads = torch.autograd.grad(loss, ts, allow_unused=True) if loss.requires_grad else [None]
    return ([p.detach().resolve_conj().resolve_neg().numpy() for p in parts],
            [None if g is None else g.resolve_conj().resolve_neg().numpy() for g in grads])


def assert_matches_torch(fx, ft, arrays, rtol=1e-7, atol=1e-9):
    """Values and gradients of ``fx`` (xpgrad) equal those of ``ft`` (PyTorch, float64)."""
    got_values, got_grads = xpgrad_values_and_grads(fx, arrays)
    want_values, want_grads = torch_values_and_grads(ft, arrays)
    assert len(got_values) == len(want_values)
    for got, want in zip(got_values, want_values):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    for got, want, a in zip(got_grads, want_grads, arrays):
        zeros = np.zeros(np.shape(a))
        np.testing.assert_allclose(zeros if got is None else got,
                                   zeros if want is None else want, rtol=rtol, atol=atol)
