"""``ExponentialMovingAverage``: averages of variables kept alongside training, for evaluation
(TensorFlow's ``tf.train.ExponentialMovingAverage``, Keras' ``use_ema=True``, PyTorch's
``torch.optim.swa_utils.AveragedModel`` with an EMA ``avg_fn``).

>>> import xpgrad as xg
>>> w = xg.Variable([0.0], name="w")
>>> ema = xg.optim.ExponentialMovingAverage([w], decay=0.5)
>>> for value in (1.0, 2.0):
...     _ = w.assign([value])
...     ema.update()
>>> ema.average(w).tolist()          # 0.5 * (0.5 * 0 + 0.5 * 1) + 0.5 * 2
[1.25]
>>> with ema.swapped():              # the averages in the variables, to evaluate
...     w.tolist()
[1.25]
>>> w.tolist()                       # the trained values back
[2.0]
"""
from __future__ import annotations

import contextlib
from collections.abc import Mapping

from ..jit.capture import THREAD as _TRACES, guarded_attribute
from ..keyword_checks import CheckedKeywords
from ..tensor import Variable
from ._checks import hyperparameter, non_negative_int

#: the real dtype a complex average is scaled in
_REAL = {"complex64": "float32", "complex128": "float64"}


def _listed(variables) -> tuple:
    """``(keys, variables)``: a Module's trainable variables under their paths, a dict's under
    its keys, a list's (or one Variable's) under their names."""
    if isinstance(variables, Variable):
        variables = [variables]
    if hasattr(variables, "named_variables") and hasattr(variables, "trainable_variables"):
        trainable = {id(v) for v in variables.trainable_variables}
        named = {k: v for k, v in variables.named_variables().items() if id(v) in trainable}
    elif isinstance(variables, Mapping):
        named = dict(variables)
    elif hasattr(variables, "__iter__") and not isinstance(variables, (str, bytes)):
        named = None
        variables = list(variables)
    else:
        raise TypeError(f"variables must be a Module, a dict {{name: Variable}} or a list of "
                        f"Variables, got {type(variables).__name__}")
    keys, values = (list(named), list(named.values())) if named is not None else (
        [getattr(v, "name", None) for v in variables], variables)
    for key, v in zip(keys, values):
        if not isinstance(v, Variable):
            raise TypeError(f"ExponentialMovingAverage averages Variables; got a "
                            f"{type(v).__name__} ({key!r}); wrap values in xg.Variable")
        if v.dtype.kind not in "fc":
            raise TypeError(f"variable {key!r} has dtype {v.dtype}: only floating-point "
                            "variables are averaged")
    if not values:
        raise ValueError("ExponentialMovingAverage needs at least one variable to average")
    if len({id(v) for v in values}) != len(values):
        raise ValueError("a variable appears twice in the variables to average")
    return keys, values


