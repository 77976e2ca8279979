"""The backward walk's lean path (a node with one input wanting a gradient, a per-argument rule
or a plain kernel, no keywords: ``GradientTape._record`` marks it) gives what the general path
gives: random programs are differentiated both ways, and against PyTorch in float64."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.backend import KERNELS_BY_INDEX
from xpgrad.kernels import LEAN_IN_PLACE
from xpgrad.primitive import LEAN_ELEMENTWISE, PRIMITIVES

torch = pytest.importorskip("torch")

# (name, arity, op): op(ns, *operands) on xpgrad Tensors (ns = xg) and torch tensors alike
_UNARY = [("sin", lambda ns, a: ns.sin(a)), ("cos", lambda ns, a: ns.cos(a)),
          ("tanh", lambda ns, a: ns.tanh(a)),
          ("sigmoid", lambda ns, a: xg.nn.sigmoid(a) if ns is xg else torch.sigmoid(a)),
          ("scale", lambda ns, a: a * 1.5), ("rscale", lambda ns, a: 0.5 * a),
          ("shift", lambda ns, a: a + 0.1), ("rsub", lambda ns, a: 1.0 - a),
          ("halve", lambda ns, a: a / 2.0), ("slice", lambda ns, a: a[..., 1:] * 2.0)]
_BINARY = [("add", lambda ns, a, b: a + b), ("mul", lambda ns, a, b: a * b),
           ("sub", lambda ns, a, b: a - b)]


def _program(seed, n_ops=24):
    """A random straight-line program: ops on a pool that starts with the watched ``x`` and a
    constant ``c`` (broadcast against it); values are reused, so gradients accumulate."""
    rng = np.random.default_rng(seed)
    steps = []
    for _ in range(n_ops):
        if rng.uniform() < 0.65:
            steps.append(("unary", int(rng.integers(len(_UNARY))), int(rng.integers(1 << 30))))
        else:
            steps.append(("binary", int(rng.integers(len(_BINARY))),
                          int(rng.integers(1 << 30)), int(rng.integers(1 << 30))))
    return steps


def _run(steps, ns, x, c):
    pool = [x, x * c]     # x * c: one input on the tape, its gradient summed over rows
    for step in steps:
        if step[0] == "unary":
            _, i, a = step
            pool.append(_UNARY[i][1](ns, pool[a % len(pool)]))
        else:
            _, i, a, b = step
            u, v = pool[a % len(pool)], pool[b % len(pool)]
            if u.shape[-1] != v.shape[-1]:          # a sliced value next to a whole one
                u, v = u[..., :v.shape[-1]], v[..., :u.shape[-1]]
            pool.append(_BINARY[i][1](ns, u, v))
    return sum(ns.sum(p * p) for p in pool[-3:])


def _gradient(steps, backend, dtype, x0, c0):
    x = xg.asarray(x0, dtype=dtype, backend=backend)
    c = xg.asarray(c0, dtype=dtype, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = _run(steps, xg, x, c)
    flags = [node[2] for node in tape._nodes]
    return tape.gradient(loss, x).numpy(), flags


@pytest.fixture
def general_only(monkeypatch):
    """Every primitive and kernel marked not lean: the tape records no lean node."""
    for prim in PRIMITIVES.values():
        monkeypatch.setattr(prim, "lean", False)
        monkeypatch.setattr(prim, "residuals", prim.residuals[:3] + (False,))
    for kern in KERNELS_BY_INDEX:
        monkeypatch.setitem(kern.__dict__, "lean", False)
        monkeypatch.setitem(kern.__dict__, "residuals", kern.residuals[:3] + (False,))


def _inputs(seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (4,)), rng.uniform(0.5, 1.5, (3, 4))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lean_and_general_walks_give_the_same_gradients(backend, dtype, request):
    if backend not in backend_report():
        pytest.skip(f"backend {backend} unavailable")
    programs = [_program(seed) for seed in range(12)]
    lean = []
    for seed, steps in enumerate(programs):
        lean.append(_gradient(steps, backend, dtype, *_inputs(seed)))
    assert any(any(f) for _, f in lean) and any(not all(f) for _, f in lean)
    if backend == "numba":      # its tanh and sigmoid kernels write into g where they may
        assert any(LEAN_IN_PLACE in f for _, f in lean)
    request.getfixturevalue("general_only")
    for seed, steps in enumerate(programs):
        g, flags = _gradient(steps, backend, dtype, *_inputs(seed))
        assert not any(flags)
        np.testing.assert_array_equal(g, lean[seed][0])


@pytest.mark.parametrize("seed", range(6))
def test_lean_walk_matches_torch_in_float64(seed):
    steps = _program(seed)
    x0, c0 = _inputs(seed)
    g, flags = _gradient(steps, "numpy", "float64", x0, c0)
    assert any(flags)
    xt = torch.tensor(x0, requires_grad=True)
    _run(steps, torch, xt, torch.tensor(c0)).backward()
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_lean_nodes_under_an_outer_tape_give_second_derivatives():
    x0 = np.array([0.3, -0.7, 1.1])
    x = xg.asarray(x0)
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch(x)
            y = xg.sum(xg.tanh(xg.sin(x) * 1.5 + 0.1))
        g = inner.gradient(y, x)
        gg = xg.sum(g * g)
    h = outer.gradient(gg, x).numpy()
    xt = torch.tensor(x0, requires_grad=True)
    gt, = torch.autograd.grad(torch.tanh(torch.sin(xt) * 1.5 + 0.1).sum(), xt,
                              create_graph=True)
    (gt * gt).sum().backward()
    np.testing.assert_allclose(h, xt.grad.numpy(), rtol=1e-10)


@pytest.fixture(params=["numpy", "numba"])
def in_place_calls(request, monkeypatch):
    """``(backend, calls)``: relu's kernel on each backend with its ``vjp_in_place`` counting
    its calls (the list ``calls``)."""
    backend = request.param
    if backend not in backend_report():
        pytest.skip(f"backend {backend} unavailable")
    kern = xg.get_backend(backend).kernels["relu"]
    calls = []
    in_place = kern.vjp_in_place

    def counted(*args):
        calls.append(args[0])
        return in_place(*args)

    monkeypatch.setitem(kern.__dict__, "vjp_in_place", counted)
    return backend, calls


def test_a_lean_node_writes_into_a_gradient_nothing_else_holds(in_place_calls):
    backend, calls = in_place_calls
    x = xg.asarray(np.linspace(-1.0, 1.0, 4), backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.sum(xg.nn.relu(xg.sin(x)))
    assert tape._nodes[1][2] == LEAN_IN_PLACE
    g = tape.gradient(loss, x).numpy()
    assert len(calls) == 1
    np.testing.assert_array_equal(g, (np.sin(np.linspace(-1.0, 1.0, 4)) > 0)
                                  * np.cos(np.linspace(-1.0, 1.0, 4)))


def test_a_lean_node_leaves_a_shared_gradient_alone(in_place_calls):
    """add's rule hands the same g to both inputs: relu's lean node may not write into it."""
    backend, calls = in_place_calls
    x = xg.asarray(np.linspace(-1.0, 1.0, 4), backend=backend)
    x2 = xg.asarray(np.ones(4), backend=backend)
    with xg.GradientTape() as tape:
        tape.watch([x, x2])
        loss = xg.sum(xg.nn.relu(x) + x2)
    assert tape._nodes[0][2] == LEAN_IN_PLACE
    gx, gx2 = tape.gradient(loss, [x, x2])
    assert not calls
    np.testing.assert_array_equal(gx2.numpy(), np.ones(4))
    np.testing.assert_array_equal(gx.numpy(), (np.linspace(-1.0, 1.0, 4) > 0) * 1.0)


def _mixed_dtypes(ns, x, z, w):
    """Elementwise nodes whose input has the output's dtype, and ones whose has not."""
    a = ns.sin(x) * 1.5 + 0.1              # sin, multiply, add: float64 in and out
    b = x * 1j                              # a real input, a complex output
    c = ns.abs(z) + ns.real(z) * 2.0        # complex inputs, real outputs
    d = a * w                               # two Tensors (they may broadcast), w off the tape
    return (b * ns.conj(b)).real.sum() + (c * a).sum() + (d * d).sum()


