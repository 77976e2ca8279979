"""README truth: every command the README and the pages of docs/ show runs (on a tiny budget),
every flag they name exists and runs, and the README's first command installs what
`xpgrad train` imports.

Commands come from the pages' ``bash`` and ``text`` blocks and their inline code; each is run
here, or is in EXCUSED with the reason it is not (a third-party tool, or what this very run
is). A command that is neither fails ``test_every_readme_command_is_run_or_excused``.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import default_run_environ
from docs_text import all_text, section

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
#: pages of docs/ whose commands are not run here, and why (each has tests of its own)
PAGES_NOT_RUN = {
    "array-api.md": "the conformance suite needs a checkout of array-api-tests "
                    "(tests/test_conformance_script.py runs the script's own logic)",
    "asv.md": "asv's history, gate and GPU points time commits for minutes "
              "(tests/test_asv_tools.py)",
    "distributed.md": "launches under mpiexec / srun, NCCL and hostfiles "
                      "(tests/test_distributed*.py run the MPI paths)",
    "gpu.md": "needs a CUDA device (tests/test_gpu_check.py, tests/test_cuda_*.py)",
}
DOCS = all_text(skip=PAGES_NOT_RUN)             # README.md and the other docs/*.md

#: commands not run here, and why
EXCUSED = {
    "python -m pytest -q -n auto": "it is this test run",
    "python -m xpgrad train": "tests/test_cli_launcher.py runs `python -m xpgrad`",
    "asv ": "asv's own commands (a third-party tool): tests/test_benchmarks.py runs `asv check` "
            "and one call of every benchmark; full runs stay out of CI",
    "tools/dashboard_screenshot.sh": "needs Chromium and npm's registry",
    "python tools/asv_html_offline.py": "needs the dashboard `asv publish` builds",
    "python tools/asv_history.py": "benchmarks commits with asv for many minutes; "
                                    "tests/test_asv_tools.py tests its choice of commits",
    "python tools/asv_gate.py": "times two versions for a minute; tests/test_asv_tools.py runs "
                                "the gate on one workload (A/A and an injected slowdown)",
    "python benchmarks/train_": "benchmarks of many full runs (minutes, with background "
                                "compiles between them) stay out of CI; "
                                "test_warmup_flags_in_the_readme_exist checks their flags",
    "python benchmarks/swapped_kernels.py": "times two versions for seconds to minutes; "
                                            "tests/test_benchmarks_swapped_kernels.py runs it "
                                            "tiny (A/A, an injected slowdown, a source tree)",
    "python benchmarks/trace_long_programs.py": "traces two long programs (seconds each); "
                                                "tests/test_benchmarks.py runs it shortened "
                                                "and checks its replays against eager runs",
    "tools/fit_gelu_tail.py": "tests/test_numba_gelu_tail.py runs its fit and compares the "
                              "coefficients with the kernel's",
    "tools/third_party_suites.py": "runs scikit-learn's and SciPy's own array-API test suites "
                                   "(many minutes; counts in docs/array-api.md)",
    "tools/gpu_check.sh": "needs a CUDA device (docs/gpu.md); tests/test_gpu_check.py runs "
                          "it dry",
    "tensorboard ": "TensorBoard is not a dependency; tests/test_cli.py parses the event files "
                    "with tensorboardX's protobuf classes",
}


def readme_commands(text: str = DOCS) -> list:
    """Every command line the README and docs/ show: their ``bash``/``text`` blocks (``&&``
    split, comments and ``$`` prompts dropped) and inline code spans that start a command."""
    starts = r"(xpgrad|python|pip|asv|tools/|tensorboard)\b"
    out = []
    for block in re.findall(r"```(?:bash|text)\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip().removeprefix("$ ")
            if re.match(starts, line):
                out += [part.strip() for part in line.split("&&")]
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    out += [span for span in re.findall(r"`([^`\n]+)`", prose)
            if re.match(starts + " ", span + " ") and span.split()[0] in
            ("xpgrad", "python", "pip", "asv", "tensorboard") or span.startswith("tools/")]
    return list(dict.fromkeys(out))             # each once, in order


def _excuse(cmd):
    return next((why for prefix, why in EXCUSED.items() if cmd.startswith(prefix)), None)


def test_every_readme_command_is_run_or_excused():
    cmds = readme_commands()
    first = readme_commands(README)
    assert 'pip install -e ".[train]"' in first and "xpgrad train" in first   # the first line
    unhandled = [c for c in cmds if not (_excuse(c) or c.split()[0] in ("xpgrad", "pip")
                                         or c.startswith("python examples/"))]
    assert unhandled == []
    assert [c for c in cmds if c.startswith("xpgrad ")], "the README lost its xpgrad commands"


# -- the commands ----------------------------------------------------------------------------
def _xpgrad_commands():
    return [c for c in readme_commands() if c.startswith("xpgrad ")]


def _tiny(argv: list) -> list:
    """A README command's arguments, on a budget a test can afford."""
    if argv[0] == "train":
        return argv + ["--max-steps", "3", "--progress", "never"]
    if argv[0] == "bench":
        extra = ["--repeat", "1"] + ([] if "--quick" in argv else ["--quick"])
        if "--only" not in argv and argv != ["bench", "--quick"]:
            extra += ["--only", "chain"]        # the plain `xpgrad bench --quick` runs it all
        return argv + extra
    if argv[0] == "warmup":
        return argv + ["--dtypes", "float32"]
    return argv


