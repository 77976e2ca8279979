"""The floor under the training-step suites: each step's matrix products alone, as
``benchmarks/gemm_floor.py`` counts them (float32, into preallocated outputs, at the same
thread count as the other suites), with NumPy's ``matmul`` (lib ``xpgrad-numpy``) and with
PyTorch's (``torch-cpu``); the other libs skip. A step cannot take less than the lower of the
two, so on the dashboard the distance from a step's line down to it is all that is left to
remove, and PyTorch's step time over it is the best ratio any library can reach here."""
import importlib.util
from pathlib import Path

from ._common import LIBS, THREADS, TIMEOUT, W

_SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gemm_floor.py"


def _floor_module():
    spec = importlib.util.spec_from_file_location("_gemm_floor", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _matmul(lib):
    if lib == "xpgrad-numpy":
        import numpy as np

        return np.matmul
    if lib == "torch-cpu":
        import torch

        return lambda a, b, out: torch.matmul(torch.from_numpy(a), torch.from_numpy(b),
                                              out=torch.from_numpy(out))
    raise NotImplementedError("the products are timed with NumPy's and PyTorch's CPU matmul")


class TrainStepProducts:
    timeout = TIMEOUT
    version = "1"       # the history in asv_results/ is kept under this; bump when the work changes
    params = [LIBS, ["mlp_step batch 32", "mlp_step batch 128", "mlp_step batch 4096",
                     "lstm_step batch 64", "char_lm_step batch 32"]]
    param_names = ["lib", "step"]

    def setup(self, lib, step):
        matmul = _matmul(lib)
        W.limit_threads(THREADS, torch=lib.startswith("torch"))
        floor = _floor_module()
        name, batch = step.split(" batch ")
        shapes = {"mlp_step": floor.mlp_products, "lstm_step": floor.lstm_products,
                  "char_lm_step": floor.char_lm_products}[name](int(batch))
        self.fn = floor.products_call(shapes, matmul)
        self.fn()

    def time_products(self, lib, step):
        self.fn()
