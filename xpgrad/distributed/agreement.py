"""Collectives by which the ranks agree: on a layout (``check_same``), on a metric
(``ranks_mean``), on an error met by any of them (``raise_together``, ``run_together``), and
on the order of work that later ranks reuse (``leader_first``: one download instead of one
per rank).

Each is one small collective, called where every rank reaches it; on a world of one process
each is the plain call.

>>> from .group import SingleWorld
>>> run_together(SingleWorld(), lambda: 42, "the answer")
42
"""
from __future__ import annotations

import hashlib
import math

import numpy as np

from .group import DistributedError, SingleWorld, current, refuse_trace
from .join import BUCKETS, JOINED, NOTHING, note_step  # noqa: F401
from ..batch_passes import note_reduction, start_afresh, state as passes_state


ADVICE = ("every rank must build the same model and pass the same variables in the same "
          "order")

#: why ranks reach different calls, most often: each trained on a shard of its own
CALLS_ADVICE = ("every rank must make the same calls of xpgrad.distributed in the same order; "
                "ranks that each draw batches from a shard of their own (x[rank::size]) take "
                "different numbers of steps when the shards differ in length: take every "
                "rank's share of the same global batches with dist.share(idx) instead, as "
                "xpgrad train does, or put each rank's loop over its batches in `with "
                "dist.join(model, optimizer):` (a rank that runs out takes part with nothing)")


def check_same(w, what, description, advice=ADVICE, waits_in=None, call=None,
               calls_advice=CALLS_ADVICE, shadow=None) -> int:
    """Raise DistributedError on every rank unless all ranks hold the same ``description`` (a
    list of strings, one per item) in the same ``call`` (the public call making the check,
    default: the check of ``what``): the message names the first rank and item that differ,
    then gives ``advice`` -- or, where that rank is in another call, both calls and
    ``calls_advice``; ``waits_in`` names the call for a rank that has ended meanwhile
    (default: ``call``). ``shadow``: what a rank that has left its ``dist.join()`` block does
    to take part in the call (``join.bucket_shadow``, ``join.allreduce_shadow``, or
    ``(join.NOTHING,)``); None: it cannot (a DistributedError on every rank, then). Returns
    how many ranks make the call (the others have left their ``dist.join()`` blocks).

    >>> check_same(SingleWorld(), "model layout", ["w: (2, 3) float32"], call="gradient()")
    1
    """
    reduces = shadow is not None and shadow[0] == BUCKETS
    if reduces:
        note_step()
        note_reduction()
    if w.size == 1:
        return 1
    refuse_trace()
    call = call or f"the check of the {what}"
    description = [call, *description]
    if reduces:         # ranks in different epochs: one has ended its pass over its batches
        description.append(f"{_PASSES}{passes_state()['passes']}")
    digest = hashlib.blake2b("\n".join(description).encode(), digest_size=8).digest()
    every = _allgather_int64(w, np.frombuffer(digest, dtype=np.int64)[0], waits_in or call)
    if (every == every[0]).all():
        return w.size
    if (every == JOINED).any():         # a rank has left its join() block: it takes part
        gathered = w.allgather((description, shadow, what, advice, calls_advice))
        _, message = joined_verdict(gathered, every)
        if message is not None:
            raise DistributedError(message)
        return int((every != JOINED).sum())
    # only on a mismatch: what differs, for the text
    descriptions, counts = zip(*w.allgather((description, passes_state())))
    other = next(r for r in range(w.size) if every[r] != every[0])
    (call_0, *ref), (theirs_call, *theirs) = descriptions[0], descriptions[other]
    if theirs_call == call_0 and ref[-1:] != theirs[-1:] and ref[-1].startswith(_PASSES):
        start_afresh()                  # every rank raises it here
        raise DistributedError(uneven_epochs(counts))
    raise DistributedError(_disagreement(0, descriptions[0], other, descriptions[other], what,
                                        advice, calls_advice))


