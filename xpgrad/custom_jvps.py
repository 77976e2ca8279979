"""``custom_jvp``: JAX's way of giving a function its own Jacobian-vector product.
``f = xg.custom_jvp(fun)`` then ``@f.defjvp`` on ``rule(primals, tangents) -> (primal_out,
tangent_out)`` (``rule(*nondiff_args, primals, tangents)`` with ``nondiff_argnums``), or
``f.defjvps(*per_argument_rules)``. Without a tape recording, calling ``f`` calls ``fun``.

xpgrad differentiates in reverse, so the rule is transposed as JAX transposes a linear jvp:
it runs once on the primals with zero tangents the tape watches, and the vector-Jacobian
product with a cotangent ``g`` is the gradient of ``<g, tangent_out>`` with respect to the
tangents (exact, because ``tangent_out`` is linear in them). The rule must therefore be
linear in the tangents, as JAX requires. It sits on ``custom_vjp``'s node: tapes outside
differentiate the rule's own operations (second order), ``xg.jvp``/``jacfwd`` transpose it
back, and ``xg.function`` replays it. At every order the derivative of ``f``'s output is the
rule's: JAX's too when the rule computes ``primal_out`` by calling ``f`` (its examples do); a
rule computing it by other operations gets their plain derivative at the outer order in JAX.

>>> import xpgrad as xg
>>> @xg.custom_jvp
... def log1pexp(x):
...     return xg.log(1.0 + xg.exp(x))
>>> @log1pexp.defjvp
... def log1pexp_jvp(primals, tangents):
...     x, = primals
...     t, = tangents
...     return log1pexp(x), t * (1.0 - 1.0 / (1.0 + xg.exp(x)))
>>> xg.grad(lambda x: xg.sum(log1pexp(x)))(xg.asarray([0.0, 50.0])).tolist()
[0.5, 1.0]
"""
from __future__ import annotations

import functools
import os

from ._args import flag
from .creation import zeros_like
from .custom_vjps import custom_vjp
from .pytree import is_node, leaves, leaves_like, map_leaves, rebuild
from .tape import GradientTape
from .tensor import Tensor


