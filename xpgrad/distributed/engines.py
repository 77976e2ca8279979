"""How a buffer on a device reaches the other ranks: NCCL (one GPU per rank, through CuPy's
``cupy.cuda.nccl``) or host-staged MPI (device -> host, MPI, host -> device; works anywhere MPI
does, including several ranks sharing one GPU). Host buffers (numpy, numba) go to MPI directly
(``world.MPIWorld``).

Both engines take their device functions as arguments, so they are tested on the CPU with
stand-ins for CuPy (tests/test_distributed_engines.py).

>>> import numpy as np
>>> from xpgrad.distributed.group import SingleWorld
>>> e = HostStagedEngine(SingleWorld(), to_host=np.array, copy_in=np.copyto)
>>> e.allreduce_(np.ones(3)).tolist()
[1.0, 1.0, 1.0]
"""
from __future__ import annotations

import os

import numpy as np

#: XPGRAD_DIST_ENGINE chooses the engine for device buffers: "nccl", "host" or "auto"
ENGINE_VARIABLE = "XPGRAD_DIST_ENGINE"


class HostStagedEngine:
    """Device buffers reduced through MPI on a host copy (``to_host`` makes it, ``copy_in``
    writes the result back into the device buffer)."""

    name = "host-staged MPI"

    def __init__(self, world, to_host, copy_in):
        self.world, self._to_host, self._copy_in = world, to_host, copy_in

    def allreduce_(self, buf, op="sum"):
        host = np.ascontiguousarray(self._to_host(buf))
        self.world.allreduce_(host, op)
        self._copy_in(buf, host)
        return buf

    def iallreduce_(self, buf, op="sum"):
        host = np.ascontiguousarray(self._to_host(buf))
        return _StagedRequest(self.world.iallreduce_(host, op), buf, host, self._copy_in)

    def bcast_(self, buf, root=0):
        host = np.ascontiguousarray(self._to_host(buf))
        self.world.bcast_(host, root)
        self._copy_in(buf, host)
        return buf

    def progress(self, requests):
        self.world.progress([r.inner for r in requests])


class _StagedRequest:
    __slots__ = ("inner", "buf", "host", "copy_in")

    def __init__(self, inner, buf, host, copy_in):
        self.inner, self.buf, self.host, self.copy_in = inner, buf, host, copy_in

    @property
    def request(self):
        return self.inner.request

    def wait(self):
        self.inner.wait()
        self.copy_in(self.buf, self.host)

    def test(self):
        return self.inner.test()


class NcclEngine:
    """Device buffers reduced by NCCL on the current CUDA stream. The NCCL unique id travels
    from rank 0 over MPI; each rank must already use its own GPU (``select_device``).

    ``nccl`` is ``cupy.cuda.nccl`` (or a stand-in), ``stream_ptr()`` the current stream's
    handle, ``pointer(buf)`` a buffer's device address."""

    name = "NCCL"

    def __init__(self, world, nccl, stream_ptr, pointer):
        self.world, self.nccl, self._stream, self._ptr = world, nccl, stream_ptr, pointer
        uid = nccl.get_unique_id() if world.rank == 0 else None
        uid = world.bcast_object(uid, root=0)
        self.comm = nccl.NcclCommunicator(world.size, uid, world.rank)
        self._ops = {"sum": nccl.NCCL_SUM, "max": nccl.NCCL_MAX, "min": nccl.NCCL_MIN}
        self._types = {np.dtype(np.float16): nccl.NCCL_FLOAT16,
                       np.dtype(np.float32): nccl.NCCL_FLOAT32,
                       np.dtype(np.float64): nccl.NCCL_FLOAT64,
                       np.dtype(np.int32): nccl.NCCL_INT32,
                       np.dtype(np.int64): nccl.NCCL_INT64}

    def _dtype(self, buf):
        dt = np.dtype(buf.dtype)
        if dt not in self._types:
            raise TypeError(f"NCCL reduces float16/32/64 and int32/64 buffers, got {dt}")
        return self._types[dt]

    def allreduce_(self, buf, op="sum"):
        ptr = self._ptr(buf)
        self.comm.allReduce(ptr, ptr, buf.size, self._dtype(buf), self._ops[op], self._stream())
        return buf

    def iallreduce_(self, buf, op="sum"):
        # NCCL is asynchronous already: the reduction is queued on the stream, and every later
        # kernel on that stream (the unpacking) sees its result
        self.allreduce_(buf, op)
        return _Queued()

    def bcast_(self, buf, root=0):
        self.comm.bcast(self._ptr(buf), buf.size, self._dtype(buf), root, self._stream())
        return buf

    def progress(self, requests):
        pass


