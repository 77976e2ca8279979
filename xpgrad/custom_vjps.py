"""``custom_vjp``: JAX's way of giving a function its own gradient, on ``custom_gradient``'s
tape node. ``f = xg.custom_vjp(fun)`` then ``f.defvjp(fwd, bwd)``: ``fwd(*args)`` returns
``(output, residuals)``, ``bwd(residuals, g)`` a tuple of cotangents, one per argument in its
structure (None for zero, for a whole argument or one leaf). Arguments and outputs may be
pytrees; ``nondiff_argnums`` are passed to ``bwd`` first, as JAX's (a Tensor being
differentiated there is a TypeError, as JAX's UnexpectedTracerError). Without a tape recording,
calling ``f`` calls ``fun``. A ``bwd`` written with xpgrad operations is differentiated by
tapes outside (second order, through the residuals too); ``xg.function`` replays it.

>>> import xpgrad as xg
>>> clip_gradient = xg.custom_vjp(lambda x: x)
>>> clip_gradient.defvjp(lambda x: (x, None), lambda _, g: (xg.clip(g, -1.0, 1.0),))
>>> xg.grad(lambda x: xg.sum(clip_gradient(x) * 5.0))(xg.asarray([1.0, 2.0])).tolist()
[1.0, 1.0]
"""
from __future__ import annotations

import functools
import inspect
import numbers
import threading

from ._args import flag
from .creation import asarray, zeros, zeros_like
from .custom import _with_gradient
from .dtype_functions import result_type
from .inplace import on_tape
from .primitive import tape_state
from .pytree import leaves, leaves_like, leaves_with_paths, map_leaves, rebuild
from .tensor import Tensor


