"""Optimizer base class: Keras-style ``apply_gradients`` / ``minimize`` on top of update primitives.

Each optimizer keeps lazily created state arrays ("slots") per variable and updates the
variable's array in place, outside any tape, through one update primitive (``sgd_update``,
``adam_update``, ... in ``xpgrad.ops.optim``), for which a backend may register a fused kernel.
The first update of a variable replaces its array by a private copy (so arrays shared with user
code are never written), and so does any later update while something else still holds the
array -- a tape that saved it for a gradient not yet taken, as TensorFlow copies a variable's
buffer before an update when a read of it is alive -- so that gradient uses the weights its
forward pass used. The hyperparameters (``hyperparameters.py``) and the checkpoint methods
(``optimizer_checkpoints.py``) are base classes of their own.

>>> import xpgrad as xg
>>> w = xg.Variable([1.0, 2.0], name="w")
>>> opt = xg.optim.SGD(learning_rate=0.5)
>>> with xg.GradientTape() as tape:
...     loss = xg.sum(w * w)
>>> opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
1
>>> w.tolist()
[0.0, 0.0]
"""
from __future__ import annotations

import sys
import warnings

from .._args import pointer
from ..deferred import DeferredGradient, hint
from ..tensor import Tensor, Variable
from .apply_checks import APPLY_CHECK
from ._checks import learning_rate_fits, non_negative_int
from .missing_gradients import warn_missing_gradients
from .gradient_clipping import clip_global_norm, clip_value
from .complex_pairs import as_real_pairs, supports_real_pairs
from .pairs import check_loss, checked_gradient, listed_variables, module_hint, unpack_pair
from ..keyword_checks import named_parameters
from .foreign_names import OTHER_NAMES, refuse, refuse_minimize_argument
from .hyperparameters import Hyperparameters
from .optimizer_checkpoints import OptimizerCheckpoints, _named  # noqa: F401 (re-exported)
from .schedules_base import MODEL_GIVEN, fitting_constant_rate, model_or_variables
from .update_modes import _COPY_ON_WRITE
from ..trace_thread import RUNNING as _RUNNING, recording_session


