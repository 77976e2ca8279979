"""The Numba backend: every kernel against the NumPy backend / the generic rule on the same input.

Compiled kernels are cached on disk, so only a first run (or an edited kernel) compiles.
"""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("numba", reason="the numba backend needs Numba (pip install 'xpgrad[numba]')")

import xpgrad as xg  # noqa: E402
from xpgrad.backends.numba import _cache, _templates  # noqa: E402
from xpgrad.backends.numba._sce_registers import made_loops  # noqa: E402
from xpgrad.backends.numpy import NumpyBackend  # noqa: E402
from xpgrad.primitive import PRIMITIVES, run  # noqa: E402

NB = xg.get_backend("numba")
NP = xg.get_backend("numpy")
GENERIC = NumpyBackend()          # NumPy arrays, no kernels: every primitive runs its generic rule
GENERIC.kernels = {}
GENERIC.name = "numpy-generic"
FLOATS = [np.float32, np.float64]
RTOL = {np.float32: 2e-5, np.float64: 1e-12}
ATOL = {np.float32: 1e-6, np.float64: 1e-14}

LOSSES = {
    "softmax_cross_entropy": xg.losses.softmax_cross_entropy,
    "sigmoid_mse": xg.losses.sigmoid_mse,
    "mse": xg.losses.mse,
    "sigmoid_cross_entropy_with_logits": xg.losses.sigmoid_cross_entropy_with_logits,
}
ACTIVATIONS = {"sigmoid": xg.nn.sigmoid, "tanh": xg.tanh, "relu": xg.nn.relu,
               "leaky_relu": lambda x: xg.nn.leaky_relu(x, negative_slope=0.2),
               "softplus": xg.nn.softplus}


def close(a, b, dt, scale=1.0):
    np.testing.assert_allclose(a, b, rtol=RTOL[dt], atol=ATOL[dt] * scale)


def value_and_grad(backend, fn, x, *rest, weights=None):
    """``fn(x, *rest)`` (weighted sum when not scalar) and its gradient w.r.t. ``x``."""
    X = xg.asarray(x, backend=backend)
    others = [xg.asarray(r, backend=backend) for r in rest]
    with xg.GradientTape() as tape:
        tape.watch(X)
        y = fn(X, *others)
        total = y if weights is None else xg.sum(y * xg.asarray(weights, backend=backend))
    return y.numpy(), tape.gradient(total, X).numpy()


