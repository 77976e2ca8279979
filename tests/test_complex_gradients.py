"""Gradients of real losses built from complex intermediates, against PyTorch (complex128),
on the numpy and numba backends: reductions, scans, linear algebra, FFTs, manipulation,
indexing and setitem, tensor methods and operators, activations, the l1 loss; real inputs of
complex computations; finite differences to second order. Optimizers and the transforms (hvp,
jvp, jacobian, hessian) on complex inputs: tests/test_complex_training.py.

The convention (docs/interop.md, xpgrad/testing.py): for a real loss ``L`` of ``z = x + iy``
the gradient is ``dL/dx + i dL/dy``, PyTorch's ``z.grad``. Every case here builds the real loss
``Re(sum(conj(w) * f(z)))`` (``sum(w * f(z))`` for a real ``f``) explicitly, through xpgrad's own
``conj``, ``real`` and ``sum``. The elementwise functions' own table is in
tests/test_elementwise.py (numpy); it is rerun here on the other backends.
"""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")
import test_elementwise as elementwise  # noqa: E402  (tests/ is on sys.path: its UNARY table)

L, tl = xg.linalg, torch.linalg
BACKENDS = [b for b in ("numpy", "numba") if backend_report()[b]["available"]]
IDS = np.array([2, 0, 2])
MASK = np.array([True, False, True])


def _herm_x(a):
    return a @ xg.conj(xg.matrix_transpose(a)) + 3.0 * xg.eye(a.shape[-1], dtype=a.dtype)


def _herm_t(a):
    return a @ a.mH + 3.0 * torch.eye(a.shape[-1], dtype=a.dtype)


def _as(t, like):
    return t.to(like.dtype)      # PyTorch needs one dtype where xpgrad promotes real to complex


