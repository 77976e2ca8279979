"""The fused losses, forward and forward+backward, with peak-memory twins."""
from ._common import LIBS, TIMEOUT, W, build


class Losses:
    """Mean-reduced loss on (batch x classes) float32 logits.

    ``mode`` is a parameter (not two methods) so that ``setup`` builds only the work that is
    measured: ``peakmem_`` reports the process's peak, setup included.
    """

    timeout = TIMEOUT
    version = "1"       # the history in asv_results/ is kept under this; bump when the work changes
    params = [LIBS, list(W.LOSSES), ["128x10", "4096x1000"], ["forward", "forward+backward"]]
    param_names = ["lib", "loss", "shape", "mode"]

    def setup(self, lib, loss, shape, mode):
        self.fn = build("loss", lib, name=loss, shape=W.parse_shape(shape), mode=mode)

    def time_loss(self, lib, loss, shape, mode):
        self.fn()

    def peakmem_loss(self, lib, loss, shape, mode):
        self.fn()