def both(fn, x, *rest, weights=None, ref=GENERIC):
    """(numba result, reference result); the reference is the generic rule by default."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # NumPy's mean of an empty array
        expect = value_and_grad(ref, fn, x, *rest, weights=weights)
    return value_and_grad("numba", fn, x, *rest, weights=weights), expect


def targets(name, rng, shape, dt, int_labels=True):
    if name == "softmax_cross_entropy" and int_labels:
        return rng.integers(0, shape[-1], shape[:-1])
    if name == "softmax_cross_entropy":
        p = rng.random(shape).astype(dt)
        return p / p.sum(-1, keepdims=True)
    return rng.random(shape).astype(dt)


# -- the backend ----------------------------------------------------------------------------------
def test_registered_and_described():
    info = xg.available_backends()["numba"]
    assert info["available"] is True
    d = NB.describe()
    assert d["name"] == "numba" and d["threads"] >= 1 and d["version"]
    assert isinstance(d["cache_warm"], bool) and "/" in d["cached_kernels"]
    assert NB.xp is NP.xp and isinstance(NB, type(NP))


def test_missing_numba_says_how_to_install(monkeypatch):
    from xpgrad.backends import numba as nbmod

    monkeypatch.setitem(sys.modules, "numba", None)     # makes ``import numba`` fail
    with pytest.raises(xg.BackendUnavailableError,
                       match=r'pip install numba \(or pip install -e "\.\[numba\]"'):
        nbmod.NumbaBackend()


def test_cache_dir_from_environment(tmp_path):
    code = ("import xpgrad as xg; d = xg.get_backend('numba').describe(); "
            "print(d['cache_dir']); print(d['cache_warm'])")
    env = dict(os.environ, XPGRAD_NUMBA_CACHE_DIR=str(tmp_path / "kernels"))
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0].startswith(str(tmp_path / "kernels")) and out[1] == "False"
    assert os.path.basename(out[0]).startswith("xpgrad-")         # keyed by the sources


# -- losses ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name,int_labels", [("softmax_cross_entropy", True),
                                             ("softmax_cross_entropy", False),
                                             ("sigmoid_mse", None), ("mse", None),
                                             ("sigmoid_cross_entropy_with_logits", None)])
def test_loss_matches_numpy(name, int_labels, reduction, dt, rng):
    x = (rng.standard_normal((37, 11)) * 3).astype(dt)
    t = targets(name, rng, x.shape, dt, int_labels)
    w = rng.random(x.shape[:1] if name == "softmax_cross_entropy" else x.shape).astype(dt)

    def fn(a, b):
        return LOSSES[name](a, b, reduction=reduction)

    for ref in (GENERIC, NP):
        (val, grad), (rval, rgrad) = both(fn, x, t, weights=w if reduction == "none" else None,
                                          ref=ref)
        close(val, rval, dt, scale=10)
        close(grad, rgrad, dt)


@pytest.mark.parametrize("dt", FLOATS)
def test_softmax_ce_extreme_logits(dt, rng):
    x = np.where(rng.random((9, 6)) < 0.5, -1e4, 1e4).astype(dt)
    x[0] = 1e4                                                      # a tie over the whole row
    for t in (rng.integers(0, 6, 9), targets("softmax_cross_entropy", rng, x.shape, dt, False)):
        for reduction in ("mean", "none"):
            def fn(a, b):
                return xg.losses.softmax_cross_entropy(a, b, reduction=reduction)

            w = np.linspace(0.5, 2, 9).astype(dt) if reduction == "none" else None
            (val, grad), (rval, rgrad) = both(fn, x, t, weights=w)
            assert np.isfinite(val).all() and np.isfinite(grad).all()
            close(val, rval, dt, scale=1e4)
            close(grad, rgrad, dt)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("shape", [(5, 1), (1, 7), (1, 1)])
def test_softmax_ce_one_class_and_one_row(shape, dt, rng):
    x = rng.standard_normal(shape).astype(dt)
    for t in (rng.integers(0, shape[1], shape[0]), np.ones(shape, dt) / shape[1]):
        (val, grad), (rval, rgrad) = both(xg.losses.softmax_cross_entropy, x, t)
        close(val, rval, dt)
        close(grad, rgrad, dt)
    if shape[1] == 1:                           # one class: probability 1, loss and grad 0
        assert val == 0 and not grad.any()


@pytest.mark.parametrize("name", list(LOSSES))
def test_empty_batch_has_defined_result(name):
    """Like NumPy's mean and sum: mean of nothing is NaN, sum is 0, none is empty; the
    gradient is empty. The generic rule and the NumPy kernel define it the same way."""
    shape = (0, 4)
    x = np.zeros(shape, np.float32)
    t = (np.zeros(0, np.int64) if name == "softmax_cross_entropy"
         else np.zeros(shape, np.float32))
    for reduction, expect in (("mean", np.nan), ("sum", 0.0)):
        def fn(a, b):
            return LOSSES[name](a, b, reduction=reduction)

        for backend in ("numba", "numpy", GENERIC):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)   # np.mean of an empty array
                val, grad = value_and_grad(backend, fn, x, t)
            np.testing.assert_equal(val, expect)
            assert grad.shape == shape
    out, _ = NB.kernels[name].forward(x, t, reduction="none")
    assert out.shape == ((0,) if name == "softmax_cross_entropy" else shape)


def test_bad_labels_give_the_generic_error():
    x = xg.asarray(np.zeros((2, 3), np.float32), backend="numba")
    with pytest.raises(IndexError, match="label 3 is out of range for 3 classes"):
        xg.losses.softmax_cross_entropy(x, xg.asarray([0, 3], backend="numba"))
    assert NB.kernels["softmax_cross_entropy"].forward(
        np.zeros((2, 3), np.float32), np.array([0, 3]), reduction="mean") is None


@pytest.mark.parametrize("dt", FLOATS)
def test_non_contiguous_inputs(dt, rng):
    big = rng.standard_normal((12, 20)).astype(dt)
    views = {"strided": big[::2, ::3], "transposed": big[:7, :5].T,
             "fortran": np.asfortranarray(big)}
    for x in views.values():
        assert not x.flags.c_contiguous
        for name in LOSSES:
            t = targets(name, rng, x.shape, dt)
            out, saved = NB.kernels[name].forward(x, t, reduction="sum")
            got = NB.kernels[name].vjp(np.asarray(1.0, dt), saved, x, t, reduction="sum")[0]
            ref = value_and_grad(GENERIC, lambda a, b, n=name: LOSSES[n](a, b, reduction="sum"),
                                 np.ascontiguousarray(x), t)
            close(out, ref[0], dt, scale=10)
            close(got, ref[1], dt)
        for name, fn in ACTIVATIONS.items():
            params = {"negative_slope": 0.2} if name == "leaky_relu" else {}
            g = rng.standard_normal(x.shape).astype(dt)[::-1]        # a non-contiguous g too
            out, saved = NB.kernels[name].forward(x, **params)
            got = NB.kernels[name].vjp(g, saved, x, **params)[0]
            ref = value_and_grad(GENERIC, fn, x, weights=g)
            close(out, ref[0], dt)
            close(got, ref[1], dt)


@pytest.mark.parametrize("name", list(LOSSES))
def test_nan_and_inf_propagate_in_losses(name, rng):
    dt = np.float32
    x = rng.standard_normal((6, 5)).astype(dt)
    x[1, 2], x[3, 0] = np.nan, np.inf
    t = targets(name, rng, x.shape, dt)
    w = rng.random(6 if name == "softmax_cross_entropy" else x.shape).astype(dt)

    def fn(a, b):
        return LOSSES[name](a, b, reduction="none")

    with np.errstate(invalid="ignore", over="ignore"):
        (val, grad), (rval, rgrad) = both(fn, x, t, weights=w)
    assert np.isnan(val).any()
    np.testing.assert_array_equal(np.isnan(val), np.isnan(rval))
    np.testing.assert_array_equal(np.isnan(grad), np.isnan(rgrad))
    close(val, rval, dt)                        # NaN where NumPy has NaN, inf where it has inf
    close(grad, rgrad, dt)
    with np.errstate(invalid="ignore", over="ignore"):
        (mean, _), _ = both(lambda a, b: LOSSES[name](a, b), x, t)
    assert np.isnan(mean)


@pytest.mark.parametrize("labels", [np.array([2]), np.array([[0.5, 0.0, 0.5]], np.float32)],
                         ids=["int", "probs"])
def test_softmax_ce_minus_inf_logit_is_masked(labels):
    """A -inf logit (a masked class) gets probability 0 and, without target weight, costs
    nothing: the loss stays finite, as in PyTorch, on every backend and in the generic rule."""
    x = np.array([[0.0, -np.inf, 1.0]], np.float32)
    t = labels if labels.ndim == 2 else np.eye(3, dtype=np.float32)[labels]
    p = np.exp([0.0, 1.0]) / np.exp([0.0, 1.0]).sum()
    expect = -(t[0, 0] * np.log(p[0]) + t[0, 2] * np.log(p[1]))
    for backend in ("numba", "numpy", GENERIC):
        val, grad = value_and_grad(backend, xg.losses.softmax_cross_entropy, x, labels)
        np.testing.assert_allclose(val, expect, rtol=1e-6)
        np.testing.assert_allclose(grad, [[p[0] - t[0, 0], 0.0, p[1] - t[0, 2]]],
                                   rtol=1e-6, atol=1e-7)


def test_other_dtypes_fall_back():
    xi = np.arange(-3, 3).reshape(2, 3)
    assert NB.kernels["relu"].forward(xi) is None
    assert NB.kernels["softmax_cross_entropy"].forward(
        xi.astype(np.float16), np.array([0, 1]), reduction="mean") is None
    assert xg.nn.relu(xg.asarray(xi, backend="numba")).tolist() == [[0, 0, 0], [0, 1, 2]]


# -- activations ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_matches_numpy(name, dt, rng):
    x = (rng.standard_normal((33, 7)) * 4).astype(dt)
    x[0, :6] = [0.0, -0.0, 60.0, -60.0, 1e4, -1e4]
    w = rng.standard_normal(x.shape).astype(dt)
    (val, grad), (rval, rgrad) = both(ACTIVATIONS[name], x, weights=w)
    close(val, rval, dt)
    close(grad, rgrad, dt)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_nan_and_inf_propagate_in_activations(name):
    x = np.array([np.nan, np.inf, -np.inf, 1.0, -1.0], np.float32)
    g = np.array([1.0, 1.0, 1.0, np.nan, np.inf], np.float32)
    with np.errstate(invalid="ignore", over="ignore"):      # 0 * inf in the weighting
        (val, grad), (rval, rgrad) = both(ACTIVATIONS[name], x, weights=g)
    np.testing.assert_array_equal(np.isnan(val), np.isnan(rval))
    np.testing.assert_array_equal(np.isnan(grad), np.isnan(rgrad))
    close(val, rval, np.float32)
    close(grad, rgrad, np.float32)


def test_scalar_activation(rng):
    (val, grad), (rval, rgrad) = both(xg.nn.sigmoid, np.float32(0.3))
    close(val, rval, np.float32)
    close(grad, rgrad, np.float32)


# -- the threaded path ----------------------------------------------------------------------------
def test_parallel_blocks_match_serial(monkeypatch, rng):
    from xpgrad.backends.numba import _config

    x = (rng.standard_normal((53, 29)) * 3).astype(np.float32)
    t = rng.random(x.shape).astype(np.float32)
    labels = rng.integers(0, 29, 53)
    cases = [("softmax_cross_entropy", labels), ("sigmoid_mse", t),
             ("sigmoid_cross_entropy_with_logits", t), ("mse", t)]
    serial = [value_and_grad("numba", LOSSES[n], x, tt) for n, tt in cases]
    serial += [value_and_grad("numba", ACTIVATIONS[n], x, weights=t) for n in ACTIVATIONS]
    monkeypatch.setattr(_config, "PAR_MIN", 0)
    monkeypatch.setattr(_config, "ROW_PAR_MIN", 0)
    monkeypatch.setattr(_config, "BLOCK", 64)          # many blocks, a ragged last one
    par = [value_and_grad("numba", LOSSES[n], x, tt) for n, tt in cases]
    par += [value_and_grad("numba", ACTIVATIONS[n], x, weights=t) for n in ACTIVATIONS]
    for (v, g), (rv, rg) in zip(par, serial):
        close(v, rv, np.float32)
        close(g, rg, np.float32)


#: the scalar arguments of the loops, by parameter name (a new loop's scalars go here)
LOOP_SCALARS = {"slope": 0.2, "lr": 0.01, "wd": 0.01, "mu": 0.9, "nesterov": True, "eps": 1e-7,
                "rho": 0.9, "crho": 0.1, "step_size": 0.01, "b1": 0.9, "cb1": 0.1, "b2": 0.999,
                "cb2": 0.001, "root_bc2": 0.7, "decay": 1, "c": 0.01, "scale": 0.01,
                "bc2": 0.3, "c_grad": 0.02, "c_m": 0.05, "factor": 0.01, "rectified": True,
                "keep": 0.9, "spread": 0.01, "ignore": 3}    # (smoothed CE: label 3 ignored)


#: the constants of the activation loops that ``_templates.pointwise`` made, by activation
#: (none: an empty tuple)
POINTWISE_CONSTANTS = {"elu": (1.5, 1.2, 0.9, 0.5), "hardtanh": (-0.5, 2.0),
                       "softplus_beta": (1.5, 4.0)}


def _loop_scalar(name, param, dt):
    """The value of the loop ``name``'s scalar argument ``param`` in dtype ``dt``."""
    if param == "bias":                                 # a dense layer's, over 11 columns
        return np.linspace(-1.0, 1.0, 11).astype(dt)
    if param == "c" and name.startswith("huber"):        # (gradient factor, delta, scale / 2)
        return (dt(0.01), dt(0.7), dt(0.5))
    if param == "weight" and name.startswith("multi_margin"):    # one per class, of 11
        return np.linspace(0.5, 2.0, 11).astype(dt)
    if param == "p" and name.startswith("multi_margin"):
        return 2
    if param == "margin":
        return dt(0.8)
    if param == "constants":
        activation = name.rsplit("_bwd", 1)[0].rsplit("_fwd", 1)[0]
        return tuple(dt(v) for v in POINTWISE_CONSTANTS.get(activation, ()))
    value = LOOP_SCALARS[param]
    return dt(value) if isinstance(value, float) else value


