"""The recurrent scans' matrix products for any module with NumPy's API: host arrays' through
``blas`` (bare gemm calls, MKL's where installed), others' through the module's ``matmul``.
"""
from __future__ import annotations


def _gemm_update_for(module):
    """``gemm_update(c, a, b, alpha)`` (``c += alpha a @ b`` in place, False where not done):
    for NumPy ``blas``'s, else one that never runs."""
    import numpy

    if module is numpy:
        from .. import blas

        return blas.gemm_update
    return lambda c, a, b, alpha: False


def _matmul_for(module):
    """``module.matmul``, or for NumPy the host backends' (``blas.matmul``)."""
    import numpy

    if module is numpy:
        from .. import blas

        return blas.matmul
    return module.matmul


def _stepped_for(module):
    """``(stepped, stepped_update)`` for a scan's per-step products: functions of ``t`` that
    write ``stack[t] @ b`` into ``out`` or add it to ``outs[t]`` (in blocks along ``split``
    where the BLAS runs those faster); for NumPy ``blas``'s (each step bare gemm calls)."""
    import numpy

    if module is numpy:
        from .. import blas

        return blas.stepped_matmul, blas.stepped_update

    def stepped(stack, b, out):
        return lambda t: module.matmul(stack[t], b, out=out)

    def stepped_update(stack, b, outs, split=None):
        def update(t):
            outs[t] += module.matmul(stack[t], b)
        return update
    return stepped, stepped_update


def add_product_for(module):
    """``add_product(out, a, b, first)`` for arrays of ``module``: ``out`` <- ``a @ b`` if
    ``first``, else ``out += a @ b`` (in place where the gemm can).

    >>> import numpy as np
    >>> out = np.zeros((1, 1)); add_product = add_product_for(np)
    >>> add_product(out, np.ones((1, 2)), np.ones((2, 1)), True)
    >>> add_product(out, np.ones((1, 2)), np.ones((2, 1)), False); out.tolist()
    [[4.0]]
    """
    matmul, gemm_update = _matmul_for(module), _gemm_update_for(module)

    def add_product(out, a, b, first):
        if first:
            matmul(a, b, out=out)
        elif not gemm_update(out, a, b, 1.0):
            module.add(out, matmul(a, b), out=out)
    return add_product


def recurrent_product_for(np, stepped_update):
    """``recurrent_product(h0, w, acts)`` for arrays of ``np``, whose per-step updates are
    ``stepped_update``'s (``_stepped_for``)."""

    def recurrent_product(h0, w, acts):
        """A function of ``(t, hs)`` adding ``h_{t-1} @ w`` to ``acts[t]``: ``h0``'s at ``t =
        0`` (nothing where ``h0`` is zero, a module's default state, and ``w`` finite: an inf
        or NaN of ``w`` makes ``0 @ w`` NaN, as in PyTorch), then ``hs[t - 1]``, the states
        written as the scan goes (``hs`` is the same array at every call)."""
        needed = h0.any() or not np.isfinite(w).all()
        first = stepped_update(h0[None], w, acts[:1]) if needed else None
        later = []

        def product(t, hs):
            if t:
                if not later:
                    later.append(stepped_update(hs[:-1], w, acts[1:], split="columns"))
                later[0](t - 1)
            elif first is not None:
                first(0)
        return product
    return recurrent_product
