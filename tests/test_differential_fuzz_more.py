"""Differential fuzzing against PyTorch, the families ``tests/test_differential_fuzz.py`` does
not draw: linear algebra (``differential_linalg.py``), convolution, pooling, normalization
and embedding (``differential_nn.py``), and the edges of reductions and indexing -- ties,
rows of -inf, zero-size axes, zeros in products (``differential_edges.py``). Each case's
value and vector-Jacobian product are checked by that file's ``check_against_torch``: on the
numpy backend in float32 and float64 and every memory layout, and on the default backend
(``XPGRAD_BACKEND=numba`` runs the suite on Numba). Dtype promotion of Python scalars and
integer and boolean arrays is checked against PyTorch's result dtypes.

``XPGRAD_FUZZ_EXAMPLES`` and ``XPGRAD_FUZZ_RANDOM`` search deeper or afresh, as there.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hypothesis")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import differential_edges as edges  # noqa: E402
import differential_linalg as linalg  # noqa: E402
import differential_nn as nn  # noqa: E402
import xpgrad as xg  # noqa: E402
from test_differential_fuzz import EXAMPLES, LAYOUTS, _settings, check_against_torch  # noqa: E402

# matrix_power(a, 0) is the identity: no gradient, as in PyTorch
pytestmark = pytest.mark.filterwarnings("ignore:tape.gradient. the target depends on no tensor")
FAMILIES = {
    "linalg_square": linalg.square_functions, "linalg_decomposition": linalg.decompositions,
    "convolution": nn.convolutions, "pooling": nn.poolings,
    "normalization": nn.normalizations, "embedding": nn.embeddings,
    "ties": edges.ties, "minus_infinity": edges.minus_infinity,
    "empty_reduction": edges.empty_reductions, "zeros": edges.zeros,
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@_settings(EXAMPLES)
@given(data=st.data(), dtype=st.sampled_from([np.float64, np.float32]),
       layouts=st.lists(st.sampled_from(LAYOUTS), min_size=1, max_size=3),
       seed=st.integers(0, 2**31))
def test_value_and_gradient_match_torch(family, data, dtype, layouts, seed):
    case = data.draw(FAMILIES[family](), label="case")
    check_against_torch(case, dtype, layouts, seed, "numpy", family)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@_settings(max(2, EXAMPLES // 3))
@given(data=st.data(), seed=st.integers(0, 2**31))
def test_value_and_gradient_match_torch_on_default_backend(family, data, seed):
    case = data.draw(FAMILIES[family](), label="case")
    check_against_torch(case, np.float64, ["C"], seed, xg.current_backend().name, family)
