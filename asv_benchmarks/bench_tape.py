"""Tape overhead: chains of small elementwise ops on a tiny vector, forward and gradient."""
from ._common import LIBS, TIMEOUT, build


class TapeOverhead:
    """``n_ops`` chained elementwise ops on a 4-element float32 vector, then a sum.

    "forward" runs untaped (dispatch cost); "forward+gradient" records on a tape and
    differentiates (the recording and backward-pass cost on top).
    """

    timeout = TIMEOUT
    params = [LIBS, [100, 1000], ["forward+gradient", "forward"]]
    param_names = ["lib", "n_ops", "mode"]

    def setup(self, lib, n_ops, mode):
        self.fn = build("chain", lib, n_ops=n_ops, size=4, mode=mode)

    def time_chain(self, lib, n_ops, mode):
        self.fn()