class custom_jvp:   # noqa: N801  (JAX's name)
    """``fun`` with the Jacobian-vector product ``defjvp(rule)`` or ``defjvps(*rules)`` gives
    (module docstring). Under a tape the output is the rule's ``primal_out``. Tensors ``fun``
    closes over get no gradient through it, and a Variable it reads is refused: pass them as
    arguments (JAX's ``custom_jvp`` differentiates closures). Outputs may be of several
    floating dtypes, with integer or bool ones beside them (their tangent: zeros of their
    dtype, JAX's float0 zeros); complex beside real floating outputs is refused. Where JAX
    differs too: a rule that is not linear in the tangents is not detected (JAX fails
    transposing it) and gives a wrong gradient. ``defjvp``'s ``symbolic_zeros=True`` is not
    supported.

    >>> import xpgrad as xg
    >>> def scale(s, x):
    ...     return s * x
    >>> scale = xg.custom_jvp(scale, nondiff_argnums=(0,))
    >>> _ = scale.defjvp(lambda s, primals, tangents: (s * primals[0], s * tangents[0]))
    >>> xg.grad(lambda x: xg.sum(scale(3.0, x)))(xg.asarray([1.0, 2.0])).tolist()
    [3.0, 3.0]
    """

    def __init__(self, fun, nondiff_argnums=()):
        try:
            self._vjp = custom_vjp(fun, nondiff_argnums)
        except TypeError as e:
            raise TypeError(str(e).replace("custom_vjp", "custom_jvp")) from None
        self._vjp._kind, self._vjp._output = "custom_jvp", "the jvp rule's primal_out"
        self._vjp._variables_fix = ("with their tangents in the jvp rule (xpgrad's custom_jvp "
                                    "differentiates only its arguments; JAX's takes closures)")
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = self._vjp.nondiff_argnums
        self.jvp = None
        self._rule = None                # the rule as errors name it (rule_label)
        self._name = getattr(fun, "__name__", repr(fun))

    def defjvp(self, jvp, symbolic_zeros=False):
        """Set the rule ``jvp(*nondiff_args, primals, tangents) -> (primal_out,
        tangent_out)``; returns ``jvp``, so it serves as a decorator."""
        if not callable(jvp):
            raise TypeError(f"custom_jvp function {self._name!r}: defjvp takes a callable "
                            f"rule, got {type(jvp).__name__} {jvp!r:.60}")
        if flag(symbolic_zeros, "symbolic_zeros", "defjvp"):
            raise NotImplementedError("defjvp: symbolic_zeros=True is not supported; the rule "
                                      "gets dense tangents")
        self.jvp = jvp
        self._rule = rule_label(jvp)
        self._vjp.defvjp(self._forward, self._backward)
        return jvp

    def defjvps(self, *jvps):
        """One rule per argument, ``jvp_i(tangent_i, primal_out, *primals) -> its part of
        tangent_out`` (None: the argument does not move the output), summed, as JAX's."""
        if self.nondiff_argnums:
            raise TypeError(f"custom_jvp function {self._name!r}: defjvps cannot be used with "
                            "nondiff_argnums (as in JAX); use defjvp")
        for i, rule in enumerate(jvps):
            if rule is not None and not callable(rule):
                raise TypeError(f"custom_jvp function {self._name!r}: defjvps's rule {i} must "
                                f"be callable or None, got {type(rule).__name__} {rule!r:.60}")

        def summed(primals, tangents):
            if len(jvps) != len(primals):
                raise TypeError(f"custom_jvp function {self._name!r}: defjvps got "
                                f"{len(jvps)} rules for {len(primals)} arguments")
            primal_out = self(*primals)
            parts = [rule(t, primal_out, *primals) for rule, t in zip(jvps, tangents)
                     if rule is not None]
            if not parts:
                return primal_out, map_leaves(lambda leaf, path: zeros_like(leaf), primal_out)
            flat = [[g for _, g in leaves_like(primal_out, part, f"defjvps's rule {i} output",
                                               "the primal output")]
                    for i, part in enumerate(parts)]
            return primal_out, rebuild(primal_out, [sum(column[1:], column[0])
                                                    for column in zip(*flat)])

        self.defjvp(summed)
        self._rule = "defjvps's rules " + ", ".join(rule_label(rule) for rule in jvps
                                                    if rule is not None)

    def __call__(self, *args, **kwargs):
        if self.jvp is None:
            raise AttributeError(f"No JVP defined for custom_jvp function {self._name!r} "
                                 "using defjvp")
        args = self._vjp._positional(args, kwargs)
        for i in self.nondiff_argnums:
            if i >= len(args):
                raise ValueError(f"custom_jvp function {self._name!r}: nondiff_argnums has "
                                 f"{i} but it got {len(args)} arguments")
        return self._vjp(*args)

    def _split(self, args):
        nondiff = [args[i] for i in self.nondiff_argnums]
        primals = tuple(a for i, a in enumerate(args) if i not in self.nondiff_argnums)
        return nondiff, primals

    def _forward(self, *args):
        """``custom_vjp``'s fwd: the rule on zero tangents under a tape kept for the
        backward."""
        nondiff, primals = self._split(args)
        tangents = tuple(None if p is None else map_leaves(lambda leaf, path: zeros_like(leaf), p)
                         for p in primals)
        watched = [t for t in leaves(tangents) if t.dtype.is_inexact]
        tape = GradientTape(persistent=True, watch_accessed_variables=False)
        with tape:
            tape.watch(watched)
            returned = self.jvp(*nondiff, primals, tangents)
        primal_out, tangent_out = self._checked(returned)
        return primal_out, (tape, tangents, watched, tangent_out)

    def _checked(self, returned):
        """``(primal_out, tangent_out leaves)``; TypeError or ValueError naming what of the
        rule's result is not the pair of like-shaped outputs JAX requires."""
        if not (isinstance(returned, (tuple, list)) and len(returned) == 2):
            raise TypeError(f"custom_jvp function {self._name!r}: the jvp rule must return a "
                            f"pair (primal_out, tangent_out), got {type(returned).__name__} "
                            f"(rule {self._rule})")
        primal_out, tangent_out = returned
        found = leaves_like(primal_out, tangent_out, "the jvp rule's tangent_out",
                            "its primal_out")
        for (path, tangent), primal in zip(found, leaves(primal_out)):
            if not isinstance(primal, Tensor) or not isinstance(tangent, Tensor):
                raise TypeError(f"custom_jvp function {self._name!r}: the jvp rule's "
                                f"primal_out{path} and tangent_out{path} must be Tensors, got "
                                f"{type(primal).__name__} and {type(tangent).__name__} "
                                f"(rule {self._rule})")
            if tangent.shape != primal.shape:
                raise ValueError(f"custom_jvp function {self._name!r}: the jvp rule's "
                                 f"tangent_out{path} has shape {tangent.shape} and dtype "
                                 f"{tangent.dtype}, its primal_out{path} has shape "
                                 f"{primal.shape} and dtype {primal.dtype}; they must match "
                                 f"(rule {self._rule})")
            if tangent.dtype != primal.dtype:        # as jvp checks its caller's tangents
                raise TypeError(f"custom_jvp function {self._name!r}: the jvp rule's "
                                f"tangent_out{path} has dtype {tangent.dtype} but its "
                                f"primal_out{path} has dtype {primal.dtype}; they must be equal "
                                f"(as in jax.jvp): cast it with xg.astype(tangent_out, "
                                f"xg.{primal.dtype}) (rule {self._rule})")
        return primal_out, [tangent for _, tangent in found]

    def _backward(self, *nondiff_residuals_g):
        """``custom_vjp``'s bwd: the gradient of ``<g, tangent_out>`` with respect to the
        tangents, one tree per differentiated argument."""
        (tape, tangents, watched, tangent_out), g = nondiff_residuals_g[-2:]
        cotangents = leaves(g) if is_node(g) else [g]
        grads = tape.gradient(tangent_out, watched, output_gradients=cotangents,
                              unconnected_gradients="zero") if watched else []
        by_id = dict(zip(map(id, watched), grads))
        return tuple(map_leaves(lambda leaf, path: by_id.get(id(leaf)), t) for t in tangents)


def rule_label(rule) -> str:
    """``rule``'s name as an error shows it, with its file and line where it has them (a lambda
    is named only by where it is).

    >>> def log1pexp_jvp(primals, tangents): pass
    >>> rule_label(log1pexp_jvp).split(" ")[0]
    "'log1pexp_jvp'"
    """
    code = getattr(rule, "__code__", None)
    name = repr(getattr(rule, "__name__", None) or type(rule).__name__)
    if code is None:
        return name
    return f"{name} at {os.path.basename(code.co_filename)}:{code.co_firstlineno}"