def _made_here():
    """The kernels the backend's modules made from templates, by name (doctests make others)."""
    package = os.path.dirname(_templates.__file__)
    return {name for name, calls in _templates._MADE.items()
            if all(os.path.dirname(file) == package for file, _ in calls)}


def _loop_arrays(name, count, dt, rng):
    """Argument arrays for the loop of the threaded kernel ``name``: one or two sets."""
    if name.startswith("sce_"):                         # rows: logits, targets, grad, losses
        c = 7 if "regs" in name else 11                 # (register kernels: at most 8 float64)
        x = (rng.standard_normal((53, c)) * 3).astype(dt)
        t = (rng.integers(0, c, 53) if name.startswith(("sce_labels", "sce_smoothed"))
             else targets("softmax_cross_entropy", rng, x.shape, dt, int_labels=False))
        if "_loss_" in name:                            # the losses alone: no gradient
            return [[x, t, np.zeros(53, dt)]]
        return [[x, t, np.zeros_like(x), np.zeros(53, dt)]]
    if name.startswith("multi_margin"):                 # rows: scores, labels, grad, losses
        x = (rng.standard_normal((53, 11)) * 3).astype(dt)
        return [[x, rng.integers(0, 11, 53), np.zeros_like(x), np.zeros(53, dt)]]
    if name.startswith("bias_"):                        # rows of a product, in place
        return [[(rng.standard_normal((53, 11)) * 3).astype(dt)]]
    if "softmax_rows" in name:                          # rows: x (or g, y), out
        return [[(rng.standard_normal((53, 11)) * 3).astype(dt)
                 for _ in range(count - 1)] + [np.zeros((53, 11), dt)]]
    first = (rng.standard_normal(1000) * 3).astype(dt)
    rest = [np.abs(rng.standard_normal(1000)).astype(dt) for _ in range(count - 1)]
    if _templates.BLOCKED[name].sums:                 # elementwise losses: out given, or empty
        return [[first, *rest], [first, *rest[:-1], np.zeros(0, dt)]]
    return [[first, *rest]]