class ExponentialMovingAverage(CheckedKeywords):
    """Keep ``average = decay * average + (1 - decay) * variable`` for each of ``variables``
    (a list of Variables, a dict ``{name: Variable}``, or a Module: its trainable variables),
    each time ``update()`` is called -- after each optimizer step. The averages start at the
    variables' values when this is made, as TensorFlow's shadow variables. As TensorFlow
    computes it, in the variable's dtype: ``average -= (1 - decay) * (average - variable)``.

    ``num_updates``: None (the default) uses ``decay`` throughout; an integer ``n0`` (0 for a
    fresh run) counts the updates, and the ``k``-th ``update()`` uses TensorFlow's
    ``min(decay, (1 + n) / (10 + n))`` with ``n = n0 + k`` -- TF's ``num_updates=global_step``
    when ``update()`` follows each step, so early averages follow the weights closely.

    ``update()`` works on the arrays directly (no tape records it, whether or not one is
    open) and inside an ``xg.function`` step: its writes are steps of the program, replayed
    every call, and the count lives in a Variable (a new ``decay`` makes the step trace again).
    ``average(var)`` is the Variable holding ``var``'s average; ``with ema.swapped():`` puts
    the averages into the variables and the trained values back on exit (also when the block
    raises), for evaluation; to keep them for good (what Keras' ``use_ema`` does at the end of
    ``fit``), ``for v in ema.variables: v.assign(ema.average(v))``.

    ``state_dict()`` / ``load_state_dict()`` hold the averages (and ``"num_updates"``);
    ``named_variables()`` are the Variables holding them, which a checkpoint saves beside the
    model's (``name`` keeps their keys apart):

    >>> import os, tempfile, xpgrad as xg
    >>> model = xg.nn.MLP([2, 3, 1], rng=0)
    >>> opt, ema = xg.optim.SGD(0.1), xg.optim.ExponentialMovingAverage(model, num_updates=0)
    >>> x = xg.asarray([[1.0, 2.0]])
    >>> _ = opt.minimize(lambda: xg.sum(model(x) ** 2), model); ema.update()
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> xg.save_checkpoint(path, {**model.named_variables(), **ema.named_variables()}, opt)
    >>> model2 = xg.nn.MLP([2, 3, 1], rng=1)
    >>> ema2 = xg.optim.ExponentialMovingAverage(model2, num_updates=0)
    >>> xg.load_checkpoint(path, {**model2.named_variables(), **ema2.named_variables()})
    >>> ema2.num_updates, bool(xg.all(ema2.average(model2.layers[0].w)
    ...                                == ema.average(model.layers[0].w)))
    (1, True)
    """

    def __init__(self, variables, decay=0.999, *, num_updates=None, name="ema"):
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty str, got {name!r}")
        self.decay = decay
        self.name = name
        self._keys, self._variables = _listed(variables)
        self._averages = [Variable(v, trainable=False, name=f"{name}/{v.name}",
                                   backend=v.backend) for v in self._variables]
        self._index = {id(v): i for i, v in enumerate(self._variables)}
        self._count = None
        if num_updates is not None:
            start = non_negative_int("num_updates", num_updates)
            backends = {v.backend.name for v in self._variables}
            if len(backends) > 1:
                raise ValueError(f"num_updates needs the variables on one backend (its count "
                                 f"is a Variable there), got {sorted(backends)}")
            if "num_updates" in self._keys:
                raise ValueError("a variable is named 'num_updates', the key of the update "
                                 "count: pass a dict {name: Variable} naming it otherwise")
            self._count = Variable(start, trainable=False, dtype="int64",
                                   name=f"{name}/num_updates",
                                   backend=self._variables[0].backend)
        self._swapped = False

    def __setstate__(self, state):
        """Unpickled or deep-copied, the copy's variables are new objects: the index from a
        variable to its average is rebuilt under them (else ``average`` and
        ``load_state_dict`` of the copy refused its own variables)."""
        self.__dict__.update(state)
        self._index = {id(v): i for i, v in enumerate(self._variables)}

    @property
    def decay(self) -> float:
        """The decay (in [0, 1]); settable, checked."""
        return self._decay

    @decay.setter
    def decay(self, value) -> None:
        self._decay = hyperparameter("decay", value, low=0.0, high=1.0)

    @property
    def num_updates(self):
        """The update count (None without ``num_updates``)."""
        return None if self._count is None else int(self._count.numpy())

    @property
    def variables(self) -> list:
        """The variables averaged, in order."""
        return list(self._variables)

    def average(self, var) -> Variable:
        """The Variable holding ``var``'s average (a ValueError for one not averaged here)."""
        i = self._index.get(id(var))
        if i is None or self._variables[i] is not var:
            raise ValueError(f"{getattr(var, 'name', type(var).__name__)!r} is not one of the "
                             "variables this ExponentialMovingAverage averages")
        return self._averages[i]

    # -- updates ------------------------------------------------------------------------------
    def update(self) -> None:
        """Move every average toward its variable (see the class); call after each step."""
        if self._swapped:
            raise RuntimeError("ema.update() inside `with ema.swapped():` would average the "
                               "averages; update after the block")
        # under xg.function the program is kept for this decay only (a new one retraces)
        decay = self._decay if _TRACES.tracer is None else guarded_attribute(self, "_decay")
        rate = 1.0 - decay                         # a Python float keeps the variables' dtype
        if self._count is not None:
            xp = self._count._backend.xp
            n = xp.asarray(self._count._data + 1)
            self._count._data = n
            rate = xp.asarray(1.0 - xp.minimum(xp.asarray(decay, dtype=xp.float64),
                                               (1.0 + n) / (10.0 + n)))
        for var, avg in zip(self._variables, self._averages):
            xp, a = avg._backend.xp, avg._data
            r = rate if self._count is None else xp.astype(rate, _REAL.get(a.dtype.name,
                                                                            a.dtype))
            avg._data = xp.asarray(a - r * (a - var._data))

    @contextlib.contextmanager
    def swapped(self):
        """Within the block the variables hold the averages; on exit (also on an exception)
        they hold the trained values again. Anything written into them inside is dropped."""
        if self._swapped:
            raise RuntimeError("the averages are already swapped in (nested ema.swapped())")
        trained = [v._backend.xp.asarray(v._data, copy=True) for v in self._variables]
        self._swapped = True
        try:
            for var, avg in zip(self._variables, self._averages):
                var._data = avg._backend.xp.asarray(avg._data, copy=True)
            yield self
        finally:
            for var, value in zip(self._variables, trained):
                var._data = value
            self._swapped = False

    # -- state --------------------------------------------------------------------------------
    def _named_averages(self) -> dict:
        if len(set(self._keys)) != len(self._keys):
            dup = next(k for k in self._keys if self._keys.count(k) > 1)
            raise ValueError(f"two variables are named {dup!r}; pass a dict {{name: variable}} "
                             "(or the Module) to ExponentialMovingAverage to name them uniquely")
        named = dict(zip(self._keys, self._averages))
        if self._count is not None:
            named["num_updates"] = self._count
        return named

    def named_variables(self) -> dict:
        """``{"<name>/<variable's key>": average Variable, "<name>/num_updates": count}``:
        what a checkpoint saves beside the model's variables (see the class)."""
        return {f"{self.name}/{k}": v for k, v in self._named_averages().items()}

    def state_dict(self) -> dict:
        """``{variable's key: Tensor}`` of the averages (copies) and ``"num_updates"``."""
        return {k: v.read_value() for k, v in self._named_averages().items()}

    def load_state_dict(self, state) -> None:
        """Replace the averages (and the count) by ``state`` (as from ``state_dict``: Tensors,
        arrays or numbers). Every key, shape and dtype is checked first; a mismatch raises
        ValueError listing them, with nothing changed."""
        from ..nn._staged import staged_value
        from .state import _count

        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict {{key: array}} as from state_dict(), got "
                            f"{type(state).__name__}")
        named, problems, staged = self._named_averages(), [], {}
        problems += [f"missing {k!r}" for k in named if k not in state]
        problems += [f"unexpected {k!r}" for k in state if k not in named]
        for key, var in named.items():
            if key not in state:
                continue
            if var is self._count:
                staged[key] = _count(key, state[key], problems)
                continue
            value = staged_value(state[key], var, key, problems)
            if value is not None:
                staged[key] = value
        if problems:
            raise ValueError("ExponentialMovingAverage.load_state_dict: the state does not fit "
                             "the variables:\n  " + "\n  ".join(problems))
        for key, value in staged.items():
            named[key].assign(value)

    def __repr__(self):
        return (f"ExponentialMovingAverage(decay={self._decay!r}, {len(self._variables)} "
                f"variables, num_updates={self.num_updates!r})")


__all__ = ["ExponentialMovingAverage"]
