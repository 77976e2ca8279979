"""The kernel protocol: a backend's faster implementation of a primitive (``Kernel``) and a
backend's table of them (``KernelTable``); ``xpgrad.backend`` re-exports both.

>>> Kernel(lambda x: None).needs
False
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Kernel:
    """A backend's faster implementation of one primitive (first-order passes only).

    ``forward(*raw_args, **params)`` returns ``(out, saved)``, or None to decline (unsupported
    dtype, layout...) so the primitive's generic forward runs. ``vjp(g, saved, *raw_args,
    **params)`` returns one gradient per positional argument: None where there is none,
    NotImplemented where the generic rule should compute it (e.g. the gradient for a loss's
    probability targets). A primitive without gradients (an optimizer update) needs no vjp.
    Higher-order passes never use kernels; they run the generic rules.

    ``saves`` declares what ``vjp`` (and the generic rules it leaves to, by NotImplemented)
    reads, as ``Primitive``'s ``saves`` does: input positions and/or ``"output"``; None, the
    default, keeps everything. Inputs not saved reach ``vjp`` as stand-ins with their shape and
    dtype. ``vjp_in_place``, optional, is ``vjp`` allowed to write its result into ``g``: the
    tape calls it instead when nothing else holds ``g`` (ReLU's backward then allocates nothing
    the size of its input). ``needs``: ``vjp`` takes, right after ``saved``, a list saying which
    positional arguments want a gradient (as a joint rule does), and skips the others' work.
    ``vjp_sliced``, optional, is ``vjp`` for an output gradient that is zero outside one slice:
    ``vjp_sliced(key, values, saved, ...)`` (the rest as ``vjp``'s) gets the gradient as
    ``zeros(out.shape)`` with ``values`` at the basic index ``key``, unmade (the tape calls it
    when the output's only gradient came through one ``out[key]``, e.g. an LSTM's outputs
    ``states[0]``), and returns the gradients, or None to decline: the tape then makes the
    full gradient and calls ``vjp``. ``value``, optional, is ``forward`` for a call no tape
    records: the same arguments and result, its ``saved`` unused (a fused loss then computes
    the loss alone). ``traced_generic``: positions whose gradient a trace
    (``xg.function``) leaves to the generic rule, so the program's rewrites see its operations
    (``linear``'s ``x.T @ g``, which the SGD update takes into one gemm); needs ``needs``.
    ``eager_only``: a trace leaves the kernel out altogether and records the generic primitive,
    whose steps the program's rewrites see (a sum's gradient of the folded seed).
    ``defers``: positions whose gradient ``vjp`` may return as an ``xpgrad.deferred.Product``
    where ``needs`` holds ``deferred.DEFER`` there (the tape asks so for a dense layer's weight
    that plain SGD updates); needs ``needs``. ``declines_upto``: ``forward`` declines for a first
    array of at most this many bytes (an optimizer update whose arrays are in cache already),
    so a caller holding one that small may run the generic forward without the call.
    """

    forward: Callable
    vjp: Callable | None = None
    saves: tuple | None = None
    vjp_in_place: Callable | None = None
    needs: bool = False
    vjp_sliced: Callable | None = None
    traced_generic: tuple = ()
    eager_only: bool = False
    value: Callable | None = None
    defers: tuple = ()
    declines_upto: int = -1
    keep_inputs: tuple | None = field(init=False, repr=False, compare=False, default=None)
    keep_output: bool = field(init=False, repr=False, compare=False, default=True)
    keep_upto: int = field(init=False, repr=False, compare=False, default=-1)
    index: int = field(init=False, repr=False, compare=False, default=-1)
    #: plain ``vjp(g, saved, *raw_args)`` calls only: the backward walk's lean path may run it
    #: (``LEAN_IN_PLACE``: and ``vjp_in_place`` where nothing else holds ``g``)
    lean: bool | int = field(init=False, repr=False, compare=False, default=False)
    #: ``(keep_inputs, keep_output, keep_upto, lean)``: what GradientTape._record reads
    residuals: tuple = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self):
        from .primitive import keep_upto, residual_mask

        for name in ("traced_generic", "defers"):
            if getattr(self, name) and not self.needs:
                raise ValueError(f"Kernel({name}=...) needs needs=True")
        inputs, output = residual_mask(self.saves, "Kernel")
        object.__setattr__(self, "keep_inputs", inputs)
        object.__setattr__(self, "keep_upto", keep_upto(inputs))
        object.__setattr__(self, "keep_output", output)
        lean = self.vjp is not None and not self.needs
        if lean and self.vjp_in_place is not None:
            lean = LEAN_IN_PLACE
        object.__setattr__(self, "lean", lean)
        object.__setattr__(self, "residuals", (inputs, output, self.keep_upto, self.lean))
        object.__setattr__(self, "index", len(KERNELS_BY_INDEX))   # how tape nodes name it
        KERNELS_BY_INDEX.append(self)


#: ``Kernel.lean`` (and a tape node's lean flag) of a kernel with ``vjp_in_place``
LEAN_IN_PLACE = 2

#: every Kernel made, by ``index`` (kernels live as long as their backends: the process)
KERNELS_BY_INDEX: list = []


class KernelTable(dict):
    """A backend's kernels by primitive name; a name that is no primitive is refused on entry.

    Keys may be given as Primitive objects or names; they are stored as names (``apply`` looks
    kernels up by ``prim.name``).

    >>> from xpgrad.primitive import PRIMITIVES
    >>> table = KernelTable({PRIMITIVES["sigmoid"]: Kernel(lambda x: None)})
    >>> list(table)
    ['sigmoid']
    >>> table["sigmoidd"] = Kernel(lambda x: None)
    Traceback (most recent call last):
    ...
    KeyError: "kernel for 'sigmoidd', which names no primitive; did you mean 'sigmoid'?"
    """

    def __init__(self, *tables, **named):
        super().__init__()
        for t in tables:
            self.update(t)
        self.update(named)

    @staticmethod
    def _key(key) -> str:
        from .primitive import PRIMITIVES

        name = getattr(key, "name", key)
        if name in PRIMITIVES and (isinstance(key, str) or PRIMITIVES[name] is key):
            return name
        import difflib

        close = difflib.get_close_matches(str(name), PRIMITIVES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"kernel for {name!r}, which names no primitive{hint}")

    def __setitem__(self, key, kernel):
        if not isinstance(kernel, Kernel):
            raise TypeError(f"a kernel must be an xpgrad.Kernel, got {type(kernel).__name__}")
        super().__setitem__(self._key(key), kernel)

    def update(self, *others, **named):
        for other in (*others, named):
            items = other.items() if hasattr(other, "items") else other
            for key, kernel in items:
                self[key] = kernel

    def setdefault(self, key, default=None):
        key = self._key(key)
        if key not in self:
            self[key] = default
        return self[key]
