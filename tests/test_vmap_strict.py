"""``xg.vmap`` on array-api-strict: every case of tests/test_primitives.py mapped over two
examples (values and per-example gradients by a tape inside) and the cases of
tests/test_vmap_rules.py equal the numpy backend's in float64. The batching rules compute on
the backend's namespace, so a rule that indexes or calls as only NumPy allows fails here (and
would on CuPy's generic paths: tests/strict_checks.py)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

from test_primitives import CASES, make
import test_vmap_rules
from test_vmap_rules import CASES as RULE_CASES

from strict_checks import (assert_same, marked, strict,  # noqa: F401 (strict: a fixture)
                           strict_only)

pytestmark = pytest.mark.filterwarnings("ignore:tape.gradient. the target depends on no tensor")


def _leaves(out):
    """``out``'s tensors in order (tuples and lists flattened), as NumPy arrays."""
    if isinstance(out, (list, tuple)):
        return [leaf for o in out for leaf in _leaves(o)]
    return [] if out is None else [out.numpy()]


def _per_example(fn, cotangent_seed=1):
    """``fn``'s outputs and the gradients of their sum weighted by fixed random cotangents
    (drawn per output shape, so both backends weigh alike), for one example."""
    def values_and_gradients(*args):
        noise = np.random.default_rng(cotangent_seed)
        with xg.GradientTape() as tape:
            tape.watch(list(args))
            out = fn(*args)
            outs = list(out) if isinstance(out, (list, tuple)) else [out]
            loss = sum(xg.sum(o * xg.astype(xg.asarray(noise.standard_normal(o.shape)),
                                            o.dtype)) for o in outs if xg.isdtype(
                o.dtype, "real floating"))
        return outs, [g for g in tape.gradient(loss, list(args)) if g is not None]
    return values_and_gradients


def _mapped(fn, arrays, backend):
    with xg.use_backend(backend):
        args = [xg.asarray(np.stack([a, a * 0.75]), dtype=xg.float64) for a in arrays]
        return _leaves(xg.vmap(_per_example(fn))(*args))


@pytest.mark.parametrize("case", [marked(case.id, case) for case in CASES])
def test_primitive_mapped_over_examples_matches_the_numpy_backend(case, strict):
    rng = np.random.default_rng(0)
    arrays = [make(spec, rng).numpy() for spec in case.specs]
    assert_same(_mapped(case.fn, arrays, strict.name), _mapped(case.fn, arrays, "numpy"))


def _rule_case(name, backend, monkeypatch):
    fn, in_axes, args = RULE_CASES[name]
    with xg.use_backend(backend):
        for global_name in fn.__code__.co_names:     # a tensor the case closes over: M
            value = vars(test_vmap_rules).get(global_name)
            if isinstance(value, xg.Tensor):
                monkeypatch.setattr(test_vmap_rules, global_name, xg.asarray(value.numpy()))
        made = [xg.asarray(a.numpy()) for a in args]
        return _leaves(xg.vmap(fn, in_axes=in_axes)(*made))


@pytest.mark.parametrize("name", sorted(RULE_CASES))
def test_vmap_rule_case_matches_the_numpy_backend(name, strict, monkeypatch):
    assert_same(_rule_case(name, strict.name, monkeypatch),
                _rule_case(name, "numpy", monkeypatch))


# -- what the cases above rest on --------------------------------------------------------------

@pytest.mark.parametrize("key", [
    (slice(None), [2, 0, 2]), ([1, 0], slice(None), [3, -1]), (slice(None), [[2], [0]], [1, 3]),
    (slice(1, None), [2, 0], slice(None), 0), (0, slice(None, None, -1), [3, 3]),
    (slice(None), 1, slice(None), [0, 4]), ([[1, 0], [0, 1]],)])
def test_integer_arrays_mixed_with_slices_select_what_numpy_selects(key, strict):
    from xpgrad.integer_keys import integers_only

    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    numpy_key = tuple(np.asarray(k) if isinstance(k, list) else k for k in key)
    xp = strict.xp
    strict_key = tuple(xp.asarray(k) if isinstance(k, list) else k for k in key)
    got = xp.asarray(x)[integers_only(xp, x.shape, strict_key)]
    np.testing.assert_array_equal(strict.to_numpy(got), x[numpy_key])


@strict_only("einsum is not in the array API standard, but CuPy has it")
def test_a_function_the_namespace_lacks_stays_missing_after_another_backends_vmap(strict):
    def contract(a):
        return xg.einsum("ij,jk->ik", a, a)

    x = np.random.default_rng(3).normal(size=(2, 3, 3))
    want = np.einsum("bij,bjk->bik", x, x)
    for backend in ("numpy", "strict", "numpy", "strict"):    # each builds its namespace's
        with xg.use_backend(backend):
            np.testing.assert_allclose(xg.vmap(contract)(xg.asarray(x)).numpy(), want,
                                       rtol=1e-12)
    from xpgrad.batching.namespace import Level

    assert not hasattr(Level(2, strict.xp).namespace, "einsum")
    assert hasattr(Level(2, xg.get_backend("numpy").xp).namespace, "einsum")
