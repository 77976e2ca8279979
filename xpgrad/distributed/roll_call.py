"""Which ranks a stalled collective waits for: a roll call, made only once a rank has waited
long enough for its stall note (``stalls.py``), so that it costs nothing otherwise.

The rank that waits sends every other rank a question (16 bytes, on the world's notice
communicator); a rank waiting in a call of xpgrad.distributed (``MPIWorld.wait``) answers with
the call it waits in, and a rank that does not answer within ``WINDOW`` seconds is in none (a
deadlocked loader, a debugger, an endless loop, or much slower work). The note then names the
missing ranks, where before it said only "the other ranks".

>>> print(roll_call_text({1: "barrier()"}, size=3, rank=0))
rank 1 waits in barrier() too; rank 2 has not answered: it is in no call of xpgrad.distributed
"""
from __future__ import annotations

import time

import numpy as np

QUESTION_TAG, ANSWER_TAG = 7302, 7303
ANSWER_BYTES = 512      # "SERIAL\ncall", UTF-8, padded with zero bytes
#: how long the asking rank waits for the answers (a rank waiting in a collective answers
#: within a millisecond of its next poll; the missing ones cost the whole window, once)
WINDOW = 1.0


def roll_call_text(answers, size, rank) -> str:
    """The note's words for ``answers`` (rank -> the call it waits in) to rank ``rank``'s roll
    call among ``size`` ranks.

    >>> print(roll_call_text({}, size=2, rank=1))
    rank 0 has not answered: it is in no call of xpgrad.distributed
    """
    waiting = [f"rank {r} waits in {answers[r]}" for r in sorted(answers)]
    missing = [r for r in range(size) if r != rank and r not in answers]
    parts = [f"{', '.join(waiting)} too"] if waiting else []
    if missing:
        names = ", ".join(map(str, missing))
        parts.append(f"rank {names} {'has' if len(missing) == 1 else 'have'} not answered: "
                     f"{'it is' if len(missing) == 1 else 'they are'} in no call of "
                     f"xpgrad.distributed")
    return "; ".join(parts)


class RollCall:
    """The roll calls of one rank (``rank`` of ``size``) on ``comm`` (mpi4py's): ``answer``
    the others' questions while waiting in a call, ``ask`` once stalled, ``close`` at exit."""

    def __init__(self, comm, rank, size):
        from mpi4py import MPI

        self.MPI, self.comm, self.rank, self.size = MPI, comm, rank, size
        self.serial = 0
        self.sends = []
        self.question = np.zeros(2, dtype=np.int64)      # (asking rank, its serial)
        self.pending = comm.Irecv(self.question, source=MPI.ANY_SOURCE, tag=QUESTION_TAG)

    def answer(self, what) -> None:
        """Answer each question received so far: this rank waits in ``what``."""
        while self.pending.Test():
            asker, serial = (int(v) for v in self.question)
            text = f"{serial}\n{what}".encode()[:ANSWER_BYTES]
            reply = np.zeros(ANSWER_BYTES, dtype=np.uint8)
            reply[:len(text)] = np.frombuffer(text, dtype=np.uint8)
            self.sends.append(self.comm.Isend(reply, dest=asker, tag=ANSWER_TAG))
            self.pending = self.comm.Irecv(self.question, source=self.MPI.ANY_SOURCE,
                                           tag=QUESTION_TAG)
        self.sends = [s for s in self.sends if not s.Test()]

    def ask(self, done, what):
        """Ask every other rank which call it waits in (this one waits in ``what``; ``done()``
        says whether the collective has completed meanwhile: then None). Returns the note's
        words (``roll_call_text``)."""
        self.serial += 1
        question = np.array([self.rank, self.serial], dtype=np.int64)
        self.sends += [self.comm.Isend(question, dest=d, tag=QUESTION_TAG)
                       for d in range(self.size) if d != self.rank]
        answers, reply, status = {}, np.zeros(ANSWER_BYTES, dtype=np.uint8), self.MPI.Status()
        until = time.monotonic() + WINDOW
        while len(answers) < self.size - 1 and time.monotonic() < until:
            self.answer(what)           # another rank may be asking at the same time
            if done():
                return None
            if self.comm.Iprobe(source=self.MPI.ANY_SOURCE, tag=ANSWER_TAG, status=status):
                source = status.Get_source()
                self.comm.Recv(reply, source=source, tag=ANSWER_TAG)
                serial, _, call = reply.tobytes().rstrip(b"\0").decode(
                    errors="replace").partition("\n")
                if int(serial) == self.serial:      # not a late answer to an earlier call
                    answers[source] = call
            else:
                time.sleep(1e-3)
        return roll_call_text(answers, self.size, self.rank)

    def close(self) -> None:
        """At exit: stop listening for questions."""
        self.pending.Cancel()
        self.pending.Wait()