@pytest.mark.parametrize("cmd", _xpgrad_commands())
def test_readme_xpgrad_command_runs(cmd, tmp_path, monkeypatch, capsys):
    from xpgrad.cli import main

    argv = shlex.split(cmd)[1:]
    if "--backend" in argv and "numba" in argv[argv.index("--backend"):]:
        pytest.importorskip("numba")
    if argv[0] == "bench" and "--backend" not in argv:
        argv += ["--backend", "numpy"] + (["numba"] if importlib.util.find_spec("numba")
                                          else [])
    if argv[0] == "plot" or "--curves" in argv:
        pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)                 # runs/ and bench.json land here
    if argv[0] == "plot":                       # the run it plots, made first
        assert main(["train", "--epochs", "1", "--hidden", "8", "--quiet",
                     "--logdir", argv[1]]) == 0
    assert main(_tiny(argv)) == 0, cmd
    out = capsys.readouterr().out
    if argv[0] == "train":
        assert "held-out accuracy" in out and (tmp_path / "runs").is_dir()
        assert ("wrote curves: " in out) == ("--curves" in argv)
    if argv[0] == "plot":
        assert (tmp_path / argv[1] / "curves.png").read_bytes()[:4] == b"\x89PNG"
    if argv[0] == "bench":
        assert out.startswith("xpgrad bench: median time per call") and "threads: " in out
    if "--json" in argv and argv[0] == "bench":
        assert json.loads((tmp_path / argv[argv.index("--json") + 1]).read_text())["results"]
    if argv == ["info", "--json"]:
        assert "threads" in json.loads(out)


def _example_commands():
    return [c for c in readme_commands() if c.startswith("python examples/")]


#: per example, what makes it tiny (argparse takes the last of a repeated flag)
TINY_EXAMPLE = {"char_lm.py": ["--chars", "2000", "--hidden", "16", "--batch-size", "4",
                               "--sample-chars", "5"],
                "sine.py": ["--hidden", "8", "--length", "40"]}


