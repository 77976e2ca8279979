"""A Variable's gradient hook under DistributedGradientTape with overlapped buckets (run by
tests/mpi_shared_job.py's job on 2 ranks, or alone under mpiexec): the hooked gradient is the
one reduced. Prints ``rank R ok: hooks``."""
import numpy as np

import xpgrad as xg
import xpgrad.distributed as dist


def grads(ws, x, hooked):
    """The reduced gradients, w3 (whose bucket the walk finishes first) hooked or not."""
    handles = [ws[3].register_hook(lambda g: g * 2)] if hooked else []
    with xg.GradientTape() as tape:
        h = x
        for w in ws:
            h = xg.tanh(h @ w)
        loss = xg.sum(h)
    out = dist.DistributedGradientTape(tape, bucket_bytes=64 * 64 * 8).gradient(loss, ws)
    for handle in handles:
        handle.remove()
    return [g.numpy() for g in out]


def main():
    dist.init()
    rank = dist.rank()
    rng = np.random.default_rng(0)
    ws = [xg.Variable(rng.normal(size=(64, 64)), name=f"w{i}") for i in range(4)]
    x = xg.asarray(rng.normal(size=(8, 64)) * (rank + 1))
    plain, hooked = grads(ws, x, False), grads(ws, x, True)
    assert np.allclose(hooked[3], 2 * plain[3]), "w3 not hooked"
    assert all(np.allclose(a, b) for a, b in zip(hooked[:3], plain[:3]))
    print(f"rank {rank} ok: hooks", flush=True)


if __name__ == "__main__":
    main()
