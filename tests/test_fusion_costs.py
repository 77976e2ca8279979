"""The numba fuser's cost model (``xpgrad/jit/fusion_costs.py``): on runs of many elements a
transcendental (tanh, exp, log1p, a general power, ...) is left to NumPy's SIMD ufunc and the
run split around it; on a few elements, and for arithmetic and square roots always, it stays in
the loop. Split programs equal eager (the left-out ops exactly) and their gradients match
finite differences and PyTorch in float64; odeint, fused again, matches the numpy backend."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import fusion_costs
from xpgrad.jit.fusion_costs import left_to_numpy

pytest.importorskip("numba")

ACTIVATIONS = {"tanh": xg.tanh, "sigmoid": xg.nn.sigmoid, "softplus": xg.nn.softplus,
               "exp": lambda z: xg.exp(z * 0.1),
               "power": lambda z: (z * z + 1.0) ** 0.7}


def _kernel_sources(function):
    """The loop lines of every fused kernel of ``function``'s first program."""
    namespace = function.programs()[0]._replay.__globals__
    return [v.source for v in namespace.values() if callable(v) and hasattr(v, "kernel")]


def _layer(rows, cols, dtype, activation, seed=0):
    """``loss(x) -> (loss, y, [dx, dw, db])`` of ``sum(act(x @ w + b) ** 2)`` on numba."""
    rng = np.random.default_rng(seed)
    w = xg.Variable(rng.normal(size=(cols, cols)).astype(dtype) / cols ** 0.5, backend="numba")
    b = xg.Variable(rng.normal(size=cols).astype(dtype), backend="numba")
    act = ACTIVATIONS[activation]

    def loss(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = act(x @ w + b)
            total = xg.sum(y * y)
        return total, y, tape.gradient(total, [x, w, b])

    x = xg.asarray(rng.normal(size=(rows, cols)).astype(dtype), backend="numba")
    return loss, x, w, b


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_a_large_run_leaves_its_transcendentals_to_numpy_and_equals_eager(activation, dtype):
    loss, x, _, _ = _layer(64, 64, dtype, activation)
    fused = xg.function(loss, warmup=0, fuse=True)
    want = loss(x)
    for _ in range(2):
        got = fused(x)
    sources = "\n".join(_kernel_sources(fused))
    for name in ("tanh", "exp", "log1p", "expm1", " ** "):
        assert f"np.{name}(" not in sources and name not in sources.replace("np.", "")
    assert fused.programs()[0].fused >= 1          # the arithmetic around them is still fused
    rtol = 2e-5 if dtype == "float32" else 1e-12
    if activation in ("tanh", "power"):             # the ufunc itself: the same bits as eager
        np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
    np.testing.assert_allclose(got[1].numpy(), want[1].numpy(), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(got[0].numpy(), want[0].numpy(), rtol=rtol)
    for g, w in zip(got[2], want[2]):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=rtol,
                                   atol=rtol * np.abs(w.numpy()).max())


@pytest.mark.parametrize("activation", ["tanh", "softplus"])
def test_a_small_run_keeps_its_transcendental_in_the_loop(activation):
    loss, x, _, _ = _layer(2, 8, "float64", activation)
    fused = xg.function(loss, warmup=0, fuse=True)
    got, want = [fused(x) for _ in range(2)][-1], loss(x)
    name = {"tanh": "np.tanh(", "softplus": "np.log1p("}[activation]
    assert any(name in source for source in _kernel_sources(fused))
    np.testing.assert_allclose(got[0].numpy(), want[0].numpy(), rtol=1e-12)


def test_split_gradients_match_finite_differences_and_torch_in_float64():
    torch = pytest.importorskip("torch")
    loss, x, w, b = _layer(48, 64, "float64", "tanh", seed=3)
    fused = xg.function(loss, warmup=0, fuse=True)
    _, _, (dx, dw, db) = [fused(x) for _ in range(2)][-1]
    assert not any("np.tanh(" in source for source in _kernel_sources(fused))
    # central differences of the fused program's own loss at a few entries of x
    x0, eps = x.numpy(), 1e-6
    for i, j in [(0, 0), (17, 40), (47, 63)]:
        plus, minus = x0.copy(), x0.copy()
        plus[i, j] += eps
        minus[i, j] -= eps
        numeric = (float(fused(xg.asarray(plus, backend="numba"))[0].numpy())
                   - float(fused(xg.asarray(minus, backend="numba"))[0].numpy())) / (2 * eps)
        assert abs(numeric - dx.numpy()[i, j]) < 1e-6 * max(1.0, abs(numeric))
    tx, tw, tb = (torch.tensor(a.numpy(), requires_grad=True) for a in (x, w, b))
    (torch.tanh(tx @ tw + tb) ** 2).sum().backward()
    for ours, theirs in ((dx, tx), (dw, tw), (db, tb)):
        np.testing.assert_allclose(ours.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_cheap_powers_stay_in_the_loop_and_general_ones_are_left_out():
    def f(x, y):
        return x ** 2 * 0.5 + 1.0, x ** 0.5 + 1.0, x ** 1.7 + 1.0, x ** y * 2.0 + 1.0

    rng = np.random.default_rng(1)
    x, y = (xg.asarray(rng.uniform(0.5, 2.0, 4096), backend="numba") for _ in range(2))
    fused = xg.function(f, warmup=0)
    got, want = [fused(x, y) for _ in range(2)][-1], f(x, y)
    sources = "\n".join(_kernel_sources(fused))
    assert "(v0 * v0)" in sources and "np.sqrt(v0)" in sources     # square, square root
    assert " ** " not in sources                  # 1.7 and an array exponent: NumPy's power
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.numpy(), w.numpy())


def test_the_model_fuses_arithmetic_and_what_numpy_does_no_faster():
    for op in ("add", "multiply", "maximum", "sqrt", "where", "greater"):
        assert not left_to_numpy(op, np.float32, 10 ** 7)
    assert not left_to_numpy("sin", np.float64, 10 ** 7)          # NumPy's is scalar too
    assert left_to_numpy("sin", np.float32, 10 ** 7)
    assert not left_to_numpy("tanh", np.int64, 10 ** 7)            # not a float loop
    assert not left_to_numpy("tanh", np.float64, 0)


@pytest.mark.parametrize("op, dtype", [("tanh", "float32"), ("tanh", "float64"),
                                       ("exp", "float64"), ("log1p", "float32"),
                                       ("power", "float64")])
def test_a_split_pays_off_from_a_size_on(op, dtype):
    sizes = [2 ** k for k in range(4, 21)]
    decisions = [left_to_numpy(op, dtype, n) for n in sizes]
    first = decisions.index(True)
    assert first > 0 and all(decisions[first:])      # small: fused; from there on: NumPy's
    saved = fusion_costs.SAVED_NS[op][dtype == "float64"] - fusion_costs.CROSSING_NS[
        np.dtype(dtype)]
    assert saved * sizes[first] > fusion_costs.SPLIT_NS >= saved * sizes[first - 1]


def test_without_avx512_only_numpys_universal_simd_loops_are_preferred(monkeypatch):
    monkeypatch.setattr(fusion_costs, "_AVX512", False)
    assert left_to_numpy("tanh", np.float64, 10 ** 6)
    assert left_to_numpy("exp", np.float32, 10 ** 6)
    assert not left_to_numpy("exp", np.float64, 10 ** 6)     # NumPy's needs AVX-512F
    assert not left_to_numpy("log1p", np.float32, 10 ** 6)   # SVML: AVX-512 only


@pytest.mark.parametrize("dtype, n, words", [("float", "ten", "n must be"),
                                             ("not a dtype", 10, "dtype must be"),
                                             ("float32", -1, "n must be")])
def test_bad_arguments_are_named(dtype, n, words):
    with pytest.raises((TypeError, ValueError), match=f"left_to_numpy: {words}"):
        left_to_numpy("tanh", dtype, n)


def test_odeint_on_numba_fuses_and_matches_the_numpy_backend(monkeypatch):
    """A neural ODE's field tanh(y @ w1 + b1) @ w2 + b2 at 512x16: odeint's captured programs
    are fused again (their tanh left to NumPy) and the weight gradient equals numpy's."""
    from xpgrad.jit import fusion

    runs = []
    original = fusion.fuse_program
    monkeypatch.setattr(fusion, "fuse_program",
                        lambda program, escaping: runs.append(original(program, escaping))
                        or runs[-1])
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(2, 16)) * 0.5, rng.normal(size=16) * 0.1,
              rng.normal(size=(16, 2)) * 0.5, rng.normal(size=2) * 0.1]
    y0 = rng.normal(size=(512, 2))

    def field(y, t, w1, b1, w2, b2):
        return xg.tanh(y @ w1 + b1) @ w2 + b2

    grads = {}
    for backend in ("numpy", "numba"):
        params = [xg.asarray(a, backend=backend) for a in arrays]
        with xg.GradientTape() as tape:
            tape.watch(params)
            ys = xg.odeint(field, xg.asarray(y0, backend=backend),
                           xg.asarray([0.0, 0.5], backend=backend), *params)
            loss = xg.sum(ys[-1] ** 2)
        grads[backend] = [g.numpy() for g in tape.gradient(loss, params)]
    assert sum(runs) >= 1
    for a, b in zip(grads["numba"], grads["numpy"]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_the_measuring_script_runs(capsys):
    """benchmarks/fusion_transcendentals.py, the numbers behind the model, stays runnable."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / "fusion_transcendentals.py"
    spec = importlib.util.spec_from_file_location("fusion_transcendentals", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--sizes", "64", "--only", "tanh", "sigmoid", "--dtypes", "float64"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines[2:]] == [["tanh", "float64"],
                                                         ["sigmoid", "float64"]]
    numpy_ns, fused_ns = map(float, lines[2].split()[2].split("/"))
    assert numpy_ns > 0 and fused_ns > 0