class _Queued:
    def wait(self):
        pass

    def test(self):
        return True


def select_device(local_rank, device_count, use):
    """Use GPU ``local_rank % device_count`` (``use(i)`` makes it current); returns its index.

    >>> select_device(3, 2, lambda i: None)
    1
    """
    if device_count < 1:
        raise RuntimeError("no CUDA device is visible to this rank")
    index = local_rank % device_count
    use(index)
    return index


def choose_engine(world, device_count, nccl_available, environ=None) -> str:
    """"nccl" when every rank of a node has its own GPU and NCCL is there, else "host";
    XPGRAD_DIST_ENGINE=nccl|host overrides (nccl where it cannot work raises).

    >>> from xpgrad.distributed.group import SingleWorld
    >>> choose_engine(SingleWorld(), 1, True, {})
    'nccl'
    >>> choose_engine(SingleWorld(), 1, False, {})
    'host'
    """
    environ = os.environ if environ is None else environ
    wanted = environ.get(ENGINE_VARIABLE, "auto").lower()
    if wanted not in ("auto", "nccl", "host"):
        raise ValueError(f"{ENGINE_VARIABLE} must be nccl, host or auto, got {wanted!r}")
    local_size = getattr(world, "local_size", 1)
    fits = nccl_available and local_size <= device_count
    if wanted == "nccl" and not fits:
        raise RuntimeError(f"{ENGINE_VARIABLE}=nccl but "
                           + ("CuPy has no NCCL" if not nccl_available else
                              f"{local_size} ranks share {device_count} GPU(s) on this node "
                              f"(NCCL needs one GPU per rank)"))
    if wanted == "host" or not fits:
        return "host"
    return "nccl"


def cupy_engine(world):
    """The engine for CuPy buffers in this job (see ``choose_engine``)."""
    import cupy

    try:
        from cupy.cuda import nccl
        available = bool(getattr(nccl, "available", True))
    except ImportError:
        nccl, available = None, False
    count = cupy.cuda.runtime.getDeviceCount()
    if choose_engine(world, count, available) == "nccl":
        return NcclEngine(world, nccl, lambda: cupy.cuda.get_current_stream().ptr,
                          lambda a: a.data.ptr)

    def copy_in(dst, src):
        dst.set(src)

    return HostStagedEngine(world, cupy.asnumpy, copy_in)


_ENGINES = {}


def engine_for(world, buf):
    """The object that reduces ``buf``: the world itself for host arrays, else the device
    engine (created once per world).

    >>> from xpgrad.distributed.group import SingleWorld
    >>> w = SingleWorld()
    >>> engine_for(w, np.zeros(2)) is w
    True
    """
    if isinstance(buf, np.ndarray) or world.size == 1:
        return world
    module = type(buf).__module__.split(".")[0]
    if module != "cupy":
        raise TypeError(f"xpgrad.distributed reduces NumPy and CuPy arrays, got "
                        f"{type(buf).__module__}.{type(buf).__name__}")
    key = (id(world), module)
    if key not in _ENGINES:
        _ENGINES[key] = cupy_engine(world)
    return _ENGINES[key]
