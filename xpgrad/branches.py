"""``cond``, ``switch`` and ``while_loop``: ``jax.lax``'s control flow (and TensorFlow's
``tf.cond`` / ``tf.while_loop``), for code ported with its structure kept.

Eagerly they are Python's ``if`` and ``while`` on the predicate's value: one branch runs, and
the tapes differentiate what ran, the loop included (JAX's ``while_loop`` has no reverse-mode
gradient). Where the value cannot steer Python, under an ``xg.function`` trace or inside
``xg.vmap``, ``cond`` and ``switch`` run every branch and select the result with ``xg.where``
(what JAX's ``cond`` does under ``vmap``), so the compiled step replays both. ``while_loop``
runs inside ``xg.vmap`` until every example stops, and under a trace, where its predicate is
a traced value, is one step of the program that runs the whole loop eagerly on each replay,
differentiated through the loop's own tape (``jit/solver_steps.py``).

>>> import xpgrad as xg
>>> x = xg.asarray(2.0)
>>> xg.cond(x > 0, lambda v: v * 3.0, lambda v: -v, x).item()
6.0
>>> xg.while_loop(lambda v: v < 10.0, lambda v: v * 2.0, x).item()
16.0
"""
from __future__ import annotations

import operator

from .jit.solver_steps import tracing_now
from .jit.traced import Traced
from .pytree import leaves, leaves_like, map_leaves
from .tensor import Tensor


def cond(pred, true_fun, false_fun, *operands):
    """``jax.lax.cond``: ``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``
    (``tf.cond(pred, true_fn, false_fn)`` with no operands). ``pred`` is a scalar (a bool, a
    number or a 0-d Tensor). The two branches return pytrees of one structure, shapes and
    dtypes. Under ``xg.function`` and ``xg.vmap`` both run and ``xg.where`` picks (module
    docstring): a branch not taken still runs there, so guard what would be NaN in it (the
    gradient of ``xg.where`` to the other branch is zero, but ``0 * inf`` inside a branch's own
    gradient is NaN).

    >>> import xpgrad as xg
    >>> relu_or_square = lambda x: xg.cond(x > 1.0, lambda x: x ** 2, lambda x: xg.maximum(x, 0.0), x)
    >>> xg.grad(relu_or_square)(xg.asarray(3.0)).item(), xg.grad(relu_or_square)(xg.asarray(0.5)).item()
    (6.0, 1.0)
    """
    _check_callables("cond", true_fun=true_fun, false_fun=false_fun)
    if _concrete(pred, "cond", "pred"):
        return (true_fun if bool(pred) else false_fun)(*operands)
    return _select_each("cond", [pred], [false_fun(*operands), true_fun(*operands)],
                        ["false_fun", "true_fun"])


def switch(index, branches, *operands):
    """``jax.lax.switch``: ``branches[index](*operands)``, ``index`` an integer scalar clamped
    to ``[0, len(branches) - 1]`` as JAX clamps it. The branches return pytrees of one
    structure, shapes and dtypes. Under ``xg.function`` and ``xg.vmap`` every branch runs and
    ``xg.where`` picks (``cond``'s docstring says what that means for NaN).

    >>> import xpgrad as xg
    >>> act = lambda k, x: xg.switch(k, [xg.tanh, lambda v: xg.maximum(v, 0.0), xg.exp], x)
    >>> act(1, xg.asarray([-1.0, 2.0])).tolist(), act(7, xg.asarray(0.0)).item()
    ([0.0, 2.0], 1.0)
    """
    branches = list(branches) if isinstance(branches, (list, tuple)) else branches
    if not isinstance(branches, list) or not branches:
        raise TypeError(f"switch: branches must be a non-empty list or tuple of callables, got "
                        f"{type(branches).__name__} {branches!r:.60}")
    _check_callables("switch", **{f"branches[{i}]": b for i, b in enumerate(branches)})
    last = len(branches) - 1
    if _concrete(index, "switch", "index"):
        if isinstance(index, Tensor):
            if index.dtype.is_inexact or index.dtype.kind == "b":
                raise TypeError(f"switch: index must be an integer scalar, got a {index.dtype} "
                                "Tensor")
            index = index.item()
        try:
            if isinstance(index, bool):
                raise TypeError
            index = operator.index(index)
        except TypeError:
            raise TypeError(f"switch: index must be an integer scalar, got "
                            f"{type(index).__name__} {index!r:.40}") from None
        return branches[min(max(index, 0), last)](*operands)
    if index.dtype.is_inexact or index.dtype.kind == "b":
        raise TypeError(f"switch: index must be an integer scalar, got a {index.dtype} Tensor")
    from .ops import clip

    index = clip(index, 0, last)
    outs = [b(*operands) for b in branches]
    return _select_each("switch", [index == i for i in range(1, len(outs))], outs,
                        [f"branches[{i}]" for i in range(len(outs))])