class custom_vjp:   # noqa: N801  (JAX's name)
    """``fun`` with the vector-Jacobian product that ``defvjp(fwd, bwd)`` gives (module
    docstring). Tensors ``fun`` closes over get no gradient through it: pass them as
    arguments (JAX refuses such closures too). ``defvjp``'s ``symbolic_zeros=True`` is not
    supported; ``optimize_remat`` is taken and changes nothing.

    >>> import xpgrad as xg
    >>> def scale(s, x):
    ...     return s * x
    >>> scale = xg.custom_vjp(scale, nondiff_argnums=(0,))
    >>> scale.defvjp(lambda s, x: (s * x, None), lambda s, _, g: (s * g,))
    >>> xg.grad(lambda x: xg.sum(scale(3.0, x)))(xg.asarray([1.0, 2.0])).tolist()
    [3.0, 3.0]
    """

    #: how the messages name this kind of function, its rule's output, and the way to give a
    #: Variable it reads a gradient (``custom_jvp`` sets its own words)
    _kind = "custom_vjp"
    _output = "fwd's output"
    _variables_fix = ("so bwd returns their cotangents (a JAX custom_vjp differentiates only "
                      "its arguments)")

    def __init__(self, fun, nondiff_argnums=()):
        if not callable(fun):
            raise TypeError(f"custom_vjp takes a callable, got {type(fun).__name__} {fun!r:.60}")
        if isinstance(nondiff_argnums, numbers.Integral) and not isinstance(nondiff_argnums,
                                                                               bool):
            nondiff_argnums = (nondiff_argnums,)
        if not isinstance(nondiff_argnums, (tuple, list)) or any(
                isinstance(i, bool) or not isinstance(i, numbers.Integral) or i < 0
                for i in nondiff_argnums):
            raise TypeError(f"custom_vjp: nondiff_argnums must be a tuple of non-negative "
                            f"ints, got {nondiff_argnums!r}")
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(sorted(set(int(i) for i in nondiff_argnums)))
        self.fwd = self.bwd = None
        self._name = getattr(fun, "__name__", repr(fun))

    def defvjp(self, fwd, bwd, symbolic_zeros=False, optimize_remat=False):
        """Set the forward ``fwd(*args) -> (output, residuals)`` and the backward
        ``bwd(*nondiff_args, residuals, g) -> tuple of cotangents``."""
        for what, rule in (("fwd", fwd), ("bwd", bwd)):
            if not callable(rule):
                raise TypeError(f"custom_vjp function {self._name!r}: defvjp's {what} must be "
                                f"callable, got {type(rule).__name__} {rule!r:.60}")
        if flag(symbolic_zeros, "symbolic_zeros", "defvjp"):
            raise NotImplementedError("defvjp: symbolic_zeros=True is not supported; bwd gets "
                                      "dense cotangents (zeros where the output is unused)")
        flag(optimize_remat, "optimize_remat", "defvjp")
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args, **kwargs):
        if self.fwd is None:
            raise AttributeError(f"No VJP defined for custom_vjp function {self._name!r} "
                                 "using defvjp")
        args = self._positional(args, kwargs)
        if not tape_state.recording:
            return self.fun(*args)
        for i in self.nondiff_argnums:
            if i >= len(args):
                raise ValueError(f"{self._kind} function {self._name!r}: nondiff_argnums has "
                                 f"{i} but it got {len(args)} arguments")
        if self._kind == "custom_vjp":
            self._refuse_differentiated_nondiff(args)
        differentiated = [i for i in range(len(args)) if i not in self.nondiff_argnums]
        trees = [self._tensor_tree(args[i], i) for i in differentiated]
        flat = [leaf for tree in trees for leaf in _leaves(tree)]
        running = getattr(_running_fwd, "ids", None)
        if not flat or running and id(self) in running:
            return self.fun(*args)       # (``fwd`` calling ``f`` itself, as JAX's often do)
        return _Rule(self, args, differentiated, trees).apply(flat)

    def _refuse_differentiated_nondiff(self, args):
        """TypeError naming a Tensor in a ``nondiff_argnums`` position that a recording tape
        differentiates (its gradient would be lost), as JAX's UnexpectedTracerError."""
        for i in self.nondiff_argnums:
            for path, leaf in leaves_with_paths(args[i]):
                if isinstance(leaf, Tensor) and on_tape(leaf):
                    raise TypeError(
                        f"custom_vjp function {self._name!r}: argument {i}{path} is in "
                        "nondiff_argnums but is a Tensor being differentiated, which would get "
                        "no gradient through it; move it out of nondiff_argnums and return its "
                        "cotangent from bwd (JAX raises UnexpectedTracerError here)")

    def _positional(self, args, kwargs):
        """``args`` with ``kwargs`` put in their places, as JAX resolves them."""
        if not kwargs:
            return list(args)
        try:
            bound = inspect.signature(self.fun).bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self._kind} function {self._name!r}: {e}") from None
        bound.apply_defaults()
        if bound.kwargs:
            raise TypeError(f"{self._kind} function {self._name!r}: keyword arguments "
                            f"{sorted(bound.kwargs)} could not be resolved to positions")
        return list(bound.args)

    def _tensor_tree(self, value, i):
        """Argument ``i`` with each leaf a Tensor; TypeError naming the leaf if one is no
        array."""
        def tensor(leaf, path):
            if isinstance(leaf, Tensor):
                return leaf
            try:
                return asarray(leaf)
            except (TypeError, ValueError):
                raise TypeError(f"{self._kind} function {self._name!r}: argument {i}{path} "
                                f"({type(leaf).__name__} {leaf!r:.40}) is not a tensor or "
                                "numbers; list it in nondiff_argnums") from None

        return None if value is None else map_leaves(tensor, value)


#: ``ids``: the custom_vjp functions whose ``fwd`` runs now, in this thread
_running_fwd = threading.local()


def _leaves(tree):
    return [] if tree is None else leaves(tree)


