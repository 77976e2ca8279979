"""Tape overhead: chains of small elementwise ops on a tiny vector, forward and gradient."""
from ._common import LIBS, TIMEOUT, build


class TapeOverhead:
    """``n_ops`` chained elementwise ops on a 4-element float32 vector, then a sum.

    "forward" runs untaped (dispatch cost); "forward+gradient" records on a tape and
    differentiates (the recording and backward-pass cost on top).
    """

    timeout = TIMEOUT
    version = "1"       # the history in asv_results/ is kept under this; bump when the work changes
    params = [LIBS, [100, 1000], ["forward+gradient", "forward"]]
    param_names = ["lib", "n_ops", "mode"]

    def setup(self, lib, n_ops, mode):
        self.fn = build("chain", lib, n_ops=n_ops, size=4, mode=mode)

    def time_chain(self, lib, n_ops, mode):
        self.fn()


class LongTape:
    """The same chain at 10k and 100k ops, taped and differentiated: whether the cost per op
    stays flat as the tape grows (the cyclic garbage collector walking a long tape does not).
    ``peakmem_`` is the process's peak with the whole tape alive."""

    timeout = TIMEOUT
    version = "1"
    params = [LIBS, [10_000, 100_000]]
    param_names = ["lib", "n_ops"]

    def setup(self, lib, n_ops):
        self.fn = build("chain", lib, n_ops=n_ops, size=4, mode="forward+gradient")

    def time_chain(self, lib, n_ops):
        self.fn()

    def peakmem_chain(self, lib, n_ops):
        self.fn()
