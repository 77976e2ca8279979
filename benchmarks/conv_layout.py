"""Channels-last against channels-first: a small CNN step (N x 28 x 28 x 1 -> conv 3x3 32 ->
relu -> max_pool 2 -> conv 3x3 64, the sum's gradient for both kernels and biases), forward +
backward, one thread, on xpgrad's numpy and numba backends and PyTorch's CPU (NCHW, and its
``channels_last`` memory format).

    python benchmarks/conv_layout.py [--repeats 9] [--rounds 3] [--scale 1.0] [--dtype float32]

xpgrad's variants: ``first`` (NCHW input, OIHW kernels), ``last`` (``data_format=
"channels_last"``: NHWC input, HWIO kernels, the conv primitive's channels-last path), and
``last via transposes`` (the same NHWC operands permuted to channels-first around
channels-first calls, with the gradient flowing through the permutes: the alternative to the
native path). Interleaved rounds, each the median of ``--repeats`` steps in CPU time (the
process's: steadier than wall time on a shared machine), best round shown; every variant is
first checked to give PyTorch's loss.
"""
from __future__ import annotations


from interleaved import arguments, median_ms, one_thread

if __name__ == "__main__":      # not on import: a test process has its own thread settings
    one_thread()

import numpy as np  # noqa: E402

import xpgrad as xg  # noqa: E402


def operands(n, dtype, seed=0):
    """NHWC input and HWIO kernels and biases as NumPy arrays."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 28, 28, 1)).astype(dtype)
    w1 = (rng.normal(size=(3, 3, 1, 32)) / 3).astype(dtype)
    w2 = (rng.normal(size=(3, 3, 32, 64)) / 17).astype(dtype)
    return x, w1, rng.normal(size=32).astype(dtype), w2, rng.normal(size=64).astype(dtype)


def xpgrad_step(backend, variant, arrays):
    """A step function returning the loss, for ``variant`` ``first``, ``last`` or
    ``transposed``."""
    x, w1, b1, w2, b2 = arrays
    if variant == "first":
        x, w1, w2 = x.transpose(0, 3, 1, 2), w1.transpose(3, 2, 0, 1), w2.transpose(3, 2, 0, 1)
    x = xg.asarray(np.ascontiguousarray(x), backend=backend)
    params = [xg.Variable(xg.asarray(np.ascontiguousarray(a), backend=backend))
              for a in (w1, b1, w2, b2)]
    nn = xg.nn

    def forward(v1, c1, v2, c2):
        if variant == "last":
            h = nn.max_pool2d(xg.relu(nn.conv2d(x, v1, c1, data_format="NHWC")), 2,
                              data_format="NHWC")
            return nn.conv2d(h, v2, c2, data_format="NHWC")
        if variant == "first":
            h = nn.max_pool2d(xg.relu(nn.conv2d(x, v1, c1)), 2)
            return nn.conv2d(h, v2, c2)
        first = xg.permute_dims
        h = nn.conv2d(first(x, (0, 3, 1, 2)), first(v1, (3, 2, 0, 1)), c1)
        h = nn.max_pool2d(xg.relu(h), 2)
        return first(nn.conv2d(h, first(v2, (3, 2, 0, 1)), c2), (0, 2, 3, 1))

    def step():
        with xg.GradientTape() as tape:
            loss = xg.sum(forward(*params))
        tape.gradient(loss, params)
        return float(loss)
    return step


def torch_step(memory_format, arrays):
    """PyTorch's step, NCHW tensors in ``memory_format``."""
    import torch

    x, w1, b1, w2, b2 = arrays
    x = torch.tensor(x).permute(0, 3, 1, 2).contiguous(memory_format=memory_format)
    ws = [torch.tensor(w).permute(3, 2, 0, 1).contiguous(memory_format=memory_format)
          .requires_grad_() for w in (w1, w2)]
    bs = [torch.tensor(b).requires_grad_() for b in (b1, b2)]
    F = torch.nn.functional

    def step():
        h = F.max_pool2d(torch.relu(F.conv2d(x, ws[0], bs[0])), 2)
        loss = F.conv2d(h, ws[1], bs[1]).sum()
        loss.backward()
        return float(loss)
    return step


def main(argv=None):
    args = arguments(__doc__, argv)
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        arrays = operands(max(1, round(32 * args.scale)), args.dtype)
        steps = {"torch NCHW": torch_step(torch.contiguous_format, arrays),
                 "torch channels_last": torch_step(torch.channels_last, arrays)}
        for backend in ("numpy", "numba"):
            if xg.available_backends()[backend]["available"]:
                for variant in ("first", "last", "transposed"):
                    steps[f"{backend} {variant}"] = xpgrad_step(backend, variant, arrays)
        reference = steps["torch NCHW"]()
        tol = 1e-3 if args.dtype == "float32" else 1e-9
        for name, step in steps.items():
            step()                                       # warm-up (Numba compiles here)
            loss = step()
            assert abs(loss - reference) <= tol * max(1.0, abs(reference)), (name, loss)
        best = {name: float("inf") for name in steps}
        for _ in range(args.rounds):
            for name, step in steps.items():
                best[name] = min(best[name],
                                 median_ms(step, args.repeats))
        for name, ms in best.items():
            print(f"{name:22s} {ms:8.2f} ms  {ms / best['torch NCHW']:5.2f}x torch NCHW")
        return best
    finally:
        torch.set_num_threads(previous)


if __name__ == "__main__":
    main()
