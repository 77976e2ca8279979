"""PyTorch on one thread in every process that runs the tests.

PyTorch's CPU operations run on an OpenMP pool of one thread per core, whose threads spin
while they wait for work, and some of them (convolutions, their backward) split even tiny
tensors across it. The suite's xdist workers already fill the cores (``-n auto``: one per
core), so every such call woke a pool that competed with the other workers: in
test_conv_transpose.py's grids (tensors of a few dozen numbers) PyTorch's two threads cost
14-23 s of CPU where one costs 5 s. Only the thread count changes, and the tests compare with
PyTorch's values to tolerances (its float64 sums are split differently across threads, well
inside them). Tests that set the count themselves (``one_thread``, ``thread_counts_kept``,
``xpgrad bench``) give this one back; processes that tests start keep PyTorch's default.
"""
import importlib.util


def one_torch_thread():
    """Set PyTorch's thread count to 1 where PyTorch is installed; whether it is.

    >>> one_torch_thread() == (importlib.util.find_spec("torch") is not None)
    True
    """
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    torch.set_num_threads(1)
    return True