# name -> (input shapes, xpgrad function, PyTorch function); every input is complex128
CASES = {
    "sum": ([(2, 3)], lambda a: xg.sum(a, axis=0), lambda a: a.sum(0)),
    "prod": ([(2, 3)], lambda a: xg.prod(a, axis=1), lambda a: a.prod(1)),
    "mean": ([(2, 3)], lambda a: xg.mean(a, axis=1), lambda a: a.mean(1)),
    "var": ([(2, 3)], lambda a: xg.var(a, axis=1), lambda a: a.var(1, correction=0)),
    "std": ([(2, 3)], lambda a: xg.std(a, axis=1, correction=1), lambda a: a.std(1)),
    "logsumexp": ([(2, 3)], lambda a: xg.logsumexp(a, axis=1), lambda a: torch.logsumexp(a, 1)),
    "logsumexp_all": ([(2, 3)], xg.logsumexp, lambda a: torch.logsumexp(a, (0, 1))),
    "logaddexp": ([(2, 3), (3,)], xg.logaddexp, torch.logaddexp),
    "cumulative_sum": ([(2, 3)], lambda a: xg.cumulative_sum(a, axis=1), lambda a: a.cumsum(1)),
    "cumulative_prod": ([(2, 3)], lambda a: xg.cumulative_prod(a, axis=1),
                        lambda a: a.cumprod(1)),
    "matmul": ([(2, 3), (3, 4)], xg.matmul, torch.matmul),
    "vecdot": ([(2, 3), (2, 3)], xg.vecdot, tl.vecdot),
    "tensordot": ([(2, 3), (3, 4)], lambda a, b: xg.tensordot(a, b, axes=1),
                  lambda a, b: torch.tensordot(a, b, dims=1)),
    "einsum": ([(2, 3), (3, 4)], lambda a, b: xg.einsum("ij,jk->ik", a, b),
               lambda a, b: torch.einsum("ij,jk->ik", a, b)),
    "einsum_trace": ([(3, 3)], lambda a: xg.einsum("ii->", a), lambda a: torch.einsum("ii->", a)),
    "outer": ([(3,), (2,)], xg.outer, torch.outer),
    "inv": ([(3, 3)], L.inv, tl.inv),
    "solve": ([(3, 3), (3, 2)], L.solve, tl.solve),
    "det": ([(3, 3)], L.det, tl.det),
    "slogdet_sign": ([(3, 3)], lambda a: L.slogdet(a).sign, lambda a: tl.slogdet(a).sign),
    "slogdet_logabsdet": ([(3, 3)], lambda a: L.slogdet(a).logabsdet,
                          lambda a: tl.slogdet(a).logabsdet),
    "cholesky": ([(3, 3)], lambda a: L.cholesky(_herm_x(a)), lambda a: tl.cholesky(_herm_t(a))),
    "eigvalsh": ([(3, 3)], lambda a: L.eigvalsh(_herm_x(a)), lambda a: tl.eigvalsh(_herm_t(a))),
    "svdvals": ([(3, 4)], L.svdvals, tl.svdvals),
    "pinv": ([(3, 4)], L.pinv, tl.pinv),
    "matrix_norm_fro": ([(3, 4)], L.matrix_norm, tl.matrix_norm),
    "matrix_norm_nuc": ([(3, 4)], lambda a: L.matrix_norm(a, ord="nuc"),
                        lambda a: tl.matrix_norm(a, ord="nuc")),
    "vector_norm": ([(2, 3)], lambda a: L.vector_norm(a, axis=1),
                    lambda a: tl.vector_norm(a, dim=1)),
    "vector_norm_1": ([(2, 3)], lambda a: L.vector_norm(a, ord=1),
                      lambda a: tl.vector_norm(a, ord=1)),
    "trace": ([(3, 3)], L.trace, torch.trace),
    "matrix_power": ([(3, 3)], lambda a: L.matrix_power(a, 3), lambda a: tl.matrix_power(a, 3)),
    "cross": ([(2, 3), (2, 3)], L.cross, tl.cross),
    "fft": ([(2, 4)], xg.fft.fft, torch.fft.fft),
    "ifft": ([(2, 4)], xg.fft.ifft, torch.fft.ifft),
    "fft_padded_ortho": ([(2, 4)], lambda a: xg.fft.fft(a, n=6, norm="ortho"),
                         lambda a: torch.fft.fft(a, n=6, norm="ortho")),
    "fftn": ([(2, 4)], xg.fft.fftn, torch.fft.fftn),
    "ifftn": ([(2, 4)], xg.fft.ifftn, torch.fft.ifftn),
    "hfft": ([(2, 4)], xg.fft.hfft, torch.fft.hfft),
    "irfft": ([(2, 4)], xg.fft.irfft, torch.fft.irfft),
    "irfftn": ([(2, 4)], xg.fft.irfftn, torch.fft.irfftn),
    "fftshift": ([(2, 4)], xg.fft.fftshift, torch.fft.fftshift),
    "reshape": ([(2, 3)], lambda a: xg.reshape(a, (3, 2)), lambda a: a.reshape(3, 2)),
    "concat": ([(2, 3), (1, 3)], lambda a, b: xg.concat([a, b]), lambda a, b: torch.cat([a, b])),
    "stack": ([(2, 3), (2, 3)], lambda a, b: xg.stack([a, b]),
              lambda a, b: torch.stack([a, b])),
    "flip": ([(2, 3)], lambda a: xg.flip(a, axis=1), lambda a: a.flip(1)),
    "roll": ([(2, 3)], lambda a: xg.roll(a, 1, axis=1), lambda a: a.roll(1, 1)),
    "getitem_slices": ([(3, 3)], lambda a: a[1:, ::2], lambda a: a[1:, ::2]),
    "getitem_repeated_ids": ([(3, 3)], lambda a: a[IDS], lambda a: a[torch.as_tensor(IDS)]),
    "take": ([(3, 3)], lambda a: xg.take(a, xg.asarray(IDS), axis=0),
             lambda a: a[torch.as_tensor(IDS)]),
    "take_along_axis": ([(2, 3)], lambda a: xg.take_along_axis(a, xg.asarray(IDS[None]), axis=1),
                        lambda a: torch.take_along_dim(a, torch.as_tensor(IDS[None]), dim=1)),
    "where": ([(2, 3), (2, 3)], lambda a, b: xg.where(xg.asarray(MASK), a, b),
              lambda a, b: torch.where(torch.as_tensor(MASK), a, b)),
    "broadcast_to": ([(3,)], lambda a: xg.broadcast_to(a, (2, 3)), lambda a: a.expand(2, 3)),
    "tile": ([(3,)], lambda a: xg.tile(a, (2,)), lambda a: a.tile(2)),
    "repeat": ([(3,)], lambda a: xg.repeat(a, 2), lambda a: a.repeat_interleave(2)),
    "tril": ([(3, 3)], xg.tril, torch.tril),
    "diff": ([(2, 3)], xg.diff, torch.diff),
    "unstack": ([(2, 3)], lambda a: xg.unstack(a)[1], lambda a: a.unbind()[1]),
    "astype_complex64": ([(2, 3)], lambda a: xg.astype(a, xg.complex64),
                         lambda a: a.to(torch.complex64)),
    # tensor methods and operators
    "method_sum": ([(2, 3)], lambda a: a.sum(axis=1), lambda a: a.sum(1)),
    "method_conj_real_imag": ([(2, 3)], lambda a: a.conj().real * a.imag,
                              lambda a: a.conj().real * a.imag),
    "mT_matmul": ([(2, 3), (2, 3)], lambda a, b: a.mT @ b, lambda a, b: a.mT @ b),
    "operators": ([(2, 3), (3,)], lambda a, b: (1j - a) * b / (2.0 + a) ** 2 + 2.0 ** b,
                  lambda a, b: (1j - a) * b / (2.0 + a) ** 2 + 2.0 ** b),
    "complex_power": ([(2, 3)], lambda a: (a + 3.0) ** (0.5 - 1.5j),
                      lambda a: (a + 3.0) ** (0.5 - 1.5j)),
    "abs_squared": ([(2, 3)], lambda a: xg.abs(a) ** 2, lambda a: a.abs() ** 2),
    # the activations PyTorch defines on complex numbers
    "sigmoid": ([(2, 3)], xg.nn.sigmoid, torch.sigmoid),
    # PyTorch's silu computes complex values but refuses to differentiate them: its formula
    "silu": ([(2, 3)], xg.nn.silu, lambda a: a * torch.sigmoid(a)),
    "softsign": ([(2, 3)], xg.nn.softsign, torch.nn.functional.softsign),
    "tanh": ([(2, 3)], xg.tanh, torch.tanh),
}


