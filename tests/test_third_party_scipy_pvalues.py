"""SciPy's hypothesis tests on xpgrad Tensors under a tape: statistic AND p-value, whose
distribution functions SciPy's dispatch finds in ``xg.special`` (``betainc``/``betaincc`` for
``pearsonr``, ``stdtr`` for the t-tests, ``fdtrc`` for ``f_oneway`` and ``levene``). Each value
against SciPy on NumPy arrays, each gradient against central finite differences (Welch's
t-test's degrees of freedom depend on the data: its p-value's gradient runs through ``stdtr``'s
derivative in ``df``). Uses ``test_third_party.py``'s ``check``.
"""
import numpy as np
import pytest

import xpgrad as xg
from test_third_party import _data, _scipy, backend, check  # noqa: F401 (fixture)
from test_third_party_scipy import _on

TESTS = {
    "pearsonr": lambda st, x: st.pearsonr(x[0], x[1]),
    "pearsonr less": lambda st, x: st.pearsonr(x[0], x[1], alternative="less"),
    "ttest_ind": lambda st, x: st.ttest_ind(x[0], x[1]),
    "ttest_ind welch": lambda st, x: st.ttest_ind(x[0], x[1], equal_var=False),
    "ttest_1samp": lambda st, x: st.ttest_1samp(x[0], 0.1),
    "ttest_rel greater": lambda st, x: st.ttest_rel(x[0], x[1], alternative="greater"),
    "f_oneway": lambda st, x: st.f_oneway(x[0], x[1], x[2]),
    "f_oneway welch": lambda st, x: st.f_oneway(x[0], x[1], x[2], equal_var=False),
    "levene": lambda st, x: st.levene(x[0], x[1], x[2]),
    "levene mean": lambda st, x: st.levene(x[0], x[1], x[2], center="mean"),
}


@pytest.mark.parametrize("part", ["statistic", "pvalue"])
@pytest.mark.parametrize("name", sorted(TESTS))
def test_scipy_hypothesis_test(name, part, backend):
    _, st = _scipy()
    (x,) = _data(53, (3, 9))
    x[1] += 0.4 * x[0]                      # correlated, so pearsonr's p-value is not near 1
    check(_on(backend, lambda x: getattr(TESTS[name](st, x), part)), [x], backend,
          rtol=1e-12, atol=1e-14)


SPECIAL = {
    "betainc": lambda sp, x: sp.betainc(x[0] * x[0] + 0.5, 2.5, 1.0 / (1.0 + x[1] * x[1])),
    "betaincc": lambda sp, x: sp.betaincc(1.5, x[0] * x[0] + 0.5, 1.0 / (1.0 + x[1] * x[1])),
    "stdtr": lambda sp, x: sp.stdtr(x[0] * x[0] + 0.5, x[1]),
    "fdtr": lambda sp, x: sp.fdtr(3.0, x[0] * x[0] + 0.5, x[1] * x[1]),
    "fdtrc": lambda sp, x: sp.fdtrc(x[0] * x[0] + 0.5, 4.0, x[1] * x[1]),
    "gamma": lambda sp, x: sp.gamma(x[0] * 0.5 + 2.0),
    "chdtrc": lambda sp, x: sp.chdtrc(3.0, x[0] * x[0]),    # SciPy's generic: gammaincc
    # gammainc's a-derivative: chdtr's df, a Gamma CDF's shape
    "chdtr df": lambda sp, x: sp.chdtr(x[0] * x[0] + 0.5, x[1] * x[1] + 0.2),
    "gammainc a": lambda sp, x: sp.gammainc(x[0] * x[0] + 0.5, 1.5),
    "betaincinv": lambda sp, x: sp.betaincinv(x[0] * x[0] + 0.5, 2.5, 1.0 / (1.0 + x[1] * x[1])),
    "erfcx": lambda sp, x: sp.erfcx(x[0] * 3.0),
    "exp1": lambda sp, x: sp.exp1(x[0] * x[0] + 0.1),
    "expi": lambda sp, x: sp.expi(x[0] * 2.0),
    "zeta": lambda sp, x: sp.zeta(x[0] * x[0] + 1.5, x[1] * x[1] + 0.5),
}


@pytest.mark.parametrize("name", sorted(SPECIAL))
def test_scipy_special_dispatch(name, backend):
    sp, _ = _scipy()
    check(_on(backend, lambda x: SPECIAL[name](sp, x)), _data(59, (2, 5)), backend, rtol=1e-12,
          atol=1e-14)


def test_linregress_still_leaves_the_tape():
    # SciPy 1.17's linregress converts with np.asarray (not array-API code): a clear error
    _, st = _scipy()
    x, y = (xg.asarray(v) for v in _data(61, (8,), (8,)))
    with xg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(TypeError, match="cut it from the tape"):
            st.linregress(x, y)


@pytest.mark.parametrize("shape, axis", [((12,), 0), ((12, 3), 0), ((3, 12), 1)])
def test_spearmanr_runs_on_a_tape(shape, axis):
    # np.column_stack and np.apply_along_axis(rankdata, ...) on the tape's tensors; the ranks
    # are piecewise constant in the data, so the result is off the tape (NumPy's corrcoef)
    _, st = _scipy()
    (a,) = _data(67, shape)
    b = np.round(a * 2.0) + 0.3 * np.arange(a.size).reshape(shape)     # ties among a's ranks
    expected = st.spearmanr(a, b if len(shape) == 1 else None, axis=axis)
    x, y = xg.asarray(a), xg.asarray(b)
    with xg.GradientTape() as tape:
        tape.watch(x)
        ours = st.spearmanr(x, y if len(shape) == 1 else None, axis=axis)
    for part in ("statistic", "pvalue"):
        np.testing.assert_allclose(np.asarray(getattr(ours, part)),
                                   getattr(expected, part), rtol=1e-12)
