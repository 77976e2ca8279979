"""SciPy's ufuncs behind the NumPy backend's ``xg.special`` kernels, where SciPy is installed
(it is no dependency of xpgrad): imported on first use, and where the import fails the kernels
fall back (``gammaln``, ``digamma``: the pure-NumPy formulas of ``special.py``;
``log_ndtr``: ``normal_cdf.py``'s; ``erf``, ``erfinv``, ``ndtri``: the generic rules). One C
loop per call instead of the formulas' dozens of array passes: gammaln on 1,000 float64 points
in 25 us of CPU, not 55 (pure NumPy) or 227 (the formulas). SciPy's values agree with the
generic formulas' to ~2e-15, except ``gammaln`` within 0.05 of its roots 1 and 2 (SciPy is
1e-7 off relative at 1 - 1e-10): those entries take the formulas' Taylor series; and
``digamma`` below 0 (next to the poles): the formulas' reflection there.

>>> import numpy as np
>>> out = gammaln(np.array([1.0 - 1e-10, 3.0]))
>>> [f"{v:.12e}" for v in out.tolist()]
['5.772157127428e-11', '6.931471805599e-01']
"""
from __future__ import annotations

import array_api_compat.numpy as npx
import numpy as np

from . import erf_float32

_MISSING = False
_SQRT_HALF = 0.7071067811865476
#: ``scipy.special`` once imported; None before the first use, ``_MISSING`` where it fails
_SCIPY = None
_ROOT_HALF_WIDTH = 0.05
_ROOT_TERMS = 12          # Taylor terms within 0.05 of the roots: 4e-16 relative (mpmath)


def scipy_special():
    """``scipy.special``, or None where SciPy cannot be imported (looked up once)."""
    global _SCIPY
    if _SCIPY is None:
        try:
            import scipy.special as module
        except ImportError:
            module = _MISSING
        _SCIPY = module
    return _SCIPY or None


def gammaln(x):
    """``log|Gamma(x)|`` of a float64 array by SciPy, its entries within 0.05 of 1 and 2 by the
    Taylor series of ``special.py``, its infinite ones by ``special.gammaln`` (SciPy gives inf
    at subnormal x, where it is ``-log|x|``, 744 at the smallest); SciPy must be importable."""
    from . import special

    out = np.asarray(scipy_special().gammaln(x))      # a 0-d input gives a NumPy scalar
    infinite = np.isinf(out)        # the poles and +-inf, and SciPy's inf at subnormal x
    if infinite.any():
        out[infinite] = special.gammaln(x[infinite])
    e = np.abs(x - 1.5)
    near = np.abs(e - 0.5) < _ROOT_HALF_WIDTH          # |x - 1| or |x - 2| below 0.05
    if near.any():
        out[near] = special.lgamma_near_roots(x[near], _ROOT_TERMS)
    return out


def digamma(x):
    """``psi(x)`` of a float64 array by SciPy (accurate at its root 1.4616...: a Taylor series
    there too); below 0 the reflection of ``special.py`` around SciPy's values above 1 (SciPy's
    own takes ``tan(pi x)`` unreduced, 1e-7 off relative at -1 + 1e-9, and is 10x slower)."""
    from .special import psi_reflected, split

    sc = scipy_special()
    flat = x.reshape(-1)
    out = split(flat, flat < 0, lambda v: psi_reflected(v, sc.digamma), sc.digamma)
    return np.asarray(out).reshape(x.shape)


def _forward(name, tail=None):
    """A kernel forward by SciPy's ufunc ``name`` in float64 (a float32 input's result rounded,
    as the generic forward does); None (the generic rule) without SciPy or for other dtypes.
    ``tail``: ``(where, formula)``, the entries ``where(x)`` by ``formula`` instead."""
    def forward(x):
        sc = scipy_special()
        if sc is None or getattr(x, "dtype", None) not in _FLOATS:
            return None
        wide = np.asarray(x, np.float64)
        out = np.asarray(getattr(sc, name)(wide))
        if tail is not None:
            beyond = tail[0](wide)
            if beyond.any():
                out[beyond] = tail[1](wide[beyond])
        if x.dtype != out.dtype:
            with np.errstate(over="ignore"):      # beyond float32's range: inf, as the rule's
                out = out.astype(x.dtype)
        return out, None
    return forward


