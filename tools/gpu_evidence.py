"""Turn the output folder of a device run of ``tools/gpu_check.sh`` into committed evidence.

    python tools/gpu_evidence.py /work/.device/<files_at>     # the folder the run tool fetched
    git add docs/gpu-evidence && git commit -m "GPU evidence: ..."

Copies ``summary.txt``, ``gpu_check.json`` and ``gpu_check.log`` into
``docs/gpu-evidence/<UTC date>-<commit[:10]>/``, with the date and commit the check recorded on
the device itself (nothing is typed by hand), and adds a row to the index in
``docs/gpu-evidence/README.md``. A run whose tree differed from its commit gets ``-dirty`` in the
folder name; a dry run is refused (``--allow-dry-run`` imports one, named ``-dry-run``, for tests).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEST = ROOT / "docs" / "gpu-evidence"
COPIED = ("summary.txt", "gpu_check.json", "gpu_check.log")
MAX_LOG_BYTES = 4 << 20
INDEX_START = "<!-- evidence index: rows below are added by tools/gpu_evidence.py -->"
INDEX_HEADER = ("| date (UTC) | commit | tree | result | folder |\n"
                "|---|---|---|---|---|\n")


class EvidenceError(RuntimeError):
    """The folder is not importable evidence; the message says why."""


def folder_name(check: dict) -> str:
    """``<date>-<commit[:10]>``, plus ``-dirty`` when the tree differed from the commit and
    ``-dry-run`` for a dry run.

    >>> folder_name({"started_utc": "2026-12-02T10:11:12Z", "dry_run": False,
    ...              "source": {"commit": "0123456789abcdef", "dirty": True}})
    '2026-12-02-0123456789-dirty'
    """
    src = check.get("source") or {}
    commit = src["commit"][:10] if src.get("commit") else "no-commit"
    name = f"{check['started_utc'][:10]}-{commit}"
    if src.get("dirty"):
        name += "-dirty"
    if check.get("dry_run"):
        name += "-dry-run"
    return name


def index_row(check: dict, folder: str) -> str:
    """The README index row for one run.

    >>> index_row({"started_utc": "2026-12-02T10:11:12Z", "summary_line": "GPU CHECK: 1 passed",
    ...            "source": {"commit": "0123456789abcdef", "dirty": False}}, "f")
    '| 2026-12-02 10:11 | `0123456789` | as committed | GPU CHECK: 1 passed | [f](f/summary.txt) |'
    """
    src = check.get("source") or {}
    tree = "differs from commit" if src.get("dirty") else "as committed"
    when = check["started_utc"][:16].replace("T", " ")
    line = (check.get("summary_line") or "(no summary: the run did not finish)").replace("|", "/")
    return (f"| {when} | `{(src.get('commit') or '?')[:10]}` | {tree} | {line} | "
            f"[{folder}]({folder}/summary.txt) |")


def load_check(folder: Path) -> dict:
    path = folder / "gpu_check.json"
    if not path.is_file():
        raise EvidenceError(f"{path} does not exist: is {folder} the output folder of "
                            "tools/gpu_check.sh?")
    check = json.loads(path.read_text())
    if check.get("tool") != "tools/gpu_check.py" or "started_utc" not in check:
        raise EvidenceError(f"{path} was not written by tools/gpu_check.py")
    return check


def _commit_known(commit: str) -> bool | None:
    try:
        res = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT,
                             capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.returncode == 0


def _add_to_index(dest: Path, row: str):
    readme = dest / "README.md"
    text = readme.read_text() if readme.is_file() else "# GPU evidence\n"
    if INDEX_START not in text:
        text = text.rstrip("\n") + f"\n\n{INDEX_START}\n{INDEX_HEADER}"
    head, _, rows = text.partition(INDEX_START)
    body = rows.lstrip("\n")
    if not body.startswith(INDEX_HEADER):
        body = INDEX_HEADER + body
    body = body.rstrip("\n") + "\n" + row + "\n"
    readme.write_text(f"{head}{INDEX_START}\n{body}")


def import_evidence(folder, dest=DEST, allow_dry_run=False, force=False) -> Path:
    """Copy a gpu_check output ``folder`` into ``dest/<folder_name>/`` and index it; returns
    the new folder. Raises EvidenceError for a dry run (unless allowed), an unknown commit
    (unless ``force``) or a folder that is not gpu_check output.
    """
    folder, dest = Path(folder), Path(dest)
    check = load_check(folder)
    if check.get("dry_run") and not allow_dry_run:
        raise EvidenceError(f"{folder} holds a dry run, which is no evidence of a device run "
                            "(--allow-dry-run imports it anyway, for tests)")
    commit = (check.get("source") or {}).get("commit")
    if not commit and not force:
        raise EvidenceError("the run recorded no commit (no .git and no .whl/SOURCE.json on the "
                            "device: run tools/gpu_check.sh --prepare first); --force imports it")
    if commit and _commit_known(commit) is False and not force:
        raise EvidenceError(f"commit {commit} is not in this repository; --force imports it")
    name = folder_name(check)
    target = dest / name
    n = 2
    while target.exists():
        target = dest / f"{name}-{n}"
        n += 1
    target.mkdir(parents=True)
    for f in COPIED:
        src = folder / f
        if not src.is_file():
            continue
        if f.endswith(".log") and src.stat().st_size > MAX_LOG_BYTES:
            data = src.read_bytes()
            (target / f).write_bytes(data[:MAX_LOG_BYTES // 2] + b"\n[... cut by "
                                     b"gpu_evidence.py ...]\n" + data[-MAX_LOG_BYTES // 2:])
            continue
        shutil.copyfile(src, target / f)
    _add_to_index(dest, index_row(check, target.name))
    return target


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", help="the output folder of a device run ($OUT, fetched)")
    p.add_argument("--dest", default=str(DEST), help="evidence root (default docs/gpu-evidence)")
    p.add_argument("--allow-dry-run", action="store_true", help="import a dry run (tests)")
    p.add_argument("--force", action="store_true", help="import without a known commit")
    args = p.parse_args(argv)
    try:
        target = import_evidence(args.folder, args.dest, args.allow_dry_run, args.force)
    except EvidenceError as e:
        print(f"gpu_evidence: {e}", file=sys.stderr)
        return 2
    check = load_check(target)
    print(f"wrote {target}\n{check.get('summary_line')}")
    paths = f"{_shown(target)} {_shown(Path(args.dest) / 'README.md')}"
    print(f"next: git add {paths} && git commit -m \"GPU evidence {target.name}\" -- {paths}")
    return 0


def _shown(path: Path):
    try:
        return path.resolve().relative_to(ROOT)
    except ValueError:
        return path


if __name__ == "__main__":
    sys.exit(main())