class _Rule:
    """One call of a ``custom_vjp`` function under a tape: the flat Tensors of its
    differentiated arguments go into ``custom_gradient``'s node and ``fwd``'s output leaves come
    out of it (concatenated into one vector when there are several)."""

    def __init__(self, owner, args, differentiated, trees):
        self.owner, self.args = owner, args
        self.differentiated, self.trees = differentiated, trees
        self.name = owner._name
        self.out = None

    def apply(self, flat):
        value = _with_gradient(self.forward, self.name, self._refuse_variables)(*flat)
        if isinstance(self.out, Tensor) and self.out.dtype.is_inexact:
            return value
        return rebuild(self.out, self._cut(value, leaves(self.out)))

    @staticmethod
    def _cut(vector, outs):
        """``vector`` (the inexact output leaves concatenated) cut into those leaves, each in
        its shape and dtype; an integer or bool leaf is ``outs``' own (no gradient)."""
        pieces, start = [], 0
        for leaf in outs:
            if not leaf.dtype.is_inexact:
                pieces.append(leaf)
                continue
            piece = vector[start:start + leaf.size].reshape(leaf.shape)
            pieces.append(piece if piece.dtype == leaf.dtype else piece.astype(leaf.dtype))
            start += leaf.size
        return pieces

    def _refuse_variables(self, name, variables, grad_fn):
        return TypeError(f"{self.owner._kind} function {name!r} reads the Variables "
                         f"{[v.name for v in variables]} besides its arguments: pass them as "
                         f"arguments, {self.owner._variables_fix}")

    def forward(self, *inputs):
        full, inputs = list(self.args), iter(inputs)
        for i, tree in zip(self.differentiated, self.trees):
            full[i] = None if tree is None else rebuild(tree, [next(inputs) for _ in
                                                               leaves(tree)])
        running = _running_fwd.__dict__.setdefault("ids", set())
        running.add(id(self.owner))
        try:
            returned = self.owner.fwd(*full)
        finally:
            running.discard(id(self.owner))
        if not (isinstance(returned, (tuple, list)) and len(returned) == 2):
            raise TypeError(f"custom_vjp function {self.name!r}: fwd must return a pair "
                            f"(output, residuals), got {type(returned).__name__}")
        out, residuals = returned
        outs = [leaf for leaf in self._output_leaves(out) if leaf.dtype.is_inexact]
        self.out = out
        if isinstance(out, Tensor) and outs:
            value = out
        elif outs:
            from .ops import concat, reshape

            dtype = result_type(*outs)
            value = concat([reshape(leaf, (-1,)).astype(dtype) for leaf in outs])
        else:                   # integer or bool outputs alone: nothing to differentiate
            value = zeros((0,), device=leaves(out)[0].device)
        return value, functools.partial(self.backward, residuals)

    def _output_leaves(self, out):
        found = leaves_with_paths(out)
        for path, leaf in found:
            if not isinstance(leaf, Tensor):
                raise TypeError(f"custom_vjp function {self.name!r}: fwd's output{path} is a "
                                f"{type(leaf).__name__}, not a Tensor")
        if not found:
            raise TypeError(f"{self.owner._kind} function {self.name!r}: {self.owner._output} "
                            "has no Tensor")
        kinds = {leaf.dtype.is_complex for _, leaf in found if leaf.dtype.is_inexact}
        if len(kinds) > 1:
            raise TypeError(f"{self.owner._kind} function {self.name!r}: "
                            f"{self.owner._output} mixes complex and real floating leaves "
                            f"({sorted({str(leaf.dtype) for _, leaf in found})}); cast the real "
                            "ones to complex, or return them from another function")
        return [leaf for _, leaf in found]

    def backward(self, residuals, upstream):
        if isinstance(self.out, Tensor) and self.out.dtype.is_inexact:
            g = upstream
        else:       # an integer or bool output's cotangent is zeros (JAX's float0 zeros)
            outs = leaves(self.out)
            g = rebuild(self.out, [piece if leaf.dtype.is_inexact else zeros_like(leaf)
                                   for piece, leaf in zip(self._cut(upstream, outs), outs)])
        nondiff = [self.args[i] for i in self.owner.nondiff_argnums]
        cotangents = self.owner.bwd(*nondiff, residuals, g)
        n = len(self.differentiated)
        if not (isinstance(cotangents, (tuple, list)) and len(cotangents) == n):
            got = (f"a {type(cotangents).__name__} of {len(cotangents)}"
                   if isinstance(cotangents, (tuple, list)) else type(cotangents).__name__)
            raise TypeError(f"custom_vjp function {self.name!r}: bwd must return a tuple of "
                            f"{n} cotangent{'s' if n != 1 else ''}, one per differentiated "
                            f"argument (None for zero), got {got}")
        return [g for k, (i, tree, cotangent) in enumerate(zip(self.differentiated, self.trees,
                                                                  cotangents))
                for g in self._per_leaf(tree, cotangent, i, k)]

    def _array(self, cotangent, where, primal):
        try:
            return asarray(cotangent, backend=primal.backend)
        except (TypeError, ValueError):
            raise TypeError(f"custom_vjp function {self.name!r}: bwd's cotangent{where} is a "
                            f"{type(cotangent).__name__}, not an array") from None

    def _per_leaf(self, tree, cotangent, i, k):
        if tree is None:
            return []
        if cotangent is None:
            return [None] * len(leaves(tree))
        pairs = leaves_like(tree, cotangent, f"bwd's cotangent[{k}]", f"argument {i}")
        grads = []
        for (path, g), primal in zip(pairs, leaves(tree)):
            if g is not None:
                g = g if isinstance(g, Tensor) else self._array(g, f"[{k}]{path}", primal)
                if g.shape != primal.shape:
                    raise ValueError(f"custom_vjp function {self.name!r}: bwd's cotangent"
                                     f"[{k}]{path} has shape {g.shape} but argument {i}{path} "
                                     f"has shape {primal.shape}")
            grads.append(g)
        return grads
