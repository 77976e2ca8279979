"""Per-example gradients of an MLP's softmax cross-entropy by vmap of grad
(``xg.vmap(xg.grad(loss))``; ``torch.func.vmap(torch.func.grad(loss))``): the small MLP shows
the batching's cost per operation, the large one the per-example weight gradients' memory."""
from ._common import LIBS, TIMEOUT, build


class PerExampleGrads:
    timeout = TIMEOUT
    version = "1"       # the history in asv_results/ is kept under this; bump when the work changes
    params = [LIBS, [64, 256], ["20-64-10", "784-256-10"]]
    param_names = ["lib", "batch", "sizes"]

    def setup(self, lib, batch, sizes):
        self.fn = build("per_example_grads", lib, batch=batch,
                        sizes=tuple(int(n) for n in sizes.split("-")))

    def time_per_example_grads(self, lib, batch, sizes):
        self.fn()
