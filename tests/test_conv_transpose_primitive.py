"""The ``conv_transpose`` primitive: its generic rule (``ops/conv_transpose.py``, the path of
numpy and cupy) against PyTorch's transposed convolution and the input gradient of a
convolution, the Numba kernel (phases + GEMMs, depthwise loops) against the generic rule on
raw arrays (values and each gradient, float32 and float64, a grid of strides, paddings, output
paddings, dilations and groups, 1-d and 2-d, images a few at a time), finite differences of
first and second order on both backends (second order: the generic rule under an outer tape)
and second order against PyTorch's double backward; complex numbers by the forward composed of
xpgrad's operations."""
import itertools

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.ops.conv_transpose import conv_transpose
from xpgrad.primitive import PRIMITIVES

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
F = torch.nn.functional

HAS_NUMBA = backend_report().get("numba", {"available": False})["available"]
BACKENDS = ["numpy"] + (["numba"] if HAS_NUMBA else [])
PRIM = PRIMITIVES["conv_transpose"]


def _n_out(lengths, kernel, stride, padding, output_padding, dilation):
    return tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, k, s, p, op, d in
                 zip(lengths, kernel, stride, padding, output_padding, dilation))


def _grid():
    """(x shape, w shape, params) over strides 1-3, paddings 0-2, output paddings below
    max(stride, dilation), dilations 1-2, and channel layouts: dense, grouped, depthwise (one
    output channel per group), depthwise with two inputs per group; 1-d and 2-d."""
    layouts = [(4, 3, 1), (4, 3, 2), (4, 1, 4), (4, 1, 2), (6, 2, 3)]   # C_in, C_out/g, g
    for dims, (s, p, op, d), (c_in, c_group, g) in itertools.product(
            (1, 2), itertools.product((1, 2, 3), (0, 1, 2), (0, 1, 2), (1, 2)), layouts):
        if op >= max(s, d):
            continue
        lengths, kernel = ((5,), (3,)) if dims == 1 else ((4, 5), (3, 2))
        n_out = _n_out(lengths, kernel, (s,) * dims, (p,) * dims, (op,) * dims, (d,) * dims)
        if min(n_out) < 1:
            continue
        yield ((2, c_in) + lengths, (c_in, c_group) + kernel,
               dict(stride=(s,) * dims, dilation=(d,) * dims, padding=(p,) * dims,
                    n_out=n_out, groups=g))


GRID = list(_grid())


def _torch_ct(x, w, params):
    """PyTorch's transposed convolution of raw arrays with the primitive's params."""
    stride, padding = params["stride"], params["padding"]
    lengths, kernel = x.shape[2:], w.shape[2:]
    base = _n_out(lengths, kernel, stride, padding, (0,) * len(stride), params["dilation"])
    op = tuple(o - b for o, b in zip(params["n_out"], base))
    fn = F.conv_transpose1d if x.ndim == 3 else F.conv_transpose2d
    return fn, dict(stride=stride, padding=padding, output_padding=op,
                    dilation=params["dilation"], groups=params["groups"])


def test_generic_rule_matches_torch_on_the_grid():
    rng = np.random.default_rng(0)
    for i, (xs, ws, params) in enumerate(GRID):
        args = [rng.standard_normal(xs), rng.standard_normal(ws)]
        if i % 2:                                     # every other case with a bias
            args.append(rng.standard_normal(ws[1] * params["groups"]))
        fn, kw = _torch_ct(args[0], args[1], params)
        ts = [torch.tensor(a, requires_grad=True) for a in args]
        ty = fn(*ts, **kw)
        g = rng.standard_normal(tuple(ty.shape))
        ty.backward(torch.tensor(g))
        y = PRIM.forward(np, *args, **params)
        grads = PRIM.vjp(np, g, y, (True,) * len(args), args, params)
        assert len(grads) == len(args)
        for what, got, want in zip(("y", "dx", "dw", "db"), [y] + list(grads),
                                   [ty] + [t.grad for t in ts]):
            np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-11, atol=1e-11,
                                       err_msg=f"{what} {xs} {ws} {params}")


