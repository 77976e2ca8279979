"""One training step of a one-layer LSTM (batch 64, 50 steps, 64 inputs, 128 hidden): forward
over the sequence, MSE, backpropagation through time, SGD."""
from ._common import LIBS, TIMEOUT, build


class LSTMTrainStep:
    timeout = TIMEOUT
    version = "1"       # the history in asv_results/ is kept under this; bump when the work changes
    params = [LIBS, [64]]
    param_names = ["lib", "batch"]

    def setup(self, lib, batch):
        self.fn = build("lstm_step", lib, batch=batch, hidden=128, steps=50, input_size=64)

    def time_train_step(self, lib, batch):
        self.fn()

    def peakmem_train_step(self, lib, batch):
        self.fn()
