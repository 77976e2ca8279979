"""Every differentiable primitive against central finite differences (float64), table-driven.

Each CASE names the namespace function it covers; ``test_every_primitive_has_a_case`` fails when
a differentiable function of ``xg.ops`` has no entry, so new primitives cannot slip in untested.
"""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads


# -- argument makers: float64 tensors with values kept away from kinks and domain edges --------

def normal(*shape):
    return ("normal", shape)


def positive(*shape):        # log, sqrt, pow base
    return ("positive", shape)


def away(*shape):            # |x| >= 0.2: abs, relu, sign, division by it
    return ("away", shape)


def distinct(*shape):        # well-separated values: max/min/maximum without ties
    return ("distinct", shape)


def make(spec, rng):
    kind, shape = spec
    x = rng.standard_normal(shape)
    if kind == "positive":
        x = np.abs(x) + 0.5
    elif kind == "away":
        x = np.sign(x) * (np.abs(x) + 0.2)
    elif kind == "distinct":
        n = int(np.prod(shape))
        x = (rng.permutation(n) * 0.37 - n * 0.15).reshape(shape)
    return xg.asarray(x, dtype=xg.float64)


def _nans(x):
    """``x`` with every third entry NaN (the nan* statistics' input)."""
    mask = np.arange(int(np.prod(x.shape))).reshape(x.shape) % 3 == 1
    return xg.where(xg.asarray(mask), xg.asarray(float("nan"), dtype=x.dtype), x)


class Case:
    def __init__(self, covers, fn, *specs, order=2, id=None):
        self.covers = covers if isinstance(covers, tuple) else (covers,)
        self.fn = fn
        self.specs = specs
        self.order = order
        self.id = id or self.covers[0]


