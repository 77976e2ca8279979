"""The group_norm primitive and its kernels (numpy, numba): GroupNorm / InstanceNorm values and
gradients against PyTorch (float64 and float32, long and short groups, several cache blocks),
float32 with large offsets as accurate as PyTorch's, finite differences of first and second
order (the second through the generic rule), numba == numpy, the threaded loops == the serial
ones, declined inputs (other dtypes, empty) on the generic rule, the warmup list, and bad input.
(tests/test_kernel_protocol.py compares each kernel with the generic rule on its SAMPLES.)"""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.primitive import PRIMITIVES

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


def _need_numba():
    row = backend_report().get("numba", {"available": False, "reason": "not registered"})
    if not row["available"]:
        pytest.skip(f"numba: {row['reason']}")


BACKENDS = ["numpy", "numba"]
TOL = {"float64": dict(rtol=1e-10, atol=1e-10), "float32": dict(rtol=1e-4, atol=1e-4)}


@pytest.fixture
def small_blocks(monkeypatch):
    """NumPy's group_norm kernel cut into blocks of a few rows (a 1 KiB block)."""
    from xpgrad.backends.numpy import normalization

    monkeypatch.setattr(normalization, "BLOCK_BYTES", 1024)


def _run(backend, x, groups, weight, bias, ct, dtype):
    xt = xg.asarray(x, backend=backend)
    params = [xg.Variable(v.astype(dtype), backend=backend) for v in (weight, bias)
              if v is not None]
    w = params[0] if weight is not None else None
    b = params[-1] if bias is not None else None
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = xg.nn.group_norm(xt, groups, w, b, eps=1e-5)
        loss = xg.sum(y * xg.asarray(ct, backend=backend))
    grads = tape.gradient(loss, [xt] + params)
    return [y.numpy()] + [g.numpy() for g in grads]


def _torch(x, groups, weight, bias, ct):
    tx = torch.tensor(x, requires_grad=True)
    tp = [torch.tensor(v, requires_grad=True) for v in (weight, bias) if v is not None]
    w = tp[0] if weight is not None else None
    b = tp[-1] if bias is not None else None
    if w is None and b is not None:     # torch's backward fails on a bias without a weight
        w = torch.ones(x.shape[1], dtype=tx.dtype)
    ty = torch.nn.functional.group_norm(tx, groups, w, b, eps=1e-5)
    (ty * torch.tensor(ct)).sum().backward()
    return [ty.detach().numpy(), tx.grad.numpy()] + [p.grad.numpy() for p in tp]


#: (shape, groups): long groups (>= 128 entries a channel: NumPy's broadcast path), short ones,
#: one channel a group (InstanceNorm), one group (LayerNorm over C, *), (N, C) input
CASES = [((3, 6, 16, 16), 2), ((2, 8, 3, 5), 4), ((4, 6, 200), 6), ((2, 4, 3, 3), 1),
         ((5, 6), 3), ((3, 4, 7), 4), ((1, 12, 2, 3, 4), 3)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape, groups", CASES)
@pytest.mark.parametrize("affine", [(True, True), (False, False), (True, False), (False, True)])
def test_group_norm_matches_torch(backend, dtype, shape, groups, affine, small_blocks, rng):
    if backend == "numba":
        _need_numba()
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    ct = rng.standard_normal(shape).astype(dtype)
    weight = rng.standard_normal(shape[1]).astype(dtype) if affine[0] else None
    bias = rng.standard_normal(shape[1]).astype(dtype) if affine[1] else None
    got = _run(backend, x, groups, weight, bias, ct, dtype)
    want = _torch(x, groups, weight, bias, ct)
    assert len(got) == len(want) == 2 + sum(affine)
    for what, a, b in zip(("y", "dx", "dw/db", "db"), got, want):
        assert a.dtype == dtype
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a, b, rtol=TOL[dtype]["rtol"],
                                   atol=TOL[dtype]["atol"] * scale, err_msg=what)


def _error(got, x64, groups):
    """Largest error of ``got`` against float64 PyTorch on the float32 input, in units of
    the output (unit variance)."""
    want = torch.nn.functional.group_norm(torch.tensor(x64), groups, eps=1e-5).numpy()
    return float(np.abs(got.astype(np.float64) - want).max())


