"""The global seed: ``xg.random.seed(n)`` (``torch.manual_seed``, ``np.random.seed``,
``tf.random.set_seed``) makes every Generator made without a seed from then on take the next
child of ``np.random.SeedSequence(n)``, so a script's layer inits, ``Dropout`` masks without
``rng=`` and draws from ``xg.random.default_rng()`` repeat run after run; ``seed(None)`` gives
them fresh entropy again. Generators made with a seed are untouched.

The children are handed out process-wide, under a lock: threads that make generators at once
each get a different child, but which one follows the order they arrive in, so such a run
repeats only where that order does. ``xg.recompute_grad`` replays the children its first run
took, and takes none of its own.

>>> import xpgrad as xg
>>> xg.random.seed(0)
>>> a = xg.nn.Linear(3, 2).w.numpy()
>>> xg.random.seed(0)
>>> bool((xg.nn.Linear(3, 2).w.numpy() == a).all())
True
>>> xg.random.seed(None)
"""
from __future__ import annotations

import contextlib
import threading

import numpy as np

from .creation import _count

_LOCK = threading.Lock()
#: the global SeedSequence (None: fresh entropy), whose children seed the Generators
_GLOBAL = [None]


def seed(seed) -> None:
    """Seed every Generator made without a seed from now on (layer inits, ``Dropout`` and
    ``xg.nn.dropout`` without ``rng=``, ``xg.random.default_rng()``) from ``seed``, a
    non-negative integer: the same seed gives the same numbers on every run and on the
    backends that share NumPy's generator; ``None`` returns to fresh entropy. PyTorch's
    ``torch.manual_seed``; NumPy's global ``np.random`` is not touched.

    >>> import xpgrad as xg
    >>> xg.random.seed(7)
    >>> first = xg.random.default_rng().normal(size=3).tolist()
    >>> xg.random.seed(7)
    >>> xg.random.default_rng().normal(size=3).tolist() == first
    True
    >>> xg.random.seed(None)
    """
    if seed is not None:
        seed = _count(seed, "seed", "xg.random.seed")
    with _LOCK:
        _GLOBAL[0] = None if seed is None else np.random.SeedSequence(seed)


def get_state() -> dict | None:
    """Where the global seed is (None under fresh entropy), a JSON-serializable dict:
    ``set_state`` puts it back, so the Generators made without a seed after it draw what they
    drew after ``get_state`` (``torch.get_rng_state``). Generators already made keep their own
    state (``Generator.get_state``).

    >>> import xpgrad as xg
    >>> xg.random.seed(3)
    >>> state = xg.random.get_state()
    >>> a = xg.random.default_rng().random(size=2).tolist()
    >>> xg.random.set_state(state)
    >>> xg.random.default_rng().random(size=2).tolist() == a
    True
    >>> xg.random.seed(None)
    """
    with _LOCK:
        sequence = _GLOBAL[0]
        if sequence is None:
            return None
        return {"entropy": int(sequence.entropy), "spawn_key": list(sequence.spawn_key),
                "children": int(sequence.n_children_spawned)}


def set_state(state) -> None:
    """Put the global seed back where ``get_state`` found it (None: fresh entropy); anything
    else is a TypeError/ValueError naming ``state``."""
    sequence = checked_state(state)
    with _LOCK:
        _GLOBAL[0] = sequence


def checked_state(state):
    """The global SeedSequence that ``state`` (``get_state``'s) stands for, None for None;
    TypeError/ValueError naming ``state`` where it is not such a state. Changes nothing.

    >>> checked_state({"entropy": 4, "spawn_key": [], "children": 2}).n_children_spawned
    2
    """
    if state is None:
        return None
    try:
        return np.random.SeedSequence(
            int(state["entropy"]), spawn_key=tuple(int(k) for k in state["spawn_key"]),
            n_children_spawned=int(state["children"]))
    except (KeyError, TypeError, ValueError) as e:
        detail = f"missing key {e}" if isinstance(e, KeyError) else str(e)
        raise (TypeError if isinstance(e, TypeError) else ValueError)(
            f"xg.random.set_state: state must be None or a dict from "
            f"xg.random.get_state(), got {state!r}: {detail}") from None


@contextlib.contextmanager
def global_seed_at(state):
    """In the block the global seed is at ``state`` (``get_state``'s); after it, back where it
    was. Yields a dict whose ``"state"`` is, once the block ends, where the block left the
    seed, so that a later block can go on from there (``xpgrad train``: the model is built in
    one, trained in another).

    >>> import xpgrad as xg
    >>> with global_seed_at({"entropy": 4, "spawn_key": [], "children": 0}) as left:
    ...     _ = xg.random.default_rng()
    >>> left["state"]["children"], xg.random.get_state()
    (1, None)
    """
    outer = get_state()
    set_state(state)
    left = {}
    try:
        yield left
    finally:
        left["state"] = get_state()
        set_state(outer)


def next_global_seed() -> int | None:
    """The seed of the next Generator made without one: the global SeedSequence's next child
    as an integer (so that ``xg.recompute_grad`` notes and replays it as it does fresh
    entropy), or None when there is no global seed."""
    with _LOCK:
        sequence = _GLOBAL[0]
        if sequence is None:
            return None
        child = sequence.spawn(1)[0]
    return int.from_bytes(child.generate_state(4).tobytes(), "little")
