"""One training step of the character-level language model (examples/char_lm.py's model):
one-hot characters -> LSTM(65 -> 128) -> linear head, softmax cross-entropy at every position
of a 50-character window, backpropagation through the window, SGD."""
from ._common import LIBS, TIMEOUT, build


class CharLMTrainStep:
    timeout = TIMEOUT
    version = "1"       # the history in asv_results/ is kept under this; bump when the work changes
    params = [LIBS, [32]]
    param_names = ["lib", "batch"]

    def setup(self, lib, batch):
        self.fn = build("char_lm_step", lib, batch=batch, steps=50, vocab=65, hidden=128)

    def time_train_step(self, lib, batch):
        self.fn()

    def peakmem_train_step(self, lib, batch):
        self.fn()