@pytest.mark.parametrize("kernel", ["numpy", "numba", "generic"])
@pytest.mark.parametrize("groups, offset", [(2, 1e4), (8, 3e3), (8, -1e5)])
def test_float32_large_offsets_as_accurate_as_torch(kernel, groups, offset, monkeypatch, rng):
    """float32 groups whose means are thousands of standard deviations: the normalized values
    and the input's gradient no worse than PyTorch's float32 (which errs by 3e-4 to 1e-2 here),
    and within 2e-6 (a float32 mean subtracted without correction errs by ~1e-4), against
    float64 on the same float32 input."""
    if kernel == "numba":
        _need_numba()
    backend = "numpy" if kernel == "generic" else kernel
    if kernel == "generic":
        monkeypatch.delitem(xg.get_backend("numpy").kernels, "group_norm")
    x = (rng.standard_normal((4, 8, 16, 16)) + offset).astype(np.float32)
    x64 = x.astype(np.float64)
    ours = xg.nn.group_norm(xg.asarray(x, backend=backend), groups).numpy()
    theirs = torch.nn.functional.group_norm(torch.tensor(x), groups, eps=1e-5).numpy()
    mine, ref = _error(ours, x64, groups), _error(theirs, x64, groups)
    assert mine <= min(ref, 2e-6), (mine, ref)

    ct = rng.standard_normal(x.shape)
    xt = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        loss = xg.sum(xg.nn.group_norm(xt, groups) * xg.asarray(ct.astype(np.float32),
                                                                 backend=backend))
    dx = tape.gradient(loss, xt).numpy()

    def torch_dx(t):
        t.requires_grad_(True)
        out = torch.nn.functional.group_norm(t, groups, eps=1e-5)
        (out * torch.tensor(ct, dtype=t.dtype)).sum().backward()
        return t.grad.numpy().astype(np.float64)

    exact, theirs_dx = torch_dx(torch.tensor(x64)), torch_dx(torch.tensor(x))
    scale = np.abs(exact).max()
    mine, ref = (float(np.abs(a - exact).max() / scale) for a in (dx, theirs_dx))
    assert mine <= min(ref, 2e-6), (mine, ref)


@pytest.mark.parametrize("offset", [0.0, 0.9, 1.1, 40.0])
def test_float32_groups_either_side_of_the_sums_of_squares_path(offset, small_blocks, rng):
    """NumPy's kernel takes a block's variances from the sums of squares where every group's
    mean is within a standard deviation of 0, else it centres the groups; values and every
    gradient within float32 rounding of the float64 result either way (groups of both kinds in
    one block, and blocks of each)."""
    x64 = rng.standard_normal((6, 8, 8, 9))      # groups of 144: long enough to try
    groups = x64.reshape(6, 4, -1)
    groups -= groups.mean(axis=2, keepdims=True)
    groups /= groups.std(axis=2, keepdims=True)
    groups[:, ::2] += offset
    groups[:3, 1::2] -= offset / 2
    x = groups.reshape(x64.shape).astype(np.float32)
    weight, bias = rng.standard_normal(8), rng.standard_normal(8)
    ct = rng.standard_normal(x.shape).astype(np.float32)
    got = _run("numpy", x, 4, weight, bias, ct, np.float32)
    want = _torch(x.astype(np.float64), 4, weight, bias, ct.astype(np.float64))
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, rtol=0, atol=2e-6 * (1 + np.abs(e).max()))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls, shape, affine, track", [
    ("InstanceNorm1d", (3, 4, 9), True, False), ("InstanceNorm2d", (2, 4, 5, 6), False, False),
    ("InstanceNorm2d", (2, 4, 12, 12), True, True), ("InstanceNorm3d", (2, 4, 2, 3, 4), True, True),
    ("InstanceNorm1d", (4, 150), True, True)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_instance_norm_matches_torch(backend, cls, shape, affine, track, dtype, rng):
    """Training mode (the primitive, and with running statistics their update), then eval
    mode (the running statistics' path), values and gradients."""
    if backend == "numba":
        _need_numba()
    tdt = getattr(torch, dtype)
    ref = getattr(torch.nn, cls)(4, affine=affine, track_running_stats=track, dtype=tdt)
    ours = getattr(xg.nn, cls)(4, affine=affine, track_running_stats=track, dtype=dtype,
                               backend=backend)
    if affine:
        with torch.no_grad():
            ref.weight.copy_(torch.tensor(rng.standard_normal(4)))
            ref.bias.copy_(torch.tensor(rng.standard_normal(4)))
    ours.load_torch_state_dict(ref.state_dict())
    for mode in ("train", "eval"):
        getattr(ref, mode)()
        getattr(ours, mode)()
        ref.zero_grad()
        x = (rng.standard_normal(shape) * 2 - 1).astype(dtype)
        ct = rng.standard_normal(shape).astype(dtype)
        xt = xg.asarray(x, backend=backend)
        with xg.GradientTape() as tape:
            tape.watch(xt)
            y = ours(xt)
            loss = xg.sum(y * xg.asarray(ct, backend=backend))
        grads = tape.gradient(loss, [xt] + ours.trainable_variables)
        tx = torch.tensor(x, requires_grad=True)
        ty = ref(tx)
        (ty * torch.tensor(ct)).sum().backward()
        want = [ty.detach().numpy(), tx.grad.numpy()] + [p.grad.numpy() for p in ref.parameters()]
        for what, a, b in zip(("y", "dx", "dw", "db"), [y.numpy()] + [g.numpy() for g in grads],
                              want):
            np.testing.assert_allclose(a, b, rtol=TOL[dtype]["rtol"],
                                       atol=TOL[dtype]["atol"] * max(1.0, np.abs(b).max()),
                                       err_msg=f"{mode} {what}")
        if track:
            for k in ("running_mean", "running_var"):
                np.testing.assert_allclose(ours.torch_state_dict()[k],
                                           ref.state_dict()[k].numpy(), **TOL[dtype],
                                           err_msg=k)