class Optimizer(Hyperparameters, OptimizerCheckpoints):
    """Base class; subclasses define ``_slot_names()`` and ``_update(...)``.

    ``learning_rate`` is a float or a callable of the step (see ``xg.optim.schedules``);
    ``global_clipnorm`` clips all gradients of one ``apply_gradients`` call together by their
    global norm before the update, ``clipnorm`` each gradient by its own norm, ``clipvalue``
    each entry to ``[-clipvalue, clipvalue]`` (Keras' three, one at a time); ``weight_decay``
    is L2 decay added to the gradient (AdamW: decoupled, PyTorch's convention).

    Every hyperparameter is checked when the optimizer is made and whenever it is set later
    (``opt.momentum = 0.95``, acting from the next update): a real number (Python, NumPy
    scalar or 0-d array/Tensor), finite and in its range, else ValueError/TypeError naming it.
    A schedule's value is checked at each step that uses it (finite, >= 0, and within float32's
    range for a float32 variable, as PyTorch), before any variable changes. Gradients are
    applied as given: a NaN or inf gradient makes NaN weights, as in PyTorch and TensorFlow
    (check ``xg.isfinite`` on the loss or the global norm to skip a step).
    """

    #: dtype kinds updated as they are ('f' real, 'c' complex floating); the adaptive formulas
    #: (g**2, sqrt) take a complex variable as pairs of reals, as PyTorch (complex_pairs.py)
    _dtype_kinds = "f"

    #: the TypeError's text for PyTorch's first argument, ``model.parameters()``
    _MODEL_GIVEN = "{name}: " + MODEL_GIVEN

    def __new__(cls, *args, **kwargs):
        # PyTorch's SGD(params, learning_rate=...): Python's "multiple values" error otherwise
        first = args[0] if args else kwargs.get("learning_rate")
        if not isinstance(first, (float, int)) and model_or_variables(first):
            raise TypeError(cls._MODEL_GIVEN.format(name=cls.__name__))
        return super().__new__(cls)

    @classmethod
    def _keywords(cls) -> set:
        """The keywords the optimizer takes: its ``__init__``'s and those it passes on."""
        return {name for owner in cls.__mro__ if "__init__" in vars(owner)
                for name in named_parameters(vars(owner)["__init__"])}

    def __init__(self, learning_rate, *, weight_decay=0.0, global_clipnorm=None, clipnorm=None,
                 clipvalue=None, name=None, **unknown):
        if unknown:                  # PyTorch's groups first: AdamW(groups, lr=..., betas=...)
            self._as_schedule(learning_rate)
            refuse(type(self).__name__, unknown, self._keywords())
        self._schedule = self._as_schedule(learning_rate)
        self.weight_decay = weight_decay
        clipping = {"global_clipnorm": global_clipnorm, "clipnorm": clipnorm,
                    "clipvalue": clipvalue}
        if sum(v is not None for v in clipping.values()) > 1:
            raise ValueError(f"{type(self).__name__}: give only one of clipnorm, clipvalue and "
                             "global_clipnorm (as Keras): they clip the same gradients three "
                             "ways")
        for key, value in clipping.items():
            setattr(self, key, value)
        self.name = name or type(self).__name__.lower()
        self.iterations = 0          # updates applied so far (the schedules' step)
        self._state: dict = {}       # id(var) -> (var, {slot: raw array or int})
        session = recording_session() if _RUNNING[0] else None
        if session is not None:
            session.fresh.made_now(self)      # made by the traced call (jit/fresh.py)

    def __setstate__(self, state):
        """Unpickled or deep-copied (``copy.deepcopy``), the per-variable state is filed under
        the copied Variables, which are new objects: without this the copy started its moments
        from zero."""
        self.__dict__.update(state)
        self.__dict__["_state"] = {id(var): (var, slots) for var, slots in state["_state"].values()}

    # -- state --------------------------------------------------------------------------------
    def _slot_names(self) -> tuple:
        return ()

    def _state_for(self, var) -> dict:
        entry = self._state.get(id(var))
        if entry is not None and entry[0] is var:
            return entry[1]
        be = var._backend
        var._data = be.owned_copy(var._data)   # own the array we write into
        state = self._new_state(be, var._data, var)
        self._state[id(var)] = (var, state)
        return state

    def _new_state(self, be, data, var) -> dict:
        """The state of ``var`` (a Tensor whose array is ``data``) before its first update:
        the stateful updates' and the functional ``init``'s (``functional.py``)."""
        state = {slot: be.xp.zeros_like(data) for slot in self._slot_names()}
        state.update(self._extra_state(var))
        return state

    def _extra_state(self, var) -> dict:
        return {}

    @staticmethod
    def _optional_slot(be, state, slot, param):
        """``state[slot]``, made (zeros like ``param``) when an option that needs it was
        switched on after the variable's first update (``opt.momentum = 0.9``)."""
        array = state.get(slot)
        if array is None:
            array = state[slot] = be.xp.zeros_like(param)
        return array

    # -- updates ------------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars) -> int:
        """Apply ``(gradient, variable)`` pairs; returns the new ``iterations`` count.

        None gradients are skipped with a warning naming their variables (once per optimizer,
        Keras' "Gradients do not exist for variables"), but not all of them: when no variable
        has a gradient this raises ValueError listing them (TensorFlow's "No gradients
        provided for any variable"), since a step that changes nothing is almost always a loss not connected to the
        variables. Everything is checked before any variable changes: each variable (a
        Variable, of a floating dtype the optimizer supports, listed once), each gradient
        (shape, backend, a floating dtype: a Tensor, an array or a list) and the learning rate
        of this step.

        >>> import xpgrad as xg
        >>> w = xg.Variable([1.0], name="w")
        >>> try:
        ...     xg.optim.SGD(0.1).apply_gradients([(None, w)])
        ... except ValueError as e:
        ...     print(str(e).splitlines()[0])
        No gradients provided for any variable: ['w']
        """
        session = recording_session() if _RUNNING[0] else None
        if session is not None:
            # this thread's trace records the update as one step (jit/capture.py); another
            # thread's trace leaves this one alone
            return session.optimizer_step(self, grads_and_vars)
        grads, variables, seen, names, missing = [], [], set(), [], []
        if isinstance(grads_and_vars, (Tensor, dict)) or not hasattr(grads_and_vars,
                                                                      "__iter__"):
            raise TypeError("apply_gradients takes an iterable of (gradient, variable) pairs, "
                            f"e.g. zip(grads, variables); got {type(grads_and_vars).__name__}"
                            + module_hint(grads_and_vars))
        states = self._state
        for pair in grads_and_vars:
            # unpack_pair and checked_gradient, their usual case inline (this runs per
            # variable per step): a 2-tuple (zip's), a Variable, a Tensor gradient of its
            # backend, shape and dtype
            if pair.__class__ is tuple and len(pair) == 2 and pair[1].__class__ is Variable:
                g, v = pair
            else:
                g, v = unpack_pair(pair)
            i = id(v)
            if i in seen:
                raise ValueError(f"variable {v.name!r} appears twice in apply_gradients")
            seen.add(i)
            names.append(v)                   # named only in the error below
            if i not in states:               # checked once: a Variable keeps its dtype
                self._check_variable(v)
            if g is None:
                missing.append(v)
                continue
            if g.__class__ is not Tensor or g._backend is not v._backend or \
                    g._data.shape != v._data.shape or g._data.dtype != v._data.dtype:
                if g.__class__ is not DeferredGradient or not g.fits(v):
                    g = checked_gradient(g, v)
            grads.append(g)
            variables.append(v)
        if not names:
            raise ValueError("apply_gradients got no (gradient, variable) pairs; pass "
                             "zip(grads, variables) with at least one variable")
        if not grads:
            raise ValueError(f"No gradients provided for any variable: {[v.name for v in names]}"
                             "\nEvery gradient "
                             "is None: the loss does not depend on these variables (is the "
                             "loss computed from them inside the GradientTape?)")
        if APPLY_CHECK[0] is not None:      # xpgrad.distributed's (optim/apply_checks.py)
            APPLY_CHECK[0](self, grads)
        # a float rate was checked when it was set (unless a subclass computes its own)
        lr = fitting_constant_rate(self) if type(self).learning_rate is _LEARNING_RATE else None
        if lr is None:
            lr = self.learning_rate         # a bad schedule value raises before any update
            learning_rate_fits(lr, variables)
        if self.global_clipnorm is not None or self.clipnorm is not None or \
                self.clipvalue is not None:
            grads = self._clipped(grads, [repr(v.name) for v in variables])
        folds = self._folds()
        shared = _COPY_ON_WRITE.on
        real_only = "c" not in self._dtype_kinds
        refcount = sys.getrefcount
        work = list(zip(grads, variables))
        first = len(work)
        for i, (g, v) in enumerate(work):
            if folds and i < first and g.__class__ is DeferredGradient:
                # folded last: its gemm streams the whole weight through the caches, which
                # the small updates would then find cold (B=32 MLP step: ~10 us)
                work.append((g, v))
                continue
            entry = states.get(id(v))         # _state_for's usual case inline
            state = entry[1] if entry is not None and entry[0] is v else self._state_for(v)
            data = v._data
            # a tape or a slice reads the old array (getrefcount: v, data, its argument); a
            # view's base (_view_seen, inline): held by data, base and the argument
            if shared and (refcount(data) > 3 or (base := getattr(data, "base", None)) is not None
                           and refcount(base) > 3):
                data = v._data = v._backend.owned_copy(data)
            base = None
            if folds:                         # xpgrad/deferred.py
                if g.__class__ is not DeferredGradient:
                    hint(v)
                elif self._fold(data, g.pending(), lr):
                    continue
            raw = g._data
            if raw.dtype != data.dtype:
                raw = v._backend.xp.astype(raw, data.dtype)
            if real_only and getattr(raw.dtype, "kind", None) == "c":
                data = None
                self._update(v._backend, *as_real_pairs(v._data, raw, state), lr)
            else:
                self._update(v._backend, data, raw, state, lr)
            data = None
        if missing:                         # skipped, as Keras, which warns
            warn_missing_gradients(self, missing)
        iterations = self.iterations + 1
        if type(self).__setattr__ is Optimizer.__setattr__ and \
                self._CHECKS.get("iterations") is non_negative_int:
            object.__setattr__(self, "iterations", iterations)   # what __setattr__ would do
        else:
            self.iterations = iterations
        return iterations

    def apply(self, grads, variables) -> int:
        """Apply ``grads`` to ``variables`` (Keras 3's ``optimizer.apply``); returns the new
        ``iterations`` count. ``grads`` comes in the structure of ``variables``: a model's
        gradient shaped like it (``tape.gradient(loss, model)``, ``xg.grad(loss)(model)``: its
        trainable Variables are updated, None places skipped), or a list, tuple or dict of
        gradients for one of Variables (Modules inside too). Then as ``apply_gradients``.

        >>> import xpgrad as xg
        >>> model = xg.nn.Linear(2, 1, init="ones", rng=0)
        >>> with xg.GradientTape() as tape:
        ...     loss = xg.sum(model(xg.ones((1, 2))))
        >>> xg.optim.SGD(0.5).apply(tape.gradient(loss, model), model)
        1
        >>> model.w.tolist(), model.b.tolist()
        ([[0.5], [0.5]], [-0.5])
        """
        from ..module_sources import gradient_pairs

        return self.apply_gradients(gradient_pairs(grads, variables))

    def _clipped(self, grads, owners) -> list:
        """``grads`` (Tensors) clipped as ``global_clipnorm``, ``clipnorm`` or ``clipvalue``
        say; ``owners`` names what each is the gradient of (in ``clipvalue``'s errors)."""
        if self.global_clipnorm is not None:
            return clip_global_norm(grads, self.global_clipnorm)[0]
        if self.clipnorm is not None:
            return [clip_global_norm([g], self.clipnorm)[0][0] for g in grads]
        if self.clipvalue is not None:
            return [clip_value(g, self.clipvalue, f"the gradient of {owner}")
                    for g, owner in zip(grads, owners)]
        return grads

    def _check_variable(self, v) -> None:
        kind = v.dtype.kind
        if kind in self._dtype_kinds or (kind == "c" and supports_real_pairs(v._data)):
            return
        if kind == "c":
            raise TypeError(f"{type(self).__name__} cannot update the complex variable "
                            f"{v.name!r} ({v.dtype}) on backend {v.backend.name!r}: it updates "
                            "the real and imaginary parts through a real view (NumPy's, CuPy's); "
                            "use SGD, or keep the two parts in two real Variables")
        raise TypeError(f"variable {v.name!r} has dtype {v.dtype} and cannot be trained: an "
                        f"optimizer updates floating-point variables (make it with a float "
                        f"dtype, e.g. xg.Variable(..., dtype=xg.float32))")

    def _update(self, be, param, grad, state, lr):
        raise NotImplementedError

    def _folds(self) -> bool:
        """Whether this step's updates are ``W -= lr * g`` and may take a deferred gradient
        (``xpgrad/deferred.py``) as its factors: ``_fold`` then."""
        return False

    def _fold(self, param, product, lr) -> bool:
        """Update ``param`` by the gradient ``product`` (an ``xpgrad.deferred.Product``, or
        None) without computing it; False (nothing done) where it cannot."""
        return False

    def _l2(self, be, param, grad):
        return grad + self.weight_decay * param if self.weight_decay else grad

    # -- functional form (optax's) ----------------------------------------------------------
    def init(self, params):
        """The state for functional updates of ``params`` (any pytree of Tensors or NumPy
        arrays): an ``xg.optim.OptimizerState``, as optax's ``opt.init(params)``. This optimizer keeps
        nothing of it: one optimizer serves any number of states (``functional.py``).

        >>> import xpgrad as xg
        >>> int(xg.optim.Adam(1e-3).init({"w": xg.zeros(3)}).count)
        0
        """
        from .functional import init

        return init(self, params)

    def update(self, grads, state, params=None):
        """``(updates, new_state)``, as optax's ``opt.update(grads, state, params)``: the
        numbers ``apply_gradients`` gives on Variables holding ``params`` (clipping,
        schedule at ``state.count``, weight decay), with ``params + updates`` its new weights
        (``xg.optim.apply_updates``). Nothing given is written; ``params`` may be left out
        without weight decay.

        >>> import xpgrad as xg
        >>> opt = xg.optim.SGD(0.1, momentum=0.9)
        >>> params = [xg.asarray([1.0])]
        >>> state = opt.init(params)
        >>> for _ in range(2):
        ...     updates, state = opt.update([xg.asarray([1.0])], state, params)
        ...     params = xg.optim.apply_updates(params, updates)
        >>> round(params[0].item(), 4)     # 1 - 0.1 * (1 + 1.9), as the class example
        0.71
        """
        from .functional import update

        return update(self, grads, state, params)

    def minimize(self, loss_fn, variables=None, **unknown):
        """Record ``loss_fn()`` on a tape, differentiate it and apply one update; returns the
        loss. ``variables``: a list of Variables, one Variable, a dict of them, an object with
        ``trainable_variables`` (a Module), or None for every trainable Variable the loss
        touched. The loss must be real floating-point (not integer or complex).

        >>> import xpgrad as xg
        >>> w = xg.Variable(3.0)
        >>> _ = xg.optim.SGD(0.25).minimize(lambda: w * w, [w]); w.item()
        1.5
        """
        if unknown:
            refuse_minimize_argument(next(iter(unknown)))
        loss, pairs = loss_and_gradients(loss_fn, variables)
        self.apply_gradients(pairs)
        return loss


