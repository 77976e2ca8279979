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

from strict_checks import assert_same, marked, strict  # noqa: F401 (strict: a fixture)

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
    assert_same(_mapped(case.fn, arrays, "strict"), _mapped(case.fn, arrays, "numpy"))


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
    assert_same(_rule_case(name, "strict", monkeypatch), _rule_case(name, "numpy", monkeypatch))
