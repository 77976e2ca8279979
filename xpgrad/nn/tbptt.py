"""Truncated backpropagation through time: TBPTT(k1, k2) (Williams & Peng 1990; Sutskever 2013).

Every ``k1`` steps of a long sequence the parameters are updated, with gradients flowing back
``k2 >= k1`` steps. Update ``j`` takes the loss on the ``k1`` new outputs (steps
``[j*k1, (j+1)*k1)``) and runs the model over the window of those steps and the ``k2 - k1``
before them, starting from the state at the window's start with ``stop_gradient``: the tape
holds at most ``k2`` steps, however long the sequence. With ``k2 > k1`` those older steps are
recomputed (with the current weights), so a step costs ``k2 / k1`` forward passes; ``k1 == k2``
(the common case) costs none, and is the loop that runs each block of ``k1`` steps from the
previous block's detached state (a last, shorter block too). ``k2 < k1`` would leave the
earliest outputs of each update without a path back to their inputs and is refused.

The model is any callable ``model(x, state) -> (outputs, new_state)`` with ``state=None``
meaning "start from zeros"; ``xg.nn.LSTM``, ``GRU`` and ``RNN`` are such models
(unidirectional ones: a bidirectional layer's reverse direction reads the sequence from its
end, which a window does not hold). ``x`` and ``outputs`` are batch first (time axis 1) or,
for a model whose recurrent layers have ``batch_first=False`` (PyTorch's default), time major
(time axis 0): the windows are cut along the time axis of the model's layout
(``batch_first=`` says it for a plain function or a model whose layers disagree).

>>> import xpgrad as xg
>>> lstm = xg.nn.LSTM(1, 4, rng=0)
>>> x = xg.ones((2, 30, 1)); y = xg.zeros((2, 30, 4))
>>> loss = lambda out, target: xg.losses.mse(out, target)
>>> result = tbptt_train(lstm, loss, xg.optim.SGD(learning_rate=0.1), x, y, k1=10)
>>> len(result.losses), result.state[0].shape
(3, (1, 2, 4))
>>> gru = xg.nn.GRU(1, 4, batch_first=False, rng=0)          # time major: (time, batch, ...)
>>> result = tbptt_train(gru, loss, xg.optim.SGD(learning_rate=0.1), xg.ones((30, 2, 1)),
...                      xg.zeros((30, 2, 4)), k1=10)
>>> len(result.losses), result.state.shape
(3, (1, 2, 4))
"""
from __future__ import annotations

import inspect
import numbers
import warnings
import weakref
from dataclasses import dataclass, field

import numpy as np

from .._args import flag
from ..conversion import named_asarray
from ..ops.joining import concat
from ..tape import GradientTape, stop_gradient
from ..tensor import Tensor
from ._layout import model_layout