def loss_and_gradients(loss_fn, variables=None):
    """``(loss, [(gradient, variable), ...])`` of ``loss_fn()`` recorded on a tape: what
    ``minimize`` applies (``variables`` as there; the loss must be real floating-point).

    >>> import xpgrad as xg
    >>> w = xg.Variable(3.0, name="w")
    >>> loss, [(g, v)] = loss_and_gradients(lambda: w * w, [w])
    >>> loss.item(), g.item(), v is w
    (9.0, 6.0, True)
    """
    from ..tape import GradientTape

    if not callable(loss_fn):
        raise TypeError(f"minimize takes a loss_fn callable that computes the loss (it is "
                        f"recorded on a tape), got {type(loss_fn).__name__}")
    variables = listed_variables(variables)
    with GradientTape() as tape:
        loss = loss_fn()
    check_loss(loss)
    if variables is None:
        variables = tape.watched_variables()
    with warnings.catch_warnings():     # apply_gradients says so, naming the variables
        warnings.filterwarnings("ignore", "tape.gradient: the target depends on no tensor")
        grads = tape.gradient(loss, variables)
    return loss, list(zip(grads, variables))


# opt.lr = 1e-4 would otherwise make an attribute the updates never read
for _name, _hint in OTHER_NAMES.items():
    setattr(Optimizer, _name, pointer(_name, _hint))


#: the base class's ``learning_rate`` property (a subclass may replace it)
_LEARNING_RATE = Optimizer.learning_rate


def plain_optimizer(optimizer, expected):
    """``optimizer`` as the Optimizer that holds the state and learning rate (a
    DistributedOptimizer's wrapped one); anything else is a TypeError ``"<expected>, got
    <type>"``."""
    from ..distributed.optimizer import DistributedOptimizer

    if isinstance(optimizer, DistributedOptimizer):
        optimizer = optimizer.optimizer
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{expected}, got {type(optimizer).__name__}")
    return optimizer


def _view_seen(raw) -> bool:
    """Whether ``raw`` is a view whose base someone else holds too (another view, such as a
    user's ``w[0:2]`` or a tape's ``w.T``): besides ``raw``, this frame and getrefcount."""
    base = getattr(raw, "base", None)
    return base is not None and sys.getrefcount(base) > 3
