"""Optimizer updates on the parameters of a 784-256-10 MLP (about 204k floats)."""
from ._common import LIBS, TIMEOUT, W, build


class OptimizerStep:
    timeout = TIMEOUT
    params = [LIBS, list(W.OPTIMIZERS)]
    param_names = ["lib", "optimizer"]

    def setup(self, lib, optimizer):
        self.fn = build("optimizer", lib, name=optimizer)

    def time_update(self, lib, optimizer):
        self.fn()