@pytest.mark.parametrize("backend", BACKENDS)
def test_finite_differences_first_and_second_order(backend, rng):
    """float64 against finite differences; the second order differentiates the generic rule
    (the kernels serve the first)."""
    if backend == "numba":
        _need_numba()

    def arg(*shape):
        return xg.asarray(rng.standard_normal(shape), backend=backend)

    xg.testing.check_grads(lambda x, w, b: xg.nn.group_norm(x, 2, w, b),
                           (arg(2, 4, 3), arg(4), arg(4)), order=2)
    xg.testing.check_grads(lambda x: xg.nn.group_norm(x, 3), (arg(2, 6, 2, 2),), order=2)
    layer = xg.nn.InstanceNorm1d(3, dtype="float64", backend=backend)
    xg.testing.check_grads(layer, (arg(2, 3, 5),), order=2)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_second_order_matches_torch(dtype, rng):
    """The gradient of a gradient norm through group_norm, as torch's double backward."""
    _need_numba()
    x = (rng.standard_normal((2, 6, 4, 4)) * 2 + 1).astype(dtype)
    w, b = (rng.standard_normal(6).astype(dtype) for _ in range(2))
    ct = rng.standard_normal(x.shape).astype(dtype)
    results = {}
    for backend in BACKENDS:
        xt, wt = xg.asarray(x, backend=backend), xg.asarray(w, backend=backend)
        bt, c = xg.asarray(b, backend=backend), xg.asarray(ct, backend=backend)
        with xg.GradientTape() as outer:
            outer.watch([xt, wt])
            with xg.GradientTape() as inner:
                inner.watch(xt)
                loss = xg.sum(xg.nn.group_norm(xt, 3, wt, bt) * c)
            gx = inner.gradient(loss, xt)
            penalty = xg.sum(gx * gx)
        results[backend] = [g.numpy() for g in outer.gradient(penalty, [xt, wt])]
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    loss = (torch.nn.functional.group_norm(tx, 3, tw, torch.tensor(b)) * torch.tensor(ct)).sum()
    (gx,) = torch.autograd.grad(loss, tx, create_graph=True)
    want = [t.numpy() for t in torch.autograd.grad((gx * gx).sum(), [tx, tw])]
    for backend, got in results.items():
        for a, e in zip(got, want):
            np.testing.assert_allclose(a, e, rtol=TOL[dtype]["rtol"] * 10,
                                       atol=TOL[dtype]["atol"] * 10 * np.abs(e).max(),
                                       err_msg=backend)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape, groups", CASES)
