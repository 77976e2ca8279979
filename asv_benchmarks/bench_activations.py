"""Activations, forward and forward+backward (backward with a given output gradient)."""
from ._common import LIBS, TIMEOUT, W, build


class Activations:
    timeout = TIMEOUT
    params = [LIBS, list(W.ACTIVATIONS), ["128x256", "4096x256"],
              ["forward", "forward+backward"]]
    param_names = ["lib", "activation", "shape", "mode"]

    def setup(self, lib, activation, shape, mode):
        self.fn = build("activation", lib, name=activation, shape=W.parse_shape(shape),
                        mode=mode)

    def time_activation(self, lib, activation, shape, mode):
        self.fn()