@pytest.mark.parametrize("dt", FLOATS)
def test_every_threaded_kernel_matches_its_loop(dt, rng):
    """Each kernel made from a template by ``parallel_blocks`` against the one-thread loop it
    runs, on random data in ragged blocks: every array it writes and the sum it returns."""
    import inspect

    threaded = {n.split(".")[1] for n in _cache.kernel_dispatchers() if n.endswith("_par")}
    # (softmax cross-entropy's register loops, made per class count, are checked on their own)
    made = _made_here() & set(_templates.BLOCKED) - set(made_loops())
    # a family's kernel (``parallel_family``) runs several loops: each is checked as a member
    families = threaded - set(_templates.BLOCKED)
    members = {name for name, blocked in _templates.BLOCKED.items()
               if isinstance(blocked.kernel, _templates.FamilyMember)
               and blocked.kernel.kernel.py_func.__name__ in families}
    assert threaded - families == made and len(made | members) >= 21
    assert {"act_fwd_par", "act_bwd_par", "act_bwd_in_place_par"} <= families
    for name in sorted(made | members):
        made = _templates.BLOCKED[name]
        params = list(inspect.signature(made.serial.py_func).parameters)
        scalars = [_loop_scalar(name, p, dt) for p in params[made.arrays:]]
        for arrays in _loop_arrays(name, made.arrays, dt, rng):
            serial = [a.copy() for a in arrays]
            blocks = [a.copy() for a in arrays]
            total = made.serial(*serial, *scalars)
            block_total = made.kernel(*blocks, *scalars, 7)          # 7 entries (rows) a block
            for a, b in zip(serial, blocks):
                close(b, a, dt)
            if made.sums:
                close(block_total, total, dt)