C = Case
CASES = [
    # elementwise, one argument
    C("negative", xg.negative, normal(2, 3)),
    C("square", xg.square, normal(2, 3)),
    C("sqrt", xg.sqrt, positive(2, 3)),
    C("exp", xg.exp, normal(2, 3)),
    C("expm1", xg.expm1, normal(2, 3)),
    C("log", xg.log, positive(2, 3)),
    C("log1p", xg.log1p, positive(2, 3)),
    C("abs", xg.abs, away(2, 3)),
    C("sign", lambda x: xg.sign(x) * x, away(2, 3), id="sign_times_x"),
    C("sin", xg.sin, normal(2, 3)),
    C("cos", xg.cos, normal(2, 3)),
    C("tanh", xg.tanh, normal(2, 3)),
    C("sigmoid", xg.nn.sigmoid, normal(2, 3)),
    C("relu", xg.nn.relu, away(2, 3)),
    C("leaky_relu", lambda x: xg.nn.leaky_relu(x, negative_slope=0.1), away(2, 3)),
    C("softplus", xg.nn.softplus, normal(2, 3)),
    C("softplus", lambda x: xg.nn.softplus(x * 10.0, beta=0.5, threshold=2.0), away(2, 3),
      id="softplus_beta_threshold"),
    C("elu", lambda x: xg.nn.elu(x, alpha=0.7), away(2, 3)),
    C("selu", xg.nn.selu, away(2, 3)),
    C("celu", lambda x: xg.nn.celu(x, alpha=1.5), away(2, 3)),
    C("gelu", xg.nn.gelu, normal(2, 3)),
    C("gelu", lambda x: xg.nn.gelu(x, approximate="tanh"), normal(2, 3), id="gelu_tanh"),
    C("silu", xg.nn.silu, normal(2, 3)),
    C("mish", xg.nn.mish, normal(2, 3)),
    C("softsign", xg.nn.softsign, away(2, 3)),
    C("log_sigmoid", xg.nn.log_sigmoid, normal(2, 3)),
    C("hardtanh", lambda x: xg.nn.hardtanh(x * 2.0, min_val=-1.5, max_val=0.7), away(2, 3)),
    C("relu6", lambda x: xg.nn.relu6(x * 4.0), away(2, 3)),
    C("hardsigmoid", lambda x: xg.nn.hardsigmoid(x * 3.0), away(2, 3)),
    C("hardswish", lambda x: xg.nn.hardswish(x * 3.0), away(2, 3)),
    C("glu", lambda x: xg.nn.glu(x, axis=0), normal(4, 3)),
    C("softmax", lambda x: xg.nn.softmax(x, axis=-1), normal(2, 3), id="softmax_last"),
    C("softmax", lambda x: xg.nn.softmax(x, axis=0), normal(3, 2, 2), id="softmax_axis0"),
    C("log_softmax", xg.nn.log_softmax, normal(2, 3), id="log_softmax_last"),
    C("log_softmax", lambda x: xg.nn.log_softmax(x, axis=-2), normal(3, 2),
      id="log_softmax_neg2"),
    # elementwise, two arguments, with broadcasting
    C("add", xg.add, normal(2, 3), normal(3)),
    C("add", lambda x: x + 1.5, normal(2, 3), id="add_scalar"),
    C("subtract", xg.subtract, normal(2, 1), normal(1, 3)),
    C("subtract", lambda x: 2.0 - x, normal(3), id="rsub_scalar"),
    C("multiply", xg.multiply, normal(2, 3), normal(2, 1)),
    C("multiply", lambda x, y: x * y * x, normal(4, 1, 3), normal(2, 1), id="multiply_3d"),
    C("divide", xg.divide, normal(2, 3), away(3)),
    C("divide", lambda x: 1.0 / x, away(2, 3), id="rdivide_scalar"),
    C("pow", xg.pow, positive(2, 3), normal(3)),
    C("pow", lambda x: x ** 3, normal(2, 3), id="pow_int_exponent"),
    C("pow", lambda x: 2.0 ** x, normal(2, 3), id="pow_scalar_base"),
    C("maximum", xg.maximum, distinct(2, 3), distinct(1, 3)),
    C("minimum", xg.minimum, distinct(2, 3), distinct(3)),
    C("logaddexp", xg.logaddexp, normal(2, 3), normal(2, 1)),
    # the rest of the array API's elementwise set (complex inputs: tests/test_elementwise.py)
    C("positive", lambda x: xg.positive(x) * x, normal(2, 3)),
    C("reciprocal", xg.reciprocal, away(2, 3)),
    C("log2", xg.log2, positive(2, 3)),
    C("log10", xg.log10, positive(2, 3)),
    C("tan", lambda x: xg.tan(x * 0.5), normal(2, 3)),
    C("asin", lambda x: xg.asin(xg.tanh(x) * 0.9), normal(2, 3)),
    C("acos", lambda x: xg.acos(xg.tanh(x) * 0.9), normal(2, 3)),
    C("atan", xg.atan, normal(2, 3)),
    C("sinh", xg.sinh, normal(2, 3)),
    C("cosh", xg.cosh, normal(2, 3)),
    C("asinh", xg.asinh, normal(2, 3)),
    C("acosh", lambda x: xg.acosh(x + 1.0), positive(2, 3)),
    C("atanh", lambda x: xg.atanh(xg.tanh(x) * 0.9), normal(2, 3)),
    C("atan2", xg.atan2, normal(2, 3), away(3)),
    C("atan2", lambda x: xg.atan2(1.5, x) + xg.atan2(x, -2.0), normal(3), id="atan2_scalars"),
    C("hypot", xg.hypot, normal(2, 3), normal(2, 1)),
    C("copysign", lambda x, y: xg.copysign(x, y) * y, away(2, 3), away(3)),
    C("copysign", lambda x: xg.copysign(x, -1.0), away(3), id="copysign_scalar"),
    C("remainder", xg.remainder, normal(2, 3), positive(3)),
    C("remainder", lambda x: (-x) % 0.7 + 5.0 % (x * x + 1.0), normal(3), id="remainder_ops"),
    C(("real", "imag"), lambda x, y: xg.real(x + 1j * y) * xg.imag((x - 2j) * (y + 1j * x)),
      normal(2, 3), normal(3), id="real_imag"),
    C("conj", lambda x, y: xg.real(xg.conj(x + 1j * y) * (y + 0.5j * x)), normal(2, 3),
      normal(2, 3)),
    C("where", lambda x, y: xg.where(x > 0, x * y, y), away(2, 3), normal(3)),
    C("clip", lambda x: xg.clip(x, -0.5, 0.7), normal(3, 4)),
    C("clip", lambda x: xg.clip(x, min=0.1) + xg.clip(x, max=-0.2), distinct(2, 3),
      id="clip_one_sided"),
    C("clip", lambda x, lo: xg.clip(x, lo, 0.9), distinct(2, 3), distinct(3),
      id="clip_tensor_bound"),
    # special functions (xg.special; values and poles: tests/test_special.py)
    C("special.erf", xg.special.erf, normal(2, 3)),
    C("special.erfc", xg.special.erfc, normal(2, 3)),
    C("special.ndtr", xg.special.ndtr, normal(2, 3)),
    C("special.log_ndtr", lambda x: xg.special.log_ndtr(x * 4.0), normal(2, 3)),
    C("special.erfinv", lambda x: xg.special.erfinv(xg.tanh(x) * 0.9), normal(2, 3)),
    C("special.gammaln", xg.special.gammaln, positive(2, 3)),
    C("special.gammaln", lambda x: xg.special.gammaln(xg.tanh(x) * 0.4 - 0.5), normal(2, 3),
      id="special.gammaln_negative"),
    C("special.digamma", xg.special.digamma, positive(2, 3)),
    C("special.gammainc", lambda x: xg.special.gammainc(1.7, x), positive(2, 3)),
    C("special.gammaincc", lambda x: xg.special.gammaincc(0.6, x * 3.0), positive(2, 3)),
    C("special.gammainc", lambda a, x: xg.special.gammainc(a, x), positive(2, 3), positive(3),
      order=1, id="special.gammainc_shape"),
    C("special.gammaincc", lambda a, x: xg.special.gammaincc(a * 3.0, x), positive(3),
      positive(2, 3), order=1, id="special.gammaincc_shape"),
    C("special.polygamma", lambda x: xg.special.polygamma(2, x), positive(2, 3)),
    C("special.xlogy", xg.special.xlogy, normal(2, 3), positive(3)),
    C("special.xlog1py", xg.special.xlog1py, normal(2, 1), positive(2, 3)),
    C("special.logit", lambda x: xg.special.logit(xg.nn.sigmoid(x) * 0.8 + 0.1), normal(2, 3)),
    C("special.expit", xg.special.expit, normal(2, 3)),
    # the rest of xg.special (values, tails and PyTorch's gradients: tests/test_special_more.py)
    C("special.ndtri", lambda x: xg.special.ndtri(xg.nn.sigmoid(x) * 0.9 + 0.05), normal(2, 3)),
    C("special.psi", xg.special.psi, positive(2, 3)),
    C("special.betaln", xg.special.betaln, positive(2, 3), positive(3)),
    C("special.betaln", lambda a, b: xg.special.betaln(a + 12.0, b), positive(2, 3), positive(3),
      id="special.betaln_large"),
    # one argument below 1e-3 of the other: log_gamma_shift's series (special_gamma_shift)
    C("special.betaln", lambda a, b: xg.special.betaln(a * 1e-4, b + 1.0), positive(2, 3),
      positive(3), id="special.betaln_shifted"),
    C("special.multigammaln", lambda a: xg.special.multigammaln(a + 1.5, 3), positive(2, 3)),
    C("special.entr", xg.special.entr, positive(2, 3)),
    C("special.rel_entr", xg.special.rel_entr, positive(2, 3), positive(3)),
    C("special.kl_div", xg.special.kl_div, positive(2, 3), positive(3)),
    C("special.huber", lambda r: xg.special.huber(0.7, r), normal(2, 3)),
    C("special.pseudo_huber", xg.special.pseudo_huber, positive(2, 3), normal(2, 3)),
    C("special.sinc", xg.special.sinc, normal(2, 3)),
    # the incomplete beta family (values, edges, mpmath: tests/test_special_incomplete_beta.py);
    # second order in x, first in the shape parameters (their second derivatives raise)
    C("special.betainc", lambda x: xg.special.betainc(1.5, 2.5, xg.nn.sigmoid(x)), normal(2, 3)),
    C("special.betainc", lambda a, b, x: xg.special.betainc(a, b, xg.nn.sigmoid(x)),
      positive(2, 3), positive(3), normal(2, 3), order=1, id="special.betainc_shapes"),
    C("special.betaincc", lambda x: xg.special.betaincc(0.7, 3.0, xg.nn.sigmoid(x)),
      normal(2, 3)),
    C("special.stdtr", lambda t: xg.special.stdtr(3.5, t * 2.0), normal(2, 3)),
    C("special.stdtr", xg.special.stdtr, positive(2, 3), normal(2, 3), order=1,
      id="special.stdtr_df"),
    C("special.fdtr", lambda x: xg.special.fdtr(3.0, 5.0, x), positive(2, 3)),
    C("special.fdtrc", xg.special.fdtrc, positive(2, 3), positive(3), positive(2, 3), order=1),
    C("special.gammaincinv", lambda y: xg.special.gammaincinv(1.7, xg.nn.sigmoid(y)),
      normal(2, 3)),
    C("special.gammaincinv", lambda a, y: xg.special.gammaincinv(a, xg.nn.sigmoid(y)),
      positive(2, 3), normal(2, 3), order=1, id="special.gammaincinv_shape"),
    C("special.betaincinv", lambda y: xg.special.betaincinv(1.5, 2.5, xg.nn.sigmoid(y)),
      normal(2, 3)),
    # compositions under SciPy's names (values, edges, PyTorch: tests/test_special_composed.py)
    C("special.boxcox", xg.special.boxcox, positive(2, 3), normal(3)),
    C("special.boxcox1p", xg.special.boxcox1p, positive(2, 3), normal(3)),
    C("special.inv_boxcox", lambda y, lmbda: xg.special.inv_boxcox(y, lmbda * 0.3),
      positive(2, 3), positive(3)),
    C("special.inv_boxcox1p", lambda y, lmbda: xg.special.inv_boxcox1p(y, lmbda * 0.3),
      positive(2, 3), positive(3)),
    C("special.log_expit", xg.special.log_expit, normal(2, 3)),
    C("special.erfcinv", lambda y: xg.special.erfcinv(xg.nn.sigmoid(y) * 1.8 + 0.1),
      normal(2, 3)),
    C("special.cosm1", xg.special.cosm1, normal(2, 3)),
    C("special.rgamma", xg.special.rgamma, positive(2, 3)),
    C("special.loggamma", xg.special.loggamma, positive(2, 3)),
    C("special.gdtr", lambda a, x: xg.special.gdtr(a, 1.7, x), positive(3), positive(2, 3)),
    C("special.gdtrc", xg.special.gdtrc, positive(3), positive(2, 3), positive(2, 3), order=1),
    C("special.pdtr", lambda m: xg.special.pdtr(2.0, m), positive(2, 3)),
    C("special.pdtrc", lambda m: xg.special.pdtrc(3.0, m), positive(2, 3)),
    C("special.bdtr", lambda p: xg.special.bdtr(2.0, 5.0, xg.nn.sigmoid(p)), normal(2, 3)),
    C("special.nbdtr", lambda n, p: xg.special.nbdtr(2.0, n, xg.nn.sigmoid(p)), positive(2, 3),
      normal(2, 3), order=1),
    C("special.betaincinv", lambda a, b, y: xg.special.betaincinv(a, b, xg.nn.sigmoid(y)),
      positive(2, 3), positive(3), normal(2, 3), order=1, id="special.betaincinv_shapes"),
    # gamma ratios and elementary functions under SciPy's names (values, poles, limits:
    # tests/test_special_gamma_ratios.py, tests/test_special_elementary.py)
    C("special.beta", xg.special.beta, positive(2, 3), positive(3)),
    C("special.beta", lambda a, b: xg.special.beta(-2.1 - 0.8 * xg.nn.sigmoid(a), b),
      normal(2, 3), positive(3), id="special.beta_negative"),
    C("special.poch", xg.special.poch, positive(2, 3), normal(3)),
    C("special.poch", lambda z, m: xg.special.poch(-2.1 - 0.8 * xg.nn.sigmoid(z), m * 0.3),
      normal(2, 3), normal(3), id="special.poch_negative"),
    C("special.poch", lambda z, m: xg.special.poch(z + 1.0, m * 1e-4), positive(2, 3), normal(3),
      id="special.poch_shifted"),
    C("special.binom", lambda n, k: xg.special.binom(n * 3.0, k + 0.25), positive(2, 3),
      positive(3)),
    C("special.cbrt", xg.special.cbrt, away(2, 3)),
    C("special.sindg", lambda x: xg.special.sindg(x * 100.0), normal(2, 3)),
    C("special.cosdg", lambda x: xg.special.cosdg(x * 100.0), normal(2, 3)),
    C("special.tandg", lambda x: xg.special.tandg(x * 30.0), normal(2, 3)),
    C("special.cotdg", lambda x: xg.special.cotdg(x * 30.0 + 90.0), normal(2, 3)),
    C("special.exprel", lambda x: xg.special.exprel(x * 3.0), normal(2, 3)),
    C("special.exprel", lambda x: xg.special.exprel(x * 0.003), normal(2, 3),
      id="special.exprel_series"),
    C("special.erfcx", lambda x: xg.special.erfcx(x * 4.0), normal(2, 3)),
    C("special.exp1", xg.special.exp1, positive(2, 3)),
    C("special.expi", lambda x: xg.special.expi(x * 3.0), away(2, 3)),
    C("special.zeta", lambda q: xg.special.zeta(2.5, q), positive(2, 3)),
    C("special.zeta", lambda s, q: xg.special.zeta(s + 1.0, q), positive(3), positive(2, 3),
      order=1, id="special.zeta_s"),
    C("special.i0", xg.special.i0, normal(2, 3)),
    C("special.i0e", lambda x: xg.special.i0e(x * 20.0), away(2, 3)),
    C("special.i1", xg.special.i1, normal(2, 3)),
    C("special.i1e", lambda x: xg.special.i1e(x * 20.0), away(2, 3)),
    C("special.j0", lambda x: xg.special.j0(x * 8.0), normal(2, 3)),
    C("special.j1", lambda x: xg.special.j1(x * 8.0), normal(2, 3)),
    C("special.y0", lambda x: xg.special.y0(x * 8.0), positive(2, 3)),
    C("special.y1", lambda x: xg.special.y1(x * 8.0), positive(2, 3)),
    C("special.k0", xg.special.k0, positive(2, 3)),
    C("special.k1", xg.special.k1, positive(2, 3)),
    C("special.k0e", lambda x: xg.special.k0e(x * 20.0), positive(2, 3)),
    C("special.k1e", lambda x: xg.special.k1e(x * 20.0), positive(2, 3)),
    C("special.eval_chebyt", lambda x: xg.special.eval_chebyt(5, x), normal(2, 3)),
    C("special.eval_chebyu", lambda x: xg.special.eval_chebyu(5, x), normal(2, 3)),
    C("special.eval_hermite", lambda x: xg.special.eval_hermite(5, x), normal(2, 3)),
    C("special.eval_hermitenorm", lambda x: xg.special.eval_hermitenorm(5, x), normal(2, 3)),
    C("special.eval_laguerre", lambda x: xg.special.eval_laguerre(5, x), normal(2, 3)),
    C("special.eval_legendre", lambda x: xg.special.eval_legendre(5, x), normal(2, 3)),
    C("special.factorial", lambda n: xg.special.factorial(n * 3.0), positive(2, 3)),
    C("special.comb", lambda N: xg.special.comb(N + 4.0, 2.5), positive(2, 3)),
    C("special.perm", lambda N, k: xg.special.perm(N + 4.0, k), positive(2, 3), positive(3)),
    C("special.powm1", xg.special.powm1, positive(2, 3), normal(2, 3)),
    C("special.softplus", xg.special.softplus, normal(2, 3)),
    C("special.spence", lambda z: xg.special.spence(z * 3.0), positive(2, 3)),
    C("special.expn", lambda x: xg.special.expn(3, x * 2.0), positive(2, 3)),
    C("special.dawsn", lambda x: xg.special.dawsn(x * 4.0), normal(2, 3)),
    C("special.chebyshev_polynomial_v", lambda x: xg.special.chebyshev_polynomial_v(x, 5),
      normal(2, 3)),
    C("special.chebyshev_polynomial_w", lambda x: xg.special.chebyshev_polynomial_w(x, 5),
      normal(2, 3)),
    C("special.shifted_chebyshev_polynomial_t",
      lambda x: xg.special.shifted_chebyshev_polynomial_t(x, 5), normal(2, 3)),
    C("special.shifted_chebyshev_polynomial_u",
      lambda x: xg.special.shifted_chebyshev_polynomial_u(x, 5), normal(2, 3)),
    C("special.shifted_chebyshev_polynomial_v",
      lambda x: xg.special.shifted_chebyshev_polynomial_v(x, 5), normal(2, 3)),
    C("special.shifted_chebyshev_polynomial_w",
      lambda x: xg.special.shifted_chebyshev_polynomial_w(x, 5), normal(2, 3)),
    C("special.hyp1f1", lambda x: xg.special.hyp1f1(1.5, 2.5, x * 2.0), normal(2, 3)),
    C("special.airy_ai", lambda x: xg.special.airy_ai(x * 6.0), normal(2, 3)),
    C("special.hyp2f1", lambda x: xg.special.hyp2f1(1.5, -0.5, 2.5, x * 0.4), normal(2, 3)),
    C("special.chebyshev_polynomial_t",
      lambda x: xg.special.chebyshev_polynomial_t(x, 5), normal(2, 3)),
    C("special.chebyshev_polynomial_u",
      lambda x: xg.special.chebyshev_polynomial_u(x, 5), normal(2, 3)),
    C("special.hermite_polynomial_h", lambda x: xg.special.hermite_polynomial_h(x, 4),
      normal(2, 3)),
    C("special.hermite_polynomial_he", lambda x: xg.special.hermite_polynomial_he(x, 4),
      normal(2, 3)),
    C("special.laguerre_polynomial_l", lambda x: xg.special.laguerre_polynomial_l(x, 4),
      normal(2, 3)),
    C("special.legendre_polynomial_p", lambda x: xg.special.legendre_polynomial_p(x, 5),
      normal(2, 3)),
    C("special.spherical_bessel_j0", lambda x: xg.special.spherical_bessel_j0(x * 3.0),
      normal(2, 3)),
    C("special.owens_t", lambda h, a: xg.special.owens_t(h, a * 2.0), normal(2, 3), normal(3)),
    C("special.sici", lambda x: xg.special.sici(x * 5.0)[0], normal(2, 3),
      id="special.sici_si"),
    C("special.sici", lambda x: xg.special.sici(x * 5.0)[1], positive(2, 3),
      id="special.sici_ci"),
    C("special.fresnel", lambda x: xg.special.fresnel(x * 2.0)[0], normal(2, 3),
      id="special.fresnel_s"),
    C("special.fresnel", lambda x: xg.special.fresnel(x * 2.0)[1], normal(2, 3),
      id="special.fresnel_c"),
    C("special.zetac", lambda x: xg.special.zetac(xg.tanh(x) * 0.4 + 0.5), normal(2, 3),
      order=1),
    C("special.gamma", xg.special.gamma, positive(2, 3)),
    C("special.gamma", lambda x: xg.special.gamma(xg.tanh(x) * 0.4 - 0.5), normal(2, 3),
      id="special.gamma_negative"),
    C("special.exp2", xg.special.exp2, normal(2, 3)),
    C("special.exp10", xg.special.exp10, normal(2, 3)),
    C("special.logsumexp", lambda a, b: xg.special.logsumexp(a, axis=1, b=b), normal(2, 3),
      positive(3)),
    C("special.softmax", lambda x: xg.special.softmax(x) * xg.arange(6.0).reshape(2, 3),
      normal(2, 3)),
    C("special.log_softmax", lambda x: xg.special.log_softmax(x, axis=(0, 1)) ** 2, normal(2, 3)),
    # linear algebra
    C("einsum", lambda a, b: xg.einsum("ij,jk->ik", a, b), normal(2, 3), normal(3, 4),
      id="einsum_matmul"),
    C("einsum", lambda a, b, c: xg.einsum("bij,bjk,k->bi", a, b, c), normal(2, 2, 3),
      normal(1, 3, 4), normal(4), id="einsum_broadcast_three"),
    C("einsum", lambda a: xg.einsum("...ij->...j", a), normal(2, 3, 2), id="einsum_ellipsis"),
    C("einsum", lambda a, b: xg.einsum("i,j", a, b), normal(3), normal(2), id="einsum_outer"),
    C("matmul", xg.matmul, normal(3), normal(3), id="matmul_1d_1d"),
    C("matmul", xg.matmul, normal(2, 3), normal(3), id="matmul_2d_1d"),
    C("matmul", xg.matmul, normal(3), normal(3, 2), id="matmul_1d_2d"),
    C("matmul", xg.matmul, normal(2, 3), normal(3, 4), id="matmul_2d_2d"),
    C("matmul", xg.matmul, normal(2, 2, 3), normal(3, 2), id="matmul_batched"),
    C("matmul", xg.matmul, normal(2, 1, 2, 3), normal(3, 3, 2), id="matmul_batch_broadcast"),
    C("matmul", xg.matmul, normal(3), normal(2, 3, 2), id="matmul_1d_batched"),
    C("matmul", lambda a, b: a @ b.T, normal(2, 3), normal(4, 3), id="matmul_operator_T"),
    C("matrix_transpose", xg.matrix_transpose, normal(2, 3, 4)),
    C("tensordot", xg.tensordot, normal(2, 3, 2), normal(3, 2, 2), id="tensordot_int"),
    C("tensordot", lambda a, b: xg.tensordot(a, b, axes=([0, -1], [2, 0])),
      normal(2, 3, 2), normal(2, 3, 2), id="tensordot_pairs"),
    C("tensordot", lambda a, b: xg.tensordot(a, b, axes=0), normal(2), normal(3),
      id="tensordot_outer"),
    C("vecdot", xg.vecdot, normal(2, 3), normal(3)),
    C("vecdot", lambda a, b: xg.vecdot(a, b, axis=0), normal(3, 2), normal(3, 1),
      id="vecdot_axis0"),
    C("outer", xg.outer, normal(3), normal(2)),
    # shape and indexing
    C("reshape", lambda x: xg.reshape(x, (3, -1)), normal(2, 3, 2)),
    C("permute_dims", lambda x: xg.permute_dims(x, (2, 0, 1)), normal(2, 3, 4)),
    C("expand_dims", lambda x: xg.expand_dims(x, axis=-1) * x[:, None, :], normal(2, 3)),
    C("squeeze", lambda x: xg.squeeze(x, axis=(0, -1)), normal(1, 3, 1)),
    C("broadcast_to", lambda x: xg.broadcast_to(x, (2, 3, 4)) ** 2, normal(3, 1)),
    C("concat", lambda a, b, c: xg.concat([a, b, c], axis=-1), normal(2, 1), normal(2, 3),
      normal(2, 2)),
    C("concat", lambda a, b: xg.concat([a, b * a]), normal(2, 2), normal(2, 2),
      id="concat_same_input_twice"),
    C("stack", lambda a, b: xg.stack([a, b, a], axis=1), normal(2, 3), normal(2, 3)),
    C("unstack", lambda x: xg.unstack(x, axis=1)[2] * xg.unstack(x)[0][1], normal(2, 3)),
    C("flip", lambda x: xg.flip(x) * x, normal(2, 3), id="flip_all"),
    C("flip", lambda x: xg.flip(x, axis=(0, -1)), normal(2, 3, 2), id="flip_axes"),
    C("moveaxis", lambda x: xg.moveaxis(x, 0, -1), normal(2, 3, 4)),
    C("take", lambda x: xg.take(x, xg.asarray([2, 0, 2, 2]), axis=1), normal(2, 3),
      id="take_repeated"),
    C("take", lambda x: xg.take(x, xg.asarray([1, 1])) ** 2, normal(3), id="take_1d"),
    C("take", lambda x: xg.take(x, xg.asarray([-1, 0, -1]), axis=0) ** 2, normal(3, 2),
      id="take_negative"),
    C("take_along_axis", lambda x: xg.take_along_axis(
        x, xg.asarray([[2, 0, 2], [1, 1, 0]]), axis=1) ** 2, normal(2, 3)),
    C("take_along_axis", lambda x: xg.take_along_axis(x, xg.asarray([[1], [0], [-1]]), axis=0),
      normal(3, 2), id="take_along_axis_broadcast"),
    # TensorFlow's segment reductions and N-d gathers (tests/test_segment_ops.py,
    # tests/test_gather_scatter_nd.py go further); squares make the second order non-zero
    *[C(f"segment_{kind}", lambda x, f=getattr(xg, f"segment_{kind}"): f(
        x * x, xg.asarray([0, 0, 2, 3, 3])), distinct(5, 2)) for kind in ("sum", "mean", "max",
                                                                         "min", "prod")],
    *[C(f"unsorted_segment_{kind}", lambda x, f=getattr(xg, f"unsorted_segment_{kind}"): f(
        x * x, xg.asarray([[3, 0], [-1, 3], [0, 0]]), 5)[xg.asarray([0, 3])], distinct(3, 2, 2))
      for kind in ("sum", "mean", "max", "min", "prod", "sqrt_n")],
    C("gather_nd", lambda x: xg.gather_nd(x, xg.asarray([[[1], [0]], [[0], [0]]]),
                                          batch_dims=1) ** 2, normal(2, 3)),
    C("scatter_nd", lambda u: xg.scatter_nd(xg.asarray([[1, 0], [0, 2], [1, 0]]), u * u,
                                            (2, 3)), normal(3)),
    C("tensor_scatter_nd_add", lambda t, u: xg.tensor_scatter_nd_add(
        t * u[0], xg.asarray([[1], [1]]), u[:, None] * t[:1]), normal(2, 3), normal(2)),
    C("tensor_scatter_nd_update", lambda t, u: xg.tensor_scatter_nd_update(
        t * u[0], xg.asarray([[1], [0]]), u[:, None] * t[:1]), normal(2, 3), normal(2)),
    # NumPy's and JAX's statistics (tests/test_jax_gaps_numpy.py goes further); the nan* forms
    # get every third entry replaced by NaN, which must get no gradient
    C("median", lambda x: xg.median(x, axis=1), distinct(3, 4)),
    C("nanmedian", lambda x: xg.nanmedian(_nans(x), axis=1), distinct(3, 5)),
    C("quantile", lambda x: xg.quantile(x, 0.3, axis=0), distinct(5, 2)),
    C("nanquantile", lambda x: xg.nanquantile(_nans(x), 0.7, axis=0), distinct(6, 2)),
    C("percentile", lambda x: xg.percentile(x, 80.0), distinct(7)),
    C("nanpercentile", lambda x: xg.nanpercentile(_nans(x), 40.0), distinct(8)),
    *[C(f"nan{kind}", lambda x, f=getattr(xg, f"nan{kind}"): f(_nans(x), axis=0),
        distinct(3, 2)) for kind in ("sum", "mean", "prod", "max", "min")],
    C("nanvar", lambda x: xg.nanvar(_nans(x), axis=0), distinct(5, 2)),
    C("nanstd", lambda x: xg.nanstd(_nans(x), axis=1, ddof=1, keepdims=True), distinct(2, 5)),
    C("average", lambda x, w: xg.average(x, axis=1, weights=w * w + 0.5), normal(2, 3),
      normal(3)),
    C("inner", xg.inner, normal(2, 3), normal(4, 3)),
    C("trapezoid", lambda y, x: xg.trapezoid(y, xg.cumulative_sum(x * x + 0.1)), normal(2, 4),
      normal(4)),
    C("interp", lambda q, k, v: xg.interp(q * q, xg.cumulative_sum(k * k + 0.3), v),
      normal(2, 3), normal(5), normal(5)),
    C("cov", lambda m, y: xg.cov(m, y, ddof=0), normal(2, 5), normal(5)),
    C("corrcoef", lambda m: xg.corrcoef(m, rowvar=False), normal(5, 3)),
    C("nan_to_num", lambda x: xg.nan_to_num(_nans(x), nan=2.0) * x, normal(2, 3)),
    C("sinc", xg.sinc, normal(2, 3)),
    C("astype", lambda x: xg.astype(x, xg.float64) * x, normal(3), id="astype_same"),
    C("getitem", lambda x: x[1:, ::-2], normal(3, 4), id="getitem_slices"),
    C("getitem", lambda x: x[..., 1], normal(2, 3, 2), id="getitem_ellipsis"),
    C("getitem", lambda x: x[None, :, None, 0], normal(2, 3), id="getitem_none"),
    C("getitem", lambda x: x[-1], normal(2, 3), id="getitem_int"),
    C("getitem", lambda x: x[xg.asarray([0, 2, 0, 0])] ** 2, normal(3, 2),
      id="getitem_int_array_repeated"),
    C("getitem", lambda x: x[[1, 1], [0, 2]], normal(2, 3), id="getitem_lists"),
    C("getitem", lambda x: x[:, xg.asarray([[1, 1], [0, 1]])], normal(2, 3),
      id="getitem_2d_index"),
    C("getitem", lambda x: x[x > 0] * 3.0, away(3, 3), id="getitem_bool_mask"),
    C("getitem", lambda x: x[xg.asarray([True, False, True])], normal(3, 2),
      id="getitem_bool_rows"),
]

