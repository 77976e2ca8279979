"""iter() of a 0-d array raises at once, not at the first next(), for the raw arrays user code
meets inside ``xg.function`` (a traced array) and ``xg.vmap`` (a batched array), as it does
for a Tensor (tests/test_namespace_edges.py): ``np.iterable`` then says no (Matplotlib's unit
check, under SciPy's ``dendrogram``, relies on it), and 1-d and larger arrays still iterate."""
import numpy as np
import pytest

import xpgrad as xg


def _raw_arrays_seen(transform, x):
    """The raw arrays (``Tensor._data``) of a 0-d and a 1-d value inside ``transform(f)(x)``:
    the last call's, which for ``xg.function`` is the tracing call."""
    seen = {}

    def f(x):
        total, rows = xg.sum(x), x * 2.0
        seen["0-d"], seen["1-d"] = total._data, rows._data
        seen["rows"] = list(rows._data)
        return total + xg.sum(rows)

    compiled = transform(f)
    for _ in range(3):                      # xg.function: an eager call, then a trace
        compiled(x)
    return seen


@pytest.mark.parametrize("transform, kind", [(xg.function, "Traced"), (xg.vmap, "BatchedArray")])
def test_iter_of_a_0d_array_raises_at_once(transform, kind):
    x = xg.ones((4, 3)) if transform is xg.vmap else xg.ones(3)
    seen = _raw_arrays_seen(transform, x)
    assert type(seen["0-d"]).__name__ == kind
    assert not np.iterable(seen["0-d"])
    with pytest.raises(TypeError, match="iteration over a 0-d array"):
        iter(seen["0-d"])
    assert np.iterable(seen["1-d"])
    assert len(seen["rows"]) == 3 and all(type(r).__name__ == kind for r in seen["rows"])