#: the units the test warms: one per way the kernels are made (an elementwise loss with its
#: loss-only loop and block sums, a pointwise activation, an optimizer update, plain row loops);
#: every kernel is compiled once by test_warmup_compiles_every_kernel, a minute cold
_WARMED_UNITS = ("mse", "sigmoid", "sgd_update", "layer_norm")

#: a script, not ``-c``: the spawned workers of the parallel warmup import it as ``__mp_main__``
#: and so restrict their units the same way
_WARM_AND_REPORT = """
import json
import os
import sys
from numba.core import event
import xpgrad as xg
from xpgrad.backends.numba import _cache, _templates, _warmup_units

_cache.UNITS = _warmup_units.UNITS = [u for u in _warmup_units.UNITS if u[1] in {units!r}]
if __name__ == "__main__":
    with event.install_recorder("numba:compile") as compiles:
        xg.get_backend("numba").warmup(dtypes=("float32",), processes=int(sys.argv[1]))
    kernels = _cache.kernel_dispatchers()
    print(json.dumps({{
        "compiled": sorted({{e.data["dispatcher"].py_func.__qualname__
                            for _, e in compiles.buffer}}),
        "loaded": {{n: sum(d.stats.cache_hits.values()) for n, d in kernels.items()}},
        "versions": {{n: _cache._cached_versions(d) for n, d in kernels.items()}},
        "index": {{n: d._cache._cache_file._index_path for n, d in kernels.items()}},
        "made": sorted(n for n, calls in _templates._MADE.items() if all(
            os.path.dirname(file) == os.path.dirname(_templates.__file__) for file, _ in calls)),
    }}))
"""


def test_second_process_compiles_nothing(tmp_path):
    """Warm the kernels of a few units (float32, one thread and threaded; one unit per way the
    kernels are made) with an empty cache, in worker processes side by side (the parallel
    warmup); a fresh process then loads each of them and compiles nothing (Numba's compile event
    never fires), leaving the cache files as they were. Every kernel, those made from templates
    included, has its own index file, named the same in every process."""
    import json

    cache = tmp_path / "kernels"
    env = dict(os.environ, XPGRAD_NUMBA_CACHE_DIR=str(cache))
    env.pop("NUMBA_CACHE_DIR", None)
    script = tmp_path / "warm_and_report.py"
    script.write_text(_WARM_AND_REPORT.format(units=_WARMED_UNITS))

    def run_fresh(processes):
        out = subprocess.run([sys.executable, str(script), str(processes)], env=env,
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out.splitlines()[-1])

    def files():
        return {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in cache.rglob("*.nb*")}

    first = run_fresh(2)
    kernels = {name for name, versions in first["versions"].items() if versions >= 1}
    made = {name for name in kernels if name.split(".")[1] in _made_here()}
    # each unit's kernels, threaded wrappers made from templates and plain loops among them
    assert {"_loss_kernels.mse_block", "_loss_kernels.mse_loss_block", "_loss_kernels.mse_par",
            "_act_kernels.act_fwd_par", "_optim_kernels.sgd_par",
            "_norm.layer_norm_rows"} <= kernels, sorted(kernels)
    assert len(made) >= 4 and kernels - made, sorted(kernels)
    # the workers compiled them: this process loaded each one from their cache (a threaded
    # family's kernel compiles all the loops it can run: those it did not call stay on disk)
    family_loops = {f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}"
                    for fn in (b.serial.py_func for b in _templates.BLOCKED.values()
                               if isinstance(b.kernel, _templates.FamilyMember))}
    used = kernels - family_loops
    assert all(first["loaded"][name] >= 1 for name in used), first["loaded"]
    written = files()
    second = run_fresh(1)
    assert second["compiled"] == []
    assert all(second["loaded"][name] >= 1 for name in used), second["loaded"]
    assert {n for n, v in second["versions"].items() if v >= 1} == kernels
    assert files() == written
    index = second["index"]
    assert index == first["index"] and len(set(index.values())) == len(index)
    # the kernels that process made from templates (this one may have made more: the softmax-CE
    # register loops are made per class count when first asked for, and are no unit's kernels)
    made_there = set(second["made"])
    every_made = {name for name in index if name.split(".")[1] in made_there}
    assert len(every_made) == len(made_there) >= 24             # all listed by the cache report
    for name in every_made:
        assert os.path.basename(index[name]).startswith(f"_templates.{name.split('.')[1]}-")


