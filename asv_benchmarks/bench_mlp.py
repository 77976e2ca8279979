"""One training step of a 784-256-10 ReLU MLP: forward, softmax cross-entropy, backward, SGD."""
from ._common import LIBS, TIMEOUT, build


class MLPTrainStep:
    timeout = TIMEOUT
    version = "1"       # the history in asv_results/ is kept under this; bump when the work changes
    params = [LIBS, [32, 128, 4096]]
    param_names = ["lib", "batch"]

    def setup(self, lib, batch):
        self.fn = build("mlp_step", lib, batch=batch)

    def time_train_step(self, lib, batch):
        self.fn()

    def peakmem_train_step(self, lib, batch):
        self.fn()
