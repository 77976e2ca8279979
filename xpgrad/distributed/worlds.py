"""The worlds ``xpgrad.distributed`` runs its collectives on: ``SingleWorld`` (one process, every
collective the identity) and ``MPIWorld`` (the processes of an mpi4py communicator, whose waits
name a rank that ended its script instead of waiting for it forever), ``DistributedError``, and
``refuse_trace``, which keeps a collective out of an ``xg.function`` trace. ``group.py``
decides which world a job gets (``init``, ``world``).

>>> w = SingleWorld()
>>> import numpy as np
>>> buf = np.ones(3)
>>> w.allreduce_(buf) is buf, w.allgather("x"), w.bcast_object({"a": 1})
(True, ['x'], {'a': 1})
"""
from __future__ import annotations

import atexit
import os
import pickle
import sys
import time

import numpy as np

from .roll_call import RollCall
from .stalls import StallWatch, stall_settings


class DistributedError(RuntimeError):
    """A collective cannot go on: ranks disagree (layout, arguments) or the setup is wrong."""


class SingleWorld:
    """One process: every collective returns its input unchanged (no MPI needed)."""

    rank = 0
    size = 1
    local_rank = 0
    comm = None

    def allreduce_(self, buf, op="sum"):
        return buf

    def iallreduce_(self, buf, op="sum"):
        return _Done()

    def bcast_(self, buf, root=0):
        return buf

    def allgather(self, obj):
        return [obj]

    def bcast_object(self, obj, root=0):
        return obj

    def barrier(self):
        pass

    def progress(self, requests):
        pass

    def abort(self, code=1):
        os._exit(code)

    def __repr__(self):
        return "SingleWorld()"


class _Done:
    def wait(self):
        pass

    def test(self):
        return True