_SCALED_LOOP = """from numba import njit

from xpgrad.backends.numba._templates import parallel_blocks


@njit(cache=True)
def scale(x, out):
    for i in range(x.shape[0]):
        out[i] = {factor} * x[i]


scale_par = parallel_blocks(scale, arrays=2)
"""


def test_editing_a_loop_recompiles_its_threaded_kernel(tmp_path):
    """Numba checks only a kernel's own source file, and a threaded kernel made from a template
    has the compiled loop inside it: the hash of the loop's file in its cache key makes a new
    process compile it again after the loop is edited, instead of loading the old loop."""
    # no bytecode of scaled_loop.py: rewritten within a second at the same size, a cached .pyc
    # (PYTHONPYCACHEPREFIX, tests/subprocess_bytecode.py) would pass for the new source
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONDONTWRITEBYTECODE="1")
    env.pop("XPGRAD_NUMBA_CACHE_DIR", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    code = ("import numpy as np, scaled_loop\n"
            "from numba.core import event\n"
            "from xpgrad.backends.numba._cache import _cached_versions\n"
            "cached = _cached_versions(scaled_loop.scale_par)\n"
            "with event.install_recorder('numba:compile') as compiles:\n"
            "    out = np.empty(5)\n"
            "    scaled_loop.scale_par(np.ones(5), out, 2)\n"
            "print(out[0], out.sum(), cached, bool(compiles.buffer))")

    def run_fresh(factor):
        (tmp_path / "scaled_loop.py").write_text(_SCALED_LOOP.format(factor=factor))
        return subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                              capture_output=True, text=True, check=True).stdout.split()

    # the value, how many cached versions describe() counts, whether anything compiled
    assert run_fresh(2) == ["2.0", "10.0", "0", "True"]
    assert run_fresh(2) == ["2.0", "10.0", "1", "False"]           # loaded from the cache
    assert run_fresh(3) == ["3.0", "15.0", "0", "True"]            # the old entry does not count


# -- optimizer updates ----------------------------------------------------------------------------
UPDATES = [
    ("sgd_update", 0, lambda s: (None, 0.1, 0.0, False, 0.0)),
    ("sgd_update", 0, lambda s: (None, 0.1, 0.0, False, 0.01)),
    ("sgd_update", 1, lambda s: (s[0], 0.1, 0.9, False, 0.0)),
    ("sgd_update", 1, lambda s: (s[0], 0.1, 0.9, True, 0.01)),
    ("adagrad_update", 1, lambda s: (s[0], 0.1, 1e-7)),
    ("adadelta_update", 2, lambda s: (s[0], s[1], 1.0, 0.95, 1e-6)),
    ("rmsprop_update", 1, lambda s: (s[0], None, 0.01, 0.9, 0.0, 1e-7)),
    ("rmsprop_update", 2, lambda s: (s[0], s[1], 0.01, 0.9, 0.9, 1e-7)),
]


def update(be, method, param, grad, *rest):
    """Run the update primitive ``method`` with the old positional order: its state arrays,
    then its scalars (the generic forward's keyword-only parameters, in order)."""
    import inspect

    prim = PRIMITIVES[method]
    params = inspect.signature(prim.forward).parameters.values()
    n_states = sum(p.kind == p.POSITIONAL_OR_KEYWORD for p in params) - 3   # xp, param, grad
    names = [p.name for p in params if p.kind == p.KEYWORD_ONLY]
    run(prim, be, param, grad, *rest[:n_states], **dict(zip(names, rest[n_states:])))


def _adam(decay, decoupled):
    return lambda s, k: (s[0], s[1], 0.01, 0.9, 0.999, 1e-7, k + 1, decay, decoupled)