def test_forward_is_the_input_gradient_of_a_convolution():
    # conv(z, w) maps (N, C_out, *n_out) to (N, C_in, *L): its vjp wrt z at x is conv_transpose
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 4, 5, 4)), rng.standard_normal((4, 3, 3, 2))
    params = dict(stride=(2, 3), dilation=(1, 2), padding=(1, 0), n_out=(10, 12), groups=2)
    z = xg.asarray(np.zeros((2, 6, 10, 12)))
    with xg.GradientTape() as tape:
        tape.watch(z)
        y = xg.nn.conv2d(z, xg.asarray(w), stride=(2, 3), padding=(1, 0), dilation=(1, 2),
                         groups=2)
    assert y.shape == x.shape
    want = tape.gradient(y, z, output_gradients=xg.asarray(x)).numpy()
    np.testing.assert_allclose(PRIM.forward(np, x, w, **params), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dims", [1, 2])
def test_first_and_second_order_finite_differences(backend, dims):
    rng = np.random.default_rng(2)
    xs, ws = ((1, 4, 3), (4, 2, 3)) if dims == 1 else ((1, 4, 3, 2), (4, 2, 3, 2))
    x, w = (xg.asarray(rng.standard_normal(s), backend=backend) for s in (xs, ws))
    fn = xg.nn.conv_transpose1d if dims == 1 else xg.nn.conv_transpose2d
    for kw in (dict(stride=2, padding=1, output_padding=1, groups=2),
               dict(stride=1, dilation=2, output_padding=1),          # op >= stride
               dict(stride=3, padding=1, groups=4)):                  # one input per group
        if kw.get("groups") == 4:
            w = xg.asarray(rng.standard_normal((4, 1) + ws[2:]), backend=backend)
        xg.testing.check_grads(lambda x, w: fn(x, w, **kw) ** 2, (x, w), order=2)


def test_second_order_matches_torch_double_backward():
    rng = np.random.default_rng(3)
    x, w, c = (rng.standard_normal(s) for s in ((2, 4, 3, 4), (4, 3, 3, 3), (2, 6, 6, 9)))
    kw = dict(stride=2, padding=1, output_padding=(1, 0), groups=2, dilation=(1, 2))
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x, w))
    ty = F.conv_transpose2d(tx, tw, **kw)
    assert tuple(ty.shape) == c.shape
    tgx, tgw = torch.autograd.grad((torch.tensor(c) * ty ** 2).sum(), [tx, tw],
                                   create_graph=True)
    ((tgx ** 2).sum() + (tgw * tw).sum()).backward()
    for backend in BACKENDS:
        X, W, C = (xg.asarray(a, backend=backend) for a in (x, w, c))
        with xg.GradientTape() as outer:
            outer.watch([X, W])
            with xg.GradientTape() as inner:
                inner.watch([X, W])
                y = xg.nn.conv_transpose2d(X, W, **kw)
                loss = xg.sum(C * y ** 2)
            gx, gw = inner.gradient(loss, [X, W])
            total = xg.sum(gx ** 2) + xg.sum(gw * W)
        hx, hw = outer.gradient(total, [X, W])
        np.testing.assert_allclose(hx.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(hw.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_numba_matches_numpy_through_the_layer():
    if not HAS_NUMBA:
        pytest.skip("Numba is not installed")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 8, 6, 5)).astype(np.float32)
    results = []
    for backend in ("numpy", "numba"):
        layer = xg.nn.ConvTranspose2d(8, 6, (4, 3), stride=(2, 3), padding=1, output_padding=1,
                                      groups=2, dilation=(1, 2), rng=0, backend=backend)
        X = xg.asarray(x, backend=backend)
        with xg.GradientTape() as tape:
            tape.watch(X)
            loss = xg.sum(xg.sin(layer(X)))
        results.append([loss] + tape.gradient(loss, [X, layer.weight, layer.bias]))
    for a, b in zip(*results):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-5, atol=2e-5)


def test_complex_numbers_compose_the_forward():
    rng = np.random.default_rng(5)
    xr, xi, wr, wi = (rng.standard_normal(s) for s in ((2, 4, 5),) * 2 + ((4, 3, 3),) * 2)
    kw = dict(stride=2, padding=1, output_padding=1, groups=2)

    def ct(a, b):
        return F.conv_transpose1d(torch.tensor(a), torch.tensor(b), **kw).numpy()
    want = ct(xr, wr) - ct(xi, wi) + 1j * (ct(xr, wi) + ct(xi, wr))
    x, w = xg.asarray(xr + 1j * xi), xg.asarray(wr + 1j * wi)
    np.testing.assert_allclose(xg.nn.conv_transpose1d(x, w, **kw).numpy(), want, rtol=1e-12,
                               atol=1e-12)