class MPIWorld:
    """The processes of an MPI communicator (``MPI.COMM_WORLD`` by default).

    Host (NumPy) buffers go to MPI directly; device buffers go through the engine chosen for
    them (``engines.engine_for``: NCCL or host-staged MPI).
    """

    def __init__(self, comm=None):
        from mpi4py import MPI

        self.MPI = MPI
        if comm is not None and not isinstance(comm, MPI.Intracomm):
            raise TypeError(f"init: comm must be an mpi4py communicator (MPI.Intracomm, e.g. "
                            f"MPI.COMM_WORLD.Split(...)), got {type(comm).__name__}")
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank = node.Get_rank()
        self.local_size = node.Get_size()
        node.Free()
        self._ops = {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}
        self.gone = None          # the first rank known to have ended its script, if any
        self.gone_how = ""        # how it ended, as it said (``_ending``)
        self.stall = stall_settings()   # (note after, give up after) seconds; init(timeout=)
        self._roll = None         # the roll calls of a stalled wait (more than one rank)
        if self.size > 1:         # notices of ranks that end, on a communicator of their own
            self._notices = self.comm.Dup()
            self._notice = np.zeros(_NOTICE_BYTES, dtype=np.uint8)
            self._notice_request = self._notices.Irecv(self._notice, source=MPI.ANY_SOURCE,
                                                       tag=_NOTICE_TAG)
            self._roll = RollCall(self._notices, self.rank, self.size)   # who a stall waits for
            atexit.register(self._exit)
            _note_sys_exit()

    def allreduce_(self, buf, op="sum"):
        """Reduce the contiguous NumPy array ``buf`` across ranks, in place."""
        self.comm.Allreduce(self.MPI.IN_PLACE, buf, op=self._ops[op])
        return buf

    def iallreduce_(self, buf, op="sum"):
        """Start an in-place reduction of ``buf``; returns a request (``wait``, ``test``)."""
        return _Request(self.comm.Iallreduce(self.MPI.IN_PLACE, buf, op=self._ops[op]), self)

    def bcast_(self, buf, root=0):
        self.comm.Bcast(buf, root=root)
        return buf

    def allgather(self, obj):
        """Small Python objects (layouts, metadata) from every rank, in rank order (pickled,
        sent as bytes through ``wait``: a rank that has ended is named, not waited for)."""
        data = np.frombuffer(pickle.dumps(obj), dtype=np.uint8)
        sizes = np.empty(self.size, dtype=np.int64)
        self.wait(self.comm.Iallgather(np.array([data.size], dtype=np.int64), sizes),
                  "allgather()")
        every = np.empty(int(sizes.sum()), dtype=np.uint8)
        self.wait(self.comm.Iallgatherv(data, [every, sizes]), "allgather()")
        ends = np.cumsum(sizes)
        return [pickle.loads(every[end - n:end].tobytes()) for n, end in zip(sizes, ends)]

    def bcast_object(self, obj, root=0):
        """Rank ``root``'s ``obj`` (a copy on every rank, as mpi4py's ``bcast``), waiting as
        ``wait`` does."""
        data = np.frombuffer(pickle.dumps(obj) if self.rank == root else b"", dtype=np.uint8)
        size = np.array([data.size], dtype=np.int64)
        self.wait(self.comm.Ibcast(size, root=root), f"bcast_object(root={root})")
        buf = data.copy() if self.rank == root else np.empty(int(size[0]), dtype=np.uint8)
        self.wait(self.comm.Ibcast(buf, root=root), f"bcast_object(root={root})")
        return pickle.loads(buf.tobytes())

    def barrier(self):
        refuse_trace()
        self.wait(self.comm.Ibarrier(), "barrier()")

    def wait(self, request, what):
        """Wait for the mpi4py ``request`` of a collective (``what``, for the message); raise
        DistributedError if a rank ends its script meanwhile (it will never join)."""
        start, watch = time.monotonic(), None
        while not self._done(request, what):
            if self.gone is None and self._notice_request.Test():
                rank, _, self.gone_how = self._notice.tobytes().rstrip(b"\0").decode(
                    errors="replace").partition("\n")
                self.gone = int(rank)
            if self.gone is not None:
                grace = time.monotonic() + 1.0     # its last contribution may still be in flight
                while time.monotonic() < grace:
                    if self._done(request, what):
                        return
                    time.sleep(1e-3)
                raise DistributedError(
                    f"rank {self.gone} has ended its script while rank {self.rank} waits for it "
                    f"in {what}: rank {self.gone} {self.gone_how} (its output above may say "
                    f"why); every rank must make the same calls, in the same order (ranks "
                    f"that ran different numbers of steps? give each the same number of batches,"
                    f" or put each rank's loop in `with dist.join(model, optimizer):`; a rank "
                    f"with an empty share passes weight=0)")
            waited = time.monotonic() - start
            if waited < 1e-3:
                os.sched_yield()
            else:
                if watch is None:       # a note, or an error past the timeout (stalls.py)
                    watch = StallWatch(self.rank, what, *self.stall)
                if self._roll is not None:  # other ranks asking which call this one waits in
                    self._roll.answer(what)
                if watch.due(waited) and self._roll is not None:    # which ranks it waits for
                    watch.roll = self._roll.ask(lambda: self._done(request, what), what)
                    if watch.roll is None:
                        return              # it completed meanwhile
                late = watch.check(waited)
                if late:
                    raise DistributedError(late)
                time.sleep(min(waited / 10, 1e-3))

    def _done(self, request, what):
        """``request.Test()``; an MPI error (e.g. MPI_ERR_TRUNCATE: another rank's collective
        sent more bytes) as a DistributedError saying what this rank was doing."""
        try:
            return request.Test()
        except self.MPI.Exception as e:
            raise DistributedError(
                f"MPI failed while rank {self.rank} was in {what} ({e}): the ranks made "
                f"different calls of xpgrad.distributed here; every rank must make the same "
                f"calls, in the same order (a SyncBatchNorm in train() mode on some ranks and "
                f"eval() mode on others?)") from e

    def progress(self, requests):
        """Let MPI move pending non-blocking collectives along (Open MPI progresses them only
        inside MPI calls)."""
        if requests:
            self.MPI.Request.Testall([r.request for r in requests])

    def abort(self, code=1):
        self.comm.Abort(code)

    def _exit(self):
        """At interpreter exit: tell the other ranks this one has ended, then wait until they
        have too (a rank still waiting for this one raises instead, which ends the job)."""
        MPI = self.MPI
        if MPI.Is_finalized():
            return
        me = np.frombuffer(_ending(self.rank), dtype=np.uint8)
        sends = [self._notices.Isend(me, dest=d, tag=_NOTICE_TAG)
                 for d in range(self.size) if d != self.rank]
        done, start, told = self._notices.Ibarrier(), time.monotonic(), False
        while not done.Test():
            time.sleep(1e-3)
            if not told and time.monotonic() - start > 60:
                sys.stderr.write(f"[rank {self.rank}] xpgrad.distributed: this rank has ended; "
                                 f"waiting for the other ranks to end too\n")
                sys.stderr.flush()
                told = True
        MPI.Request.Waitall(sends)
        self._notice_request.Wait()             # every other rank sent one notice: drain them
        for _ in range(self.size - 2):
            self._notices.Recv(self._notice, source=MPI.ANY_SOURCE, tag=_NOTICE_TAG)
        self._roll.close()
        self._notices.Free()

    def __repr__(self):
        return f"MPIWorld(rank={self.rank}, size={self.size}, local_rank={self.local_rank})"