@pytest.mark.parametrize("cmd", _example_commands())
def test_readme_example_command_runs(cmd, tmp_path):
    argv = shlex.split(cmd)[1:]
    script = os.path.basename(argv[0])
    res = subprocess.run([sys.executable, str(ROOT / argv[0]), *argv[1:], "--steps", "3",
                          *TINY_EXAMPLE.get(script, [])], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    if "--plot" in argv:
        png = tmp_path / argv[argv.index("--plot") + 1]
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_readme_pip_extras_exist():
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    for cmd in readme_commands():
        m = re.fullmatch(r'pip install -e "\.\[([a-z0-9,]+)\]"', cmd)
        if cmd.startswith("pip install"):
            assert m, f"a pip command the test cannot check: {cmd}"
            assert set(m.group(1).split(",")) <= set(extras), cmd


# -- the flags ---------------------------------------------------------------------------------
#: how each `xpgrad train` flag the README names runs here (with a 3-step budget)
TRAIN_FLAGS = {
    "--backend": ["--backend", "numpy"], "--model": ["--model", "lstm"],
    "--optimizer": ["--optimizer", "momentum"], "--learning-rate": ["--learning-rate", "0.01"],
    "--epochs": ["--epochs", "2"], "--batch-size": ["--batch-size", "16"],
    "--hidden": ["--hidden", "16,8"], "--seed": ["--seed", "3"],
    "--dataset": ["--dataset", "digits"], "--data-dir": None,      # test_data.py: local files
    "--threads": ["--threads", "2"], "--progress": ["--progress", "always"],
    "--logdir": ["--logdir", "{tmp}/logs"], "--no-log": ["--no-log"],
    "--overwrite": ["--overwrite", "--logdir", "{tmp}/logs"],     # after --logdir's run there
    "--curves": ["--curves", "--logdir", "{tmp}/curves"],
    "--checkpoint": ["--checkpoint", "{tmp}/c.npz"],
    "--checkpoint-every": ["--checkpoint", "{tmp}/e.npz", "--checkpoint-every", "2"],
    "--resume": None,                    # test_cli_errors.py resumes saved runs
    "--max-steps": ["--max-steps", "2"], "--quiet": ["--quiet"],
    "--lr": ["--lr", "0.01"], "--compile": ["--compile", "--no-log"],
    "--profile": ["--profile", "{tmp}/trace.json", "--no-log"],
    "--distributed": None,               # test_distributed*.py: runs under mpiexec
    "--lr-schedule": ["--lr-schedule", "cosine"], "--warmup-steps": ["--warmup-steps", "2"],
    "--lr-gamma": ["--lr-gamma", "0.5", "--lr-schedule", "exponential"],
    "--lr-decay-rate": ["--lr-decay-rate", "0.5", "--lr-schedule", "step"],
    "--lr-step-size": ["--lr-step-size", "1", "--lr-schedule", "step"],
    "--weight-decay": ["--weight-decay", "0.01"], "--clip-norm": ["--clip-norm", "1"],
    "--validation-split": ["--validation-split", "0.1"],
    "--monitor": ["--monitor", "loss", "--early-stopping", "1"],
    "--early-stopping": ["--early-stopping", "1", "--validation-split", "0.1"],
    "--min-delta": ["--min-delta", "0.01", "--early-stopping", "1", "--validation-split", "0.1"],
    "--restore-best": ["--restore-best", "--early-stopping", "1", "--validation-split", "0.1"],
    "--lr-patience": ["--lr-patience", "1", "--lr-schedule", "plateau", "--validation-split",
                      "0.1"],
}


def _options(parser, command):
    sub = parser._subparsers._group_actions[0].choices[command]
    return {o for a in sub._actions for o in a.option_strings}


def test_warmup_flags_in_the_readme_exist():
    from xpgrad.cli import build_parser

    flags = r"(?<![\w-])(--[a-z][a-z-]+)"
    bench = re.compile(r"python benchmarks/(train_\w+)\.py([^\n]*)")
    backends = section("Backends") + section("Backends: how the NumPy and Numba backends run")
    named = set(re.findall(flags, bench.sub("", backends)))
    assert "--jobs" in named and named <= _options(build_parser(), "warmup")
    # the benchmark commands shown there: their flags are the scripts'
    shown = bench.findall(backends)
    assert {name for name, _ in shown} == {"train_wall_time", "train_cpu_split"}
    for name, rest in shown:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
        given = set(re.findall(flags, rest))
        assert {"--repeats", "--before"} <= given
        with pytest.raises(SystemExit) as e:
            script.main(["--help"])
        assert e.value.code == 0
        assert given <= {o for a in script._parser()._actions for o in a.option_strings}


def test_every_train_flag_in_the_readme_exists_and_runs(tmp_path, monkeypatch, capsys):
    from xpgrad.cli import build_parser, main

    # the flags of the section, but for those of other commands it shows (`xpgrad info --json`)
    pages = section("Training: `xpgrad train`") + section(
        "`xpgrad train`: flags, data, threads and speed")
    section_text = re.sub(r"`xpgrad (info|bench|warmup)[^`]*`", "", pages)
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", section_text))
    options = _options(build_parser(), "train")
    assert named <= options, f"README names flags xpgrad train does not have: {named - options}"
    assert named <= set(TRAIN_FLAGS), f"flags with no run here: {named - set(TRAIN_FLAGS)}"
    monkeypatch.chdir(tmp_path)
    for flag in sorted(named):
        args = TRAIN_FLAGS[flag]
        if args is None:
            continue
        args = [a.format(tmp=tmp_path) for a in args]
        budget = [] if "--max-steps" in args else ["--max-steps", "3"]
        assert main(["train", *args, *budget, "--epochs", args[1] if flag == "--epochs"
                     else "1"]) == 0, flag
    capsys.readouterr()


def _swapped_parser():
    """benchmarks/swapped_kernels.py's parser (the script puts tools/ on the path: undone)."""
    path_before = list(sys.path)
    spec = importlib.util.spec_from_file_location("swapped_kernels",
                                                  ROOT / "benchmarks" / "swapped_kernels.py")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = path_before
    return module.parser()


def test_every_bench_and_example_flag_in_the_readme_exists():
    from xpgrad import bench

    page = section("Benchmarks: the suites, `xpgrad bench` and the asv history")
    swapped = [line for line in page.splitlines() if "benchmarks/swapped_kernels.py " in line]
    text = "\n".join(line for line in page.splitlines() if not line.lstrip().startswith("asv")
                     and "asv run" not in line and line not in swapped)
    for lines, flags_of in ((text, bench._parser()), ("\n".join(swapped), _swapped_parser())):
        named = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", lines)) - {"--python"}
        options = {o for a in flags_of._actions for o in a.option_strings}
        assert named <= options, named - options
    examples = section("Examples") + section("Recurrent networks")
    for script in sorted(set(re.findall(r"examples/(\w+\.py)", examples))):
        text = (ROOT / "examples" / script).read_text()
        for flag in ("--steps", "--threads", "--backend"):
            assert f'"{flag}"' in text, (script, flag)


# -- the first command installs what the main job uses -------------------------------------------
_IMPORTED = """
import sys
from xpgrad.cli import main
d = sys.argv[1]
assert main(["train", "--epochs", "1", "--logdir", d + "/run", "--progress", "always",
             "--checkpoint", d + "/c.npz"]) == 0
print(sorted({m.split(".")[0] for m in list(sys.modules)}))
"""


def test_the_train_extra_holds_everything_xpgrad_train_imports(tmp_path):
    """Every distribution a default `xpgrad train` imports is xpgrad's dependency or its
    [train] extra's, or theirs (read from pyproject.toml and the installed metadata)."""
    tomllib = pytest.importorskip("tomllib")
    requirements = pytest.importorskip("packaging.requirements")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["train"]]
    closure, todo = set(), [requirements.Requirement(r).name for r in wanted]
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in closure:
            continue
        closure.add(name)
        try:
            reqs = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for r in reqs:
            req = requirements.Requirement(r)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    res = subprocess.run([sys.executable, "-c", _IMPORTED, str(tmp_path)], capture_output=True,
                         text=True, timeout=300, env=default_run_environ())
    assert res.returncode == 0, res.stderr[-3000:]
    # less what the interpreter imports before any code runs (site's .pth files, here)
    bare = subprocess.run([sys.executable, "-c", "import sys; print(sorted({m.split('.')[0] "
                           "for m in list(sys.modules)}))"], capture_output=True, text=True,
                          check=True)
    modules = (set(json.loads(res.stdout.strip().splitlines()[-1].replace("'", '"')))
               - set(json.loads(bare.stdout.strip().replace("'", '"'))))
    dists = importlib.metadata.packages_distributions()
    used = {d.lower().replace("_", "-") for m in modules for d in dists.get(m, ())}
    assert "xpgrad" in used or "xpgrad" in modules
    # imported when installed, not needed: numpy.f2py (which array-api-compat's numpy
    # namespace imports through `from numpy import *`) tries charset_normalizer
    optional = {"charset-normalizer"}
    assert used - closure - optional - {"xpgrad"} == set(), (used - closure, sorted(closure))
    for heavy in ("torch", "scikit-learn", "tensorboardx", "protobuf", "scipy", "numba"):
        assert heavy not in used
