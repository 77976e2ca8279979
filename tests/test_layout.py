"""The structure the rest relies on: one primitive table with unique names, joint vjp rules that
get only the gradients asked for, backends that see only primitives, one aliasing policy for
the gradients users receive, and one set of default dtypes."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.ops import recurrent
from xpgrad.primitive import PRIMITIVES, Primitive, apply

ROOT = Path(__file__).parents[1]


# -- the table -----------------------------------------------------------------------------------
def test_every_primitive_is_in_the_table_once():
    assert PRIMITIVES["softmax_cross_entropy"].name == "softmax_cross_entropy"
    for name in ("linear", "lstm_scan", "rnn_scan", "sgd_update", "adam_update", "sigmoid",
                 "matmul", "getitem", "transfer"):
        assert name in PRIMITIVES, name
    with pytest.raises(ValueError, match="a primitive named 'sigmoid' exists already"):
        Primitive("sigmoid", lambda xp, x: x)


def test_a_primitive_takes_per_argument_rules_or_one_joint_rule():
    with pytest.raises(TypeError, match="not both"):
        Primitive("layout_both", lambda xp, x: x, lambda xp, g, ans, x: g,
                  joint=lambda xp, g, ans, needs, x: (g,))


def test_backends_import_only_primitives_base_and_dtypes():
    """No module under backends/ reaches up into the layers, losses or optimizers."""
    banned = ("xpgrad.nn", "xpgrad.optim", "xpgrad.losses", "xpgrad.training", "xpgrad.cli")
    offenders = []
    for path in (ROOT / "backends").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names
                          if n.startswith(banned)]
    assert offenders == []


# -- joint rules ----------------------------------------------------------------------------------
def test_joint_rule_is_called_once_with_only_the_needed_gradients():
    calls = []

    def joint(xp, g, ans, needs, x, y):
        calls.append(needs)
        return (g * y if needs[0] else None, g * x if needs[1] else None)

    mul = Primitive("layout_joint_mul", lambda xp, x, y: x * y, joint=joint)
    x, y = xg.asarray([2.0, 3.0]), xg.asarray([5.0, 7.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        z = apply(mul, x, y)
    assert tape.gradient(z, x).tolist() == [5.0, 7.0]
    assert calls == [(True, False)]
    calls.clear()
    with xg.GradientTape() as tape:
        tape.watch([x, y])
        z = apply(mul, x, y)
    assert [g.tolist() for g in tape.gradient(z, [x, y])] == [[5.0, 7.0], [2.0, 3.0]]
    assert calls == [(True, True)]


@pytest.mark.usefixtures("numpy_default")
@pytest.mark.parametrize("scan", ["lstm", "rnn"])
def test_generic_scan_rules_run_the_backward_recursion_once(scan, monkeypatch, rng):
    monkeypatch.setattr(xg.get_backend("numpy"), "kernels", {})     # the generic rules
    real = getattr(recurrent, f"_{scan}_backward")
    calls = []
    monkeypatch.setattr(recurrent, f"_{scan}_backward",
                        lambda *a: calls.append(1) or real(*a))
    B, T, H = 2, 4, 3
    gates = 4 if scan == "lstm" else 1
    args = [xg.asarray(rng.normal(size=s)) for s in
            [(B, T, gates * H), (B, H)] + ([(B, H)] if scan == "lstm" else []) +
            [(H, gates * H)]]
    with xg.GradientTape() as tape:
        tape.watch(args)
        out = getattr(xg.nn, f"{scan}_scan")(*args)
        loss = xg.sum(out * out)
    grads = tape.gradient(loss, args)
    assert all(g is not None for g in grads) and len(calls) == 1


# -- aliasing --------------------------------------------------------------------------------------
BACKENDS = ["numpy", "numba"]


def _shares(a, b):
    return np.shares_memory(np.asarray(a._data), np.asarray(b._data))


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_never_alias_each_other_or_the_seed(backend):
    x = xg.asarray([1.0, 2.0], backend=backend)
    y = xg.asarray([3.0, 4.0], backend=backend)
    seed = np.array([1.0, 1.0], np.float32)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch([x, y])
        z = x + y                                 # add's rule hands g itself to both inputs
        w = xg.reshape(z, (2, 1))
    dx, dy, dz = tape.gradient(z, [x, y, z])
    assert not _shares(dx, dy) and not _shares(dx, dz) and not _shares(dy, dz)
    dz2, dx2 = tape.gradient(w, [z, x], output_gradients=seed.reshape(2, 1))
    assert not np.shares_memory(dz2.numpy(), seed) and not _shares(dz2, dx2)
    a, b = tape.gradient(z, [x, x])               # the same source twice: two arrays
    assert a.tolist() == b.tolist() and not _shares(a, b)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loss", ["sigmoid_mse", "mse", "softmax_cross_entropy"])
def test_persistent_tape_gives_fresh_gradients_each_call(backend, loss, rng):
    """Fused losses save their gradient; what a user receives is never that residual."""
    logits = xg.asarray(rng.normal(size=(4, 3)).astype(np.float32), backend=backend)
    target = (xg.asarray(rng.integers(0, 3, 4), backend=backend) if loss.startswith("softmax")
              else xg.asarray(rng.random((4, 3)).astype(np.float32), backend=backend))
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        out = getattr(xg.losses, loss)(logits, target)
    g1 = tape.gradient(out, logits)
    g1._data[...] = 123.0                           # a user may write into what they received
    g2 = tape.gradient(out, logits)
    assert not _shares(g1, g2)
    assert np.all(g2.numpy() != 123.0)


def test_fresh_gradients_are_not_copied():
    """The policy copies only what something else holds: a gradient a rule made fresh goes out
    as that very array."""
    import weakref

    made = []

    def rule(xp, g, ans, x):
        fresh = g * 2.0
        made.append(weakref.ref(fresh))
        return fresh

    double = Primitive("layout_fresh_double", lambda xp, x: x * 2.0, rule)
    x = xg.asarray([1.0, 2.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = apply(double, x)
    dx = tape.gradient(y, x)
    assert made[0]() is dx._data


# -- dtypes -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("value,dtype", [([1.0], "float32"), (1.0, "float32"), ([1], "int64"),
                                         ([True], "bool"), (np.ones(2), "float64")])
def test_tensor_and_asarray_agree_on_default_dtypes(value, dtype):
    assert xg.Tensor(value).dtype == xg.asarray(value).dtype == dtype


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_gradient_copied_from_a_held_view_keeps_its_layout_and_a_scalar_target_seeds(backend):
    """The aliasing copy of a gradient that views the user's output_gradients is NumPy's
    order-K copy (a transposed view stays column-major); a sum's NumPy-scalar value seeds
    with a 0-d one of its dtype."""
    x = xg.asarray(np.arange(6.0).reshape(2, 3), backend=backend)
    seed = np.arange(6.0).reshape(3, 2)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        t = xg.matrix_transpose(x)
        s = xg.sum(x * x)
    g = tape.gradient(t, x, output_gradients=seed)
    expected = np.array(seed.T, copy=True)
    assert not np.shares_memory(g.numpy(), seed)
    assert g._data.flags.f_contiguous == expected.flags.f_contiguous
    np.testing.assert_array_equal(g.numpy(), expected)
    gs = tape.gradient(s, x)
    assert gs.dtype == x.dtype
    np.testing.assert_array_equal(gs.numpy(), 2 * np.arange(6.0).reshape(2, 3))
