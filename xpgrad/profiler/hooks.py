"""Installing the timing wrappers while a profile is active, and taking them out again.

Nothing in the tape's hot path checks for a profiler: at the first ``profile.__enter__`` the
functions the dispatch reads at call time are swapped for timed ones (``recorder.timed``), and
the last ``__exit__`` puts the originals back. Swapped are

- each ``Primitive``'s generic ``forward`` and vjp rules (``vjps`` or ``joint``): the eager
  ops, and the backward walk's work per node, attributed to the primitive that recorded it;
- each kernel registered in a backend made so far (``Kernel.forward``, ``value``, ``vjp``,
  ``vjp_in_place``, ``vjp_sliced``), named by the primitive it is registered under;
- the tape's backward walk (``backward._walk``, as ``tape.py`` and ``outer_tapes.py`` call
  it) and ``Optimizer.apply_gradients``: one range per call; and
  ``xg.function``'s entry points (``function_hooks.py``).

A primitive from ``xpgrad.ops.optim`` (an optimizer update) is phase ``"optimizer"``, others
``"forward"``/``"backward"``. ``paused()`` takes the wrappers out while ``xg.function`` traces,
so a program never holds one (its rewrites know kernels by identity).

>>> from xpgrad.primitive import PRIMITIVES
>>> exp = PRIMITIVES["exp"]
>>> original = exp.forward
>>> install(); wrapped = exp.forward is not original; uninstall()
>>> wrapped, exp.forward is original
(True, True)
"""
from __future__ import annotations

import threading

from ..primitive import BY_INDEX, Each
from .recorder import ACTIVE, begin, end, timed

_lock = threading.RLock()
#: what install() replaced: (object, attribute, original value, set by object.__setattr__)
_replaced: list = []
#: how many ``paused`` contexts are open (any thread)
_pauses = 0


def _updates() -> frozenset:
    """The names of the optimizer-update primitives (``xpgrad.ops.optim``)."""
    from ..ops import optim
    from ..primitive import Primitive

    return frozenset(v.name for v in vars(optim).values() if isinstance(v, Primitive))


def _swap(obj, attr, value, frozen=False):
    _replaced.append((obj, attr, getattr(obj, attr), frozen))
    if frozen:
        object.__setattr__(obj, attr, value)
    else:
        setattr(obj, attr, value)


def installed() -> bool:
    """Whether the wrappers are in place now."""
    return bool(_replaced)


def install() -> None:
    """Put the timed wrappers in place (once; ``uninstall`` takes them out)."""
    with _lock:
        if _replaced or _pauses:
            return
        updates = _updates()
        for prim in list(BY_INDEX):
            _wrap_primitive(prim, "optimizer" if prim.name in updates else "forward")
        for name, kernel in _registered_kernels():
            _wrap_kernel(kernel, name, "optimizer" if name in updates else "forward")
        _wrap_ranges()
        from .function_hooks import install_function_hooks

        install_function_hooks(_swap)


def uninstall() -> None:
    """Put every original back, last replaced first."""
    with _lock:
        while _replaced:
            obj, attr, original, frozen = _replaced.pop()
            if frozen:
                object.__setattr__(obj, attr, original)
            else:
                setattr(obj, attr, original)


class paused:
    """A context in which the wrappers are out (``xg.function`` traces inside one): the
    functions a trace records are then the originals. A profile entered meanwhile installs
    them when the last pause ends."""

    def __enter__(self):
        global _pauses
        with _lock:
            _pauses += 1
            uninstall()
        return self

    def __exit__(self, *exc):
        global _pauses
        with _lock:
            _pauses -= 1
            if not _pauses and ACTIVE:
                install()


def _wrap_primitive(prim, phase):
    name = prim.name
    if prim.forward is not None:
        _swap(prim, "forward", timed(prim.forward, name, phase, "generic", skip=1))
    if prim.joint is not None:
        _swap(prim, "joint", timed(prim.joint, name, "backward", "generic", skip=4))
    vjps = prim.vjps
    if vjps.__class__ is Each:
        _swap(prim, "vjps", Each(timed(vjps.rule, name, "backward", "generic", skip=4)))
    elif vjps:
        _swap(prim, "vjps", tuple(None if rule is None else
                                  timed(rule, name, "backward", "generic", skip=3)
                                  for rule in vjps))


def _registered_kernels():
    """``(primitive name, kernel)`` of every kernel in the backends made so far, each once."""
    from ..backend import _instances

    seen = set()
    for be in list(_instances.values()):
        for name, kernel in list((be.kernels or {}).items()):
            if id(kernel) not in seen:
                seen.add(id(kernel))
                yield name, kernel


def _wrap_kernel(kernel, name, phase):
    _swap(kernel, "forward", timed(kernel.forward, name, phase, "kernel", declines=True),
          frozen=True)
    if kernel.value is not None:
        _swap(kernel, "value", timed(kernel.value, name, phase, "kernel", declines=True),
              frozen=True)
    # the shapes are the inputs': past g and saved (a slice's key and values), and needs
    lead = 3 if kernel.needs else 2
    for attr, skip in (("vjp", lead), ("vjp_in_place", lead), ("vjp_sliced", lead + 1)):
        fn = getattr(kernel, attr)
        if fn is not None:
            _swap(kernel, attr, timed(fn, name, "backward", "kernel", skip=skip), frozen=True)


def _ranged(fn, name_of, phase):
    """A method ``fn`` timed as one range per call, named by ``name_of(self)``."""
    def ranged(self, *args, **kwargs):
        start = begin()
        try:
            return fn(self, *args, **kwargs)
        finally:
            end(start, name_of(self), phase, "")
    ranged.__wrapped__ = fn
    ranged.__name__, ranged.__qualname__, ranged.__doc__ = fn.__name__, fn.__qualname__, \
        fn.__doc__
    return ranged


def _wrap_ranges():
    from .. import backward, tape
    from ..optim.optimizer import Optimizer

    # the walk, not GradientTape.gradient: a frame more in gradient would move its warnings'
    # stacklevel off the user's line
    walk = timed(backward._walk, "backward walk", "autograd", "", shapes=False)
    _swap(backward, "_walk", walk)
    _swap(tape, "_walk", walk)
    for cls in _optimizer_classes(Optimizer):
        if "apply_gradients" in vars(cls):
            _swap(cls, "apply_gradients",
                  _ranged(vars(cls)["apply_gradients"],
                          lambda opt: f"{type(opt).__name__}.apply_gradients", "optimizer"))


def _optimizer_classes(base):
    found, todo = [], [base]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


__all__ = ["install", "installed", "paused", "uninstall"]
