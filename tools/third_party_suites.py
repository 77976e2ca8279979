"""Run scikit-learn's or SciPy's own array-API tests with xpgrad as the array namespace.

Both libraries parametrize those tests over namespaces: scikit-learn through
``sklearn.utils._array_api.yield_namespaces`` (read by ``yield_namespace_device_dtype_combinations``
and its estimator checks), SciPy through the ``xp`` fixture of ``scipy/conftest.py``. This file
is also the pytest plugin (``-p third_party_suites``) that swaps xpgrad in for their list:

- scikit-learn: ``xpgrad`` is the only namespace, and "numpy to xpgrad" the only mixed-input
  pair; the tests run where their id names it (``-k xpgrad``).
- SciPy: ``xp`` is xpgrad alone, skipped or xfailed where SciPy's markers skip or xfail
  array_api_strict (the standard's reference implementation) or ask for NumPy only; the tests
  are those marked ``array_api_backends``.

Installed test files are used (``--pyargs``); SciPy's need ``SCIPY_ARRAY_API=1``, set here::

    python tools/third_party_suites.py sklearn --backend numpy --failures sk.jsonl
    python tools/third_party_suites.py scipy --backend numba -- -x
    python tools/third_party_suites.py scipy --wider     # SciPy's other 37 modules

``--failures`` writes one JSON line per failed test (its id and first message line) and prints
the messages grouped. Arguments after ``--`` go to pytest.

>>> counts("4 failed, 140 passed, 3 skipped, 2 xfailed, 1 error in 9.1s")
{'failed': 4, 'passed': 140, 'skipped': 3, 'xfailed': 2, 'error': 1}
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SKLEARN_MODULES = [
    "decomposition.tests.test_pca", "metrics.tests.test_classification",
    "metrics.tests.test_common", "metrics.tests.test_pairwise",
    "metrics.cluster.tests.test_common", "metrics.cluster.tests.test_supervised",
    "_loss.tests.test_loss", "_loss.tests.test_link", "preprocessing.tests.test_polynomial",
    "preprocessing.tests.test_data", "preprocessing.tests.test_label", "tests.test_pipeline",
    "tests.test_calibration", "tests.test_kernel_approximation", "tests.test_naive_bayes",
    "mixture.tests.test_gaussian_mixture", "utils.tests.test_array_api",
    "utils.tests.test_validation", "utils.tests.test_multiclass", "utils.tests.test_indexing",
    "utils.tests.test_extmath", "utils.tests.test_optimize", "utils.tests.test_stats",
    "linear_model.tests.test_logistic", "linear_model.tests.test_ridge",
    "linear_model._glm.tests.test_glm", "model_selection.tests.test_split",
    "model_selection.tests.test_search", "model_selection.tests.test_validation",
    "tests.test_common"]
SCIPY_MODULES = [
    "special.tests.test_logsumexp", "special.tests.test_support_alternative_backends",
    "stats.tests.test_stats", "stats.tests.test_entropy", "stats.tests.test_variation",
    "stats.tests.test_quantile", "stats.tests.test_morestats", "fft.tests.test_basic",
    "fft.tests.test_helper", "fft.tests.test_real_transforms", "cluster.tests.test_vq",
    "integrate.tests.test_quadrature", "integrate.tests.test_tanhsinh",
    "differentiate.tests.test_differentiate", "optimize.tests.test_chandrupatla",
    "optimize.tests.test_bracket", "signal.tests.test_signaltools",
    "ndimage.tests.test_filters"]
#: ``--wider``: the rest of SciPy's modules with ``xp`` tests
SCIPY_WIDER_MODULES = [
    "stats.tests.test_hypotests", "stats.tests.test_resampling", "stats.tests.test_correlation",
    "stats.tests.test_rank", "stats.tests.test_marray", "stats.tests.test_continued_fraction",
    "stats.tests.test_device_dtype", "signal.tests.test_windows",
    "signal.tests.test_filter_design", "signal.tests.test_fir_filter_design",
    "signal.tests.test_ltisys", "signal.tests.test_bsplines", "signal.tests.test_savitzky_golay",
    "signal.tests.test_upfirdn", "signal.tests.test_splines", "signal.tests.test_cont2discrete",
    "cluster.tests.test_hierarchy", "ndimage.tests.test_morphology",
    "ndimage.tests.test_measurements", "ndimage.tests.test_interpolation",
    "ndimage.tests.test_fourier", "ndimage.tests.test_splines", "fft.tests.test_fftlog",
    "linalg.tests.test_procrustes", "linalg.tests.test_special_matrices",
    "interpolate.tests.test_bsplines", "interpolate.tests.test_interpolate",
    "interpolate.tests.test_rbfinterp", "interpolate.tests.test_rgi",
    "interpolate.tests.test_polyint", "spatial.transform.tests.test_rotation",
    "spatial.transform.tests.test_rigid_transform", "integrate.tests.test_cubature",
    "_lib.tests.test_array_api", "_lib.tests.test__util", "constants.tests.test_constants",
    "optimize.tests.test_optimize"]


# ------------------------------------------------------------------- the pytest plugin side

def _sklearn_namespaces():
    import sklearn.utils._array_api as array_api

    def namespaces(include_numpy_namespaces=True):
        yield "xpgrad"

    def mixed():
        yield (array_api.NamespaceAndDevice("numpy", None),
               array_api.NamespaceAndDevice("xpgrad", None), "numpy to xpgrad")

    array_api.yield_namespaces = namespaces
    array_api.yield_mixed_namespace_input_permutations = mixed


if os.environ.get("XPGRAD_SUITE") == "sklearn":
    _sklearn_namespaces()


@pytest.hookimpl(tryfirst=True)
def pytest_plugin_registered(plugin, manager):
    """SciPy's conftest, as it registers: its ``xp`` fixture gets xpgrad as its only param
    (before pytest reads the fixture's params), and xpgrad the skip and xfail reasons of
    array_api_strict."""
    if getattr(plugin, "__name__", "") != "scipy.conftest":
        return
    import xpgrad

    strict_reasons = plugin._backends_kwargs_from_request

    def reasons(request, skip_or_xfail):
        found = strict_reasons(request, skip_or_xfail)
        if "array_api_strict" in found:
            found["xpgrad"] = found["array_api_strict"]
        return found

    plugin._backends_kwargs_from_request = reasons
    param = pytest.param(xpgrad, id="xpgrad", marks=pytest.mark.array_api_backends)
    plugin.xp_available_backends[:] = [param]
    plugin.xp = pytest.fixture(params=[param])(plugin.xp._get_wrapped_function())


def pytest_runtest_logreport(report):
    """One JSON line per failure into ``$XPGRAD_SUITE_FAILURES``, when set."""
    path = os.environ.get("XPGRAD_SUITE_FAILURES")
    if report.outcome != "failed" or not path:
        return
    crash = getattr(report.longrepr, "reprcrash", None)
    lines = (crash.message if crash else str(report.longrepr)).splitlines() or [""]
    message = " ".join(line.strip() for line in lines[:3])
    with open(path, "a") as f:
        f.write(json.dumps({"id": report.nodeid, "when": report.when,
                            "message": message[:300]}) + "\n")


# ------------------------------------------------------------------------ the runner side

def counts(summary: str) -> dict:
    """The outcome counts of pytest's last line."""
    return {word: int(n) for n, word in re.findall(r"(\d+) ([a-z]+)", summary.split(" in ")[0])}


def run(library: str, backend: str, modules, failures, extra) -> dict:
    """One pytest process over ``modules`` of ``library``; returns the outcome counts."""
    selection = ["-k", "xpgrad"] if library == "sklearn" else ["-m", "array_api_backends"]
    env = {**os.environ, "XPGRAD_SUITE": library, "XPGRAD_BACKEND": backend,
           "SCIPY_ARRAY_API": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tools"), str(ROOT),
                                          os.environ.get("PYTHONPATH", "")])}
    if failures:
        env["XPGRAD_SUITE_FAILURES"] = str(Path(failures).resolve())
        Path(failures).unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "-p", "third_party_suites", "--tb=no", "-W", "ignore::RuntimeWarning",
               "--pyargs", *[f"{library}.{m}" for m in modules], *selection, *extra]
    with tempfile.TemporaryDirectory() as outside_the_repository:   # not its pytest settings
        done = subprocess.run(command, env=env, cwd=outside_the_repository,
                              capture_output=True, text=True)
    last = (done.stdout.strip().splitlines() or [""])[-1]
    return counts(last.strip("= "))


def grouped(failures) -> list:
    """(count, message) pairs of the failures file, most frequent first; numbers in messages
    are one pattern."""
    with open(failures) as f:
        messages = [re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "N", json.loads(line)["message"])[:120]
                    for line in f]
    return [(n, m) for m, n in collections.Counter(messages).most_common()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("library", choices=["sklearn", "scipy"])
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--modules", nargs="+",
                        help="test modules under the library (default: those with "
                             "array-API tests, listed in this file)")
    parser.add_argument("--wider", action="store_true",
                        help="SciPy: the other modules with array-API tests instead")
    parser.add_argument("--failures", help="JSON-lines file of the failed tests")
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    modules = args.modules or (SKLEARN_MODULES if args.library == "sklearn" else
                               SCIPY_WIDER_MODULES if args.wider else SCIPY_MODULES)
    result = run(args.library, args.backend, modules, args.failures, extra)
    print(json.dumps({"library": args.library, "backend": args.backend, **result}))
    if args.failures and Path(args.failures).exists():
        for n, message in grouped(args.failures):
            print(f"{n:6d}  {message}")


if __name__ == "__main__":
    main()