def _disagreement(ref, mine, other, theirs, what, advice, calls_advice) -> str:
    """The message for rank ``other``'s description ``theirs`` differing from rank ``ref``'s
    ``mine`` (each: the call, then the items of the ``what``): where the calls differ, both
    and ``calls_advice``; else the first item that differs and ``advice``.

    >>> _disagreement(0, ["f()", "a"], 1, ["f()", "b"], "layout", "fix it", "")
    "rank 1 holds a different layout than rank 0 (item 0: rank 0 has 'a', rank 1 has 'b'); fix it"
    """
    (call_ref, *items), (theirs_call, *their_items) = mine, theirs
    if theirs_call != call_ref:
        return (f"rank {other} makes another call of xpgrad.distributed than rank {ref} (rank "
                f"{ref} is in {call_ref!r}, rank {other} in {theirs_call!r}); {calls_advice}")
    detail = next((f"item {i}: rank {ref} has {a!r}, rank {other} has {b!r}"
                   for i, (a, b) in enumerate(zip(items, their_items)) if a != b),
                  f"rank {ref} has {len(items)} items, rank {other} has {len(their_items)}")
    return f"rank {other} holds a different {what} than rank {ref} ({detail}); {advice}"


_PASSES = "passes over xg.data.batches with gradient reductions: "


def uneven_epochs(counts) -> str:
    """The message for ranks whose passes over their batches (``counts``: each rank's
    ``passes.state()``) ended after different numbers of steps.

    >>> print(uneven_epochs([{"passes": 0, "last_pass_steps": 0, "steps_since": 6},
    ...                      {"passes": 1, "last_pass_steps": 5, "steps_since": 1}]))
    ... # doctest: +ELLIPSIS
    rank 1 has ended its pass over its batches (xg.data.batches) after 5 steps while rank 0 is at step 6 of its pass...
    """
    ahead = max(range(len(counts)), key=lambda r: counts[r]["passes"])
    behind = min(range(len(counts)), key=lambda r: counts[r]["passes"])
    steps = counts[behind]["steps_since"]
    return (f"rank {ahead} has ended its pass over its batches (xg.data.batches) after "
            f"{counts[ahead]['last_pass_steps']} steps while rank {behind} is at step {steps} "
            f"of its pass: the ranks' shards hold different numbers of batches, and steps of "
            f"different epochs would be averaged together. Put each rank's loop over its "
            f"batches in `with dist.join(model, optimizer):` (inside the epoch loop): a rank "
            f"that runs out takes part in the others' reductions with nothing until all have "
            f"ended; or take every rank's dist.share(idx) of the same global batches, as "
            f"xpgrad train does")


def joined_verdict(gathered, every):
    """For a call some ranks make while others have left their ``join()`` block (``every``:
    the hashes, ``JOINED`` for those; ``gathered``: each calling rank's description, shadow,
    what, advice and calls advice, None for a joined rank): the shadow of the first calling
    rank, and the message of the error every rank raises (None: none), the same on every rank.

    >>> every = np.array([7, JOINED])
    >>> joined_verdict([(["barrier()"], ("nothing",), "x", "", ""), None], every)
    (('nothing',), None)
    """
    calling = [r for r in range(len(every)) if every[r] != JOINED]
    joined = [r for r in range(len(every)) if every[r] == JOINED]
    ref = calling[0]
    description, shadow, what, advice, calls_advice = gathered[ref]
    for other in calling[1:]:
        if every[other] != every[ref]:
            return shadow, _disagreement(ref, description, other, gathered[other][0], what,
                                        advice, calls_advice)
    if shadow is None:
        names = ", ".join(map(str, joined))
        return shadow, (f"rank {names} {'has' if len(joined) == 1 else 'have'} left "
                        f"{'its' if len(joined) == 1 else 'their'} dist.join() block (out of "
                        f"batches) while rank {ref} calls {description[0]!r}, which a joined rank "
                        f"cannot take part in (it takes part in gradient reductions, "
                        f"allreduce() and barrier() only): make that call after the join() "
                        f"block, once every rank has left it")
    return shadow, None