def test_numba_matches_numpy(dtype, shape, groups, small_blocks, rng):
    _need_numba()
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    ct = rng.standard_normal(shape).astype(dtype)
    w, b = (rng.standard_normal(shape[1]).astype(dtype) for _ in range(2))
    a = _run("numba", x, groups, w, b, ct, dtype)
    e = _run("numpy", x, groups, w, b, ct, dtype)
    for what, got, want in zip(("y", "dx", "dw", "db"), a, e):
        scale = max(1.0, float(np.abs(want).max()))
        tol = 1e-12 if dtype == "float64" else 2e-5
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, err_msg=what)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threaded_loops_match_the_serial_ones(dtype, monkeypatch, rng):
    """From ``ROW_PAR_MIN`` entries on the groups run in ``prange``: the same numbers (each
    group summed by one thread, the weight's sums added after the loops)."""
    _need_numba()
    from xpgrad.backends.numba import _config, _group_norm

    kernel = _group_norm.KERNELS["group_norm"]
    x = (rng.standard_normal((3, 6, 5, 7)) * 3 + 1).astype(dtype)
    w, b = (rng.standard_normal(6).astype(dtype) for _ in range(2))
    g = rng.standard_normal(x.shape).astype(dtype)
    params = dict(groups=3, eps=1e-5, affine=(True, True))
    results = []
    for limit in (1 << 62, 0):
        monkeypatch.setattr(_config, "ROW_PAR_MIN", limit)
        y, saved = kernel.forward(x, w, b, **params)
        results.append([y, *kernel.vjp(g, saved, (True, True, True), x, w, b, **params)])
    for serial, threaded in zip(*results):
        tol = 1e-6 if dtype == np.float32 else 1e-14
        np.testing.assert_allclose(threaded, serial, rtol=tol, atol=tol)
    called = []
    monkeypatch.setattr(_config, "run_parallel", lambda k, *a: called.append(k.__name__))
    kernel.forward(x, w, b, **params)
    assert called == ["group_norm_fwd_threaded"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_declined_inputs_run_the_generic_rule(backend, rng):
    """Raw arrays the kernels do not cover (float16, mixed dtypes) are declined; an empty
    batch too, and the generic rule gives an empty output and zero affine gradients."""
    if backend == "numba":
        _need_numba()
    kernel = xg.get_backend(backend).kernels["group_norm"]
    x = rng.standard_normal((2, 4, 6))
    params = dict(groups=2, eps=1e-5, affine=(True, False))
    assert kernel.forward(x.astype(np.float16), np.ones(4, np.float16), **params) is None
    assert kernel.forward(x.astype(np.float32), np.ones(4), **params) is None
    assert kernel.forward(x[:0], np.ones(4), **params) is None
    empty = xg.zeros((0, 4, 3), backend=backend)
    w = xg.Variable(xg.ones(4, backend=backend))
    with xg.GradientTape() as tape:
        tape.watch(empty)
        out = xg.nn.group_norm(empty, 2, w)
        loss = xg.sum(out)
    dx, dw = tape.gradient(loss, [empty, w])
    assert out.shape == dx.shape == (0, 4, 3) and dw.numpy().tolist() == [0.0] * 4


def test_the_primitive_and_its_warmup(monkeypatch):
    """One primitive for GroupNorm and InstanceNorm (one channel a group); the numba warmup
    compiles its loops, and ``xpgrad info`` counts them."""
    _need_numba()
    from xpgrad.backend import Kernel
    from xpgrad.backends.numba import _cache, _warmup_units

    assert "group_norm" in PRIMITIVES
    assert (_warmup_units._exercise_group_norm, "group_norm") in _cache.UNITS
    names = set(_cache.kernel_dispatchers())
    assert {"_group_norm.group_norm_fwd", "_group_norm.group_norm_fwd_threaded",
            "_group_norm.group_norm_bwd", "_group_norm.group_norm_bwd_threaded"} <= names
    backend = xg.get_backend("numba")
    kernel, calls = backend.kernels["group_norm"], []

    def spy(*arrays, **params):
        calls.append(params["groups"])
        return kernel.forward(*arrays, **params)

    monkeypatch.setitem(backend.kernels, "group_norm",
                        Kernel(spy, kernel.vjp, saves=kernel.saves, needs=kernel.needs))
    xg.nn.InstanceNorm2d(3, backend="numba")(xg.ones((2, 3, 4, 4), backend="numba"))
    xg.nn.GroupNorm(2, 6, backend="numba")(xg.ones((2, 6, 4), backend="numba"))
    assert calls == [3, 2]


def test_bad_input_names_the_argument():
    x = xg.ones((2, 6, 3))
    for bad in (0, -2, 2.0, True, None):
        with pytest.raises(ValueError, match="group_norm: num_groups must be a positive int"):
            xg.nn.group_norm(x, bad)
    with pytest.raises(ValueError, match="group_norm: num_groups=4 does not divide"):
        xg.nn.group_norm(x, 4)
    with pytest.raises(ValueError, match=r"group_norm: weight must have shape \(C,\) = \(6,\)"):
        xg.nn.group_norm(x, 2, weight=xg.ones(3))
    with pytest.raises(ValueError, match=r"group_norm: bias must have shape \(C,\) = \(6,\)"):
        xg.nn.group_norm(x, 2, bias=xg.ones((6, 1)))
    with pytest.raises(TypeError, match="group_norm: weight is float64 but the input is float32"):
        xg.nn.group_norm(x, 2, weight=xg.ones(6, dtype=xg.float64))
    with pytest.raises(TypeError, match="group_norm: input must hold real floating-point"):
        xg.nn.group_norm(xg.ones((2, 6, 3), dtype=xg.int32), 2)
    with pytest.raises(ValueError, match="group_norm: input must be .N, C"):
        xg.nn.group_norm(xg.ones(6), 2)
    with pytest.raises(ValueError, match="group_norm: eps"):
        xg.nn.group_norm(x, 2, eps=-1.0)
    with pytest.raises(ValueError, match="InstanceNorm2d: expected more than 1 spatial"):
        xg.nn.InstanceNorm2d(6)(xg.ones((2, 6, 1, 1)))