def _forward_of_several(name):
    """``_forward`` for SciPy's ufunc ``name`` of several arguments of one float dtype (the
    primitive's keywords, e.g. the names its errors quote, unused)."""
    def forward(*args, **params):
        sc = scipy_special()
        if sc is None or any(getattr(v, "dtype", None) not in _FLOATS for v in args):
            return None
        out = np.asarray(getattr(sc, name)(*(np.asarray(v, np.float64) for v in args)))
        if args[-1].dtype != out.dtype:
            out = out.astype(args[-1].dtype)
        return out, None
    return forward


def _betainc_forward(a, b, x, **params):
    """SciPy's ``betainc``, with the generic fraction where ``a == b == 1/2`` and ``x >
    0.999``: SciPy takes the arcsine there, which keeps only ``x``'s absolute accuracy next to
    1 (``betainc(0.5, 0.5, 1 - 1e-15)`` 1.1e-9 off, 2.8e-9 at 1 - 1e-16, where the fraction is
    exact; for other a, b the two agree to 2e-16, and SciPy's ``betaincc`` is right there)."""
    result = _forward_of_several("betainc")(a, b, x, **params)
    if result is None:
        return None
    out = result[0]
    wide = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (a, b, x)))
    arcsine = (wide[0] == 0.5) & (wide[1] == 0.5) & (wide[2] > 0.999) & (wide[2] < 1.0)
    if arcsine.any():
        from xpgrad.ops.incomplete_beta_formulas import regularized_beta

        with np.errstate(all="ignore"):
            exact = regularized_beta(npx, *(v[arcsine] for v in wide), upper=False)
        out[arcsine] = exact.astype(out.dtype)
    return out, None


def _zeta_forward(s, q):
    """SciPy's ``zeta`` with the generic rule's NaN for q < 0 (SciPy sums the negative terms
    for integer s; the generic rule, on every other backend, does not), and the generic value
    where SciPy's is NaN inside the domain (s from ~1e15 on, where it is 0 or ``q^-s``)."""
    result = _forward_of_several("zeta")(s, q)
    if result is not None:
        out = result[0]
        wide_s, wide_q = np.broadcast_arrays(np.asarray(s, np.float64), np.asarray(q, np.float64))
        lost = np.isnan(out) & (wide_s > 1) & np.isfinite(wide_s) & (wide_q > 0)
        if lost.any():
            from xpgrad.ops.hurwitz_zeta import hurwitz_zeta

            with np.errstate(all="ignore"):
                out[lost] = hurwitz_zeta(npx, wide_s[lost], wide_q[lost])
        out[np.broadcast_to(np.asarray(q) < 0, out.shape)] = np.nan
    return result


def _generic_vjps(g, saved, *args, **params):
    return (NotImplemented,) * len(args)


def _erfc_tail(x):
    """``erfc`` right of 5 by the generic formula (3e-15 to its underflow near 27, where
    SciPy's is 3e-14 off by 20 and keeps few digits past 26)."""
    from xpgrad.ops.formulas import erfc

    with np.errstate(all="ignore"):
        return erfc(npx, x)


def _ndtr_tail(x):
    """``ndtr`` left of -20 by the generic formula ``erfc(-x / sqrt 2) / 2``: SciPy's keeps
    few digits where it is subnormal, left of -37.5 (to -20 both are within 1.2x of each
    other, limited alike by the rounding of ``x / sqrt 2``, ``x**2`` ulps)."""
    return 0.5 * _erfc_tail(-_SQRT_HALF * x)


def _subnormal_k(name):
    """``(where, formula)``: ``k0``, ``k1`` and their scaled forms at subnormal x, where
    SciPy's are inf or NaN (``k0(5e-324)`` is 744.6), by the generic formula."""
    from xpgrad.ops.bessel_formulas import modified_second_kind

    order, scaled = int(name[1]), name.endswith("e")

    def formula(x):
        with np.errstate(all="ignore"):               # K1 = 1 / x overflows: inf, as SciPy's
            return modified_second_kind(npx, x, order, scaled)
    return (lambda x: (x > 0) & (x < 2.3e-308)), formula


def _generic_vjp(g, saved, x):
    return (NotImplemented,)        # the generic rule, from the output: cheap arithmetic


_FLOATS = frozenset((np.dtype(np.float32), np.dtype(np.float64)))
_FLOAT32 = np.dtype(np.float32)


def _output_kept(forward):
    """``forward`` whose result is also its saved value (a vjp from the output)."""
    def kept(x):
        res = forward(x)
        return None if res is None else (res[0], res[0])
    return kept


def _float32_first(fast, forward):
    """A forward: float32 arrays by ``fast`` (``erf_float32.py``, with or without SciPy),
    others by ``forward``."""
    def forward32(x):
        if getattr(x, "dtype", None) == _FLOAT32:
            return fast(x), None
        return forward(x)
    return forward32


