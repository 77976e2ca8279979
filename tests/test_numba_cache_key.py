"""The Numba backend's disk cache is keyed by its sources (backends/numba/_cache_key.py): an edit
of a helper that Numba compiles into kernels of another file makes the next process compile
anew, and ``xpgrad info`` says the cache is cold until it is warmed again.

Each test runs fresh processes on its own copy of the package, so the copy can be edited.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("numba", reason="the numba backend needs Numba (pip install 'xpgrad[numba]')")

import xpgrad  # noqa: E402
import xpgrad.backends  # noqa: E402

SKIP_FILES = shutil.ignore_patterns("__pycache__", "*.pyc", "xpgrad-*")


def package_copy(root):
    """Copy the xpgrad package this test imported, with its backends, to ``root/xpgrad``; return
    the environment that makes a subprocess import the copy (Numba's default cache location)."""
    src = os.path.dirname(os.path.abspath(xpgrad.__file__))
    shutil.copytree(src, root / "xpgrad", ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", "backends"))
    shutil.copytree(os.path.dirname(os.path.abspath(xpgrad.backends.__file__)),
                    root / "xpgrad" / "backends", ignore=SKIP_FILES)
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "XPGRAD_NUMBA_CACHE_DIR")}
    env["PYTHONPATH"] = str(root)
    return env


#: a run on the copy: what ``xpgrad info`` says about the cache of the sigmoid kernels before,
#: their result on [0, 1] (compiled or loaded), then ``info`` again after a warmup of them.
#: Only the two sigmoid loops (one thread) count as "every kernel" here, and the warmup runs the
#: sigmoid unit only (it reports what it compiled): a warmup of all of them takes a minute.
_RUN = """
import json
import numpy as np
from numba.core import event
import xpgrad
from xpgrad.backends.numba import _act_kernels, _cache, _warmup_units
from xpgrad.cli_info import info

assert xpgrad.__file__.startswith({root!r}), xpgrad.__file__          # the copy runs
every = _cache.kernel_dispatchers
sigmoids = ("_act_kernels.sigmoid_fwd", "_act_kernels.sigmoid_bwd")
_cache.kernel_dispatchers = lambda: {{n: d for n, d in every().items() if n in sigmoids}}
# the warmup runs _warmup_units.UNITS (_cache re-exports the name): restrict both
_cache.UNITS = _warmup_units.UNITS = [unit for unit in _cache.UNITS if unit[1] == "sigmoid"]


def cache_report():
    numba = info()["backends"]["numba"]
    return {{k: numba[k] for k in ("cache_dir", "cache_warm", "cached_kernels",
                                  "cache_stale_dirs")}}


before = cache_report()
with event.install_recorder("numba:compile") as compiles:
    out = np.empty(2)
    _act_kernels.sigmoid_fwd(np.array([0.0, 1.0]), out)
compiled = bool(compiles.buffer)
with event.install_recorder("numba:compile") as warmup_compiles:
    xpgrad.get_backend("numba").warmup(parallel=False, processes=1)
warmed = sorted({{e.data["dispatcher"].py_func.__qualname__ for _, e in warmup_compiles.buffer}})
print(json.dumps({{"before": before, "sigmoid": out.tolist(), "compiled": compiled,
                  "after_warmup": cache_report(), "warmup_compiled": warmed}}))
"""

#: appended to the copy's _math.py: a different sigmoid, which ``_act_kernels.sigmoid_fwd``
#: imports and Numba compiles into it
_EDITED_SIGMOID = """

@njit(cache=True)
def sigmoid(x):
    return x - x + 0.25
"""


