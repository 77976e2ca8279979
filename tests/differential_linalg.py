"""Cases of ``tests/test_differential_fuzz_more.py`` from ``xg.linalg``: solve, inv, det,
slogdet, cholesky, qr, svdvals, eigvalsh, eigh, pinv, matrix_power on well-conditioned random
(batches of) matrices, compared with ``torch.linalg``. See ``differential_cases.py`` for
``Case``.

Functions of a symmetric matrix (cholesky, eigvalsh, eigh) are differentiated through a
general matrix ``a`` made symmetric (``a + a^T``, ``a a^T + n I``): the two libraries may hand
a symmetric input's gradient back symmetrized or as one triangle, and both are right, but the
gradient with respect to ``a`` is one.
"""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st

import xpgrad as xg
from differential_cases import Case, _rng

BATCHES = st.lists(st.integers(0, 3), max_size=2).map(tuple)


def _well_conditioned(rng, batch, n):
    """Random (batch, n, n) matrices with singular values in [1, 3]."""
    q1 = np.linalg.qr(rng.normal(size=batch + (n, n)))[0]
    q2 = np.linalg.qr(rng.normal(size=batch + (n, n)))[0]
    s = rng.uniform(1.0, 3.0, size=batch + (n,))
    return (q1 * s[..., None, :]) @ q2


def _spread(rng, batch, n):
    """Random (batch, n) values at least 0.3 apart: no repeated eigen- or singular value."""
    return np.sort(1.0 + np.cumsum(rng.uniform(0.3, 1.0, size=batch + (n,)), axis=-1), axis=-1)


def _with_spectrum(rng, batch, n, values):
    q = np.linalg.qr(rng.normal(size=batch + (n, n)))[0]
    return (q * values[..., None, :]) @ np.swapaxes(q, -1, -2)


def _transpose(x):
    return xg.matrix_transpose(x)


@st.composite
def square_functions(draw):
    rng = _rng(draw)
    batch, n = draw(BATCHES), draw(st.integers(0, 4))
    which = draw(st.sampled_from(["solve", "solve_vector", "inv", "det", "slogdet",
                                  "matrix_power", "pinv"]))
    a = _well_conditioned(rng, batch, n)
    if which == "solve":
        b = rng.normal(size=batch + (n, draw(st.integers(0, 3))))
        return Case("solve", lambda x: xg.linalg.solve(x[0], x[1]),
                    lambda t: torch.linalg.solve(t[0], t[1]), [a, b])
    if which == "solve_vector":     # x2 1-d: PyTorch and the array API agree only unbatched
        a, b = a.reshape(-1, n, n)[:1].reshape(n, n) if a.size else np.eye(n), rng.normal(size=n)
        return Case("solve(vector)", lambda x: xg.linalg.solve(x[0], x[1]),
                    lambda t: torch.linalg.solve(t[0], t[1]), [a, b])
    if which == "slogdet":
        return Case("slogdet.logabsdet", lambda x: xg.linalg.slogdet(x[0])[1],
                    lambda t: torch.linalg.slogdet(t[0])[1], [a])
    if which == "matrix_power":
        k = draw(st.integers(-2, 3))
        return Case(f"matrix_power({k})", lambda x: xg.linalg.matrix_power(x[0], k),
                    lambda t: torch.linalg.matrix_power(t[0], k), [a])
    ours, theirs = {"inv": (xg.linalg.inv, torch.linalg.inv),
                    "det": (xg.linalg.det, torch.linalg.det),
                    "pinv": (xg.linalg.pinv, torch.linalg.pinv)}[which]
    return Case(which, lambda x: ours(x[0]), lambda t: theirs(t[0]), [a])


@st.composite
def decompositions(draw):
    rng = _rng(draw)
    batch, n = draw(BATCHES), draw(st.integers(0, 4))
    which = draw(st.sampled_from(["cholesky", "eigvalsh", "eigh", "qr", "svdvals"]))
    eye = np.eye(n) * n
    if which == "cholesky":
        upper = draw(st.booleans())
        a = rng.normal(size=batch + (n, n))
        return Case(f"cholesky(upper={upper})",
                    lambda x: xg.linalg.cholesky(x[0] @ _transpose(x[0]) + xg.asarray(
                        eye, dtype=x[0].dtype), upper=upper),
                    lambda t: torch.linalg.cholesky(t[0] @ t[0].mT + torch.tensor(eye),
                                                    upper=upper), [a])
    if which in ("eigvalsh", "eigh"):
        a = _with_spectrum(rng, batch, n, _spread(rng, batch, n)) / 2
        if which == "eigvalsh":
            return Case("eigvalsh(a + a^T)",
                        lambda x: xg.linalg.eigvalsh(x[0] + _transpose(x[0])),
                        lambda t: torch.linalg.eigvalsh(t[0] + t[0].mT), [a])

        # eigenvectors are unique up to sign: |v| and v v^T-weighted values do not see it
        def ours(x):
            w, v = xg.linalg.eigh(x[0] + _transpose(x[0]))
            return xg.concat([xg.reshape(w, (-1,)), xg.reshape(v * v, (-1,))])

        def theirs(t):
            w, v = torch.linalg.eigh(t[0] + t[0].mT)
            return torch.cat([w.reshape(-1), (v * v).reshape(-1)])
        return Case("eigh(a + a^T): values, squared vectors", ours, theirs, [a])
    m = draw(st.integers(n, n + 2))
    values = _spread(rng, batch, n)[..., ::-1]
    u = np.linalg.qr(rng.normal(size=batch + (m, n)))[0]
    v = np.linalg.qr(rng.normal(size=batch + (n, n)))[0]
    a = (u * values[..., None, :]) @ v
    if draw(st.booleans()):
        a = np.swapaxes(a, -1, -2)          # wide as well as tall
    if which == "svdvals":
        return Case("svdvals", lambda x: xg.linalg.svdvals(x[0]),
                    lambda t: torch.linalg.svdvals(t[0]), [a])
    a = a if a.shape[-2] >= a.shape[-1] else np.swapaxes(a, -1, -2)

    # LAPACK's Householder QR fixes the signs the same way in NumPy and PyTorch
    def ours(x):
        q, r = xg.linalg.qr(x[0])
        return xg.concat([xg.reshape(q, (-1,)), xg.reshape(r, (-1,))])

    def theirs(t):
        q, r = torch.linalg.qr(t[0])
        return torch.cat([q.reshape(-1), r.reshape(-1)])
    return Case("qr(reduced)", ours, theirs, [a])
