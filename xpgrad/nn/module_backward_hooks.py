"""Module backward hooks: PyTorch's ``register_full_backward_pre_hook`` and
``register_full_backward_hook``, built on two ``custom_gradient`` identities around one module
call (as PyTorch's ``BackwardHook`` wraps the call in two identity functions):

- the call's positional floating tensor inputs go through one identity before ``forward``
  (after the forward pre-hooks), its top-level floating tensor outputs (the output, or the
  items of a tuple output) through another after it (after the forward hooks);
- when the backward walk reaches the outputs' identity, each pre-hook
  ``hook(module, grad_output)`` runs and a tuple it returns (of ``grad_output``'s length)
  replaces ``grad_output``; when it reaches the inputs' identity, with every input's gradient
  at once, each hook ``hook(module, grad_input, grad_output)`` runs and a tuple it returns
  replaces ``grad_input``. Both tuples hold one entry per positional argument (per output),
  None for one that is not a floating tensor;
- no input on a tape (a layer called on data only its weights' gradients are asked of): the
  hooks run at the outputs' identity with ``grad_input`` all None, and may not replace it;
- each call is its own (a module called twice in one forward runs its hooks twice); on a
  higher-order walk the hooks get Tensors on the outer tape, which differentiates them; under
  ``xg.function`` they run while the step traces, their operations replay (``module_hooks``);
- outside a tape nothing is wrapped: there is no backward.

>>> import xpgrad as xg
>>> lin = xg.nn.Linear(2, 1, init="ones", rng=0)
>>> seen = []
>>> handle = lin.register_full_backward_hook(lambda m, gin, gout: seen.append(gin[0].tolist()))
>>> x = xg.ones((1, 2))
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     y = xg.sum(lin(x) * 3.0)
>>> tape.gradient(y, x).tolist(), seen
([[3.0, 3.0]], [[[3.0, 3.0]]])
"""
from __future__ import annotations

from ..custom import custom_gradient
from ..primitive import tape_state
from ..tensor import Tensor


class HookedCall:
    """One module call's backward state: the hooks, the tensor positions of its arguments and
    outputs, and the ``grad_output`` the outputs' identity keeps for the inputs' one."""

    __slots__ = ("module", "hooks", "n_args", "input_at", "inputs_taped", "n_out", "output_at",
                 "grad_output")

    def __init__(self, module, hooks, n_args, input_at):
        self.module, self.hooks, self.n_args, self.input_at = module, hooks, n_args, input_at
        self.inputs_taped = False
        self.n_out, self.output_at, self.grad_output = 0, [], None

    def outputs_backward(self, *grads):
        """The outputs' identity's gradient: the pre-hooks, then (no input on a tape) the
        hooks."""
        grad_output = _packed(grads, self.output_at, self.n_out)
        for hook in list(self.hooks.backward_pre.values()):
            result = hook(self.module, grad_output)
            if result is not None:
                grad_output = _replacement(result, len(grad_output), hook, "pre-hook",
                                           "grad_output")
        if not self.inputs_taped:
            none = (None,) * self.n_args
            for hook in list(self.hooks.backward.values()):
                result = hook(self.module, none, grad_output)
                if result is not None and not (isinstance(result, tuple)
                                               and all(r is None for r in result)):
                    raise RuntimeError(
                        f"backward hook {_name(hook)} of {type(self.module).__name__}: no "
                        "input of this call is on a tape (watched, or computed from a watched "
                        "tensor or a Variable), so grad_input is all None and the hook must "
                        "return None or Nones, as in PyTorch")
        else:
            self.grad_output = grad_output
        return _unpacked(grad_output, self.output_at)

    def inputs_backward(self, *grads):
        """The inputs' identity's gradient: the hooks, each given the previous one's
        ``grad_input``."""
        grad_output, self.grad_output = self.grad_output, None
        if grad_output is None:       # reached by another path than the outputs' (PyTorch's)
            return _unpacked(tuple(grads), range(len(grads)))
        grad_input = _packed(grads, self.input_at, self.n_args)
        for hook in list(self.hooks.backward.values()):
            result = hook(self.module, grad_input, grad_output)
            if result is not None:
                grad_input = _replacement(result, len(grad_input), hook, "hook", "grad_input")
        return _unpacked(grad_input, self.input_at)


def wrap_inputs(module, hooks, args):
    """``(args, call)``: the positional arguments with their floating tensors through the
    inputs' identity, and the call's ``HookedCall`` (None outside a tape: no backward)."""
    if not tape_state.recording:
        return args, None
    input_at = [i for i, a in enumerate(args) if _differentiable(a)]
    call = HookedCall(module, hooks, len(args), input_at)
    if input_at:
        outs = _identity(call.inputs_backward, "inputs")(*[args[i] for i in input_at])
        if _on_a_tape(outs):
            call.inputs_taped = True
            args = list(args)
            for i, out in zip(input_at, outs):
                args[i] = out
            args = tuple(args)
    return args, call


def wrap_outputs(call, output):
    """``output`` with its top-level floating tensors through the outputs' identity (a
    Tensor, or the items of a tuple, as PyTorch's; another structure is left unhooked)."""
    if call is None:
        return output
    items = output if isinstance(output, tuple) else (output,)
    call.n_out = len(items)
    call.output_at = [i for i, o in enumerate(items) if _differentiable(o)]
    if not call.output_at:
        return output
    outs = _identity(call.outputs_backward, "outputs")(*[items[i] for i in call.output_at])
    items = list(items)
    for i, out in zip(call.output_at, outs):
        items[i] = out
    if not isinstance(output, tuple):
        return items[0]
    return type(output)(*items) if hasattr(output, "_fields") else tuple(items)


def _identity(backward, what):
    """A ``custom_gradient`` identity of n tensors returning a list of n, whose gradient is
    ``backward(*upstream)`` (a list of n)."""

    def identity(*tensors):
        if len(tensors) == 1:
            return tensors[0], lambda g: backward(g)[0]
        return tuple(tensors), backward
    identity.__name__ = f"module_backward_hook_{what}"
    hooked = custom_gradient(identity)

    def call(*tensors):
        out = hooked(*tensors)
        return [out] if len(tensors) == 1 else list(out)
    return call


def _differentiable(value) -> bool:
    return isinstance(value, Tensor) and (value.dtype.is_floating or value.dtype.is_complex)


def _on_a_tape(tensors) -> bool:
    """Whether a recording tape knows one of ``tensors`` (a tape's ``_keys`` may be a set or,
    inside ``recompute_grad``'s block, an ``OuterTapes``: both answer ``in``, not iteration)."""
    keys = [t._key for t in tensors if t._key]
    return any(key in getattr(tape, "_keys", ()) for tape in tape_state.recording
               for key in keys)


def _packed(grads, positions, n):
    packed = [None] * n
    for i, g in zip(positions, grads):
        packed[i] = g
    return tuple(packed)


def _unpacked(grads, positions):
    return [grads[i] for i in positions]


def _replacement(result, n, hook, kind, what):
    if not isinstance(result, (tuple, list)) or len(result) != n:
        got = f"{len(result)} entries" if isinstance(result, (tuple, list)) else \
            type(result).__name__
        raise RuntimeError(f"backward {kind} {_name(hook)} must return None or a tuple of "
                           f"{n} entries (one per {what} entry, None for none), got {got}")
    return tuple(result)


def _name(hook):
    return getattr(hook, "__qualname__", None) or repr(hook)
