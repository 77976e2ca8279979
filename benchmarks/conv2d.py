"""Conv2d and 2-d pooling, forward + every gradient, one thread: xpgrad (numpy and numba
backends, eager) against PyTorch's CPU ``F.conv2d`` / ``F.max_pool2d`` / ``F.avg_pool2d``.

    python benchmarks/conv2d.py [--repeats 9] [--rounds 3] [--scale 1.0] [--dtype float32]

One thread everywhere (BLAS, Numba and PyTorch; run as a script, the environment variables are
set before NumPy is imported unless given). Runs are interleaved in one process (xpgrad numpy,
numba, torch, then again), each the median of ``--repeats`` calls; prints ms and the ratios to
PyTorch. The last row is a whole forward + backward of PyTorch's examples/mnist ``Net`` (the
layers of ``examples/mnist_cnn.py`` at 28x28, dropout off), the same weights in both.
``--scale`` multiplies the batch size (0.1 for a quick check). Every variant is first checked
to give PyTorch's output.
"""
from __future__ import annotations

from pathlib import Path

from interleaved import one_thread, run  # noqa: E402

if __name__ == "__main__":      # not on import: a test process has its own thread settings
    one_thread()

import numpy as np  # noqa: E402

import xpgrad as xg  # noqa: E402
from window_steps import arrays, steps  # noqa: E402

#: name, (N, C_in, H, W), the call's keyword arguments (MNIST's: examples/mnist's Net)
WORKLOADS = [
    ("conv k3 1->32 MNIST", (64, 1, 28, 28), {"conv": (32, 3)}),
    ("conv k3 32->64 MNIST", (16, 32, 26, 26), {"conv": (64, 3)}),
    ("conv k3 p1 64->64", (16, 64, 32, 32), {"conv": (64, 3), "padding": 1}),
    ("conv k3 s2 p1 64->128", (16, 64, 32, 32), {"conv": (128, 3), "stride": 2,
                                                  "padding": 1}),
    ("conv k7 s2 p3 3->64", (8, 3, 112, 112), {"conv": (64, 7), "stride": 2, "padding": 3}),
    ("conv depthwise k3", (16, 64, 32, 32), {"conv": (64, 3), "groups": 64, "padding": 1}),
    ("max_pool k2 MNIST", (64, 64, 24, 24), {"pool": "max", "kernel_size": 2}),
    ("max_pool k3 s2 p1", (16, 64, 56, 56), {"pool": "max", "kernel_size": 3, "stride": 2,
                                             "padding": 1}),
    ("avg_pool k2", (16, 64, 56, 56), {"pool": "avg", "kernel_size": 2}),
    ("MNIST Net fwd+bwd", (64, 1, 28, 28), {"net": True}),
]


def _mnist_net(backend, dtype):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    try:
        from mnist_cnn import Net
    finally:
        sys.path.pop(0)
    net = Net(28, rng=0, backend=backend, dtype=str(dtype))
    net.eval()
    return net


def _xpgrad_net_step(backend, x):
    net = _mnist_net(backend, x.dtype)
    net.load_torch_state_dict(_torch_net(x.dtype).state_dict())
    xt = xg.asarray(x, backend=backend)
    labels = xg.asarray(np.arange(len(x)) % 10, backend=backend)

    def step():
        with xg.GradientTape() as tape:
            out = net(xt)
            loss = xg.losses.nll(out, labels)
        tape.gradient(loss, net.trainable_variables)
        return out.numpy()
    return step


def _torch_net(dtype):
    import torch

    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):                  # examples/mnist's, dropout off
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, 1), nn.Conv2d(32, 64, 3, 1)
            self.fc1, self.fc2 = nn.Linear(9216, 128), nn.Linear(128, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
            return F.log_softmax(self.fc2(F.relu(self.fc1(torch.flatten(x, 1)))), dim=1)

    torch.manual_seed(0)
    return Net().to(getattr(torch, str(dtype)))


def _torch_net_step(x):
    import torch

    net = _torch_net(x.dtype)
    xt, labels = torch.tensor(x), torch.tensor(np.arange(len(x)) % 10)

    def step():
        out = net(xt)
        torch.autograd.grad(torch.nn.functional.nll_loss(out, labels), list(net.parameters()))
        return out.detach().numpy()
    return step


def _steps(args, backends, workload):
    name, shape, kwargs = workload
    if "net" not in kwargs:
        return steps(args, backends, workload)
    x = arrays(shape, kwargs, args.dtype, args.scale)[0]
    return name, dict({be: _xpgrad_net_step(be, x) for be in backends},
                      torch=_torch_net_step(x))


def main(argv=None):
    return run(__doc__, argv, WORKLOADS, _steps, tol32=1e-3)


if __name__ == "__main__":
    main()