def _draw(rng, shape, complex_=True):
    x = rng.standard_normal(shape)
    return x + 1j * rng.standard_normal(shape) if complex_ else x


def _torch_grads(ft, arrays, weights):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = ft(*ts)
    w = torch.as_tensor(weights)
    loss = (w.conj() * out).real.sum() if out.is_complex() else (w * out).sum()
    grads = torch.autograd.grad(loss, ts, allow_unused=True)
    values = out.detach().resolve_conj().numpy()
    return values, [np.zeros_like(a) if g is None else g.resolve_conj().numpy()
                    for g, a in zip(grads, arrays)]


def _xg_grads(fx, arrays, weights, backend):
    xs = [xg.asarray(a, backend=backend) for a in arrays]
    with xg.GradientTape() as tape:
        tape.watch(xs)
        out = fx(*xs)
        w = xg.asarray(weights, backend=backend)
        loss = xg.sum(xg.real(xg.conj(w) * out)) if out.dtype.is_complex else xg.sum(w * out)
    return out.numpy(), xs, tape.gradient(loss, xs)


def _compare(fx, ft, arrays, backend, rng):
    """xpgrad's value and gradients of ``fx`` against PyTorch's of ``ft`` on ``arrays``."""
    probe = ft(*[torch.as_tensor(a) for a in arrays])
    weights = _draw(rng, tuple(probe.shape), probe.is_complex())
    want_value, want = _torch_grads(ft, arrays, weights)
    with xg.use_backend(backend):
        value, xs, got = _xg_grads(fx, arrays, weights, backend)
    np.testing.assert_allclose(value, want_value, rtol=1e-6, atol=1e-9)
    for i, (g, w, x) in enumerate(zip(got, want, xs)):
        assert g is not None, f"argument {i}: no gradient"
        assert g.dtype == x.dtype, f"argument {i}: gradient {g.dtype} for a {x.dtype} input"
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-6, atol=1e-9,
                                   err_msg=f"gradient of argument {i}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_torch(name, backend, rng):
    shapes, fx, ft = CASES[name]
    _compare(fx, ft, [_draw(rng, s) for s in shapes], backend, rng)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
@pytest.mark.parametrize("name", sorted(elementwise.UNARY))
def test_elementwise_gradient_matches_torch_on_other_backends(name, backend, rng):
    tname, kind = elementwise.UNARY[name]
    a = elementwise.draw(kind, (2, 3), rng, complex_=True)
    _compare(getattr(xg, name), getattr(torch, tname), [a], backend, rng)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
@pytest.mark.parametrize("name", sorted(elementwise.BINARY))
def test_binary_gradient_matches_torch_on_other_backends(name, backend, rng):
    a, b = (elementwise.draw("positive", s, rng, complex_=True) for s in ((2, 3), (3,)))
    _compare(getattr(xg, name), getattr(torch, elementwise.BINARY[name]), [a, b], backend, rng)


