"""What the softmax cross-entropy kernel tests share: for the Numba ones
(test_numba_short_rows.py, test_numba_sce_registers.py) logits that reach every edge of the
loops, and the comparison of a kernel with the row-at-a-time one or with its threaded twin;
for the NumPy ones (test_numpy_loss_kernel_paths.py, test_numpy_sce_short_rows.py) a loss's
value and gradient on the numpy backend, with its kernels or the generic rule, and a float64
reference."""
from __future__ import annotations

import numpy as np

import xpgrad as xg


def numpy_loss_and_grad(name, x, t, reduction="mean", generic=False, monkeypatch=None):
    """``xg.losses.<name>(x, t, reduction=...)`` on the numpy backend and the gradient of its
    sum in ``x``, as NumPy arrays; ``generic``: with the backend's kernels taken away
    (``monkeypatch`` restores them)."""
    numpy_backend = xg.get_backend("numpy")
    if generic:
        monkeypatch.setattr(numpy_backend, "kernels", {})
    X = xg.asarray(x, backend="numpy")
    with xg.GradientTape() as tape:
        tape.watch(X)
        y = getattr(xg.losses, name)(X, xg.asarray(t, backend="numpy"), reduction=reduction)
        total = xg.sum(y)
    grad = tape.gradient(total, X)
    if generic:
        monkeypatch.undo()
    return y.numpy(), grad.numpy()


def float64_reference(x, labels):
    """Softmax cross-entropy's per-row losses and the gradient of their sum, in float64."""
    x64 = x.astype(np.float64)
    shifted = x64 - x64.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    rows = np.arange(x.shape[0])
    probs = np.exp(shifted - log_sum[:, None])
    probs[rows, labels] -= 1.0
    return log_sum - shifted[rows, labels], probs


def awkward_logits(rng, n, classes, dt):
    """Normal logits times 3, with rows shifted by +-1e4, a masked class (-inf: the whole row
    when ``classes == 1``), a NaN, a +inf, a row of -inf, and an exponential that underflows
    to 0; ``n`` must exceed 8."""
    x = (rng.normal(size=(n, classes)) * 3).astype(dt)
    x[1] += 1e4
    x[5] -= 1e4
    x[2, 0] = -np.inf
    x[3, -1] = np.nan
    x[4, 0] = np.inf
    x[6, :] = -np.inf
    if classes > 1:
        x[8, 1] = -200.0
    return x


def assert_kernels_agree(kernel, block, x, target, tol, err_msg=""):
    """``kernel`` and the row kernel ``block`` give the same gradient (written over a buffer
    of 7s), row losses and returned float64 sum (NaN where the other has NaN) within ``tol``,
    at the mean's scale ``1 / len(x)``."""
    n = x.shape[0]
    scale = x.dtype.type(1.0 / n)
    grads = [np.full_like(x, 7.0) for _ in range(2)]
    losses = [np.empty(n, x.dtype) for _ in range(2)]
    totals = [kernel(x, target, grads[0], losses[0], scale),
              block(x, target, grads[1], losses[1], scale)]
    np.testing.assert_allclose(grads[0], grads[1], rtol=tol, atol=tol * float(scale),
                               err_msg=err_msg)
    np.testing.assert_allclose(losses[0], losses[1], rtol=tol, atol=tol, err_msg=err_msg)
    np.testing.assert_allclose(totals[0], totals[1], rtol=tol, err_msg=err_msg)


def assert_threaded_equals_one_thread(labels_kernels, probs_kernels, classes, n=1000):
    """Each (one-thread kernel, threaded kernel) pair, with labels and with probability
    targets, gives the same gradient and losses bit for bit, and the same returned sum, when
    the threads' blocks of 37 rows end inside a group, tile or register of rows."""
    from xpgrad.backends.numba import _config

    rng = np.random.default_rng(7)
    x = rng.normal(size=(n, classes)).astype(np.float32)
    labels = rng.integers(0, classes, n)
    probs = rng.dirichlet(np.ones(classes), n).astype(np.float32)
    scale = np.float32(1.0 / n)
    for (serial, par), target in ((labels_kernels, labels), (probs_kernels, probs)):
        g1, l1 = np.empty_like(x), np.empty(n, np.float32)
        g2, l2 = np.empty_like(x), np.empty(n, np.float32)
        t1 = serial(x, target, g1, l1, scale)
        t2 = _config.run_parallel(par, x, target, g2, l2, scale, 37)
        np.testing.assert_array_equal(g1, g2)
        np.testing.assert_array_equal(l1, l2)
        assert abs(t1 - t2) < 1e-9


def assert_float32_sce_matches_generic_and_torch(loss, grad, x, labels, scale, monkeypatch):
    """A float32 kernel's per-row softmax cross-entropy ``loss`` and ``grad`` at logits ``x``
    equal the generic rule's and PyTorch's to a few ulp of ``scale`` (1 + the losses)."""
    import torch

    eps = float(np.finfo(np.float32).eps)
    generic = numpy_loss_and_grad("softmax_cross_entropy", x, labels, "none", True, monkeypatch)
    tx = torch.tensor(x, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(tx, torch.tensor(labels), reduction="none")
    tl.sum().backward()
    for want_loss, want_grad in (generic, (tl.detach().numpy(), tx.grad.numpy())):
        np.testing.assert_allclose(loss, want_loss, rtol=4e-6, atol=8 * eps * scale.max())
        np.testing.assert_allclose(grad, want_grad, rtol=1e-5, atol=4 * eps)
