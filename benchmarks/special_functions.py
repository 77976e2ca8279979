"""``xg.special`` and the distributions' ``log_prob`` on the NumPy backend against PyTorch and
SciPy, one thread: forward, and forward + backward (the gradient of the sum).

    python benchmarks/special_functions.py [--sizes 1000 65536] [--dtypes float64 float32]
                                           [--repeats 5] [--only gammaln digamma ...]

Inputs are uniform over each function's usual range (the gamma family's x in [0.1, 20]).
Each case times xpgrad three ways in turn: the generic formulas of
``xpgrad/ops/special_formulas.py`` (the NumPy backend's ``special_*`` kernels off), the
kernels' pure-NumPy path (as where SciPy is not installed) and their SciPy path; then torch,
and SciPy's ufunc (forward only; "-" where there is no such function). Times are this
thread's CPU time, the least of ``--repeats`` rounds (other processes' load only adds). Rows
are sorted by the generic formulas' forward + backward time over torch's, worst first.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse            # noqa: E402
import time                # noqa: E402
import timeit              # noqa: E402

import numpy as np         # noqa: E402

import xpgrad as xg        # noqa: E402

try:
    import torch
    torch.set_num_threads(1)
except ImportError:        # pragma: no cover
    torch = None
try:
    import scipy.special as sc
except ImportError:        # pragma: no cover
    sc = None

S = xg.special
#: name: (xpgrad function of one array, torch's or None, scipy's or None, input range)
UNARY = {
    "erf": (S.erf, "special.erf", "erf", (-4, 4)),
    "erfc": (S.erfc, "special.erfc", "erfc", (-6, 6)),
    "ndtr": (S.ndtr, "special.ndtr", "ndtr", (-8, 8)),
    "log_ndtr": (S.log_ndtr, "special.log_ndtr", "log_ndtr", (-30, 8)),
    "erfinv": (S.erfinv, "special.erfinv", "erfinv", (-0.99, 0.99)),
    "ndtri": (S.ndtri, "special.ndtri", "ndtri", (0.001, 0.999)),
    "gammaln": (S.gammaln, "lgamma", "gammaln", (0.1, 20)),
    "gammaln x<0": (S.gammaln, "lgamma", "gammaln", (-20, -0.1)),
    "digamma": (S.digamma, "digamma", "digamma", (0.1, 20)),
    "polygamma1": (lambda x: S.polygamma(1, x), lambda x: torch.polygamma(1, x),
                   lambda x: sc.polygamma(1, x), (0.1, 20)),
    "polygamma2": (lambda x: S.polygamma(2, x), lambda x: torch.polygamma(2, x),
                   lambda x: sc.polygamma(2, x), (0.1, 20)),
    "multigammaln d=3": (lambda x: S.multigammaln(x, 3), lambda x: torch.special.multigammaln(
        x, 3), lambda x: sc.multigammaln(x, 3) if x.ndim == 0 else None, (1.1, 20)),
    "logit": (S.logit, "special.logit", "logit", (0.01, 0.99)),
    "expit": (S.expit, "special.expit", "expit", (-10, 10)),
    "entr": (S.entr, "special.entr", "entr", (0.01, 5)),
    "sinc": (S.sinc, "special.sinc", "sinc", (-5, 5)),
    "exp2": (S.exp2, "special.exp2", "exp2", (-10, 10)),
    "exp10": (S.exp10, None, "exp10", (-5, 5)),
    "dawsn": (S.dawsn, None, "dawsn", (-10, 10)),
    "sici Si": (lambda x: S.sici(x)[0], None, lambda x: sc.sici(x)[0], (-10, 10)),
    "sici Ci": (lambda x: S.sici(x)[1], None, lambda x: sc.sici(x)[1], (0.1, 10)),
    "fresnel S": (lambda x: S.fresnel(x)[0], None, lambda x: sc.fresnel(x)[0], (-4, 4)),
    "fresnel S wide": (lambda x: S.fresnel(x)[0], None, lambda x: sc.fresnel(x)[0], (-10, 10)),
}
#: two-argument functions: (xpgrad, torch, scipy, range of both arguments)
BINARY = {
    "xlogy": (S.xlogy, "special.xlogy", "xlogy", (0.1, 20)),
    "xlog1py": (S.xlog1py, "special.xlog1py", "xlog1py", (0.1, 20)),
    "betaln": (S.betaln, lambda a, b: torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b),
               "betaln", (0.1, 20)),
    "gammainc": (S.gammainc, "special.gammainc", "gammainc", (0.1, 20)),
    "gammaincc": (S.gammaincc, "special.gammaincc", "gammaincc", (0.1, 20)),
    "rel_entr": (S.rel_entr, None, "rel_entr", (0.01, 5)),
    "kl_div": (S.kl_div, None, "kl_div", (0.01, 5)),
    "hyp1f1 a=1.5": (lambda b, x: S.hyp1f1(1.5, b, x), None,
                     lambda b, x: sc.hyp1f1(1.5, b, x), (0.1, 20)),
}


def _resolve(module, spec):
    if spec is None or module is None or callable(spec):
        return spec
    obj = module
    for part in spec.split("."):
        obj = getattr(obj, part)
    return obj


def _best_us(fn, repeats):
    """The least CPU microseconds of this thread per call of ``fn`` over ``repeats`` rounds,
    each as many calls as fill ~20 ms: CPU time, not wall time, and the least, since other
    processes on a shared machine only add (one thread: torch's and NumPy's work is this
    thread's)."""
    fn()
    once = timeit.timeit(fn, number=1, timer=time.thread_time)
    number = max(1, int(0.02 / max(once, 1e-7)))
    times = timeit.repeat(fn, number=number, repeat=repeats, timer=time.thread_time)
    return 1e6 * min(times) / number


#: xpgrad's variants, timed in turn on each case: the generic formulas (the special kernels
#: off), the kernels' pure-NumPy path (SciPy hidden from them), and their SciPy path
MODES = ("generic", "numpy", "scipy")


def _set_mode(mode, kernels):
    from xpgrad.backends.numpy import special_scipy

    be = xg.get_backend("numpy")
    be.kernels = kernels if mode != "generic" else \
        {k: v for k, v in kernels.items() if not k.startswith("special_")}     # a plain dict
    special_scipy._SCIPY = special_scipy._MISSING if mode == "numpy" else None


def _xg_pair(fn, arrays, dtype, grad_args=None):
    """xpgrad's forward and forward + backward (gradients for the arguments ``grad_args``,
    all by default)."""
    xs = [xg.asarray(a, dtype=dtype) for a in arrays]

    def forward():
        fn(*xs)

    wanted = tuple(range(len(xs))) if grad_args is None else tuple(grad_args)
    grad = xg.grad(lambda *args: xg.sum(fn(*args)), argnums=wanted)

    def both():
        grad(*xs)
    return forward, both


def _torch_pair(fn, arrays, dtype, grad_args=None):
    if fn is None or torch is None:
        return None, None
    ts = [torch.tensor(a, dtype=getattr(torch, dtype)) for a in arrays]
    wanted = range(len(ts)) if grad_args is None else grad_args
    leaves = [t.clone().requires_grad_(i in wanted) for i, t in enumerate(ts)]

    def forward():
        with torch.no_grad():
            fn(*ts)

    def both():
        for t in leaves:
            t.grad = None
        fn(*leaves).sum().backward()
    try:
        both()
    except (RuntimeError, NotImplementedError):      # no derivative for some argument
        return forward, None
    return forward, both


def _scipy_forward(fn, arrays):
    if fn is None or sc is None:
        return None
    if fn(*[a[:1] for a in arrays]) is None:
        return None
    return lambda: fn(*arrays)


def distribution_cases(rng, n):
    """(name, xpgrad's loss of its parameters, torch's, the parameter arrays, the value)."""
    D, TD = xg.distributions, torch.distributions if torch is not None else None
    pos = lambda *shape: rng.uniform(0.1, 20, shape)          # noqa: E731
    cases = []
    conc, rate = pos(n), pos(n)
    value = rng.gamma(conc, 1 / rate)
    value = np.maximum(value, 1e-300)
    cases.append(("Gamma", lambda c, r, v: D.Gamma(c, r).log_prob(v),
                  lambda c, r, v: TD.Gamma(c, r).log_prob(v), (conc, rate), value))
    a, b = pos(n), pos(n)
    v = np.clip(rng.beta(a, b), 1e-12, 1 - 1e-12)
    cases.append(("Beta", lambda a, b, v: D.Beta(a, b).log_prob(v),
                  lambda a, b, v: TD.Beta(a, b).log_prob(v), (a, b), v))
    k = 4
    c = pos(max(1, n // k), k)
    v = np.clip(rng.dirichlet(np.ones(k), c.shape[0]), 1e-12, None)
    v /= v.sum(-1, keepdims=True)
    cases.append((f"Dirichlet K={k}", lambda c, v: D.Dirichlet(c).log_prob(v),
                  lambda c, v: TD.Dirichlet(c).log_prob(v), (c,), v))
    r = pos(n)
    counts = rng.poisson(r).astype(np.float64)
    cases.append(("Poisson", lambda r, v: D.Poisson(r).log_prob(v),
                  lambda r, v: TD.Poisson(r).log_prob(v), (r,), counts))
    df, loc, scale = pos(n), rng.normal(size=n), pos(n)
    v = rng.standard_t(df) * scale + loc
    cases.append(("StudentT", lambda d, l, s, v: D.StudentT(d, l, s).log_prob(v),
                  lambda d, l, s, v: TD.StudentT(d, l, s).log_prob(v), (df, loc, scale), v))
    return cases


def _distribution_rows(rng, n, dtype, repeats, only):
    rows = []
    for name, xg_fn, torch_fn, params, value in distribution_cases(rng, n):
        if not _wanted(name, only):
            continue
        arrays = (*params, value)
        # gradients for the parameters only (the value is data)
        fwd, both = _xg_pair(xg_fn, arrays, dtype, range(len(params)))
        t_fwd, t_both = _torch_pair(torch_fn, arrays, dtype, range(len(params)))
        rows.append(_row(f"{name}.log_prob", dtype, n, fwd, both, t_fwd, t_both, None,
                         repeats))
    return rows


def _wanted(name, only):
    """Whether case ``name`` is timed: ``--only`` names it, or the start of it."""
    return not only or any(name == o or name.startswith(o + " ") for o in only)


def _row(name, dtype, n, fwd, both, t_fwd, t_both, s_fwd, repeats):
    be = xg.get_backend("numpy")
    table = be.kernels
    t = {}
    try:
        for mode in MODES:
            _set_mode(mode, table)
            t[mode] = _best_us(fwd, repeats)
            t[mode + "_both"] = _best_us(both, repeats)
    finally:
        _set_mode("scipy", table)
        be.kernels = table                          # the backend's own table again
    for key, f in (("torch", t_fwd), ("torch_both", t_both), ("scipy_ufunc", s_fwd)):
        t[key] = _best_us(f, repeats) if f is not None else None
    return name, dtype, n, t


def run(sizes, dtypes, repeats, only):
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        for dtype in dtypes:
            for name, (fn, tfn, sfn, (lo, hi)) in UNARY.items():
                if not _wanted(name, only):
                    continue
                x = rng.uniform(lo, hi, n)
                fwd, both = _xg_pair(fn, (x,), dtype)
                t_fwd, t_both = _torch_pair(_resolve(torch, tfn), (x,), dtype)
                s_fwd = _scipy_forward(_resolve(sc, sfn), (x.astype(dtype),))
                rows.append(_row(name, dtype, n, fwd, both, t_fwd, t_both, s_fwd, repeats))
            for name, (fn, tfn, sfn, (lo, hi)) in BINARY.items():
                if not _wanted(name, only):
                    continue
                x, y = rng.uniform(lo, hi, n), rng.uniform(lo, hi, n)
                # no gradient in a (the shape) for the incomplete gamma functions, as in torch
                wanted = (1,) if name.startswith(("gammainc", "hyp1f1")) else None
                fwd, both = _xg_pair(fn, (x, y), dtype, wanted)
                t_fwd, t_both = _torch_pair(_resolve(torch, tfn), (x, y), dtype, wanted)
                s_fwd = _scipy_forward(_resolve(sc, sfn), (x.astype(dtype), y.astype(dtype)))
                rows.append(_row(name, dtype, n, fwd, both, t_fwd, t_both, s_fwd, repeats))
            rows += _distribution_rows(rng, n, dtype, repeats, only)
    return rows


def _fmt(v):
    return "-" if v is None else (f"{v:.0f}" if v >= 100 else f"{v:.1f}")


def _ratio(a, b):
    return None if a is None or b is None else a / b


def report(rows):
    """One line per case, worst first by the generic formulas' forward + backward time over
    torch's: microseconds forward (generic, the kernels' NumPy and SciPy paths, torch, SciPy's
    ufunc), then forward + backward, then the three over torch."""
    def before(row):
        t = row[3]
        return -(_ratio(t["generic_both"], t["torch_both"]) or _ratio(t["generic"], t["torch"])
                 or _ratio(t["generic"], t["scipy_ufunc"]) or 0.0)
    print(f"{'':32}| {'forward (us)':^39} | {'forward + backward (us)':^31} | "
          f"{'f+b / torch':^20}")
    print(f"{'case':17} {'dtype':7} {'n':>6} | {'generic':>7} {'numpy':>7} {'scipy':>7} "
          f"{'torch':>7} {'sc.fn':>7} | {'generic':>7} {'numpy':>7} {'scipy':>7} {'torch':>7} | "
          f"{'gen':>6} {'np':>6} {'sc':>6}")
    for name, dtype, n, t in sorted(rows, key=before):
        tb = t["torch_both"]
        print(f"{name:17} {dtype:7} {n:>6} | " + " ".join(
            f"{_fmt(t[k]):>7}" for k in ("generic", "numpy", "scipy", "torch", "scipy_ufunc"))
            + " | " + " ".join(f"{_fmt(t[k + '_both']):>7}" for k in (*MODES, "torch"))
            + " | " + " ".join(f"{_fmt(_ratio(t[m + '_both'], tb)):>6}" for m in MODES))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 65536])
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", nargs="+", default=None,
                        help="cases to time (a name, or its first word: Dirichlet)")
    args = parser.parse_args(argv)
    report(run(args.sizes, args.dtypes, args.repeats, args.only))


if __name__ == "__main__":
    main()