@pytest.mark.parametrize("dt,parallel", [(np.float32, False), (np.float64, False),
                                         (np.float32, True)])   # threaded: same loop, f32 only
@pytest.mark.parametrize("case", range(len(UPDATES) + 3))
def test_optimizer_update_matches_generic(case, parallel, dt, rng, monkeypatch):
    if parallel:
        from xpgrad.backends.numba import _config

        monkeypatch.setattr(_config, "PAR_MIN", 0)
        monkeypatch.setattr(_config, "BLOCK", 100)
    if case < len(UPDATES):
        method, nslots, args = UPDATES[case]
        make = (lambda f: lambda s, k: f(s))(args)
    else:
        method, nslots = "adam_update", 2
        make = _adam(*[(0.0, False), (0.01, False), (0.01, True)][case - len(UPDATES)])
    p0 = rng.standard_normal((31, 17)).astype(dt)
    runs = []
    for impl in (lambda *a: update(NB, method, *a), lambda *a: update(GENERIC, method, *a)):
        p = p0.copy()
        slots = [np.zeros_like(p) for _ in range(nslots)]
        steps = np.random.default_rng(1)
        for k in range(6):
            impl(p, steps.standard_normal(p.shape).astype(dt), *make(slots, k))
        runs.append((p, slots))
    (p, slots), (rp, rslots) = runs
    close(p, rp, dt)
    for s, rs in zip(slots, rslots):
        close(s, rs, dt)


def test_optimizer_falls_back_for_non_contiguous_param(rng):
    base = rng.standard_normal((8, 6)).astype(np.float32)
    p, rp = base.copy()[:, ::2], base.copy()[:, ::2]
    g = rng.standard_normal(p.shape).astype(np.float32)
    m, v, rm, rv = (np.zeros(p.shape, np.float32) for _ in range(4))
    update(NB, "adam_update", p, g, m, v, 0.1, 0.9, 0.999, 1e-7, 1, 0.0, False)
    update(GENERIC, "adam_update", rp, g, rm, rv, 0.1, 0.9, 0.999, 1e-7, 1, 0.0, False)
    close(p, rp, np.float32)


# -- whole models ---------------------------------------------------------------------------------
def test_mlp_gradients_match_numpy(rng):
    x = rng.standard_normal((16, 12)).astype(np.float32)
    y = rng.integers(0, 5, 16)
    w1 = rng.standard_normal((12, 8)).astype(np.float32) * 0.3
    w2 = rng.standard_normal((8, 5)).astype(np.float32) * 0.3
    grads = {}
    for be in ("numpy", "numba"):
        W1, W2 = xg.Variable(xg.asarray(w1, backend=be)), xg.Variable(xg.asarray(w2, backend=be))
        X, Y = xg.asarray(x, backend=be), xg.asarray(y, backend=be)
        with xg.GradientTape() as tape:
            h = xg.nn.relu(X @ W1)
            h = xg.tanh(h) + xg.nn.sigmoid(h) + xg.nn.softplus(h)
            loss = xg.losses.softmax_cross_entropy(h @ W2, Y)
        grads[be] = [loss.numpy()] + [g.numpy() for g in tape.gradient(loss, [W1, W2])]
    for a, b in zip(grads["numba"], grads["numpy"]):
        close(a, b, np.float32)


def test_second_order_uses_generic_rules():
    x = xg.asarray(np.array([[0.3, -1.2, 2.0], [1.0, 0.5, -0.5]]), backend="numba")
    labels = xg.asarray([2, 0], backend="numba")
    xg.testing.check_grads(lambda a: xg.losses.softmax_cross_entropy(a, labels), [x], order=2)
    xg.testing.check_grads(lambda a: xg.sum(xg.nn.softplus(a) * xg.nn.sigmoid(a)), [x], order=2)


def test_warmup_compiles_every_kernel():
    """After warmup every kernel, threaded ones included, has float32 and float64 versions in
    the disk cache: this test leaves the cache warm for the runs after the suite (the README's
    second command), in parallel worker processes where it is cold."""
    assert NB.warmup() >= 0
    kernels = _cache.kernel_dispatchers()
    assert len(kernels) >= 40
    both = ("float32", "float64")
    assert all(_cache._cached_versions(d) >= _cache.versions_needed(d, both)
               for d in kernels.values())
    # the erf family's loops are one dtype each (float32: the fitted polynomials of _erf32)
    assert sum(_cache.versions_needed(d, both) == 1 for d in kernels.values()) \
        == len(_cache.ONE_DTYPE)
    assert NB.kernels_cached(("float32", "float64")) and NB.describe()["cache_warm"]


def test_warmup_rejects_a_bad_process_count():
    with pytest.raises(ValueError, match="processes must be an integer >= 1, got 0"):
        NB.warmup(processes=0)


