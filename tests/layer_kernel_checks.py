"""The checks of the ``rnn_layer`` / ``gru_layer`` kernels against their primitives' generic
rules that tests/test_projected_scans.py (NumPy's) and test_projected_scans_numba.py (Numba's)
share, and the ``kernels`` fixture (NumPy's kernels on, then off)."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.ops import projected_scans

#: each primitive's generic (unfused) forward and vjp
GENERIC = {"rnn_layer": (projected_scans._rnn_layer_forward, projected_scans._rnn_layer_vjp),
           "gru_layer": (projected_scans._gru_layer_forward, projected_scans._gru_layer_vjp)}
CASES = [("rnn_layer", "tanh"), ("rnn_layer", "relu"), ("gru_layer", None)]


def check_kernel_matches_generic(kernel, kind, args, params, g):
    """``kernel`` (of the primitive ``kind``) equals the generic rule on the float64 ``args``:
    its forward, its vjp for every input and for some (None for the others), and its
    ``vjp_in_place`` where it has one (``check_vjp_in_place``)."""
    forward, vjp = GENERIC[kind]
    expected = forward(np, *args, **params)
    out, saved = kernel.forward(*args, **params)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    wanted = [True] * len(args)
    reference = vjp(np, g, expected, wanted, *args, **params)
    for got, ref in zip(kernel.vjp(g, saved, wanted, *args, **params), reference, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    partial = kernel.vjp(g, saved, [False, True, False, True] + [False] * (len(args) - 4),
                         *args, **params)
    assert [p is None for p in partial] == [True, False, True, False] + [True] * (len(args) - 4)
    if kernel.vjp_in_place is not None:
        check_vjp_in_place(kernel, g, saved, wanted, args, params, reference)


def check_vjp_in_place(kernel, g, saved, wanted, args, params, reference):
    """``kernel.vjp_in_place`` equals ``reference`` on its own copy of ``g`` (which it may
    spend: it must, where there is a batch row) and on a ``g`` of another layout (an
    elementwise product of time-major arrays), which it must leave as it was."""
    own = g.copy()
    for got, ref in zip(kernel.vjp_in_place(own, saved, wanted, *args, **params), reference,
                        strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    assert g.shape[0] == 0 or not np.array_equal(own, g)       # its g was the workspace
    own = np.ascontiguousarray(np.swapaxes(g, 0, 1)).swapaxes(0, 1)
    for got, ref in zip(kernel.vjp_in_place(own, saved, wanted, *args, **params), reference,
                        strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(own, g)


@pytest.fixture(params=["fused", "generic"])
def kernels(request, monkeypatch):
    """Run a test with the NumPy backend's kernels on, and again with them off (the generic
    rules)."""
    if request.param == "generic":
        monkeypatch.setattr(xg.get_backend("numpy"), "kernels", {})
    return request.param
