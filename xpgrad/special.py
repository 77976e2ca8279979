"""Special functions for likelihoods, differentiable to any order: ``xg.special`` (the
functions of ``torch.special`` / ``jax.scipy.special`` that maximum-likelihood fits need).

- error function family: ``erf``, ``erfc``, ``erfcx`` (``exp(x**2) erfc(x)``), ``erfinv``,
  ``ndtr`` (the normal CDF) and ``log_ndtr`` (finite far in the left tail);
- the exponential integrals ``exp1`` and ``expi``;
- gamma family: ``gammaln`` (log|Gamma|, PyTorch's ``lgamma``), ``digamma`` and
  ``polygamma(n, x)``, each the derivative of the previous; the regularized incomplete gamma
  functions ``gammainc`` and ``gammaincc`` (differentiable in x, and once in a) and
  ``gammaincinv``; ``gamma``
  itself; the modified Bessel functions ``i0``, ``i0e``, ``i1``, ``i1e``, the Bessel functions
  ``j0``, ``j1``, ``y0``, ``y1``, ``k0``, ``k1``, ``k0e``, ``k1e`` (``special_bessel.py``);
  the Hurwitz ``zeta(s, q)`` (real s > 1);
- the regularized incomplete beta function ``betainc``, its complement ``betaincc`` and its
  inverse ``betaincinv``, and
  the t and F distribution functions ``stdtr``, ``fdtr``, ``fdtrc`` (SciPy's hypothesis tests'
  p-values: differentiable in x, and once in the shape parameters);
- ``xlogy``, ``xlog1py`` (0 where x == 0), ``logit`` and ``expit`` (the sigmoid);
- ``ndtri`` (the normal quantile), ``betaln``, ``multigammaln``, ``psi`` (digamma);
- ``entr``, ``rel_entr``, ``kl_div`` (entropies and divergences), ``huber``, ``pseudo_huber``;
- the Box-Cox transforms ``boxcox``, ``boxcox1p`` and their inverses, ``log_expit``,
  ``erfcinv``, ``cosm1``, ``rgamma``, ``gammasgn``, real ``loggamma``, and the Gamma, Poisson,
  binomial and negative binomial distribution functions ``gdtr``, ``gdtrc``, ``pdtr``,
  ``pdtrc``, ``bdtr``, ``nbdtr`` (compositions: ``xpgrad/ops/special_composed.py``);
- ``beta``, ``poch``, ``binom`` (``special_gamma_ratios.py``), ``cbrt``, ``sindg``, ``cosdg``,
  ``tandg``, ``cotdg``, ``exprel`` (``special_elementary.py``), compositions too;
- the orthogonal polynomials ``eval_legendre``, ``eval_chebyt``, ``eval_chebyu``,
  ``eval_hermite``, ``eval_hermitenorm``, ``eval_laguerre`` (``special_polynomials.py``);
- ``factorial``, ``comb``, ``perm`` (SciPy's ``exact=False``), ``powm1``, ``softplus``
  (``special_counting.py``); ``spence`` and ``zetac`` (``special_dilog_zeta.py``);
  ``expn`` (``special_expn.py``);
- ``airy_ai`` (``special_airy.py``), ``hyp1f1`` and ``hyp2f1`` (``special_hyp2f1.py``), and
  ``torch.special``'s names for functions above (``bessel_j0`` is ``j0``,
  ``scaled_modified_bessel_k0`` is ``k0e``, ``legendre_polynomial_p(x, n)``, ``round``,
  ...: ``special_torch_aliases.py``); names of ``torch.special`` / ``jax.scipy.special``
  without a function here (``wofz``, ``bessel_jn``, ``sph_harm_y``) raise an AttributeError
  that says what to use;
- ``sinc``, ``exp2``, ``exp10``, and SciPy's ``logsumexp`` (with ``b`` and ``return_sign``),
  ``softmax`` and ``log_softmax`` (over the whole array by default).

SciPy's ufuncs of these names on a Tensor (``scipy.special.entr(t)``) come here through NumPy's
dispatch, so they differentiate on a tape too.

float64 results agree with ``scipy.special`` to about 1e-14 relative (worse only next to the
zeros of gammaln and digamma on the negative axis, where the absolute error stays ~1e-15);
float32 inputs are computed in float64 and rounded. Integers come in as float32.
The primitives live in ``xpgrad/ops/special.py``, ``special_more.py``, ``gamma_function.py``,
``bessel.py``, ``incomplete_gamma.py``, ``incomplete_gamma_inverse.py`` and
``incomplete_beta.py``, their formulas in
``xpgrad/ops/special_formulas.py``, ``incomplete_gamma_formulas.py`` and
``incomplete_beta_formulas.py``; the NumPy backend's faster kernels for the gamma family (and
SciPy's ufuncs where SciPy is installed) in ``backends/numpy/special.py`` and
``special_scipy.py``.

>>> import xpgrad as xg
>>> rate = xg.asarray(3.0, dtype=xg.float64)
>>> counts = xg.asarray([2.0, 4.0, 3.0], dtype=xg.float64)
>>> def nll(rate):                              # a Poisson negative log-likelihood
...     return xg.sum(rate - xg.special.xlogy(counts, rate) + xg.special.gammaln(counts + 1.0))
>>> abs(xg.grad(nll)(rate).item()) < 1e-12       # n - sum(counts) / rate
True
"""
from .ops.special import *  # noqa: F401,F403
from .ops.special import __all__ as _first
from .ops.special_more import *  # noqa: F401,F403
from .ops.special_more import __all__ as _more
from .ops.incomplete_gamma import *  # noqa: F401,F403
from .ops.incomplete_gamma import __all__ as _incomplete
from .ops.incomplete_beta import *  # noqa: F401,F403
from .ops.incomplete_beta import __all__ as _incomplete_beta
from .ops.gamma_function import gamma  # noqa: F401
from .ops.incomplete_gamma_inverse import gammaincinv  # noqa: F401
from .ops.bessel import *  # noqa: F401,F403
from .ops.bessel import __all__ as _bessel
from .ops.erfcx import erfcx  # noqa: F401
from .ops.exponential_integrals import exp1, expi  # noqa: F401
from .ops.hurwitz_zeta import zeta  # noqa: F401
from .ops.incomplete_beta_inverse import betaincinv  # noqa: F401
from .ops.special_composed import *  # noqa: F401,F403
from .ops.special_composed import __all__ as _composed
from .ops.special_elementary import *  # noqa: F401,F403
from .ops.special_elementary import __all__ as _elementary
from .ops.special_gamma_ratios import *  # noqa: F401,F403
from .ops.special_gamma_ratios import __all__ as _gamma_ratios
from .ops.special_bessel import *  # noqa: F401,F403
from .ops.special_bessel import __all__ as _bessel_second_kind
from .ops.special_polynomials import *  # noqa: F401,F403
from .ops.special_polynomials import __all__ as _polynomials
from .ops.special_counting import *  # noqa: F401,F403
from .ops.special_counting import __all__ as _counting
from .ops.special_dilog_zeta import *  # noqa: F401,F403
from .ops.special_dilog_zeta import __all__ as _dilog_zeta
from .ops.special_expn import expn  # noqa: F401
from .ops.special_dawsn import dawsn  # noqa: F401
from .ops.special_sici import sici  # noqa: F401
from .ops.special_fresnel import fresnel  # noqa: F401
from .ops.special_owens_t import owens_t  # noqa: F401
from .ops.special_hyp1f1 import hyp1f1  # noqa: F401
from .ops.special_hyp2f1 import hyp2f1  # noqa: F401
from .ops.special_bernoulli import bernoulli  # noqa: F401
from .ops.special_chebyshev_torch import *  # noqa: F401,F403
from .ops.special_chebyshev_torch import __all__ as _chebyshev_torch
from .ops.special_spherical_bessel import spherical_bessel_j0  # noqa: F401
from .ops.special_airy import airy_ai  # noqa: F401
from .ops.special_torch_aliases import *  # noqa: F401,F403
from .ops.special_torch_aliases import __all__ as _torch_aliases

