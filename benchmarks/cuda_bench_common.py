"""What the CUDA benchmarks (benchmarks/cuda_kernels.py) share: the bytes each workload must
move, the timing loop, the report's rows, table and JSON, and the PyTorch peer.

>>> size_label(3 << 20), ce_bytes(1, 1)
('3Mi', 20)
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


# -- what each workload must move ---------------------------------------------------------------
def ce_bytes(n, c, itemsize=4, label_size=8):
    """Read logits and labels, write the gradient and the n row losses.

    >>> ce_bytes(2, 3)         # 2*3 logits read + 2*3 gradients written + labels + row losses
    72
    """
    return n * c * itemsize * 2 + n * label_size + n * itemsize


def mse_bytes(n, itemsize=4):
    """Read logits and targets, write the gradient (the scalar loss is negligible).

    >>> mse_bytes(10)
    120
    """
    return 3 * n * itemsize


def activation_bytes(n, itemsize=4):
    """Forward reads x and writes y; backward reads the output gradient and one saved array
    (y, or x for relu) and writes the input gradient: five arrays.

    >>> activation_bytes(10)
    200
    """
    return 5 * n * itemsize


def optimizer_bytes(rule, n, itemsize=4):
    """In-place update: read param, grad and each state, write param and each state (SGD with
    momentum: one state; Adam: two).

    >>> optimizer_bytes("sgd_momentum", 10), optimizer_bytes("adam", 10)
    (200, 280)
    """
    states = {"sgd": 0, "sgd_momentum": 1, "adam": 2}[rule]
    return (2 + states) * n * itemsize + (1 + states) * n * itemsize


# -- timing and reporting -----------------------------------------------------------------------
def timed(fn, sync, reps, batches=3):
    """Best over ``batches`` of the mean time of ``reps`` calls (after one warm-up call).

    >>> timed(lambda: None, lambda: None, reps=2) >= 0
    True
    """
    fn()
    sync()
    best = float("inf")
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        sync()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best


def result(name, lib, seconds, nbytes=None, copy_bw=None, note=""):
    """One row of the report; GB/s and the fraction of copy bandwidth when bytes are known.

    >>> result("w", "lib", 0.5, 10**9, copy_bw=4e9)["of_copy"]
    0.5
    """
    r = {"workload": name, "lib": lib, "ms": None if seconds is None else seconds * 1e3,
         "bytes": nbytes, "GB/s": None, "of_copy": None, "note": note}
    if seconds and nbytes:
        r["GB/s"] = nbytes / seconds / 1e9
        if copy_bw:
            r["of_copy"] = nbytes / seconds / copy_bw
    return r


def format_report(device, copy_bw, rows, ratios):
    """The table printed at the end (and after ``--dry-run``).

    >>> print(format_report("none", None, [], {}).splitlines()[1])
    copy bandwidth: n/a
    """
    out = [f"device: {device}",
           f"copy bandwidth: {copy_bw / 1e9:.1f} GB/s" if copy_bw else "copy bandwidth: n/a", "",
           f"{'workload':<36}{'lib':<22}{'MB':>9}{'ms':>10}{'GB/s':>9}{'of copy':>9}  note"]
    for r in rows:
        ms = f"{r['ms']:.3f}" if r["ms"] is not None else "n/a"
        gbs = f"{r['GB/s']:.1f}" if r["GB/s"] is not None else ""
        frac = f"{r['of_copy']:.0%}" if r["of_copy"] is not None else ""
        mb = f"{r['bytes'] / 1e6:.0f}" if r["bytes"] else ""
        out.append(f"{r['workload']:<36}{r['lib']:<22}{mb:>9}{ms:>10}{gbs:>9}{frac:>9}  "
                   f"{r['note']}")
    if ratios:
        out += ["", "PyTorch time / xpgrad time (> 1: xpgrad faster):"]
        out += [f"  {k}: {v:.2f}x" for k, v in ratios.items()]
    return "\n".join(out)


@dataclass
class Peer:
    """PyTorch on one device: the module, the device name and its synchronize."""

    torch: object
    device: str = "cuda"
    sync: Callable = None

    def __post_init__(self):
        if self.sync is None:
            self.sync = self.torch.cuda.synchronize if self.device == "cuda" else no_sync

    def put(self, a, grad=False):
        """NumPy array ``a`` on the device (a leaf requiring grad when ``grad``)."""
        return self.torch.from_numpy(np.ascontiguousarray(a)).to(self.device).requires_grad_(grad)

    def free(self):
        if self.device == "cuda":
            self.torch.cuda.empty_cache()


@dataclass
class Ctx:
    """What every section needs: xpgrad, the cupy backend, CuPy (or a stand-in), the peer."""

    xg: object
    be: object
    cupy: object
    peer: Peer | None
    reps: int
    copy_bw: float | None

    def free(self):
        pool = getattr(self.cupy, "get_default_memory_pool", None)
        if pool is not None:
            pool().free_all_blocks()
        if self.peer is not None:
            self.peer.free()


@dataclass
class Report:
    """Rows, ratios (PyTorch time / xpgrad time), the headline numbers and each section's error."""

    device: str | None = None
    copy_bw: float | None = None
    rows: list = field(default_factory=list)
    ratios: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    sections_done: list = field(default_factory=list)

    def as_json(self):
        return {"device": self.device,
                "copy_GB/s": None if self.copy_bw is None else self.copy_bw / 1e9,
                "rows": self.rows, "ratios": self.ratios, "summary": self.summary,
                "errors": self.errors, "sections_done": self.sections_done}

    def save(self, path):
        if path:
            with open(path, "w") as f:
                json.dump(self.as_json(), f, indent=2)


def no_sync():
    """The synchronize of a device that needs none (the CPU)."""


def size_label(n):
    """A compact element count: binary millions when exact, else the number.

    >>> size_label(1 << 26), size_label(1000)
    ('64Mi', '1000')
    """
    return f"{n >> 20}Mi" if n >= 1 << 20 and n % (1 << 20) == 0 else str(n)


def kernel_for(be, name):
    """The backend's kernel for the primitive called ``name``, whether the backend's ``kernels``
    mapping is keyed by names or by Primitive objects.

    >>> from types import SimpleNamespace
    >>> kernel_for(SimpleNamespace(kernels={"relu": "k"}), "relu")
    'k'
    """
    try:
        return next(k for p, k in be.kernels.items() if getattr(p, "name", p) == name)
    except StopIteration:
        raise KeyError(f"backend {getattr(be, 'name', be)!r} has no kernel for {name!r}") \
            from None


def add_ratio(report, key, t_peer, t_ours):
    """Record (and return) PyTorch's time over ours under ``key``; None when either is missing.

    >>> report = Report()
    >>> add_ratio(report, "w", 2.0, 0.5), add_ratio(report, "v", None, 0.5), report.ratios
    (4.0, None, {'w': 4.0})
    """
    if t_peer and t_ours:
        report.ratios[key] = t_peer / t_ours
        return report.ratios[key]
    return None