def ranks_mean(value: float, caller: str) -> float:
    """``value`` averaged over the ranks of the group ``init()`` made, as Horovod's
    ``MetricAverageCallback`` averages a metric (the value itself where every rank holds the
    same, on one process, or before ``init()``). Every rank calls it at the same point:
    ``caller`` names the call for a rank making another call of ``xpgrad.distributed``
    meanwhile, in a DistributedError on every rank.

    >>> ranks_mean(0.25, "EarlyStopping.step()")
    0.25
    """
    w = current()
    if w.size == 1:
        return value
    check_same(w, "collective call", [], call=caller, calls_advice="step EarlyStopping and "
               "ReduceLROnPlateau on every rank (each averages the ranks' values); "
               + CALLS_ADVICE)
    every = w.allgather(value)
    return every[0] if all(v == every[0] for v in every) else math.fsum(every) / w.size


def _allgather_int64(w, value, what):
    """Every rank's ``value`` (an integer), in rank order; waiting as ``w.wait`` does (a rank
    that ends its script meanwhile is named instead of a hang)."""
    mine = np.array([value], dtype=np.int64)
    every = np.empty(w.size, dtype=np.int64)
    if hasattr(w, "wait"):
        w.wait(w.comm.Iallgather(mine, every), what)
    else:
        w.comm.Allgather(mine, every)
    return every


def raise_together(w, error, what) -> None:
    """Collective: ``error`` is the exception this rank met (None: none). If any rank met one,
    every rank raises the one of the lowest such rank (its ``failed_rank`` attribute names
    it), so that all ranks stop at the same point instead of the others waiting for the
    failed one; ``what`` names the step, for a rank that never arrives.

    >>> raise_together(SingleWorld(), None, "the checks")
    >>> try:
    ...     raise_together(SingleWorld(), ValueError("bad flag"), "the checks")
    ... except ValueError as e:
    ...     print(e, e.failed_rank)
    bad flag 0
    """
    if error is not None:
        error.failed_rank = w.rank
    if w.size > 1:
        every = _allgather_int64(w, error is not None, what)
        if not every.any():
            return
        first = int(np.flatnonzero(every)[0])
        if w.rank != first:
            raise w.bcast_object(None, root=first)
        portable = _portable(error)
        w.bcast_object(portable, root=first)
        if portable is not error:         # what the other ranks raise, this one's as cause
            raise portable from error
    if error is not None:
        raise error


def _portable(error):
    """``error`` if it survives pickling (to reach the other ranks), else a DistributedError
    with its text."""
    import pickle

    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        portable = DistributedError(f"{type(error).__name__}: {error}")
        portable.failed_rank = error.failed_rank
        return portable


def run_together(w, action, what):
    """``action()`` on every rank, returning its result; if it raises on any rank, every rank
    raises (see ``raise_together``).

    >>> run_together(SingleWorld(), lambda: 42, "the answer")
    42
    """
    try:
        result = action()
    except Exception as e:
        raise_together(w, e, what)
        raise
    raise_together(w, None, what)
    return result


def leader_first(w, action, what):
    """``action()`` on every rank, in turns: rank 0 first, then the first rank of each other
    machine, then the rest, each turn once the one before has ended -- so later ranks find what
    earlier ones made (downloaded files in the data directory) instead of all making it at
    once. A failure in a turn ends every rank after that turn (see ``raise_together``).

    >>> leader_first(SingleWorld(), lambda: "data", "the download")
    'data'
    """
    result, done = None, False
    for mine in (w.rank == 0, w.local_rank == 0, True):
        error = None
        if mine and not done:
            done = True
            try:
                result = action()
            except Exception as e:
                error = e
        raise_together(w, error, what)
    return result
