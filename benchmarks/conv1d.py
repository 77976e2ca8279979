"""Conv1d and 1-d pooling, forward + every gradient, one thread: xpgrad (numpy and numba
backends, eager) against PyTorch's CPU ``F.conv1d`` / ``F.max_pool1d`` / ``F.avg_pool1d``.

    python benchmarks/conv1d.py [--repeats 9] [--rounds 3] [--scale 1.0] [--dtype float32]

One thread everywhere (BLAS, Numba and PyTorch; run as a script, the environment variables are
set before NumPy is imported unless given). Runs are interleaved in one process (xpgrad numpy, numba, torch,
then again), each the median of ``--repeats`` calls; prints ms and the ratios to PyTorch.
``--scale`` multiplies the batch size (0.1 for a quick check). Every variant is first checked
to give PyTorch's output.
"""
from __future__ import annotations

from interleaved import one_thread, run  # noqa: E402

if __name__ == "__main__":      # not on import: a test process has its own thread settings
    one_thread()

from window_steps import steps  # noqa: E402

#: name, (N, C_in, L), the call's keyword arguments
WORKLOADS = [
    ("conv k3 64->64", (32, 64, 128), {"conv": (64, 3), "padding": 1}),
    ("conv k5 40->128", (16, 40, 200), {"conv": (128, 5), "padding": 2}),
    ("conv k11 s2 16->32", (8, 16, 1000), {"conv": (32, 11), "stride": 2, "padding": 5}),
    ("conv depthwise k5", (16, 64, 256), {"conv": (64, 5), "groups": 64, "padding": 2}),
    ("conv k3 d2 g4", (16, 64, 256), {"conv": (64, 3), "groups": 4, "dilation": 2}),
    ("max_pool k3 s2 p1", (32, 64, 256), {"pool": "max", "kernel_size": 3, "stride": 2,
                                          "padding": 1}),
    ("avg_pool k4", (32, 64, 256), {"pool": "avg", "kernel_size": 4}),
]


def main(argv=None):
    return run(__doc__, argv, WORKLOADS, steps, tol32=1e-3)


if __name__ == "__main__":
    main()
