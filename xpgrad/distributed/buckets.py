"""Gradients packed into flat contiguous buckets and reduced in place.

A ``BucketPlan`` groups the sources of one ``gradient`` call by dtype into buckets of at most
``bucket_bytes``, in reverse order (the backward walk produces the last layer's gradients first,
so the first bucket fills first; buckets start in index order on every rank). Each bucket's
buffer is laid out as::

    [ gradient 0 | gradient 1 | ... | present 0 | present 1 | ... | weight | failed ]

A rank that has a gradient writes ``weight * g`` and a 1 in its "present" slot; a rank whose
gradient is None (or whose local batch is empty, ``weight=0``) leaves zeros. After one in-place
sum over ranks, a gradient no rank had stays None, and dividing by the summed weight gives the
exact weighted mean -- with ``weight`` = the local batch size, the mean over the global batch.
Every rank joins the same collectives whatever it holds: a rank whose backward pass fails
sends the buckets it had not started with nothing but a 1 in "failed" (``abandon``), so that
the others learn of it from the reduction itself (``failed``) instead of waiting for it.

>>> import numpy as np
>>> from xpgrad.distributed.group import SingleWorld
>>> plan = BucketPlan([((2,), np.float64), ((3,), np.float64)], bucket_bytes=1 << 20)
>>> r = Reduction(plan, SingleWorld(), np, weight=2.0, op="mean")
>>> r.ready(0, np.array([1.0, 2.0])); r.ready(1, None)
>>> r.finish()
[array([1., 2.]), None]
"""
from __future__ import annotations

import functools

import numpy as np

from .engines import engine_for

#: default bucket size, as PyTorch DDP's (25 MiB); Horovod fuses up to 64 MiB
DEFAULT_BUCKET_BYTES = 25 * 2**20


class Bucket:
    __slots__ = ("dtype", "entries", "n", "index")

    def __init__(self, dtype, index):
        self.dtype, self.index = dtype, index
        self.entries = []       # (source index, offset, size, shape)
        self.n = 0

    @property
    def length(self):
        return self.n + len(self.entries) + 2

    @property
    def weight_at(self):
        """The index of the bucket's "weight" slot (the "failed" slot is the last)."""
        return self.n + len(self.entries)


class BucketPlan:
    """Which bucket (and where in it) each source's gradient goes; ``layout`` is (shape, dtype)
    per source."""

    def __init__(self, layout, bucket_bytes=DEFAULT_BUCKET_BYTES):
        self.buckets = []
        self.where = [None] * len(layout)
        open_by_dtype = {}
        for i in reversed(range(len(layout))):
            shape, dtype = layout[i]
            dtype = np.dtype(dtype)
            size = int(np.prod(shape, dtype=np.int64))
            b = open_by_dtype.get(dtype)
            if b is None or (b.n and (b.n + size) * dtype.itemsize > bucket_bytes):
                b = open_by_dtype[dtype] = Bucket(dtype, len(self.buckets))
                self.buckets.append(b)
            self.where[i] = (b, len(b.entries))
            b.entries.append((i, b.n, size, tuple(shape)))
            b.n += size


def plan_for(tensors, bucket_bytes=DEFAULT_BUCKET_BYTES) -> BucketPlan:
    """The BucketPlan of ``tensors`` (the sources or variables whose gradients are reduced), by
    their shapes and dtypes: built once per layout and reused on every later step (a plan is
    never changed once built).

    >>> import xpgrad as xg
    >>> a, b = [xg.Variable([1.0, 2.0])], [xg.Variable([3.0, 4.0])]
    >>> plan_for(a) is plan_for(b)
    True
    """
    layout = tuple((tuple(t._data.shape), np.dtype(t._data.dtype)) for t in tensors)
    return _cached_plan(layout, bucket_bytes)


@functools.lru_cache(maxsize=64)
def _cached_plan(layout, bucket_bytes):
    return BucketPlan(layout, bucket_bytes)