def while_loop(cond_fun, body_fun, init_val):
    """``jax.lax.while_loop``: ``val = body_fun(val)`` while ``cond_fun(val)`` (a scalar), from
    ``init_val``, a pytree that keeps its structure, shapes and dtypes. A Python loop the tapes
    differentiate (JAX's has no reverse-mode gradient). ``tf.while_loop(cond, body,
    loop_vars)`` passes the loop variables unpacked: ``xg.while_loop(lambda v: cond(*v),
    lambda v: body(*v), loop_vars)``. Under ``xg.function``, where ``cond_fun`` reads a traced
    value, the whole loop is one step of the program, run eagerly (``cond_fun`` and
    ``body_fun``'s Python too) on every call, and its gradient another; a Python number in
    ``init_val`` comes back as a 0-d Tensor there, as under ``jax.jit``. Inside ``xg.vmap`` it
    runs until every example's ``cond_fun`` is false, an example that has stopped keeping its
    value (JAX's batched ``while_loop``).

    >>> import xpgrad as xg
    >>> def halvings(x):          # how many halvings bring x below 1, and the result
    ...     return xg.while_loop(lambda c: c[0] >= 1.0, lambda c: (c[0] / 2, c[1] + 1), (x, 0))
    >>> halvings(xg.asarray(10.0))
    (Tensor(0.625, dtype=float32, backend=numpy), 4)
    >>> xg.grad(lambda x: halvings(x)[0])(xg.asarray(10.0)).item()
    0.0625
    """
    from .loops import _checked_carry

    _check_callables("while_loop", cond_fun=cond_fun, body_fun=body_fun)
    val = init_val
    while True:
        go = cond_fun(val)
        if isinstance(go, Tensor) and type(go._data) is Traced and tracing_now():
            return _one_step(cond_fun, body_fun, init_val)
        if _concrete(go, "while_loop", "cond_fun's result", loop=True):
            if not bool(go):
                return val
            val = _checked_carry(body_fun(val), init_val, "while_loop", "body_fun")
            continue
        from .batching.session import raw

        if not raw(go._data).any():     # inside xg.vmap: until every example has stopped
            return val
        new = _checked_carry(body_fun(val), init_val, "while_loop", "body_fun")
        val = _select_each("while_loop", [go], [val, new], ["init_val", "body_fun"])


def _one_step(cond_fun, body_fun, init_val):
    """``while_loop`` inside an ``xg.function`` trace, its number of steps read from values:
    the whole loop as one step of the program, replayed eagerly and differentiated through
    its own tape (``jit/solver_steps.py``); the steps taken before are dead code."""
    from .jit.solver_steps import one_step, tensors_and_refill

    tensors, refill = tensors_and_refill(init_val)
    return one_step("while_loop", lambda *given: while_loop(cond_fun, body_fun, refill(given)),
                    tensors, (cond_fun, body_fun))


def _check_callables(who, **functions):
    for name, fn in functions.items():
        if not callable(fn):
            raise TypeError(f"{who}: {name} must be callable, got {type(fn).__name__} "
                            f"{fn!r:.60}")


_WHILE_TRACED = (
    "while_loop inside an xg.function: its number of steps is read from cond_fun's value, "
    "which a replay cannot repeat. Loop with xg.fori_loop up to a bound and keep finished "
    "steps with xg.where(go, body(val), val), or trace with on_trace_error='eager'")


def _concrete(pred, who, name, loop=False) -> bool:
    """Whether ``pred`` (a scalar) has a value Python can branch on; False for a value an
    ``xg.function`` trace computes or ``xg.vmap`` batches (a ``TraceError`` for a loop)."""
    if not isinstance(pred, Tensor):
        if getattr(pred, "shape", ()) not in ((), None):
            raise TypeError(f"{who}: {name} must be a scalar, got shape {pred.shape}")
        return True
    if pred.shape != ():
        raise TypeError(f"{who}: {name} must be a scalar, got a Tensor of shape {pred.shape} "
                        "(reduce it, e.g. xg.all(...), or use xg.where for elementwise choice)")
    from .batching.batched import BatchedArray
    from .jit.traced import Traced

    raw = pred._data
    traced = type(raw) is Traced and raw._tracer.active
    if traced and loop:
        from .jit.errors import TraceError, user_line

        raise TraceError(_WHILE_TRACED, user_line())
    return not (traced or isinstance(raw, BatchedArray))


def _select_each(who, picks, outs, names):
    """``outs[0]`` where no pick holds, else ``outs[i]`` where ``picks[i - 1]`` does, leaf by
    leaf; the outputs must share a structure, shapes and dtypes."""
    from .conversion import asarray
    from .ops import where

    firsts = [asarray(leaf) for leaf in leaves(outs[0])]
    aligned = []
    for out, name in zip(outs[1:], names[1:]):
        pairs = leaves_like(outs[0], out, f"{who}: {name}'s output", f"{names[0]}'s output")
        for (path, leaf), a in zip(pairs, firsts):
            b = asarray(leaf)
            if a.shape != b.shape or a.dtype != b.dtype:
                raise TypeError(f"{who}: {name}'s output{path} is {b.dtype}{list(b.shape)} "
                                f"where {names[0]}'s is {a.dtype}{list(a.shape)}; the branches "
                                "must agree in shapes and dtypes")
        aligned.append([leaf for _, leaf in pairs])
    chosen = firsts
    for pick, theirs in zip(picks, aligned):
        chosen = [where(pick, b, a) for a, b in zip(chosen, theirs)]
    it = iter(chosen)
    return map_leaves(lambda _leaf, _path: next(it), outs[0])