def detach(state, what="a recurrent state"):
    """``state`` (a Tensor, None, or nested tuples/lists of them) cut from every tape, its
    structure kept (``xg.stop_gradient`` of a pair stacks it into one tensor): what a
    training loop does to the final states it feeds into the next chunk, as PyTorch's
    ``tuple(s.detach() for s in state)``. ``what`` names ``state`` in the TypeError for
    anything else.

    >>> import xpgrad as xg
    >>> _, state = xg.nn.LSTM(2, 3, rng=0)(xg.ones((1, 4, 2)))
    >>> type(xg.nn.detach(state)).__name__, len(xg.nn.detach(state))
    ('tuple', 2)
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return stop_gradient(state)
    if isinstance(state, (tuple, list)):
        return type(state)(detach(s, what) for s in state)
    raise TypeError(f"{what} must be a Tensor or a tuple/list of them, got "
                    f"{type(state).__name__}")


@dataclass
class TBPTTResult:
    """What ``tbptt_train`` did: one loss per update and the final (detached) state."""

    losses: list = field(default_factory=list)
    state: object = None
    updates: int = 0


def windows(n_steps: int, k1: int, k2: int):
    """``(w0, block_start, block_end, next_start)`` for every update over ``n_steps``.

    The update runs steps ``[w0, block_end)`` from the state at ``w0``, takes the loss on
    ``[block_start, block_end)`` and keeps the state at ``next_start`` (the next window's start).
    A window holds its block and the ``k2 - k1`` steps before it (fewer at the start): a last,
    shorter block backpropagates that much further back too, no more.

    >>> list(windows(7, 2, 3))
    [(0, 0, 2, 1), (1, 2, 4, 3), (3, 4, 6, 5), (5, 6, 7, 7)]
    >>> list(windows(7, 3, 3))              # the loop over blocks of detached states
    [(0, 0, 3, 3), (3, 3, 6, 6), (6, 6, 7, 7)]
    """
    k1, k2 = _check_k(k1, k2)
    extra = k2 - k1
    out = []
    for start in range(0, n_steps, k1):
        end = min(start + k1, n_steps)
        nxt = max(0, end - extra) if end < n_steps else end
        out.append((max(0, start - extra), start, end, nxt))
    return out


def _check_k(k1, k2):
    """``(k1, k2)`` as Python ints (NumPy integers too), checked: TypeError for another type,
    ValueError for one below 1 or ``k2 < k1``."""
    out = []
    for name, k in (("k1", k1), ("k2", k2)):
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise TypeError(f"{name} must be a positive int, got {type(k).__name__} {k!r}")
        if k < 1:
            raise ValueError(f"{name} must be a positive int, got {k!r}")
        out.append(int(k))
    k1, k2 = out
    if k2 < k1:
        raise ValueError(f"k2={k2} < k1={k1} is not supported: an update takes the loss on the "
                         f"last k1 outputs, so it must backpropagate at least k1 steps "
                         f"(use k2 >= k1; k2 == k1 is the usual choice)")
    return k1, k2


def tbptt_train(model, loss_fn, optimizer, inputs, targets, k1, k2=None, *, state=None,
                variables=None, max_grad_norm=None, grad_norm_eps=0.0, callback=None,
                compile=False, batch_first=None) -> TBPTTResult:
    """Train ``model`` on one batch of long sequences with TBPTT(k1, k2); see the module doc.

    ``inputs`` and ``targets`` are (B, N, ...) batch-first Tensors, or (N, B, ...) time-major
    ones when the model's recurrent layers have ``batch_first=False`` (NumPy arrays are taken
    as ``xg.asarray`` takes them, onto the model's backend); ``batch_first=``
    (default None: the layers' layout, batch first if the model holds none, as for a plain
    function) says the layout outright, and contradicting every recurrent layer of the model
    is a ValueError. ``loss_fn(outputs, targets)`` gets the outputs and targets of the ``k1``
    new steps (a scalar). ``k2`` defaults to ``k1``. ``state`` is the state to start from
    (None: the model's zeros); ``variables`` defaults to ``model.trainable_variables``;
    ``max_grad_norm`` clips by global norm, scaling by ``max_grad_norm / max(norm +
    grad_norm_eps, max_grad_norm)``: ``grad_norm_eps=0`` (the default) is TensorFlow's
    ``clip_by_global_norm``, ``grad_norm_eps=1e-6`` is exactly
    ``torch.nn.utils.clip_grad_norm_`` (which adds 1e-6 to the norm);
    ``callback(update_index, loss_value)`` runs after every update. Returns the losses and the
    final state (detached), to carry into the next call on the continuation of the sequences.
    ``compile=True`` runs each window's update as an ``xg.function`` (traced once per window
    shape, replayed after; kept across calls with the same model, loss, optimizer and
    variables): the same numbers as eager, without per-op dispatch. A model that is or holds a
    layer with ``bidirectional=True`` is refused (ValueError, before any update): its reverse
    direction cannot be truncated (PyTorch would run it; the numbers would mean nothing).
    With an ``xg.distributed.DistributedOptimizer`` each rank's gradients are weighted by its
    batch rows (``weight=``), so ranks with uneven shares of a batch update as one process on
    the whole batch would, for a ``loss_fn`` that averages over the batch.
    """
    k1, k2 = _check_k(k1, k1 if k2 is None else k2)
    for name, f in (("model", model), ("loss_fn", loss_fn), ("callback", callback)):
        if not (callable(f) or (f is None and name == "callback")):
            raise TypeError(f"tbptt_train: {name} must be callable, got {type(f).__name__}")
    _refuse_bidirectional(model)
    batch_first = model_layout(model, batch_first, "tbptt_train")
    axis = 1 if batch_first else 0
    layout = "a batch-first Tensor (batch, time, ...)" if batch_first else (
        "a time-major Tensor (time, batch, ...) (batch_first=False)")
    if not callable(getattr(optimizer, "apply_gradients", None)):
        raise TypeError(f"tbptt_train: optimizer must be an xg.optim optimizer (with "
                        f"apply_gradients), got {type(optimizer).__name__}")
    variables = _variables(model, variables)
    _check_options(variables, max_grad_norm, grad_norm_eps)
    backend = variables[0].backend if variables else None
    inputs = _as_tensor(inputs, "inputs", layout, backend)
    targets = _as_tensor(targets, "targets", layout, backend)
    for name, t in (("inputs", inputs), ("targets", targets)):
        if t.ndim < 2:
            raise ValueError(f"{name} must be {layout}, got "
                             f"{getattr(t, 'shape', type(t).__name__)}")
    _refuse_unbatched(model, inputs, batch_first)
    n = inputs.shape[axis]
    if targets.shape[:2] != inputs.shape[:2]:
        raise ValueError(f"inputs {inputs.shape} and targets {targets.shape} must agree on "
                         + ("(batch, time)" if batch_first else "(time, batch)"))
    compile = flag(compile, "compile", "tbptt_train")
    from ..optim import clip_global_norm

    reduce = getattr(optimizer, "reduce_gradients", None)     # a DistributedOptimizer's
    # each rank weighted by its rows: the mean over the global batch for uneven shares
    weighted = {"weight": inputs.shape[0 if batch_first else 1]} if reduce is not None else {}

    def local(state, x, y, cuts, start, nxt):
        """One window: forward over ``x`` (steps ``cuts[0]..cuts[-1]``, relative), loss on the
        steps from ``start``, gradients; returns the loss, the gradients and the states to
        carry."""
        pieces, carried = [], state
        with GradientTape() as tape:
            s = state
            for a, b in zip(cuts[:-1], cuts[1:]):
                out, s = _pair_of(model(x[:, a:b] if batch_first else x[a:b], s))
                if a >= start:
                    pieces.append(out)
                if b == nxt:
                    carried = detach(s)
            out = pieces[0] if len(pieces) == 1 else concat(pieces, axis=axis)
            loss = _scalar_loss(loss_fn(out, y))
        return loss, tape.gradient(loss, variables), carried, detach(s)

    def update(*window):
        """``local``, then the update (clipped by global norm after the ranks' reduction)."""
        loss, grads, carried, last = local(*window)
        apply, weighted_here = optimizer, weighted
        if max_grad_norm is not None:
            if reduce is not None:
                grads = [g for g, _ in reduce(zip(grads, variables), **weighted)]
                apply, weighted_here = optimizer.optimizer, {}
            grads, _ = clip_global_norm(grads, max_grad_norm, eps=grad_norm_eps)
        apply.apply_gradients(zip(grads, variables), **weighted_here)
        return loss, carried, last

    if compile:
        # a reduction across ranks cannot be traced: with a DistributedOptimizer only the
        # forward and backward pass are, the reduction and update run after each replay
        compiled = _compiled(local if reduce else update, model, loss_fn, optimizer, variables,
                             (max_grad_norm, grad_norm_eps, batch_first))
        if reduce:
            local = compiled
        else:
            update = compiled
    result = TBPTTResult()
    try:
        _run(update, result, inputs, targets, n, k1, k2,
             detach(state, "tbptt_train: state (the state to start from)"), callback,
             batch_first)
    finally:
        if compile:
            # the cache is keyed weakly by the model: the update closure (which holds the
            # model) may not stay in it, or the model and its programs would never die
            compiled.fn = compiled.__wrapped__ = None
    return result


def _as_tensor(value, name, layout, backend):
    """``inputs`` or ``targets`` as a Tensor: a NumPy array converted as ``xg.asarray`` does,
    onto the model's backend (``xg.function`` takes them too); anything else a TypeError."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return named_asarray(value, f"tbptt_train: {name}", backend=backend)
    raise TypeError(f"tbptt_train: {name} must be {layout} or a NumPy array, got "
                    f"{type(value).__name__}")


def _pair_of(result):
    """The model's ``(outputs, new_state)``, checked: a lone tensor would be unpacked along
    its first axis into a confusing shape error later."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        what = (f"a {type(result).__name__} of {len(result)}" if isinstance(result, (tuple, list))
                else f"a {type(result).__name__}")
        raise TypeError(f"tbptt_train: model must return (outputs, new_state), as the "
                        f"recurrent layers do, got {what}")
    return result


def _scalar_loss(loss):
    """``loss_fn``'s result, checked to be a 0-d tensor before any gradient is applied."""
    shape = getattr(loss, "shape", None)
    if shape is None or len(shape) != 0:
        got = f"shape {tuple(shape)}" if shape is not None else type(loss).__name__
        raise TypeError(f"tbptt_train: loss_fn must return a scalar (0-d) tensor, got {got} "
                        f"(reduce it, e.g. with xg.mean)")
    return loss


def _refuse_bidirectional(model):
    """ValueError when ``model`` is, or holds, a recurrent layer with ``bidirectional=True``:
    its reverse direction would read each window backwards from the window's end, not from
    the sequence's, and the state it carries out (at the window's start) would start the
    next window's reverse pass -- numbers, but not a truncation of the whole sequence's
    gradient. PyTorch does not stop this; a model given as a plain function is not looked
    into."""
    from .module import Module

    if not isinstance(model, Module):
        return
    for m in (model, *model.submodules()):
        if getattr(m, "bidirectional", False) is True:
            raise ValueError(
                f"tbptt_train: {type(m).__name__} {m.name!r} has bidirectional=True, which "
                "truncated BPTT cannot train: its reverse direction would read each window "
                "from the window's end instead of the sequence's, and carry the state at the "
                "window's start into the next window. Train it on whole sequences (one "
                "GradientTape over the sequence) or use bidirectional=False")


def _refuse_unbatched(model, inputs, batch_first):
    """ValueError when ``model`` is an RNN/LSTM/GRU and ``inputs`` is 2-D: one unbatched
    (time, input_size) sequence, which the layer reads but whose windows would be cut along
    the wrong axis (batch first: the features, so one update over the whole sequence)."""
    from .recurrent_layers import _Sequence

    if isinstance(model, _Sequence) and inputs.ndim == 2:
        fix = "inputs[None] and targets[None]" if batch_first else \
            "inputs[:, None] and targets[:, None]"
        raise ValueError(f"tbptt_train: inputs of shape {inputs.shape} are one unbatched "
                         f"(time, input_size) sequence for {type(model).__name__} "
                         f"{model.name!r}; tbptt_train cuts a batch of sequences along time: "
                         f"give them a batch axis of one ({fix})")


def _variables(model, variables):
    """``variables`` as a list (default: ``model.trainable_variables``)."""
    if variables is None:
        if not hasattr(model, "trainable_variables"):
            raise TypeError(f"tbptt_train: the model is a {type(model).__name__}, which has no "
                            f"trainable_variables; give the Variables to train as "
                            f"variables=, e.g. variables=layer.trainable_variables")
        return list(model.trainable_variables)
    try:
        return list(variables)
    except TypeError:
        raise TypeError(f"tbptt_train: variables must be a list of Variables (default: the "
                        f"model's trainable variables), got {type(variables).__name__}"
                        ) from None


def _check_options(variables, max_grad_norm, grad_norm_eps):
    """Checked before the first update: a bad option fails with nothing trained (``callback``
    is checked with ``model`` and ``loss_fn``)."""
    from ..optim._checks import hyperparameter
    from ..tensor import Variable

    for v in variables:
        if not isinstance(v, Variable):
            raise TypeError(f"variables must be Variables (default: the model's trainable "
                            f"variables), got {type(v).__name__}")
    if max_grad_norm is not None:
        hyperparameter("max_grad_norm", max_grad_norm, low=0.0, low_open=True)
    hyperparameter("grad_norm_eps", grad_norm_eps, low=0.0, owner="tbptt_train")


def _run(update, result, inputs, targets, n, k1, k2, state, callback, batch_first):
    """The updates of one ``tbptt_train`` call, into ``result``."""
    for w0, start, end, nxt in windows(n, k1, k2):
        cuts = tuple(c - w0 for c in sorted({w0, nxt, start, end}))
        x, y = ((inputs[:, w0:end], targets[:, start:end]) if batch_first
                else (inputs[w0:end], targets[start:end]))
        loss, carried, last = update(state, x, y, cuts, start - w0, nxt - w0)
        state = carried if nxt < n else last
        carried = last = None    # the state not carried on is not kept through the next window
        value = float(loss)
        del loss                 # nothing of this update's tape outlives it
        result.losses.append(value)
        result.updates += 1
        if callback is not None:
            callback(result.updates - 1, value)
    result.state = state


#: model -> {(loss_fn's identity, optimizer's, variables', options): (weak references to
#: loss_fn and optimizer, xg.function of the update)}; nothing in it holds the model (a loss
#: that is a bound method of it would keep it, and its programs, alive for ever)
_COMPILED = weakref.WeakKeyDictionary()
#: the programs kept per model: a loss function made afresh for every call (a lambda) traces
#: anew each time, and the oldest are dropped
PER_MODEL = 8


class _Programs(dict):
    """One model's entries, with ``made``: how many Functions were made for it."""

    made = 0


def _weak(obj):
    """A callable giving back ``obj`` while it lives (then None): a bound method is held as
    ``WeakMethod`` (each attribute access makes a new bound method object)."""
    try:
        return weakref.WeakMethod(obj) if inspect.ismethod(obj) else weakref.ref(obj)
    except TypeError:                   # no weak reference: held, as before
        return lambda: obj


def _identity(obj):
    if inspect.ismethod(obj):
        return (id(obj.__self__), id(obj.__func__))
    return id(obj)


def _compiled(update, model, loss_fn, optimizer, variables, options):
    """The window update as an ``xg.function``, one per model/loss/optimizer/variables and
    ``options`` (what else the update's computation depends on: clipping, layout)."""
    from ..jit import Function

    key = (_identity(loss_fn), id(optimizer), tuple(map(id, variables)), options)
    try:
        per_model = _COMPILED.setdefault(model, _Programs())
    except TypeError:                   # a model that takes no weak reference: not kept
        per_model = _Programs()
    entry = per_model.pop(key, None)
    if entry is not None and entry[0]() == loss_fn and entry[1]() is optimizer:
        fn = entry[2]
        fn.fn = fn.__wrapped__ = update      # the same computation; this call's closure
    else:                               # new, or an id reused by another loss or optimizer
        fn = Function(update, max_traces=16, retrace_warning=16)
        # each call gives it a new closure of the same computation (its helpers made anew):
        # this cache's key and the model's structure guard are what it depends on. Name
        # guards would fail on every call: the helper ``local`` and the list of Variables are
        # made anew, and a guard of ``local``'s closure holds the old ``local`` weakly
        fn._walk_names = False
        entry = (_weak(loss_fn), _weak(optimizer), fn)
        if len(per_model) >= PER_MODEL:
            per_model.pop(next(iter(per_model)))
        per_model.made = made = per_model.made + 1
        if made == PER_MODEL + 1:
            warnings.warn(f"tbptt_train(compile=True) has traced the update for "
                          f"{made} loss functions or optimizers with one model; a loss made "
                          f"afresh for every call (a lambda) is traced anew each time: pass "
                          f"the same function object", RuntimeWarning, stacklevel=3)
    per_model[key] = entry              # the most recent last
    return fn


__all__ = ["tbptt_train", "TBPTTResult", "detach", "windows"]