class Reduction:
    """One gradient call's buckets: ``ready(i, g)`` as each source's gradient becomes final
    (a bucket's reduction starts as soon as its last member is ready), ``finish()`` for the
    reduced gradients (raw arrays, None where no rank had one)."""

    def __init__(self, plan, world, xp, weight=1.0, op="mean"):
        self.plan, self.world, self.xp, self.weight, self.op = plan, world, xp, weight, op
        self.buffers = [xp.zeros(b.length, dtype=b.dtype) for b in plan.buckets]
        self.missing = [len(b.entries) for b in plan.buckets]
        self.done = [False] * len(plan.where)
        self.requests = {}        # bucket index -> request
        self._next = 0            # the first bucket not started
        self.engine = None
        self.failed = False       # after finish(): whether a rank's backward pass failed
        if op == "mean":
            for b, buf in zip(plan.buckets, self.buffers):
                buf[b.weight_at] = weight

    def ready(self, i, g):
        """Source ``i``'s gradient is final (``g`` a raw array, or None)."""
        if self.done[i]:
            return
        self.done[i] = True
        bucket, k = self.plan.where[i]
        buf = self.buffers[bucket.index]
        if g is not None and self.weight != 0:
            _, offset, size, _ = bucket.entries[k]
            buf[offset:offset + size] = self.xp.reshape(self.xp.asarray(g, dtype=bucket.dtype),
                                                        (-1,))
            buf[bucket.n + k] = 1
        self.missing[bucket.index] -= 1
        # buckets start in index order on every rank (MPI matches collectives by order), so a
        # full bucket waits for the ones before it
        buckets = self.plan.buckets
        while self._next < len(buckets) and self.missing[self._next] == 0:
            self._launch(buckets[self._next])
            self._next += 1

    def _launch(self, bucket):
        buf = self.buffers[bucket.index]
        if self.op == "mean" and self.weight != 1:
            buf[:bucket.n] *= self.weight
        if self.engine is None:
            self.engine = engine_for(self.world, buf)
        self.requests[bucket.index] = self.engine.iallreduce_(buf, "sum")

    def abandon(self) -> bool:
        """This rank cannot give its gradients (its backward pass failed): send every bucket
        not yet started with only its "failed" slot set, and wait for all of them. Returns
        whether any was sent so (False: all had started, and the other ranks cannot learn of
        the failure from this reduction)."""
        buckets = self.plan.buckets
        flagged = self._next < len(buckets)
        for bucket in buckets[self._next:]:
            buf = self.buffers[bucket.index]
            buf[:] = 0
            buf[-1] = 1
            self._launch(bucket)
        self._next = len(buckets)
        self.done = [True] * len(self.done)
        while self.requests:
            self.requests.popitem()[1].wait()
        return flagged

    def progress(self):
        if self.requests and self.engine is not None:
            self.engine.progress(list(self.requests.values()))

    def finish(self, gradients=None):
        """Wait for every bucket; ``gradients`` (raw arrays by source) fill in sources not yet
        ready. Returns the reduced gradients as raw arrays (None where no rank had one)."""
        for i, done in enumerate(self.done):
            if not done:
                self.ready(i, None if gradients is None else gradients[i])
        out = [None] * len(self.done)
        for bucket in self.plan.buckets:
            self.requests.pop(bucket.index).wait()
            buf = self.buffers[bucket.index]
            slots = buf[bucket.n:].real        # present flags, weight, failed (real numbers)
            slots = slots.get() if hasattr(slots, "get") else slots
            present, total, failed = slots[:-2], float(slots[-2]), float(slots[-1])
            self.failed = self.failed or failed > 0
            if self.op == "mean" and total > 0:
                buf[:bucket.n] /= total
            for k, (i, offset, size, shape) in enumerate(bucket.entries):
                if present[k] > 0:
                    out[i] = self.xp.reshape(buf[offset:offset + size], shape)
        return out
