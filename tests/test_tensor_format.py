"""``f"{loss:.4f}"``: a 0-d tensor formats as its number, as in PyTorch (it raised
"unsupported format string passed to Tensor.__format__")."""
from __future__ import annotations

import pytest

import xpgrad as xg


@pytest.mark.parametrize("spec, expected", [(".3f", "0.123"), (">8.2e", "1.23e-01"),
                                            ("", None)])
def test_a_0d_tensor_formats_as_its_number(spec, expected):
    t = xg.asarray(0.123456)
    assert format(t, spec) == (expected if expected is not None else str(t))
    assert f"{xg.asarray(7, dtype=xg.int64):03d}" == "007"


def test_a_tensor_of_several_values_refuses_a_format_spec():
    with pytest.raises(TypeError, match="unsupported format string"):
        format(xg.asarray([1.0, 2.0]), ".2f")
