"""``custom_gradient``: a function that gives its own gradient, as ``tf.custom_gradient``.

The decorated function returns ``(value, grad_fn)``; ``grad_fn(upstream)`` returns the
gradients of its positional inputs (one, or a sequence with one entry per input, None for
none). A tuple or list of output Tensors as ``value`` gets one upstream each,
``grad_fn(dy1, dy2)``, as TensorFlow's (``custom_outputs.py``; an integer one gets zeros, no
gradient). The output's gradient is ``grad_fn``'s alone; as in TensorFlow, nested tapes still
record the forward's operations (one tape alone does not: it could not use them), so an outer
tape differentiates a ``grad_fn`` written with xpgrad operations through its inputs and through
the values of the forward it reads (second order: ``e`` below, as a JAX ``custom_vjp``'s
residuals). The forward may run NumPy or SciPy on its inputs (``np.asarray(x)``, which raises
elsewhere under a tape): what it computes there is a constant to the tapes, as in PyTorch's
``autograd.Function``. When the forward reads trainable Variables, ``grad_fn`` must take a
keyword argument ``variables`` and return ``(input gradients, variable gradients)``.

>>> import xpgrad as xg
>>> @xg.custom_gradient
... def log1pexp(x):
...     e = xg.exp(x)
...     return xg.log(1.0 + e), lambda upstream: upstream * (1.0 - 1.0 / (1.0 + e))
>>> x = xg.asarray([0.0, 50.0])
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     y = xg.sum(log1pexp(x))
>>> tape.gradient(y, x).tolist()
[0.5, 1.0]
"""
from __future__ import annotations

import functools
import inspect

from . import custom_outputs
from .creation import asarray
from .primitive import Primitive, apply, tape_state
from .tensor import Tensor, _wrap


class _Call:
    """One call of a custom-gradient function, held by its tape node."""

    __slots__ = ("name", "value", "grad_fn", "shapes", "variables", "backend")

    def __init__(self, name, value, grad_fn, shapes, variables, backend):
        self.name, self.value, self.grad_fn = name, value, grad_fn
        self.shapes, self.variables, self.backend = shapes, variables, backend

    def gradients(self, g):
        """The gradients ``grad_fn`` gives for the inputs then the variables: raw arrays, or
        Tensors when ``g`` is one (an outer tape differentiates this backward pass)."""
        higher = isinstance(g, Tensor)
        upstream = g if higher else _wrap(g, self.backend)
        if self.variables:
            returned = self.grad_fn(upstream, variables=list(self.variables))
            if not (isinstance(returned, (tuple, list)) and len(returned) == 2):
                raise TypeError(f"custom_gradient function {self.name!r}: a grad_fn that takes "
                                "variables must return a pair (input gradients, variable "
                                "gradients)")
            for_inputs, for_variables = returned
            for_variables = self._listed(for_variables, len(self.variables), "variable")
        else:
            for_inputs, for_variables = self.grad_fn(upstream), []
        n_inputs = len(self.shapes) - len(self.variables)
        grads = self._listed(for_inputs, n_inputs, "input") + for_variables
        return [self._checked(gi, i, higher) for i, gi in enumerate(grads)]

    def _listed(self, grads, n, what):
        if n == 1 and not isinstance(grads, (tuple, list)):
            grads = [grads]
        if not isinstance(grads, (tuple, list)) or len(grads) != n:
            got = len(grads) if isinstance(grads, (tuple, list)) else 1
            raise ValueError(f"custom_gradient function {self.name!r}: grad_fn returned {got} "
                             f"gradients for {n} {what}{'s' if n != 1 else ''}")
        return list(grads)

    def _checked(self, gi, i, higher):
        if gi is None:
            return None
        if not isinstance(gi, Tensor):
            gi = asarray(gi, backend=self.backend)
        if gi.shape != self.shapes[i]:
            raise ValueError(f"custom_gradient function {self.name!r}: grad_fn's gradient "
                             f"number {i} has shape {gi.shape}, its input has shape "
                             f"{self.shapes[i]}")
        return gi if higher else gi._data


def _forward(xp, *raws, call):
    return call.value


def _joint(xp, g, ans, needs, *inputs, call):
    return call.gradients(g)


_CUSTOM = Primitive("custom_gradient", _forward, joint=_joint, saves=())