__all__ = sorted(_first + _more + _incomplete + _incomplete_beta + _bessel + _composed
                 + _elementary + _gamma_ratios + _bessel_second_kind + _polynomials
                 + _counting + _dilog_zeta + _chebyshev_torch + _torch_aliases
                 + ["airy_ai", "bernoulli", "dawsn", "expn", "fresnel", "hyp1f1", "hyp2f1",
                    "owens_t", "sici", "spherical_bessel_j0"]
                 + ["betaincinv", "erfcx", "exp1", "expi", "gamma", "gammaincinv", "zeta"])

#: names of ``torch.special`` / ``jax.scipy.special`` that ``xg.special`` has no function
#: for: their AttributeError says what to use instead
_OTHER_NAMES = {
    "Tensor": "xg.Tensor (torch.special.Tensor is torch.Tensor, imported there)",
    "bessel_jn": "xg.special has the orders 0 and 1 only (j0, j1); jax.scipy.special."
                 "bessel_jn(x, v=1) is xg.stack([xg.special.j0(x), xg.special.j1(x)])",
    "sph_harm_y": "xg.special is real-valued; for the m = 0 harmonics use "
                  "xg.special.eval_legendre(n, xg.cos(theta)) * sqrt((2n + 1) / (4 pi))",
    "wofz": "xg.special is real-valued; on the imaginary axis wofz(1j * y) is "
            "xg.special.erfcx(y), and for real x its imaginary part is "
            "2 / sqrt(pi) * xg.special.dawsn(x) (its real part exp(-x**2))",
}


def __getattr__(name):
    from ._args import no_module_attribute

    raise no_module_attribute(__name__, name, _OTHER_NAMES.get(name))