# -- the command line -----------------------------------------------------------------------------
def test_train_cli_loss_curves_match_numpy(tmp_path):
    """``xpgrad train --backend numba`` follows the numpy run's loss curves to 1e-4 relative."""
    import json

    from xpgrad.cli import main

    curves = {}
    for backend in ("numpy", "numba"):
        logdir = tmp_path / backend
        assert main(["train", "--backend", backend, "--epochs", "3", "--seed", "1", "--quiet",
                     "--logdir", str(logdir)]) == 0
        curves[backend] = json.loads((logdir / "history.json").read_text())
    a, b = curves["numba"], curves["numpy"]
    assert len(a["step_loss"]) == len(b["step_loss"]) > 100
    for key in ("step_loss", "train_loss", "test_loss", "train_accuracy", "test_accuracy"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-4, err_msg=key)


def test_docstring_examples():
    import doctest
    import importlib

    for name in ("", "._config", "._losses", "._activations", "._optim", "._cache", "._math",
                 "._templates", "._scans", "._cache_key", "._softmax", "._rms_norm",
                 "._group_norm", "._margin", "._gelu_math", "._gemm", "._erf32", "._erf64",
                 "._special"):
        module = importlib.import_module("xpgrad.backends.numba" + name)
        assert doctest.testmod(module).failed == 0, module.__name__


# -- several Python threads --------------------------------------------------------------------
_THREADS = r'''
import sys, threading
import numpy as np
import numba
import xpgrad as xg
from xpgrad.backends.numba import _config

xg.get_backend("numba")   # made once here: two threads making it at once get two (see report)
n = 2 * _config.PAR_MIN                        # above the threshold: the threaded kernels run
rows = _config.ROW_PAR_MIN // 256 + 1          # (rows, 256) logits: the threaded softmax loss
x = np.linspace(-5.0, 5.0, n).astype(np.float32)
logits = np.random.default_rng(0).normal(size=(rows, 256)).astype(np.float32)
labels = np.arange(rows) % 256
want_sigmoid = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
want_mse = float(np.mean(x.astype(np.float64) ** 2))
shifted = logits - logits.max(axis=1, keepdims=True)
want_ce = float(np.mean(np.log(np.exp(shifted.astype(np.float64)).sum(axis=1))
                        - shifted[np.arange(rows), labels]))
errors = []


def work(seed):
    try:
        for _ in range(6):
            t = xg.asarray(x, backend="numba")
            w = xg.Variable(np.zeros(n, np.float32), backend="numba")
            with xg.GradientTape() as tape:
                y = xg.nn.sigmoid(t)
                loss = xg.losses.mse(t + w, xg.zeros_like(t))
            xg.optim.Adam(0.1).apply_gradients([(tape.gradient(loss, w), w)])
            np.testing.assert_allclose(y.numpy(), want_sigmoid, rtol=1e-5, atol=1e-6)
            assert abs(float(loss) - want_mse) <= 1e-5 * want_mse
            ce = xg.losses.softmax_cross_entropy(xg.asarray(logits, backend="numba"),
                                                 xg.asarray(labels, backend="numba"))
            assert abs(float(ce) - want_ce) <= 1e-5 * want_ce
    except BaseException as e:       # noqa: BLE001 (reported below)
        errors.append(repr(e))


threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("layer", numba.threading_layer(), "serialized", not _config._layer_threadsafe)
if errors:
    sys.exit("errors: " + "; ".join(errors))
'''


@pytest.mark.parametrize("layer", ["default", "workqueue"])
def test_two_python_threads_never_abort_the_process(layer, tmp_path):
    """Two threads run the threaded kernels at once. On Numba's workqueue layer (which aborts
    the process on a concurrent launch) the backend serializes its launches; on a thread-safe
    layer (tbb, omp) they run concurrently. Either way: exit 0, correct results."""
    env = dict(os.environ, NUMBA_THREADING_LAYER=layer)
    script = tmp_path / "threads.py"
    script.write_text(_THREADS)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=600, env=env)
    assert out.returncode == 0, f"exit {out.returncode}\n{out.stdout}\n{out.stderr[-3000:]}"
    assert out.stdout.startswith("layer ")
    if layer == "workqueue":
        assert "layer workqueue serialized True" in out.stdout


def test_launches_are_serialized_only_on_unsafe_layers(monkeypatch):
    from xpgrad.backends.numba import _config

    calls = []

    def kernel(*args):
        calls.append(_config._launch_lock.locked())
        return len(args)

    monkeypatch.setattr(_config, "_layer_threadsafe", False)
    assert _config.run_parallel(kernel, 1, 2) == 2 and calls == [True]
    monkeypatch.setattr(_config, "_layer_threadsafe", True)
    assert _config.run_parallel(kernel, 1) == 1 and calls == [True, False]
