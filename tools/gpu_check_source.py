"""What travels to the device and how the device checks it: the carried wheels (``.whl/``),
the source stamp ``--prepare`` writes there (commit, uncommitted files, each file's hash), and
the tree linked into a private site folder where pip cannot install it.

>>> wheel_dist("array_api_strict-2.3-py3-none-any.whl")
'array-api-strict'
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from gpu_check_config import (DEVICE_CALL, OPTIONAL_WHEELS, REQUIRED_WHEELS, ROOT, STAMP_NAME,
                              WHEEL_DIR_NAME)
from gpu_check_log import utc_now


def wheel_dist(filename: str) -> str:
    """The normalized distribution name of a wheel file.

    >>> wheel_dist("array_api_compat-1.16.0-py3-none-any.whl")
    'array-api-compat'
    """
    return re.sub(r"[-_.]+", "-", filename.split("-")[0]).lower()


def check_wheels(folder) -> dict:
    """The wheels in ``folder`` by distribution name; two versions of one distribution (which
    would stop ``pip install``) and missing required ones are reported as problems.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for n in ("array_api_compat-1.16.0-py3-none-any.whl",
    ...           "array_api_compat-1.12.0-py3-none-any.whl"):
    ...     _ = (d / n).write_bytes(b"")
    >>> check_wheels(d)["problems"]            # doctest: +ELLIPSIS
    ['two versions of array-api-compat: array_api_compat-1.12.0-..., array_api_compat-1.16.0-...']
    """
    folder = Path(folder)
    found = {}
    for w in sorted(folder.glob("*.whl")) if folder.is_dir() else []:
        found.setdefault(wheel_dist(w.name), []).append(w.name)
    problems = [f"two versions of {d}: {', '.join(v)}" for d, v in found.items() if len(v) > 1]
    return {"folder": str(folder), "wheels": found, "problems": problems,
            "missing_required": [d for d in REQUIRED_WHEELS if d not in found]}


def file_digests(root, paths) -> dict:
    """sha256 (first 16 hex digits) of each existing file under ``root``.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a").write_text("x")
    >>> file_digests(d, ["a", "gone"])
    {'a': '2d711642b726b044'}
    """
    out = {}
    for rel in paths:
        p = Path(root) / rel
        if p.is_file() and not p.is_symlink():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
    return out


def compare_digests(expected: dict, actual: dict) -> dict:
    """Which files differ between a stamp's digests and the tree's.

    >>> compare_digests({"a": "1", "b": "2"}, {"a": "1", "b": "3"})
    {'matches': False, 'changed': ['b'], 'missing': []}
    """
    changed = sorted(k for k in expected if k in actual and actual[k] != expected[k])
    missing = sorted(k for k in expected if k not in actual)
    return {"matches": not changed and not missing, "changed": changed, "missing": missing}


def link_tree(root, site) -> dict:
    """Make ``import xpgrad`` load ``root``'s sources from the folder ``site`` (on PYTHONPATH)
    without pip or setuptools: ``site/xpgrad`` links every entry of ``root/xpgrad`` and maps
    ``xpgrad.backends`` to ``root/backends`` (the package-dir mapping of pyproject.toml), and a
    minimal ``xpgrad-<version>.dist-info`` carries the version and the entry points.

    >>> import tempfile, pathlib
    >>> root, site = pathlib.Path(tempfile.mkdtemp()), pathlib.Path(tempfile.mkdtemp())
    >>> for d in ("xpgrad", "backends"):
    ...     (root / d).mkdir(); _ = (root / d / "__init__.py").write_text("")
    >>> _ = (root / "pyproject.toml").write_text('[project]\\nversion = "1.2"\\n')
    >>> link_tree(root, site)["dist_info"]
    'xpgrad-1.2.dist-info'
    >>> sorted(p.name for p in (site / "xpgrad").iterdir())
    ['__init__.py', 'backends']
    """
    root, site = Path(root), Path(site)
    pkg = site / "xpgrad"
    if pkg.exists():
        shutil.rmtree(pkg)
    pkg.mkdir(parents=True)
    for entry in (root / "xpgrad").iterdir():
        if entry.name != "__pycache__":
            (pkg / entry.name).symlink_to(entry)
    (pkg / "backends").symlink_to(root / "backends", target_is_directory=True)
    text = (root / "pyproject.toml").read_text()
    version = (re.search(r'^version\s*=\s*"([^"]+)"', text, re.M) or [None, "0"])[1]
    dist = site / f"xpgrad-{version}.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: xpgrad\nVersion: {version}\n")
    block = re.search(r'^\[project\.entry-points\."xpgrad\.backends"\]\n((?:[^\[\n].*\n?)*)',
                      text, re.M)
    if block:
        (dist / "entry_points.txt").write_text("[xpgrad.backends]\n" + block[1])
    return {"package": str(pkg), "dist_info": dist.name}


def _git(*args, cwd=ROOT):
    try:
        res = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                             timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout if res.returncode == 0 else None


# -- preparing the device run (here, with network) -------------------------------------------------
def _travelling_files():
    listed = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if listed is None:
        raise SystemExit("--prepare needs git (it records the commit the device run is for)")
    return sorted(p for p in listed.split("\0") if p)


def prepare(log=print) -> int:
    """Download the wheels the device lacks into ``.whl/``, write ``.whl/SOURCE.json`` (commit,
    uncommitted files, each travelling file's hash) and print the device tool call."""
    wheel_dir = ROOT / WHEEL_DIR_NAME
    wheel_dir.mkdir(exist_ok=True)
    probe = wheel_dir / "probe.whl"
    if _git("check-ignore", "-q", str(probe.relative_to(ROOT))) is None:
        git_dir = Path((_git("rev-parse", "--git-dir") or ".git").strip())
        exclude = (git_dir if git_dir.is_absolute() else ROOT / git_dir) / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with open(exclude, "a") as f:
            f.write(f"/{WHEEL_DIR_NAME}/\n")
        log(f"added /{WHEEL_DIR_NAME}/ to {exclude}")
    for dist in {**REQUIRED_WHEELS, **OPTIONAL_WHEELS}:
        try:
            spec = f"{dist}=={importlib.metadata.version(dist)}"   # the version tested here
        except importlib.metadata.PackageNotFoundError:
            spec = dist
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.12", "--implementation", "cp",
               "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
               "--platform", "manylinux2014_x86_64", "-d", str(wheel_dir), spec]
        log("$ " + shlex.join(cmd))
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode:
            log(res.stderr[-2000:])
            if dist in REQUIRED_WHEELS:
                return 1
            continue
        keep = spec.split("==")[-1] if "==" in spec else None
        for w in wheel_dir.glob("*.whl"):    # one version each: two stop pip on the device
            if wheel_dist(w.name) == dist and keep and w.name.split("-")[1] != keep:
                w.unlink()
                log(f"removed {w.name} (another version)")
    status = _git("status", "--porcelain") or ""
    files = _travelling_files()
    stamp = {"commit": (_git("rev-parse", "HEAD") or "").strip() or None,
             "prepared_utc": utc_now(),
             "dirty_files": [ln[3:] for ln in status.splitlines()],
             "digests": file_digests(ROOT, files)}
    (wheel_dir / STAMP_NAME).write_text(json.dumps(stamp, indent=1))
    size = sum((ROOT / f).stat().st_size for f in stamp["digests"]) + sum(
        w.stat().st_size for w in wheel_dir.iterdir() if w.is_file())
    log(f"wrote {wheel_dir / STAMP_NAME}: commit {stamp['commit']}, "
        f"{len(stamp['dirty_files'])} uncommitted path(s), {len(stamp['digests'])} files hashed")
    log(f"wheels: {check_wheels(wheel_dir)['wheels']}")
    log(f"the tree that travels: about {size / 2**20:.1f} MiB of the 64 MiB a call may carry")
    if stamp["dirty_files"]:
        log("note: uncommitted changes travel too; the evidence will say the tree differs "
            "from the commit. Commit first, then prepare, for clean evidence.")
    log("\nthe device call (tool `run`):\n" + json.dumps(DEVICE_CALL, indent=1))
    return 0