# reductions: every axis form, with and without keepdims
AXES = [None, 0, -1, (0, 2), (-1, -3), ()]
REDUCERS = {
    "sum": (xg.sum, normal), "mean": (xg.mean, normal), "prod": (xg.prod, normal),
    "max": (xg.max, distinct), "min": (xg.min, distinct), "logsumexp": (xg.logsumexp, normal),
    "var": (xg.var, normal), "std": (lambda x, **k: xg.std(x, correction=1.0, **k), distinct),
}
for _name, (_fn, _kind) in REDUCERS.items():
    for _axis in AXES:
        if _axis == () and _name == "std":
            continue   # std over no axes is 0: not differentiable
        for _keep in (False, True):
            CASES.append(C(_name, lambda x, f=_fn, a=_axis, k=_keep: f(x, axis=a, keepdims=k),
                           _kind(2, 3, 2), id=f"{_name}-axis={_axis}-keepdims={_keep}"))
CASES += [
    C("var", lambda x: xg.var(x, axis=1, correction=1.0), normal(2, 4), id="var_correction"),
    C("cumulative_sum", xg.cumulative_sum, normal(4), id="cumsum_1d"),
    C("cumulative_sum", lambda x: xg.cumulative_sum(x, axis=-2) ** 2, normal(3, 2, 2),
      id="cumsum_axis"),
    C("cumulative_sum", lambda x: xg.cumulative_sum(x, axis=1, include_initial=True),
      normal(2, 3), id="cumsum_include_initial"),
    # manipulation, sorting, sets and scans (edge cases: tests/test_manipulation.py,
    # tests/test_sorting_sets.py, tests/test_statistical.py)
    C("broadcast_arrays", lambda a, b: xg.prod(xg.stack(xg.broadcast_arrays(a, b)), axis=0),
      normal(2, 1), normal(3)),
    C("roll", lambda x: xg.roll(x, (1, -2), axis=(0, -1)), normal(3, 4)),
    C("roll", lambda x: xg.roll(x, 5) ** 2, normal(2, 3), id="roll_flat"),
    C("tile", lambda x: xg.tile(x, (2, 1, 3)), normal(2, 3)),
    C("repeat", lambda x: xg.repeat(x, 2, axis=1) ** 2, normal(2, 3)),
    C("repeat", lambda x: xg.repeat(x, xg.asarray([2, 0, 3])) * x[0], normal(3),
      id="repeat_array"),
    C("meshgrid", lambda x, y: xg.meshgrid(x, y)[0] * xg.meshgrid(x, y, indexing="ij")[1].T,
      normal(3), normal(2)),
    C("tril", lambda x: xg.tril(x, k=-1) ** 2, normal(2, 3, 4)),
    C("triu", lambda x: xg.triu(x, k=1) * x, normal(4, 3)),
    C("sort", lambda x: xg.sort(x, axis=0) ** 2, distinct(3, 2)),
    C("sort", lambda x: xg.sort(x, descending=True) * xg.arange(4.0, dtype=xg.float64),
      distinct(2, 4), id="sort_descending"),
    C("topk", lambda x: xg.topk(x, 2, axis=0)[0] ** 2, distinct(3, 2)),
    C("topk", lambda x: xg.topk(x, 3, largest=False)[0] * xg.arange(3.0, dtype=xg.float64),
      distinct(2, 4), id="topk_smallest"),
    C("cumulative_prod", lambda x: xg.cumulative_prod(x, axis=-1), normal(2, 4)),
    C("cumulative_prod", lambda x: xg.cumulative_prod(x * xg.asarray([1.0, 0.0, 1.0, 0.0]),
                                                      include_initial=True), normal(4),
      id="cumulative_prod_zeros"),
    C("diff", lambda x: xg.diff(x, axis=0, n=2, append=x[:1]), normal(4, 2)),
    C("unique_values", lambda x: xg.unique_values(x) ** 2, distinct(2, 3)),
    C(("unique_all", "unique_counts", "unique_inverse"),
      lambda x: xg.unique_all(x).values * xg.unique_counts(x).values
      + xg.unique_inverse(x * x).values, distinct(5), id="unique_all_counts_inverse"),
]