def kernels():
    """The kernels that exist only through SciPy: ``erfinv`` and ``ndtri`` (their generic
    forwards are Newton/Halley steps, hundreds of array passes), ``erf``, ``erfc`` and ``ndtr``
    in float64 (series and ``erfc``'s fit, ~100 passes: 1.3 ms for 65536 numbers against
    SciPy's 0.8; their float32 forwards, ``erfinv``'s too, and the four's derivatives in both
    dtypes, SciPy or not, are ``erf_float32.py``'s: 20 to 40 float32 passes, 0.1 ms); SciPy's
    agree with the formulas to 2e-15 (``erfc`` right of 5 and ``ndtr`` left of -20,
    where SciPy's lose digits, take the formulas); ``i0``, ``i0e``, ``i1``, ``i1e`` (SciPy's
    Chebyshev fits, one pass, against the generic series' 90); ``gamma`` (exact at small
    integers, where the generic ``exp(gammaln)`` is an ulp or two off); ``betainc``,
    ``betaincc``, ``stdtr``, ``gammaincinv`` and ``betaincinv`` (the generic continued fraction
    and Newton steps loop in Python, and
    the fraction loses up to 1e-11 relative to its crossover's ``1 - I`` where a or b is below
    0.01; their derivatives stay generic); ``exp1`` (1.3e-15 of mpmath against the generic
    series' 9e-15 toward x = 2, 3x faster) and ``zeta`` (one loop, not 20 terms and a tail as
    array passes; ``expi`` stays generic, SciPy's being 3e-14 off where its is 6e-15, and
    ``erfcx`` is ``erfcx.py``'s kernel: SciPy's is 491 ulp off far left); ``k0``, ``k1``,
    ``k0e``, ``k1e`` (within 1e-15 of mpmath, 12x faster than the generic formulas; ``j0``,
    ``j1``, ``y0``, ``y1`` do not take SciPy's, 3e-15 off near x = 5 and 34 and 1e-6 at 1e10:
their kernels are ``bessel.py``'s, 4.6e-16 off).
    (``log_ndtr``'s kernel, SciPy's where it imports, is ``normal_cdf.py``'s.)"""
    from xpgrad.backend import Kernel

    return {"special_erfinv": Kernel(_output_kept(_float32_first(erf_float32.erfinv,
                                                                 _forward("erfinv"))),
                                     erf_float32.erfinv_vjp, saves=("output",)),
            "special_erfc": Kernel(_float32_first(erf_float32.erfc, _forward(
                "erfc", (lambda x: x > 5.0, _erfc_tail))), erf_float32.gaussian_vjp("erfc"),
                saves=(0,)),
            "special_ndtr": Kernel(_float32_first(erf_float32.ndtr, _forward(
                "ndtr", (lambda x: x < -20.0, _ndtr_tail))), erf_float32.gaussian_vjp("ndtr"),
                saves=(0,)),
            "special_ndtri": Kernel(_forward("ndtri"), _generic_vjp, saves=("output",)),
            "special_erf": Kernel(_float32_first(erf_float32.erf, _forward("erf")),
                                  erf_float32.gaussian_vjp("erf"), saves=(0,)),
            "special_gamma": Kernel(_forward("gamma"), _generic_vjp, saves=(0, "output")),
            **{f"special_{name}": Kernel(_forward(name), _generic_vjp, saves=(0, "output"))
               for name in ("i0", "i0e", "i1", "i1e")},
            "special_betainc": Kernel(_betainc_forward, _generic_vjps,
                                      saves=(0, 1, 2)),
            "special_betaincc": Kernel(_forward_of_several("betaincc"), _generic_vjps,
                                       saves=(0, 1, 2)),
            "special_stdtr": Kernel(_forward_of_several("stdtr"), _generic_vjps, saves=(0, 1)),
            "special_gammaincinv": Kernel(_forward_of_several("gammaincinv"), _generic_vjps,
                                          saves=(0, "output")),
            "special_betaincinv": Kernel(_forward_of_several("betaincinv"), _generic_vjps,
                                         saves=(0, 1, "output")),
            "special_exp1": Kernel(_forward("exp1"), _generic_vjp, saves=(0,)),
            **{f"special_{name}": Kernel(_forward(name, _subnormal_k(name)), _generic_vjp,
                                         saves=(0, "output"))
               for name in ("k0", "k1", "k0e", "k1e")},
            "special_zeta": Kernel(_zeta_forward, _generic_vjps, saves=(0, 1))}
