"""The CUDA sources compile, without a GPU: every instantiation the backend uses, with nvcc
(PTX for sm_90 and a cubin for the oldest architecture CUDA 13 supports, warnings as errors)
and with NVRTC (the compiler CuPy uses at run time, with the backend's exact options and name
expressions). Plus the pure-Python launch plans and the limits shared with the .cu files."""
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from xpgrad.backends.cupy import _sources as S
from xpgrad.backends.cupy._launch import ce_plan, elementwise_grid, smem_budget

NVCC = shutil.which("nvcc")
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc is not installed (CUDA toolkit)")


def _wrapper(module):
    """A .cu that includes ``module`` and takes the address of each instantiation (which makes
    nvcc emit it)."""
    refs = ", ".join(f"(void*)&{name}" for name in S.MODULES[module])
    return (f'#include "{S.path(module)}"\n'
            "extern void* const xpgrad_instantiate[];\n"
            f"void* const xpgrad_instantiate[] = {{{refs}}};\n")


JOBS = [(module, mode, arch) for module in sorted(S.MODULES)
        for mode, arch in (("ptx", "sm_90"), ("cubin", "sm_75"))]


def _nvcc(tmp_path, module, mode, arch):
    src = tmp_path / f"{module}_{mode}.cu"
    src.write_text(_wrapper(module))
    out = tmp_path / f"{module}.{mode}"
    cmd = [NVCC, f"--{mode}", f"-arch={arch}", *S.OPTIONS, "--Werror", "all-warnings",
           "-o", str(out), str(src)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    return " ".join(cmd), res, out


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """Every (module, mode, arch) job, compiled two at a time."""
    tmp = tmp_path_factory.mktemp("nvcc")
    with ThreadPoolExecutor(2) as pool:
        return dict(zip(JOBS, pool.map(lambda job: _nvcc(tmp, *job), JOBS)))


@needs_nvcc
@pytest.mark.parametrize("module,mode,arch", JOBS)
def test_nvcc_compiles_without_warnings(compiled, module, mode, arch):
    """--ptx for sm_90 as the backend's kernels; --cubin for sm_75 (Turing, CUDA 13's oldest
    target) also runs ptxas: register and shared-memory limits."""
    cmd, res, out = compiled[module, mode, arch]
    assert res.returncode == 0 and not res.stderr.strip(), f"{cmd}\n{res.stdout}\n{res.stderr}"
    if mode == "ptx":
        entries = re.findall(r"^\.visible \.entry ", out.read_text(), re.M)
        assert len(entries) == len(S.MODULES[module])
    else:
        assert out.stat().st_size > 0


def test_nvrtc_compiles_every_name_expression():
    nvrtc = pytest.importorskip("cupy_backends.cuda.libs.nvrtc",
                                reason="CuPy is not installed (NVRTC bindings)")
    try:
        nvrtc.getVersion()
    except Exception as e:   # no libnvrtc: CuPy without its CUDA runtime libraries
        pytest.skip(f"NVRTC library not loadable: {e}")
    for module, names in S.MODULES.items():
        prog = nvrtc.createProgram(S.source(module), f"{module}.cu", [], [])
        for name in names:
            nvrtc.addNameExpression(prog, name)
        try:
            nvrtc.compileProgram(prog, [*S.OPTIONS, "-arch=compute_90"])
        except Exception as e:
            pytest.fail(f"{module}.cu: {e}\n{nvrtc.getProgramLog(prog)}")
        assert nvrtc.getProgramLog(prog).strip() in ("", "\x00")
        lowered = {nvrtc.getLoweredName(prog, name) for name in names}
        assert len(lowered) == len(names)


def test_sources_inline_the_header_and_nothing_else():
    for module in S.MODULES:
        text = S.source(module)
        assert not re.search(r"^\s*#include", text, re.M) and "XPGRAD_COMMON_CUH" in text
        assert not re.search(r"__(exp|log|sin|cos|tan|pow|fdivide)f\(", text)   # fast intrinsics


def test_launch_limits_match_the_sources():
    bounds = {"softmax_ce": ("XPG_CE_MAX_THREADS", S.CE_MAX_THREADS),
              "pointwise_loss": ("XPG_POINTWISE_THREADS", S.POINTWISE_THREADS),
              "activations": ("XPG_ACTIVATION_THREADS", S.ACTIVATION_THREADS),
              "optim": ("XPG_OPTIM_THREADS", S.OPTIM_THREADS)}
    assert set(bounds) == set(S.MODULES)
    for module, (macro, value) in bounds.items():
        text = S.path(module).read_text()
        assert re.search(rf"#define {macro} (\d+)", text).group(1) == str(value), module
        assert text.count(f"__launch_bounds__({macro})") == text.count("__global__"), module


def test_optimizer_flags_match_the_source():
    from xpgrad.backends.cupy import optim

    text = S.path("optim").read_text()
    for flag in ("HAS_S1", "HAS_S2", "HAS_S3", "NESTEROV", "WEIGHT_DECAY", "DECOUPLED",
                 "RECTIFIED"):
        assert re.search(rf"#define XPG_{flag} (\d+)", text).group(1) == str(getattr(optim, flag))


@pytest.mark.parametrize("c,itemsize,probs,threads,smem,n_cached", [
    (1, 4, False, 32, 4, 1),
    (2, 4, False, 32, 8, 2),
    (1000, 4, False, 128, 4000, 1000),
    (32000, 4, False, 1024, 115184, 28796),      # 8192 x 32000 on an H100: 90% of each row
    (32000, 4, True, 1024, 115168, 14396),
    (20000, 8, False, 1024, 115184, 14398),
    (100_000, 4, False, 1024, 115184, 28796),
])
def test_ce_plan(c, itemsize, probs, threads, smem, n_cached):
    budget = smem_budget(227 * 1024, 228 * 1024, 1024, 528, 2)
    assert budget == 115184
    assert ce_plan(c, itemsize, probs, budget) == (threads, smem, n_cached)
    assert ce_plan(c, itemsize, probs, budget, cache_rows=False) == (threads, 0, 0)
    assert n_cached % (16 // itemsize) == 0 or n_cached == c


def test_smem_budget_one_block_per_sm_is_the_opt_in_limit():
    assert smem_budget(227 * 1024, 228 * 1024, 1024, 528, 1) == 227 * 1024 - 528
    assert smem_budget(48 * 1024, 64 * 1024, 0, 0, 4) == 16 * 1024


def test_elementwise_grid_covers_and_caps():
    assert elementwise_grid(1, 4, 256, 132) == 1
    assert elementwise_grid(4 * 256 * 3, 4, 256, 132) == 3
    assert elementwise_grid(4 * 256 * 3 + 1, 4, 256, 132) == 4
    assert elementwise_grid(100_000_000, 4, 256, 132) == 132 * 8
    assert elementwise_grid(2 * 256 * 5, 8, 256, 2) == 5
