"""Differential fuzzing against PyTorch, the families ``tests/test_differential_fuzz.py`` does
not draw: linear algebra (``differential_linalg.py``), convolution, pooling, normalization
and embedding (``differential_nn.py``), and the edges of reductions and indexing -- ties,
rows of -inf, zero-size axes, zeros in products (``differential_edges.py``). Each case's
value and vector-Jacobian product are checked by that file's ``check_against_torch``: on the
numpy backend in float32 and float64 and every memory layout, and on the default backend
(``XPGRAD_BACKEND=numba`` runs the suite on Numba). Dtype promotion of Python scalars and
integer and boolean arrays is checked against PyTorch's result dtypes and values.

``XPGRAD_FUZZ_EXAMPLES`` and ``XPGRAD_FUZZ_RANDOM`` search deeper or afresh, as there.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hypothesis")

from hypothesis import assume, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import differential_edges as edges  # noqa: E402
import differential_gathers as gathers  # noqa: E402
import differential_linalg as linalg  # noqa: E402
import differential_losses_weighted as losses  # noqa: E402
import differential_nn as nn  # noqa: E402
import xpgrad as xg  # noqa: E402
from test_differential_fuzz import (EXAMPLES, _settings, check_against_torch,  # noqa: E402
                                    family_tests)

# matrix_power(a, 0) is the identity: no gradient, as in PyTorch; NumPy's and PyTorch's own
# warnings of a variance over no entries (NaN, as in both), PyTorch's of its "same"
# padding's copy
pytestmark = [pytest.mark.filterwarnings("ignore:tape.gradient. the target depends on no tensor"),
              pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning:numpy"),
              pytest.mark.filterwarnings("ignore:var.*degrees of freedom is <= 0:UserWarning"),
              pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")]
FAMILIES = {
    "linalg_square": linalg.square_functions, "linalg_decomposition": linalg.decompositions,
    "convolution": nn.convolutions, "pooling": nn.poolings,
    "normalization": nn.normalizations, "embedding": nn.embeddings,
    "ties": edges.ties, "minus_infinity": edges.minus_infinity,
    "empty_reduction": edges.empty_reductions, "zeros": edges.zeros,
    "weighted_loss": losses.weighted_losses, "margin_loss": losses.margin_losses,
    "scatter_gather": gathers.scatter_gathers,
}


(test_value_and_gradient_match_torch, test_compiled_value_and_gradient_match_torch,
 test_second_order_gradient_matches_torch) = family_tests(FAMILIES, max(2, EXAMPLES // 3))


@pytest.mark.parametrize("family", sorted(FAMILIES))
@_settings(max(2, EXAMPLES // 3))
@given(data=st.data(), seed=st.integers(0, 2**31), compiled=st.booleans())
def test_value_and_gradient_match_torch_on_default_backend(family, data, seed, compiled):
    case = data.draw(FAMILIES[family](), label="case")
    check_against_torch(case, np.float64, ["C"], seed, xg.current_backend().name, family,
                        compiled)


# -- dtype promotion ----------------------------------------------------------------------------
OPERANDS = ["python bool", "python int", "python float", "bool", "uint8", "int8", "int16",
            "int32", "int64", "float32", "float64"]
PROMOTING = {
    "add": (xg.add, torch.add), "subtract": (xg.subtract, torch.sub),
    "multiply": (xg.multiply, torch.mul), "divide": (xg.divide, torch.div),
    "maximum": (xg.maximum, torch.maximum), "minimum": (xg.minimum, torch.minimum),
    "floor_divide": (xg.floor_divide, torch.floor_divide), "pow": (xg.pow, torch.pow),
    "remainder": (xg.remainder, torch.remainder),
    "where": (lambda a, b: xg.where(xg.asarray(np.array([True, False, True])), a, b),
              lambda a, b: torch.where(torch.tensor([True, False, True]), a, b)),
}


def _operand(kind, values, lib):
    if kind.startswith("python"):
        return {"python bool": True, "python int": 2, "python float": 1.5}[kind]
    array = values.astype(kind)
    return xg.asarray(array) if lib == "xpgrad" else torch.tensor(array)


def _kind(operand):
    return "bool" if operand.dtype == np.bool_ else operand.dtype.kind


@_settings(EXAMPLES * 5)
@given(name=st.sampled_from(sorted(PROMOTING)),
       kinds=st.lists(st.sampled_from(OPERANDS), min_size=2, max_size=2).filter(
           lambda k: not all(o.startswith("python") for o in k)),
       values=st.lists(st.integers(1, 5), min_size=6, max_size=6))
def test_promotion_matches_torch(name, kinds, values):
    """Result dtype and value of a binary function of Python scalars and bool, integer and
    float arrays: PyTorch's where it takes the call, except across kinds of two arrays (an
    integer array with a float32 one is float64): NumPy's promotion, docs/array-api.md
    ("Promotion") and docs/porting.md ("One difference stays"); and bool ** bool, which the
    array API leaves out (NumPy's int8, PyTorch's bool)."""
    ours, theirs = PROMOTING[name]
    pair = [np.array(values[:3]), np.array(values[3:])]
    try:
        expected = theirs(*(_operand(k, v, "torch") for k, v in zip(kinds, pair)))
    except (RuntimeError, TypeError, NotImplementedError):     # bool - bool, maximum(x, 2)
        assume(False)
    arrays = [np.asarray(values[:3]).astype(k) for k in kinds if not k.startswith("python")]
    assume(len(arrays) < 2 or _kind(arrays[0]) == _kind(arrays[1])
           or "bool" in (_kind(arrays[0]), _kind(arrays[1])))
    assume(not (name == "pow" and set(kinds) <= {"bool", "python bool"}))
    got = ours(*(_operand(k, v, "xpgrad") for k, v in zip(kinds, pair)))
    want_dtype = str(expected.dtype).replace("torch.", "")
    assert str(got.dtype) == want_dtype, f"{name}{tuple(kinds)}: {got.dtype}, PyTorch's " \
                                         f"{want_dtype}"
    np.testing.assert_allclose(np.asarray(got.numpy(), np.float64), expected.double().numpy(),
                               rtol=1e-6, err_msg=f"{name}{tuple(kinds)}")