_NOTICE_TAG = 7301       # "this rank has ended" (on the world's notice communicator)
_NOTICE_BYTES = 512      # a notice: "RANK\nhow it ended", UTF-8, padded with zero bytes

#: where this process called ``sys.exit`` (the words the other ranks' errors give), if it did
_EXIT_CALL = [None]


def _note_sys_exit():
    """Make ``sys.exit`` note where it is called before it exits (once per process)."""
    real_exit = sys.exit
    if getattr(real_exit, "notes_its_caller", False):
        return

    def exit_noting_its_caller(status=None):
        caller = sys._getframe(1)
        _EXIT_CALL[0] = (f"called sys.exit({status!r}) at "
                         f"{os.path.basename(caller.f_code.co_filename)}:{caller.f_lineno}")
        real_exit(status)

    exit_noting_its_caller.notes_its_caller = True
    exit_noting_its_caller.__doc__ = real_exit.__doc__
    sys.exit = exit_noting_its_caller


def _ending(rank) -> bytes:
    """This rank's notice to the others: its rank and how its script ended.

    >>> _ending(1)[:2]
    b'1\\n'
    """
    how = _EXIT_CALL[0] or ("ended without an error or a sys.exit call (after its last line, "
                            "or at a raise SystemExit or exit())")
    text = f"{rank}\n{how}".encode()[:_NOTICE_BYTES]
    return text + bytes(_NOTICE_BYTES - len(text))


class _Request:
    """A started reduction: ``wait`` waits as ``MPIWorld.wait`` does (a rank that ends its
    script meanwhile is named, rather than waited for forever)."""
    __slots__ = ("request", "world")

    def __init__(self, request, world):
        self.request, self.world = request, world

    def wait(self):
        if self.world.size > 1:
            self.world.wait(self.request, "a gradient bucket's reduction")
        else:
            self.request.Wait()

    def test(self):
        return self.request.Test()


def refuse_trace() -> None:
    """Raise TraceError inside an ``xg.function`` trace: a replay would skip the collective
    (its ranks' contributions), so a reduction cannot be recorded."""
    from ..jit.capture import current_tracer

    if current_tracer() is not None:
        from ..jit.errors import TraceError, user_line

        raise TraceError("xg.function cannot record a reduction across ranks (xpgrad."
                         "distributed; a replay would skip it): return the local gradients "
                         "from the function and reduce them outside it (DistributedOptimizer),"
                         " or pass on_trace_error='eager'", user_line())