NON_DIFFERENTIABLE = {
    # (function, argument maker): gradient must be None
    "floor": (xg.floor, normal(4)), "ceil": (xg.ceil, normal(4)),
    "round": (xg.round, normal(4)), "trunc": (xg.trunc, normal(4)),
    "special.round": (lambda x: xg.special.round(x, decimals=1), normal(4)),
    "equal": (lambda x: xg.equal(x, x), normal(3)),
    "not_equal": (lambda x: xg.not_equal(x, 0.5), normal(3)),
    "less": (lambda x: x < 0.0, normal(3)), "less_equal": (lambda x: x <= 0.0, normal(3)),
    "greater": (lambda x: x > 0.0, normal(3)), "greater_equal": (lambda x: x >= 0, normal(3)),
    "logical_and": (lambda x: xg.logical_and(x > 0, x < 1), normal(3)),
    "logical_or": (lambda x: xg.logical_or(x > 0, x < -1), normal(3)),
    "logical_xor": (lambda x: xg.logical_xor(x > 0, x < 1), normal(3)),
    "logical_not": (lambda x: xg.logical_not(x > 0), normal(3)),
    "isnan": (xg.isnan, normal(3)), "isinf": (xg.isinf, normal(3)),
    "special.gammasgn": (xg.special.gammasgn, normal(3)),
    "isfinite": (xg.isfinite, normal(3)),
    "isclose": (lambda x: xg.isclose(x, x + 1e-9), normal(3)),
    "allclose": (lambda x: xg.allclose(x, x * 1.5), normal(3)),
    "floor_divide": (lambda x: x // 0.3, normal(3)),
    "nextafter": (lambda x: xg.nextafter(x, 0.0), normal(3)),
    "signbit": (xg.signbit, normal(3)),
    "bitwise_and": (lambda x: (x > 0) & (x < 1), normal(3)),
    "bitwise_or": (lambda x: (x > 0) | (x < -1), normal(3)),
    "bitwise_xor": (lambda x: (x > 0) ^ (x < 1), normal(3)),
    "bitwise_invert": (lambda x: ~(x > 0), normal(3)),
    "bitwise_left_shift": (lambda x: xg.astype(x > 0, xg.int32) << 2, normal(3)),
    "bitwise_right_shift": (lambda x: xg.astype(x > 0, xg.int32) >> 1, normal(3)),
    "argmax": (lambda x: xg.argmax(x, axis=-1), normal(2, 3)),
    "argmin": (lambda x: xg.argmin(x), normal(2, 3)),
    "any": (lambda x: xg.any(x > 0, axis=0), normal(2, 3)),
    "all": (lambda x: xg.all(x > 0), normal(2, 3)),
    "argsort": (lambda x: xg.argsort(x, axis=0), normal(2, 3)),
    "nonzero": (lambda x: xg.nonzero(x > 0)[-1], normal(2, 3)),
    "count_nonzero": (lambda x: xg.count_nonzero(x > 0, axis=1), normal(2, 3)),
    "searchsorted": (lambda x: xg.searchsorted(xg.sort(x), x), normal(4)),
    "isin": (lambda x: xg.isin(x, x[:2]), normal(4)),
}
# work on shapes or integer indices only: nothing to differentiate
NOT_ARRAY_FUNCTIONS = {"broadcast_shapes", "one_hot", "special.bernoulli"}


def _function(name):
    """The function a case's name stands for (``special.j0`` is ``xg.special.j0``)."""
    module, _, attribute = name.rpartition(".")
    return getattr(xg.special if module == "special" else xg, attribute, None)


def _covered_alias(name, covered):
    """Whether ``name`` is another name of a covered function (``special.bessel_j0`` is
    ``special.j0``, ``special.expm1`` is ``expm1``): its case already tests it."""
    return any(_function(name) is _function(other) for other in covered)


def test_every_primitive_has_a_case():
    covered = {name for case in CASES for name in case.covers} | set(NON_DIFFERENTIABLE)
    public = set(xg.ops.__all__) | {
        name for name in dir(xg) if getattr(getattr(xg, name), "__module__", "") and
        str(getattr(getattr(xg, name), "__module__", "")).startswith("xpgrad.ops")} | {
        f"special.{name}" for name in xg.special.__all__}
    missing = {name for name in public - covered - NOT_ARRAY_FUNCTIONS
               if not _covered_alias(name, covered)}
    assert not missing, f"add gradient test cases for: {sorted(missing)}"
    unknown = covered - public
    assert not unknown, f"cases name functions that are not public: {sorted(unknown)}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_gradient_matches_finite_differences(case, rng):
    args = [make(s, rng) for s in case.specs]
    check_grads(case.fn, args, order=case.order)


@pytest.mark.parametrize("name", sorted(NON_DIFFERENTIABLE))
def test_non_differentiable_gives_none(name, rng):
    fn, spec = NON_DIFFERENTIABLE[name]
    x = make(spec, rng)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    with pytest.warns(RuntimeWarning, match="operations without a gradient"):
        assert tape.gradient(y, x) is None
    assert not y.dtype.is_floating or name in ("floor", "ceil", "round", "trunc",
                                               "floor_divide", "nextafter", "special.gammasgn",
                                               "special.round")


def test_non_differentiable_in_a_chain_contributes_nothing():
    x = xg.asarray([0.4, 1.6, -2.3], dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(xg.floor(x) * x + xg.round(x) + xg.where(x > 0, 1.0, 0.0))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), np.floor(x.numpy()))