def test_an_edited_helper_is_compiled_anew_and_info_says_cold(tmp_path):
    """Compile and cache ``sigmoid_fwd``, edit ``_math.sigmoid`` (which Numba compiles into it
    from another file), and the next process computes with the edited helper instead of loading
    the old machine code; ``xpgrad info`` reports the kernels cold after the edit, and warm once
    warmed up (and counts the old directory as stale). The cache is Numba's default beside the
    sources, where an upgrade that keeps ``__pycache__`` leaves the old kernels."""
    env = package_copy(tmp_path)
    code = _RUN.format(root=str(tmp_path))

    def run_fresh():
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.splitlines()[-1])

    sigmoid = (1 / (1 + np.exp(-np.array([0.0, 1.0])))).tolist()
    first = run_fresh()
    assert first["before"]["cache_warm"] is False and first["before"]["cached_kernels"] == "0/2"
    assert first["compiled"] and np.allclose(first["sigmoid"], sigmoid, rtol=1e-12)
    assert first["after_warmup"]["cache_warm"] is True
    # the warmup compiled the sigmoid kernels (and private helpers) only: a minute less
    assert {"sigmoid_bwd", "sigmoid_fwd"} <= set(first["warmup_compiled"])
    assert all("sigmoid" in n or n.startswith("_") for n in first["warmup_compiled"])
    cache_dir = first["before"]["cache_dir"]
    assert cache_dir.startswith(str(tmp_path / "xpgrad" / "backends" / "numba" / "__pycache__"))

    second = run_fresh()                    # loads, computes the same, reports warm before
    assert not second["compiled"] and second["sigmoid"] == first["sigmoid"]
    assert second["before"] == {"cache_dir": cache_dir, "cache_warm": True,
                                "cached_kernels": "2/2", "cache_stale_dirs": 0}

    with open(tmp_path / "xpgrad" / "backends" / "numba" / "_math.py", "a") as f:
        f.write(_EDITED_SIGMOID)
    edited = run_fresh()
    assert edited["sigmoid"] == [0.25, 0.25] and edited["compiled"]
    assert edited["before"]["cache_warm"] is False and edited["before"]["cached_kernels"] == "0/2"
    assert edited["before"]["cache_dir"] != cache_dir
    assert edited["before"]["cache_stale_dirs"] == 1                # the old one, left alone
    assert os.path.isdir(cache_dir)
    assert edited["after_warmup"] == {**edited["before"], "cache_warm": True,
                                      "cached_kernels": "2/2"}

    pruned = subprocess.run([sys.executable, "-c", _PRUNE], env=env, cwd=tmp_path,
                            capture_output=True, text=True)
    assert pruned.returncode == 0, pruned.stderr
    removed, freed, stale_after = json.loads(pruned.stdout.splitlines()[-1])
    assert removed == 1 and freed > 0 and stale_after == 0
    assert not os.path.exists(cache_dir)                    # the old sources' directory
    assert os.path.isdir(edited["before"]["cache_dir"])     # the current one is kept


#: ``prune_cache`` in a fresh process of the copy: (removed, bytes, stale dirs left)
_PRUNE = """
import json
import xpgrad
from xpgrad.cli_info import info

removed, freed = xpgrad.get_backend("numba").prune_cache()
print(json.dumps([removed, freed, info()["backends"]["numba"]["cache_stale_dirs"]]))
"""


def test_background_compiler_declines_when_the_sources_changed_since_the_run_started():
    """The run passes its sources' fingerprint; a background process that imported other
    sources (edited in between) would cache the kernels where the run does not look, so it
    declines, and the run keeps the NumPy kernels."""
    from xpgrad.backends.numba import _background

    env = dict(os.environ, **{_background.SOURCES_ENV: "0123456789abcdef"})
    out = subprocess.run([sys.executable, "-m", "xpgrad.backends.numba._background"],
                         input="relu float32\n", capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("failed relu float32 the numba backend's sources changed"), \
        out.stdout


def test_fingerprint_follows_every_source_file_and_leaves_other_code_alone(tmp_path,
                                                                          monkeypatch):
    """The fingerprint hashes each file's name and content and Numba's version (a copy of the
    package's sources gives the same one; an edit, a new file or another Numba another);
    functions outside the package keep Numba's own cache directory."""
    import importlib.util

    import numba
    from numba import njit

    from xpgrad.backends.numba import _act_kernels, _cache_key

    assert _cache_key.install() is _cache_key.install()         # put in Numba's list once
    here = _cache_key.fingerprint()
    assert os.path.basename(_act_kernels.relu_fwd._cache.cache_path) == "xpgrad-" + here
    copy = tmp_path / "numba"
    shutil.copytree(_cache_key.HERE, copy, ignore=SKIP_FILES)
    fingerprints = []
    for i, change in enumerate(("", "_math.py", "new.py", "numba")):
        if change == "numba":
            monkeypatch.setattr(numba, "__version__", numba.__version__ + ".post1")
        elif change:
            with open(copy / change, "a") as f:
                f.write("\n")
        spec = importlib.util.spec_from_file_location(f"key_copy{i}", copy / "_cache_key.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        fingerprints.append(module.fingerprint())
    assert fingerprints[0] == here and len(set(fingerprints)) == 4

    outside = njit(cache=True)(lambda x: x + 1)          # this test file's own function
    assert "xpgrad-" not in outside._cache.cache_path


def test_a_numba_without_the_locator_api_gives_a_warning_not_a_broken_backend(monkeypatch):
    from xpgrad.backends import numba as nbmod
    from xpgrad.backends.numba import _cache_key

    def moved():
        raise AttributeError("type object 'CacheImpl' has no attribute '_locator_classes'")

    monkeypatch.setattr(_cache_key, "install", moved)
    with pytest.warns(RuntimeWarning, match="cannot key Numba's disk cache by its sources"):
        assert nbmod._import_numba().__version__
