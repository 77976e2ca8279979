"""A tanh RNN written as a Python loop over unstack(x, axis=1) (TensorFlow-tutorial style):
gradients for the weights and the input sequence. Tracks the tape's per-op cost and that the
per-step slices' gradients stay linear in the number of steps."""
from ._common import LIBS, build


class RNNLoopGradient:
    params = [LIBS, [100, 1000]]
    param_names = ["lib", "steps"]

    def setup(self, lib, steps):
        self.fn = build("rnn_loop", lib, batch=32, hidden=64, steps=steps, input_size=32)

    def time_gradient(self, lib, steps):
        self.fn()