def test_primitive_docstring_example_and_shape():
    y = conv_transpose(xg.ones((1, 2, 3, 3)), xg.ones((2, 5, 2, 2)), stride=(2, 2),
                       dilation=(1, 1), padding=(0, 0), n_out=(7, 6), groups=1)
    assert y.shape == (1, 5, 7, 6)
    # kernel == stride: each output entry is reached by one tap of each of the 2 channels,
    # but the last row (output padding) by none
    np.testing.assert_allclose(y.numpy()[0, 0, :, 5], [2, 2, 2, 2, 2, 2, 0])


# -- the Numba kernel against the generic rule -----------------------------------------------
def _kernel():
    if not HAS_NUMBA:
        pytest.skip("Numba is not installed: no kernel to test")
    xg.get_backend("numba")
    from xpgrad.backends.numba import _conv_transpose

    return _conv_transpose


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_kernel_matches_generic_rule_on_the_grid(dtype):
    kernel = _kernel().KERNELS["conv_transpose"]
    rng = np.random.default_rng(6)
    tol = 1e-12 if dtype == "float64" else 3e-5
    for i, (xs, ws, params) in enumerate(GRID):
        x, w = (rng.standard_normal(s).astype(dtype) for s in (xs, ws))
        args = (x, w) + ((rng.standard_normal(ws[1] * params["groups"]).astype(dtype),)
                         if i % 2 else ())                    # every other case with a bias
        want = PRIM.forward(np, *args, **params)
        g = rng.standard_normal(want.shape).astype(dtype)
        needs = (True,) * len(args)
        wants = [want] + list(PRIM.vjp(np, g, want, needs, args, params))
        y, saved = kernel.forward(*args, **params)
        gots = [y] + list(kernel.vjp(g, saved, needs, *args, **params))
        assert len(gots) == len(wants) == len(args) + 1
        for what, got, ref in zip(("y", "dx", "dw", "db"), gots, wants):
            assert got.dtype == ref.dtype and got.shape == ref.shape, (what, params)
            np.testing.assert_allclose(got, ref, rtol=tol, atol=tol,
                                       err_msg=f"{what} {xs} {ws} {params}")


@pytest.mark.parametrize("needs", [(True, False), (False, True)])
@pytest.mark.parametrize("ws, groups", [((3, 4, 3, 3), 1), ((4, 1, 3, 3), 4)])
def test_kernel_skips_unwanted_gradients(needs, ws, groups):
    kernel = _kernel().KERNELS["conv_transpose"]
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((2, ws[0], 4, 5)), rng.standard_normal(ws)
    params = dict(stride=(2, 2), dilation=(1, 1), padding=(1, 1), n_out=(8, 10), groups=groups)
    g = rng.standard_normal((2, ws[1] * groups, 8, 10))
    b = rng.standard_normal(ws[1] * groups)
    got = kernel.vjp(g, None, needs + (not needs[0],), x, w, b, **params)
    want = PRIM.vjp(np, g, None, (True, True, True), (x, w, b), params)
    needs = needs + (not needs[0],)
    for need, a, b in zip(needs, got, want):
        if need:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        else:
            assert a is None


def test_kernel_images_a_few_at_a_time(monkeypatch):
    module = _kernel()
    from xpgrad.backends.numba import _conv

    # a small column budget: two images per product, then a last one alone
    monkeypatch.setattr(_conv, "BUDGET", 2 * 3 * 9 * 20 * 8)
    kernel = module.KERNELS["conv_transpose"]
    rng = np.random.default_rng(8)
    x, w = rng.standard_normal((5, 4, 4, 5)), rng.standard_normal((4, 3, 3, 3))
    params = dict(stride=(2, 2), dilation=(1, 1), padding=(1, 1), n_out=(8, 10), groups=1)
    want = PRIM.forward(np, x, w, **params)
    g = rng.standard_normal(want.shape)
    y, saved = kernel.forward(x, w, **params)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    for got, ref in zip(kernel.vjp(g, saved, (True, True), x, w, **params),
                        PRIM.vjp(np, g, want, (True, True), (x, w), params)):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_kernel_declines_what_it_does_not_handle():
    kernel = _kernel().KERNELS["conv_transpose"]
    params = dict(stride=(2,), dilation=(1,), padding=(0,), n_out=(5,), groups=1)
    assert kernel.forward(np.ones((1, 1, 2), np.float32), np.ones((1, 1, 3)), **params) is None
    assert kernel.forward(np.ones((1, 1, 2), np.int64), np.ones((1, 1, 3), np.int64),
                          **params) is None


def test_kernel_docstring_examples():
    import doctest

    module = _kernel()
    from xpgrad.backends.numba import _phases

    assert doctest.testmod(module).failed == 0
    assert doctest.testmod(_phases).failed == 0