REFUSING_ACTIVATIONS = ["relu", "leaky_relu", "softplus", "softmax", "log_softmax", "elu", "selu",
                        "celu", "gelu", "mish", "log_sigmoid", "hardtanh", "relu6",
                        "hardsigmoid", "hardswish", "glu"]


@pytest.mark.parametrize("name", REFUSING_ACTIVATIONS)
def test_activations_pytorch_refuses_on_complex_input_raise(name):
    """Each compares with 0 (or is real-only): a complex input was a silently wrong value."""
    z = xg.asarray(np.array([[0.3 + 0.5j, -1.0 + 2.0j]]))
    with pytest.raises(TypeError, match=f"{name}: x must be real, got a complex128"):
        getattr(xg.nn, name)(z)
    torch_fn = getattr(torch.nn.functional, name.replace("log_sigmoid", "logsigmoid"))
    with pytest.raises(RuntimeError, match="not implemented|not supported"):
        torch_fn(torch.as_tensor(z.numpy()), **({"dim": -1} if "softmax" in name else {}))


# -- real inputs of complex computations: a real gradient, PyTorch's ---------------------------

def R(*shape):
    return ("real", shape)


def R_POSITIVE(*shape):
    return ("positive", shape)


# name -> (input shapes, R(...) for a real input, xpgrad function, PyTorch function)
MIXED = {
    "multiply": ([(3,), R(3)], xg.multiply, torch.mul),
    "divide": ([R(3), (3,)], xg.divide, torch.div),
    "pow": ([R_POSITIVE(3), (3,)], xg.pow, torch.pow),
    "logaddexp": ([R(3), (3,)], xg.logaddexp, lambda a, b: torch.logaddexp(_as(a, b), b)),
    "add_broadcast": ([R(2, 1), (3,)], xg.add, torch.add),
    "x_plus_iy": ([R(3), R(3)], lambda a, b: a + 1j * b, lambda a, b: a + 1j * b),
    "astype": ([R(3)], lambda a: xg.astype(a, xg.complex128),
               lambda a: a.to(torch.complex128)),
    "matmul": ([R(2, 3), (3, 2)], xg.matmul, lambda a, b: _as(a, b) @ b),
    "einsum": ([R(2, 3), (3, 2)], lambda a, b: xg.einsum("ij,jk->ik", a, b),
               lambda a, b: torch.einsum("ij,jk->ik", _as(a, b), b)),
    "vecdot": ([(2, 3), R(2, 3)], xg.vecdot, lambda a, b: tl.vecdot(a, _as(b, a))),
    "solve": ([R(3, 3), (3,)], L.solve, lambda a, b: tl.solve(_as(a, b), b)),
    "where": ([R(3), (3,)], lambda a, b: xg.where(xg.asarray(MASK), a, b),
              lambda a, b: torch.where(torch.as_tensor(MASK), _as(a, b), b)),
    "concat": ([R(3), (3,)], lambda a, b: xg.concat([a, b]),
               lambda a, b: torch.cat([a, b])),
    "fft": ([R(2, 4)], xg.fft.fft, torch.fft.fft),
    "rfft": ([R(2, 5)], xg.fft.rfft, torch.fft.rfft),
    "ihfft": ([R(2, 5)], xg.fft.ihfft, torch.fft.ihfft),
}


def _mixed_input(spec, rng):
    """A complex array of the shape ``spec``, or the real one ``R(...)`` or
    ``R_POSITIVE(...)`` describes."""
    if spec[0] not in ("real", "positive"):
        return _draw(rng, spec)
    x = rng.standard_normal(spec[1])
    if x.shape == (3, 3):
        x += 3.0 * np.eye(3)                            # well conditioned
    return np.abs(x) + 0.5 if spec[0] == "positive" else x


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(MIXED))
def test_real_input_of_a_complex_computation_gets_pytorchs_real_gradient(name, backend, rng):
    specs, fx, ft = MIXED[name]
    _compare(fx, ft, [_mixed_input(s, rng) for s in specs], backend, rng)


# -- finite differences, to second order, on the backends ----------------------------------------

