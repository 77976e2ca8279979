"""Steps replayed by ``xg.function`` (traced once in setup): the MLP step, the 100-op chain, the
LSTM step and the char-LM step. Peers run as in the eager suites (PyTorch eager; on CUDA,
PyTorch's MLP step captured in a CUDA graph); commits without ``xg.function`` skip."""
from ._common import LIBS, TIMEOUT, build


class CompiledMLPTrainStep:
    timeout = TIMEOUT
    params = [LIBS, [32, 128]]
    param_names = ["lib", "batch"]

    def setup(self, lib, batch):
        self.fn = build("mlp_step", lib, batch=batch, compiled=True)

    def time_train_step(self, lib, batch):
        self.fn()


class CompiledMLPPeakMemory:
    """A replayed step's peak memory next to the eager suite's (``MLPTrainStep``): a replay
    lets each value go after its last use, as the eager tape does."""
    timeout = TIMEOUT
    params = [LIBS, [4096]]
    param_names = ["lib", "batch"]

    def setup(self, lib, batch):
        self.fn = build("mlp_step", lib, batch=batch, compiled=True)

    def peakmem_train_step(self, lib, batch):
        self.fn()


class CompiledChain:
    timeout = TIMEOUT
    params = [LIBS, [100]]
    param_names = ["lib", "n_ops"]

    def setup(self, lib, n_ops):
        self.fn = build("chain", lib, n_ops=n_ops, size=4, mode="forward+gradient",
                        compiled=True)

    def time_chain(self, lib, n_ops):
        self.fn()


class CompiledLSTMTrainStep:
    timeout = TIMEOUT
    params = [LIBS, [10, 50]]
    param_names = ["lib", "steps"]

    def setup(self, lib, steps):
        self.fn = build("lstm_step", lib, batch=64, hidden=128, steps=steps, input_size=64,
                        compiled=True)

    def time_train_step(self, lib, steps):
        self.fn()


class CompiledCharLMTrainStep:
    timeout = TIMEOUT
    params = [LIBS, [32]]
    param_names = ["lib", "batch"]

    def setup(self, lib, batch):
        self.fn = build("char_lm_step", lib, batch=batch, steps=50, vocab=65, hidden=128,
                        compiled=True)

    def time_train_step(self, lib, batch):
        self.fn()