def _takes_variables(grad_fn):
    try:
        parameters = inspect.signature(grad_fn).parameters.values()
    except (TypeError, ValueError):
        return True                    # a builtin or C callable: let the call decide
    return any(p.name == "variables" or p.kind is p.VAR_KEYWORD for p in parameters)


def custom_gradient(f):
    """Decorate ``f(*inputs) -> (value, grad_fn)`` so the tapes differentiate it with
    ``grad_fn(upstream) -> gradients of the inputs`` (module docstring; example there)."""
    if not callable(f):
        raise TypeError(f"custom_gradient takes a callable, got {type(f).__name__} {f!r}")
    return _with_gradient(f, getattr(f, "__name__", repr(f)), _variables_keyword_missing)


def _variables_keyword_missing(name, variables, grad_fn):
    if not _takes_variables(grad_fn):
        return TypeError(f"custom_gradient function {name!r} reads the Variables "
                         f"{[v.name for v in variables]}: its grad_fn must take a keyword "
                         "argument `variables` and return (input gradients, variable "
                         "gradients), as in TensorFlow")
    return None


def _with_gradient(f, name, refusal):
    """``f`` (returning ``(value, grad_fn)``) as ``custom_gradient`` makes it; when its forward
    reads Variables besides its inputs, ``refusal(name, variables, grad_fn)`` returns the
    error to raise, or None to pass them to ``grad_fn``."""

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        home = next((a.backend for a in args if isinstance(a, Tensor)), None)
        inputs = [a if isinstance(a, Tensor) else _as_input(a, i, home, name)
                  for i, a in enumerate(args)]
        if not tape_state.recording:
            return _split(f(*inputs, **kwargs), name)[0]
        from .tape import GradientTape

        # Nested tapes record the forward too (TensorFlow's rule), so what grad_fn reads of it
        # (``e = exp(x)``) is a function of the inputs to the outer one: the second derivative.
        # One tape alone cannot differentiate grad_fn, so it is paused (no nodes, no memory).
        outer = tape_state.recording
        if len(outer) < 2:
            tape_state.recording = []
        tape_state.custom_forwards += 1
        try:
            with GradientTape() as probe:     # learns which Variables the forward reads
                value, grad_fn = _split(f(*inputs, **kwargs), name)
        finally:
            tape_state.recording = outer
            tape_state.custom_forwards -= 1
        # Variables passed as inputs get their gradient as inputs (TensorFlow's rule: only
        # the ones the forward reads besides its inputs go to grad_fn's ``variables``)
        given = {id(a) for a in inputs}
        variables = [v for v in probe.watched_variables() if id(v) not in given]
        refused = variables and refusal(name, variables, grad_fn)
        if refused:
            raise refused
        outputs = value if isinstance(value, (tuple, list)) else None
        if outputs is not None:
            value, grad_fn = custom_outputs.joined(outputs, grad_fn, name)
            if value is None:           # only integer or boolean outputs: no gradient
                return custom_outputs.pieces(None, outputs)
        operands = inputs + list(variables)
        call = _Call(name, value._data, grad_fn, [t.shape for t in operands], variables,
                     value._backend)
        result = apply(_CUSTOM, *operands, call=call)
        return result if outputs is None else custom_outputs.pieces(result, outputs)

    return wrapped


def _as_input(value, i, home, name):
    """Positional argument ``i`` as a Tensor on ``home``; TypeError naming it when it is no
    array (a string, an object: ``self`` of a method)."""
    try:
        return asarray(value, backend=home)
    except (TypeError, ValueError):
        raise TypeError(f"custom_gradient function {name!r}: positional argument {i} "
                        f"({type(value).__name__} {value!r:.40}) is not a tensor or numbers, "
                        "so it cannot have a gradient; pass other values by keyword (those "
                        "are not differentiated), and decorate functions, not methods"
                        ) from None


def _split(out, name):
    if not (isinstance(out, tuple) and len(out) == 2 and callable(out[1])
            and (isinstance(out[0], Tensor)
                 or isinstance(out[0], (tuple, list)) and len(out[0]) > 0)):
        got = (f"a pair of ({type(out[0]).__name__}, {type(out[1]).__name__})"
               if isinstance(out, tuple) and len(out) == 2 else type(out).__name__)
        raise TypeError(f"custom_gradient function {name!r} must return a pair (value Tensor, "
                        f"grad_fn), got {got}")
    return out
