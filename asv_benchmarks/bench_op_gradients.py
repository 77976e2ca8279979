"""Single operations forward+backward where the gradient once cost several times the forward
(``xpgrad/bench_workloads/gradients.py``): sort and median along rows, ``x.at[mask].add``,
``embedding_bag`` max and ``multilabel_margin``; ``x[mask]``, ``prod`` along rows, ``repeat``
by counts, a 1-D nearest upsampling, ``remainder`` (its divisor's gradient), ``unstack``
then ``stack`` of 256 rows, ``cumulative_sum`` along either axis, ``x.at[rows].multiply``
 at distinct rows, ``embedding_bag`` mean, the elementwise ``logaddexp``, ``exp2``,
``erfc``, ``log_ndtr``, ``gammainc`` (in x) and ``betaln``; the CTC loss, softmax
cross-entropy over a middle axis, ``cumulative_prod`` along rows, ``tril``, a constant
``pad``, ``take_along_axis``, ``x.at[rows].set`` at distinct rows and ``gather_nd``; ``glu``,
``huber``, ``smooth_l1``, ``layer_norm`` and ``group_norm`` (a probe's activation, loss and
normalization cliffs)."""
from ._common import LIBS, TIMEOUT, W, build


class OpGradients:
    """One operation on its natural float32 input, forward and backward with a fixed output
    gradient."""

    timeout = TIMEOUT
    version = "1"       # the history in asv_results/ is kept under this; bump when the work changes
    params = [LIBS, list(W.GRADIENT_OPS)]
    param_names = ["lib", "op"]

    def setup(self, lib, op):
        self.fn = build("op_gradient", lib, name=op)

    def time_op_gradient(self, lib, op):
        self.fn()