W = np.array([2.0, -0.5, 1.25])


def test_elementwise_nodes_skip_the_fit_only_where_the_input_has_the_outputs_dtype(request):
    x0 = np.array([0.3, -0.7, 1.1])
    z0 = np.array([0.5 - 1.0j, -0.25 + 2.0j, 1.5 + 0.5j])

    def gradients():
        x, z = xg.asarray(x0), xg.asarray(z0)
        with xg.GradientTape() as tape:
            tape.watch([x, z])
            loss = _mixed_dtypes(xg, x, z, xg.asarray(W))
        flags = {}
        for node in tape._nodes:
            flags.setdefault(xg.primitive.BY_INDEX[node[0]].name, []).append(node[2])
        return [g.numpy() for g in tape.gradient(loss, [x, z])], flags

    (gx, gz), flags = gradients()
    assert flags["sin"] == [LEAN_ELEMENTWISE]
    # x * 1.5, x * 1j (complex out), real(z) * 2.0, a * w (one of two Tensors wants a
    # gradient), then b * conj(b), c * a, d * d (both do: not lean)
    assert flags["multiply"] == [LEAN_ELEMENTWISE, True, LEAN_ELEMENTWISE, True,
                                 False, False, False]
    assert flags["abs"] == [True] and flags["real"][0] is True       # complex in, real out
    request.getfixturevalue("general_only")
    (hx, hz), flags = gradients()
    assert not any(f for fs in flags.values() for f in fs)
    np.testing.assert_array_equal(gx, hx)
    np.testing.assert_array_equal(gz, hz)
    xt = torch.tensor(x0, requires_grad=True)
    zt = torch.tensor(z0, requires_grad=True)
    _mixed_dtypes(torch, xt, zt, torch.tensor(W)).backward()
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gz, zt.grad.numpy(), rtol=1e-12)
