"""What a checkpoint holds of an optimizer: ``state_dict``, ``load_state_dict`` and
``expected_state`` (the work is ``state.py``'s), with the variables named as they are saved
(``_named``, which ``xpgrad.checkpoint`` names a model's by too). ``Optimizer``
(``optimizer.py``) is made of this, its hyperparameters and its updates.

>>> import xpgrad as xg
>>> w = xg.Variable([1.0, 2.0], name="w")
>>> opt = xg.optim.SGD(0.1, momentum=0.9)
>>> _ = opt.minimize(lambda: xg.sum(w * w), [w])
>>> sorted(opt.state_dict([w]))
['iterations', 'learning_rate', 'w/velocity']
"""
from __future__ import annotations

from ..tensor import Tensor, Variable


def _named(variables, arg="variables") -> dict:
    """``{name: Variable}`` from a Module, a dict or a list of uniquely named Variables."""
    if hasattr(variables, "named_variables"):
        from ..nn.module_pytree import refuse_plain_tensors

        refuse_plain_tensors(variables, arg)
        return variables.named_variables()
    what = (f"{arg} must be a Module, a dict {{name: Variable}} or a list of Variables, got "
            f"{type(variables).__name__}")
    if isinstance(variables, (str, bytes, Tensor)) or not hasattr(variables, "__iter__"):
        raise TypeError(what)
    if not isinstance(variables, dict):
        variables = list(variables)     # a generator is read once
    for v in (variables.values() if isinstance(variables, dict) else variables):
        if not isinstance(v, Variable):
            raise TypeError(f"{what} holding a {type(v).__name__}")
    if isinstance(variables, dict):
        return variables
    out = {}
    for v in variables:
        if v.name in out:
            raise ValueError(f"two variables are named {v.name!r}; pass a dict "
                             "{name: variable} (or the Module) to name them uniquely")
        out[v.name] = v
    return out


class OptimizerCheckpoints:
    """The checkpoint half of ``Optimizer``, its base class: the state it keeps for named
    variables as ``{key: Tensor}`` and back (``self._state``, filled by ``_state_for``).

    >>> import xpgrad as xg
    >>> w = xg.Variable([1.0], name="w")
    >>> xg.optim.Adam(1e-3).expected_state([w])["w/m"]
    ((1,), 'float32')
    """

    def expected_state(self, variables) -> dict:
        """``{key: (shape, dtype name)}`` of the state this optimizer keeps for ``variables``
        once each has been updated (what a checkpoint of it holds)."""
        from .state import expected_state

        return expected_state(self, _named(variables))

    def state_dict(self, variables=None) -> dict:
        """The optimizer state as ``{key: Tensor}``: ``"iterations"``, ``"learning_rate"``
        (when it is a number, not a schedule) and ``"{variable name}/{slot}"`` for every
        variable in ``variables`` that has state.
        ``variables`` is a Module, a dict ``{name: Variable}`` or a list of uniquely named
        Variables. The tensors are copies, as ``Module.state_dict``'s: later updates do not
        change them, so a snapshot taken for early stopping stays one (PyTorch's
        ``optimizer.state_dict()`` shares its tensors with the optimizer)."""
        from .state import state_copy

        _need_variables(self, "state_dict()", variables)
        return state_copy(self, _named(variables))

    def load_state_dict(self, state, variables=None) -> None:
        """Replace the state by ``state`` (as from ``state_dict``; arrays or Tensors). A
        variable with no entries in ``state`` starts fresh. Everything is checked first --
        each expected key present and no other, slot shapes, step counts -- and a mismatch is a
        ValueError listing the keys, with nothing changed. A saved ``"learning_rate"`` replaces
        this optimizer's when that is a number too (as PyTorch's and Keras' optimizers restore
        theirs); a schedule is kept (it follows ``iterations``, which is restored)."""
        from ..nn.former_names import as_named_now
        from .state import constant_rate, staged_state

        _need_variables(self, "load_state_dict(state)", variables)
        if isinstance(variables, (list, tuple)) and isinstance(state, dict):
            # saved when a custom module's own Variable was 'Variable' (nn/former_names.py)
            state = as_named_now(state, variables)
        iterations, rate, staged = staged_state(self, state, variables)
        if rate is not None and constant_rate(self) is not None:
            self.learning_rate = rate
        self.iterations = iterations
        self._state = {}
        for var, slots in staged.values():
            self._state_for(var).update(slots)


def _need_variables(optimizer, call, variables) -> None:
    """TypeError for PyTorch's ``opt.state_dict()`` / ``opt.load_state_dict(sd)`` without the
    variables: an xpgrad optimizer is given its variables at each step, not when made."""
    if variables is None:
        name = type(optimizer).__name__
        raise TypeError(f"{name}.{call} needs the variables whose state it holds, which xpgrad's "
                        f"optimizers are given at each step, not when made (as PyTorch's "
                        f"params): opt.{call[:-1]}{', ' if call.endswith('state)') else ''}"
                        f"model) or a dict {{name: variable}}; a checkpoint of both is "
                        f"xg.save_checkpoint(path, model, opt)")
