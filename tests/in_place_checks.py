"""The check of a layer kernel's ``vjp_in_place`` that tests/test_projected_scans.py and
test_projected_scans_numba.py share."""
import numpy as np


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