# -- edge cases of individual rules -----------------------------------------------------------

@pytest.mark.parametrize("values", [[[0.0, 2.0, 3.0], [1.5, 0.0, 0.0]],
                                    [[0.0, 0.0, 0.0], [1.5, -2.0, 0.5]]],
                         ids=["one_and_two_zeros", "all_zero_row"])
def test_prod_gradient_is_exact_at_zeros(values):
    x = xg.asarray(values, dtype=xg.float64)
    check_grads(lambda a: xg.prod(a, axis=1), [x], order=2)


def test_max_ties_share_the_gradient():
    x = xg.asarray([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(xg.max(x, axis=1))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(),
                               [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


def test_maximum_tie_splits_the_gradient():
    x, y = xg.asarray([1.0, 2.0]), xg.asarray([1.0, 0.0])
    with xg.GradientTape() as tape:
        tape.watch([x, y])
        z = xg.sum(xg.maximum(x, y))
    gx, gy = tape.gradient(z, [x, y])
    assert gx.tolist() == [0.5, 1.0] and gy.tolist() == [0.5, 0.0]


def test_getitem_repeated_indices_accumulate():
    x = xg.asarray([1.0, 2.0, 3.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(x[xg.asarray([0, 2, 0, 0])])
    assert tape.gradient(y, x).tolist() == [3.0, 0.0, 1.0]


def test_astype_gradient_is_cast_back_and_stops_at_integers():
    x = xg.asarray([1.5, -2.5], dtype=xg.float64)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y32 = xg.sum(xg.astype(x, xg.float32) * 3.0)
        yint = xg.sum(xg.astype(xg.astype(x, xg.int64), xg.float64))
    g = tape.gradient(y32, x)
    assert g.dtype == xg.float64 and g.tolist() == [3.0, 3.0]
    assert tape.gradient(yint, x) is None


def test_stable_activations_for_large_inputs():
    x = xg.asarray([-1000.0, -30.0, 0.0, 30.0, 1000.0], dtype=xg.float64)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        outs = {"sigmoid": xg.nn.sigmoid(x), "softplus": xg.nn.softplus(x),
                "softmax": xg.nn.softmax(x), "log_softmax": xg.nn.log_softmax(x),
                "logsumexp": xg.logsumexp(x), "tanh": xg.tanh(x)}
    for name, y in outs.items():
        g = tape.gradient(y, x)
        assert np.isfinite(y.numpy()).all(), name
        assert np.isfinite(g.numpy()).all(), name
    assert outs["softplus"].numpy()[-1] == 1000.0
    assert outs["log_softmax"].numpy()[-1] == 0.0


def test_pow_gradient_for_exponent_is_zero_at_nonpositive_base():
    x, p = xg.asarray([0.0, -2.0, 2.0]), xg.asarray(2.0)
    with xg.GradientTape() as tape:
        tape.watch(p)
        y = xg.sum(x ** p)
    assert tape.gradient(y, p).item() == pytest.approx(4.0 * np.log(2.0))


@pytest.mark.parametrize("name", ["sigmoid", "relu", "leaky_relu", "softplus", "tanh"])
@pytest.mark.parametrize("shape", [(), (1,), (2, 3)])
@pytest.mark.parametrize("dtype", [xg.float32, xg.float64])
def test_activations_any_rank_and_float_dtype(name, shape, dtype, rng):
    """Backend kernels (first order) and generic rules agree with NumPy formulas, 0-d too."""
    a = rng.standard_normal(shape)
    ref = {"sigmoid": (1 / (1 + np.exp(-a)), np.exp(-a) / (1 + np.exp(-a)) ** 2),
           "relu": (np.maximum(a, 0), (a > 0) * 1.0),
           "leaky_relu": (np.where(a > 0, a, 0.01 * a), np.where(a > 0, 1.0, 0.01)),
           "softplus": (np.log1p(np.exp(a)), 1 / (1 + np.exp(-a))),
           "tanh": (np.tanh(a), 1 - np.tanh(a) ** 2)}[name]
    x = xg.asarray(a, dtype=dtype)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = getattr(xg.nn, name)(x)
    g = tape.gradient(y, x)
    assert y.shape == g.shape == shape and y.dtype == g.dtype == dtype
    tol = 1e-6 if dtype == xg.float32 else 1e-12
    np.testing.assert_allclose(y.numpy(), ref[0], rtol=tol, atol=tol)
    np.testing.assert_allclose(g.numpy(), ref[1], rtol=tol, atol=tol)