# every case but the cast to complex64, whose float32 rounding swamps a finite difference
FINITE_DIFFERENCES = sorted(set(CASES) - {"astype_complex64"})


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", FINITE_DIFFERENCES)
def test_gradient_matches_finite_differences_to_second_order(name, backend, rng):
    shapes, fx, _ = CASES[name]
    with xg.use_backend(backend):
        check_grads(fx, [xg.asarray(_draw(rng, s)) for s in shapes], order=2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_setitem_into_a_complex_tensor_matches_torch(backend, rng):
    z0, w0, u0 = _draw(rng, (4, 3)), _draw(rng, (2, 3)), _draw(rng, ())

    def update(y, w, u, ids):
        y[ids] = w                      # repeated-free fancy rows
        y[0, :] = u                     # a 0-d complex value broadcast
        y[2] += w[0] * u
        return y

    zt, wt, ut = (torch.tensor(a, requires_grad=True) for a in (z0, w0, u0))
    yt = update(zt * 1.0, wt, ut, torch.tensor([3, 1]))
    want = torch.autograd.grad((yt.abs() ** 2).sum() + (yt * (1 + 2j)).real.sum(), [zt, wt, ut])
    with xg.use_backend(backend):
        z, w, u = (xg.asarray(a) for a in (z0, w0, u0))
        with xg.GradientTape() as tape:
            tape.watch([z, w, u])
            y = update(z * 1.0, w, u, xg.asarray(np.array([3, 1])))
            loss = xg.sum(xg.abs(y) ** 2) + xg.sum(xg.real(y * (1 + 2j)))
        got = tape.gradient(loss, [z, w, u])
    for g, t in zip(got, want):
        np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_l1_loss_of_complex_inputs_matches_torch(reduction, backend, rng):
    """PyTorch's l1_loss takes complex inputs (a real loss); mse, huber, ... refuse them."""
    ft = lambda a, b: torch.nn.functional.l1_loss(a, b, reduction=reduction)  # noqa: E731
    _compare(lambda a, b: xg.losses.l1(a, b, reduction=reduction), ft,
             [_draw(rng, (2, 3)), _draw(rng, (2, 3))], backend, rng)
    with pytest.raises(TypeError, match="pred must be a floating-point tensor, got dtype "
                                        "complex128 \\(this loss is defined for real numbers"):
        xg.losses.mse(xg.asarray(_draw(rng, 2)), xg.asarray(_draw(rng, 2)))


# -- eigen- and singular vectors: defined up to a phase each --------------------------------------

def _uv(a):
    r = L.svd(a, full_matrices=False) if isinstance(a, xg.Tensor) else \
        tl.svd(a, full_matrices=False)
    return r[0], r[2]


PHASE_FREE = {   # the loss does not depend on the vectors' phases: PyTorch differentiates it
    "eigh_abs2": ([(3, 3)], lambda a: xg.abs(L.eigh(_herm_x(a)).eigenvectors) ** 2,
                  lambda a: tl.eigh(_herm_t(a)).eigenvectors.abs() ** 2),
    "svd_u_times_vh": ([(4, 3)], lambda a: (lambda u, vh: u[:, :1] * vh[:1, :])(*_uv(a)),
                       lambda a: (lambda u, vh: u[:, :1] * vh[:1, :])(*_uv(a))),
    "svd_v_projector": ([(3, 4)], lambda a: (lambda u, vh: xg.conj(vh).mT @ vh)(*_uv(a)),
                        lambda a: (lambda u, vh: vh.mH @ vh)(*_uv(a))),
}
PHASE_DEPENDENT = {   # PyTorch raises; xpgrad gave the gradient for LAPACK's phases
    "eigh": lambda a: L.eigh(_herm_x(a)).eigenvectors,
    "svd_U": lambda a: _uv(a)[0],
    "svd_Vh": lambda a: _uv(a)[1],
    "svd_U_and_Vh": lambda a: _uv(a)[0][:, :3] + _uv(a)[1],
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(PHASE_FREE))
def test_phase_free_functions_of_complex_vectors_match_torch(name, backend, rng):
    shapes, fx, ft = PHASE_FREE[name]
    _compare(fx, ft, [_draw(rng, s) for s in shapes], backend, rng)
    with xg.use_backend(backend):
        check_grads(fx, [xg.asarray(_draw(rng, s)) for s in shapes], order=2)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(PHASE_DEPENDENT))
def test_a_loss_that_depends_on_the_vectors_phases_raises(name, backend, rng):
    vectors = "eigenvectors" if name == "eigh" else "singular vectors"
    with xg.use_backend(backend):
        a = xg.asarray(_draw(rng, (3, 3)))
        with xg.GradientTape() as tape:
            tape.watch(a)
            out = PHASE_DEPENDENT[name](a)
            loss = xg.sum(xg.real(out * xg.asarray(_draw(rng, out.shape))))
        with pytest.raises(ValueError, match=f"depends on the phases of the complex {vectors}"):
            tape.gradient(loss, a)
