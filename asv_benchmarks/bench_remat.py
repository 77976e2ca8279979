"""The gradient of a 16-layer ReLU MLP of width 256, its layers in 4 checkpointed segments
(``xg.recompute_grad``; PyTorch's ``checkpoint``) or plain: the time the recomputation costs,
the peak memory it saves (``peakmem_``: the process's peak, setup included)."""
from ._common import LIBS, TIMEOUT, build


class RematStep:
    timeout = TIMEOUT
    version = "1"       # the history in asv_results/ is kept under this; bump when the work changes
    params = [LIBS, [1024, 8192], [False, True]]
    param_names = ["lib", "batch", "checkpoint"]

    def setup(self, lib, batch, checkpoint):
        self.fn = build("remat_step", lib, batch=batch, checkpoint=checkpoint)

    def time_gradient(self, lib, batch, checkpoint):
        self.fn()

    def peakmem_gradient(self, lib, batch, checkpoint):
        self.fn()
