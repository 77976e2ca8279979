"""L-BFGS, ``torch.optim.LBFGS``: its defaults, its iterations and line search step for step.

L-BFGS evaluates the loss several times in one step (up to ``max_iter`` iterations, and a line
search inside each), so it cannot apply gradients computed outside: it takes PyTorch's closure
as ``minimize``'s loss function. ``opt.minimize(loss_fn, variables)`` is PyTorch's
``opt.step(closure)``: ``loss_fn()`` computes the loss (no ``backward``, no ``zero_grad``: the
optimizer records each call on its own tape and takes the gradient), and ``minimize`` returns
the loss of its first call, as ``step`` does. The variables are flattened into one vector in
their order, as PyTorch flattens its parameters.

>>> import xpgrad as xg
>>> w = xg.Variable([-1.5, 2.0], dtype=xg.float64, name="w")
>>> opt = xg.optim.LBFGS(line_search_fn="strong_wolfe")
>>> rosenbrock = lambda: (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2
>>> for _ in range(5):
...     loss = opt.minimize(rosenbrock, [w])
>>> [round(x, 4) for x in w.tolist()], rosenbrock().item() < 1e-9
([1.0, 1.0], True)
"""
from __future__ import annotations

import sys
import warnings

from .._args import pointer
from ..tensor import Tensor, Variable
from ._checks import learning_rate_fits, non_negative, positive_int
from ..keyword_checks import named_parameters
from .foreign_names import refuse, refuse_minimize_argument
from .lbfgs_search import strong_wolfe
from .optimizer import Optimizer, _view_seen, loss_and_gradients
from .pairs import listed_variables


def _absent(name, value):
    """``weight_decay`` 0 and no clipping: ``torch.optim.LBFGS`` has neither."""
    if value is None or (name == "weight_decay" and value == 0):
        return value
    raise ValueError(f"{name} is not an option of LBFGS (torch.optim.LBFGS has none): "
                     + ("add the L2 term to the loss" if name == "weight_decay" else
                        "L-BFGS takes whole steps along its own direction"))


def _line_search(name, value):
    if value is None or value == "strong_wolfe":
        return value
    raise ValueError(f"line_search_fn must be None or 'strong_wolfe' (torch.optim.LBFGS's "
                     f"two), got {value!r}")


#: what one step carries to the next (torch.optim.LBFGS's state keys): the last direction and
#: step length, the gradient and loss where the last iteration started, and the history --
#: ``old_stps`` the steps s, ``old_dirs`` the gradient changes y, ``ro`` 1 / (y . s) -- with
#: ``H_diag``, the scale of the initial inverse Hessian
_MEMORY = ("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss")


def _remember(memory, grad, history_size) -> None:
    """Add the last iteration's step ``s`` and gradient change ``y`` to the history, the
    oldest pair dropped once it holds ``history_size``. A pair with ``y . s <= 1e-10`` is
    skipped: the inverse Hessian estimate stays positive definite only while every
    ``y . s > 0``. The initial inverse Hessian becomes ``(y . s) / (y . y)`` times the
    identity (Nocedal & Wright, eq. 7.20).

    >>> import numpy as np
    >>> memory = {"d": np.array([-1.0, 0.0]), "t": 0.5, "prev_flat_grad": np.array([2.0, 0.0]),
    ...           "old_dirs": [], "old_stps": [], "ro": [], "H_diag": 1}
    >>> _remember(memory, np.array([1.0, 0.0]), history_size=5)   # f = x^2: y = 2 s
    >>> float(memory["ro"][0]), float(memory["H_diag"])
    (2.0, 0.5)
    """
    y = grad - memory["prev_flat_grad"]
    s = memory["d"] * memory["t"]
    ys = y @ s
    if not ys > 1e-10:
        return
    if len(memory["old_dirs"]) == history_size:
        for key in ("old_dirs", "old_stps", "ro"):
            del memory[key][0]
    memory["old_dirs"].append(y)
    memory["old_stps"].append(s)
    memory["ro"].append(1.0 / ys)
    memory["H_diag"] = ys / (y @ y)


def _newton_direction(grad, memory):
    """``-H grad``, ``H`` the L-BFGS inverse Hessian estimate of the history, by the two-loop
    recursion (Nocedal & Wright, Algorithm 7.4): project ``-grad`` through the pairs newest
    first, scale, and correct through them oldest first.

    >>> import numpy as np
    >>> memory = {"old_dirs": [np.array([2.0, 0.0])], "old_stps": [np.array([1.0, 0.0])],
    ...           "ro": [0.5], "H_diag": 0.5}
    >>> _newton_direction(np.array([4.0, 0.0]), memory).tolist()   # f = x^2 at x = 2
    [-2.0, 0.0]
    """
    dirs, steps, rho = memory["old_dirs"], memory["old_stps"], memory["ro"]
    q = -grad
    alphas = [None] * len(dirs)
    for i in reversed(range(len(dirs))):
        alphas[i] = (steps[i] @ q) * rho[i]
        q = q + (-alphas[i]) * dirs[i]      # (not q - a y: a NaN keeps its sign bit)
    r = q * memory["H_diag"]
    for i in range(len(dirs)):
        beta = (dirs[i] @ r) * rho[i]
        r = r + (alphas[i] - beta) * steps[i]
    return r


class LBFGS(Optimizer):
    """L-BFGS (Nocedal 1980; PyTorch's, after minFunc): one ``minimize`` call runs up to
    ``max_iter`` iterations and ``max_eval`` loss evaluations (default ``max_iter * 5 // 4``),
    stopping early when the largest gradient entry is at most ``tolerance_grad``, or the step
    or the loss changes by less than ``tolerance_change``. The search direction comes from the
    last ``history_size`` steps; its length is ``learning_rate`` (the first iteration's
    ``min(1, 1 / sum|g|) * learning_rate``), or what a strong-Wolfe line search finds
    (``line_search_fn="strong_wolfe"``).

    Differences from PyTorch: the learning rate is ``learning_rate`` (Keras' name); the
    variables are given to ``minimize`` (the first call binds them: later calls must pass the
    same ones, in the same order -- PyTorch binds them when the optimizer is made, in one
    parameter group); complex variables are refused (PyTorch takes them as pairs of reals);
    ``apply_gradients`` raises TypeError (use ``minimize``). Every variable has one backend and
    one real floating dtype, and the arithmetic is in that dtype, as PyTorch's.

    >>> import xpgrad as xg
    >>> w = xg.Variable([3.0, -4.0], dtype=xg.float64)
    >>> opt = xg.optim.LBFGS()
    >>> opt.minimize(lambda: xg.sum(w * w), [w]).item()     # the loss before the step
    25.0
    >>> [abs(x) < 1e-12 for x in w.tolist()]
    [True, True]
    """

    _CHECKS = {**Optimizer._CHECKS, "max_iter": positive_int, "max_eval": positive_int,
               "tolerance_grad": non_negative, "tolerance_change": non_negative,
               "history_size": positive_int, "line_search_fn": _line_search,
               "weight_decay": _absent, "global_clipnorm": _absent, "clipnorm": _absent,
               "clipvalue": _absent}

    #: torch.optim.LBFGS's ``step(closure)`` is ``minimize(loss_fn, variables)`` here
    step = pointer("step", "LBFGS's step(closure) is opt.minimize(loss_fn, variables): "
                           "loss_fn() computes the loss (no backward or zero_grad; it is "
                           "recorded on the optimizer's tape)")

    _MODEL_GIVEN = ("LBFGS takes no model or variables (PyTorch's LBFGS(model.parameters(), "
                    "lr)): give it the learning rate, LBFGS(learning_rate=1.0), and the "
                    "variables to opt.minimize(loss_fn, variables), PyTorch's opt.step(closure)")

    def __init__(self, learning_rate=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None, name=None,
                 **unknown):
        if unknown:
            refuse("LBFGS", unknown, named_parameters(LBFGS.__init__))
        super().__init__(learning_rate, name=name)
        self.max_iter = max_iter
        self.max_eval = self.max_iter * 5 // 4 if max_eval is None else max_eval
        self.tolerance_grad = tolerance_grad
        self.tolerance_change = tolerance_change
        self.history_size = history_size
        self.line_search_fn = line_search_fn
        self._params = None          # the bound variables, in the flat vector's order
        self._lbfgs = {}             # PyTorch's state: func_evals, n_iter, d, t, old_dirs, ...
        #: (loss, pairs) -> (loss, pairs) of every evaluation: DistributedOptimizer's reduction
        self._reduce_evaluation = None

    def get_config(self) -> dict:
        """The constructor's arguments (and ``name``, ``iterations``), as the other
        optimizers' ``get_config``."""
        return {k: v for k, v in super().get_config().items()
                if k not in ("weight_decay", "global_clipnorm", "clipnorm", "clipvalue")}

    # -- the variables ------------------------------------------------------------------------
    def _checked(self, variables) -> list:
        """``variables`` as a list, checked: Variables of one backend and one real floating
        dtype, each once; once some are bound (by the first step), the same ones in the same
        order."""
        variables = list(variables)
        if not variables:
            raise ValueError("LBFGS: no variables to optimize (pass variables=, or compute the "
                             "loss from trainable Variables)")
        if self._params is not None:
            if len(variables) != len(self._params) or \
                    any(a is not b for a, b in zip(variables, self._params)):
                raise ValueError(
                    f"LBFGS keeps one history for one list of variables (torch.optim.LBFGS "
                    f"takes one parameter group): it optimizes "
                    f"{[v.name for v in self._params]}, now given "
                    f"{[getattr(v, 'name', v) for v in variables]}; pass the same variables in "
                    "the same order, or make another LBFGS for these")
            return variables
        seen = set()
        for v in variables:
            if not isinstance(v, Variable):
                raise TypeError(f"LBFGS optimizes Variables, got a {type(v).__name__}")
            if id(v) in seen:
                raise ValueError(f"variable {v.name!r} appears twice in variables")
            seen.add(id(v))
            if v.dtype.kind == "c":
                raise TypeError(f"LBFGS cannot optimize the complex variable {v.name!r} "
                                f"({v.dtype}): keep its real and imaginary parts in two real "
                                "Variables")
            if v.dtype.kind != "f":
                raise TypeError(f"variable {v.name!r} has dtype {v.dtype}: LBFGS optimizes "
                                "real floating-point variables")
        first = variables[0]
        for v in variables[1:]:
            if v._backend is not first._backend or v.dtype != first.dtype:
                raise ValueError(
                    f"LBFGS flattens all variables into one vector, so they share one backend "
                    f"and dtype: {first.name!r} is {first.dtype} on {first.backend.name!r}, "
                    f"{v.name!r} is {v.dtype} on {v.backend.name!r}")
        return variables

    def _bind(self, variables) -> None:
        """Bind ``variables`` (checked): the flat vector's parts, from now on."""
        variables = self._checked(variables)
        for v in variables:
            v._data = v._backend.owned_copy(v._data)     # own the array we write into
        self._params = variables

    def _evaluate(self, loss_fn, variables):
        """``(loss Tensor, flat gradient)`` of ``loss_fn()`` at the variables' values (a
        variable the loss does not reach has gradient 0, as PyTorch's ``grad`` None)."""
        with warnings.catch_warnings():   # an unconnected variable's gradient is 0 here
            warnings.filterwarnings("ignore", "tape.gradient: the target depends on no tensor")
            loss, pairs = loss_and_gradients(loss_fn, variables)
        if not isinstance(loss, Tensor) or loss.size != 1:
            raise ValueError(f"LBFGS: loss_fn must return the loss as a Tensor of one element, "
                             f"got {type(loss).__name__}"
                             + (f" of shape {loss.shape}" if isinstance(loss, Tensor) else ""))
        if self._reduce_evaluation is not None:
            loss, pairs = self._reduce_evaluation(loss, pairs)
        if all(g is None for g, _ in pairs):
            raise ValueError(f"No gradients provided for any variable: "
                             f"{[v.name for _, v in pairs]}\nthe loss does not depend on these "
                             "variables")
        if self._params is None:
            self._bind([v for _, v in pairs])
        xp = self._params[0]._backend.xp
        dtype = self._params[0]._data.dtype
        flat = [xp.zeros(v._data.size, dtype=dtype) if g is None else
                xp.reshape(xp.astype(g._data, dtype, copy=False), (-1,)) for g, v in pairs]
        return loss, xp.concat(flat) if len(flat) > 1 else xp.asarray(flat[0], copy=True)

    def _add(self, t, d) -> None:
        """``w += t * d`` for every variable's slice of the flat vector ``d``."""
        offset = 0
        for v in self._params:
            p = self._writable(v)
            n = p.size
            p[...] = p + t * v._backend.xp.reshape(d[offset:offset + n], p.shape)
            offset += n

    def _clone(self) -> list:
        return [v._backend.xp.asarray(v._data, copy=True) for v in self._params]

    def _set(self, values) -> None:
        for v, value in zip(self._params, values):
            self._writable(v)[...] = value

    @staticmethod
    def _writable(v):
        """``v``'s array, first copied when something else still holds it (a tape that saved
        it, a view), as the other optimizers' updates do."""
        if sys.getrefcount(v._data) > 2 or _view_seen(v._data):
            v._data = v._backend.owned_copy(v._data)
        return v._data

    # -- the step -----------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        """Refused: L-BFGS evaluates the loss again within a step."""
        raise TypeError("LBFGS cannot apply gradients computed elsewhere: it evaluates the "
                        "loss several times in one step (its iterations and line search). Use "
                        "opt.minimize(loss_fn, variables), PyTorch's step(closure)")

    def minimize(self, loss_fn, variables=None, **unknown):
        """One L-BFGS step (PyTorch's ``step(closure)``): up to ``max_iter`` iterations on
        ``loss_fn()``, which computes the loss (recorded on the optimizer's tape); returns the
        loss of its first evaluation. ``variables`` as ``Optimizer.minimize``: None takes the
        trainable Variables the loss reads, bound on the first call.

        >>> import xpgrad as xg
        >>> w = xg.Variable([1.0, 2.0], dtype=xg.float64)
        >>> loss = xg.optim.LBFGS(max_iter=1).minimize(lambda: xg.sum(w * w), [w])
        >>> [round(x, 4) for x in w.tolist()]     # first step: min(1, 1/sum|g|) along -g
        [0.6667, 1.3333]
        """
        if unknown:
            refuse_minimize_argument(next(iter(unknown)))
        if not callable(loss_fn):
            raise TypeError(f"LBFGS.minimize takes the loss function (PyTorch's closure): a "
                            f"callable that computes the loss, got {type(loss_fn).__name__}")
        variables = listed_variables(variables)
        if variables is not None:
            variables = self._checked(variables)      # bound after its first evaluation
        elif self._params is not None:
            variables = self._params        # bound by an earlier step
        lr = self.learning_rate
        state = self._lbfgs
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        first_loss, grad = self._evaluate(loss_fn, variables)
        learning_rate_fits(lr, self._params)
        state["func_evals"] += 1
        xp = self._params[0]._backend.xp
        if not self._stationary(xp, grad):
            self._iterate(xp, loss_fn, lr, float(first_loss), grad)
        self.iterations += 1
        return first_loss

    def _stationary(self, xp, grad) -> bool:
        """No gradient entry is above ``tolerance_grad``."""
        return xp.max(xp.abs(grad)) <= self.tolerance_grad

    def _iterate(self, xp, loss_fn, lr, loss, grad) -> None:
        """The iterations of one step, from the variables' current point, where the loss and
        flat gradient are ``loss`` and ``grad`` (already counted in ``func_evals``)."""
        state = self._lbfgs
        memory = {key: state.get(key) for key in _MEMORY}    # written back at the end
        evaluations = 1
        for k in range(1, self.max_iter + 1):
            last = k == self.max_iter
            state["n_iter"] += 1
            first = state["n_iter"] == 1     # the first iteration since the optimizer began
            if first:
                memory.update(old_dirs=[], old_stps=[], ro=[], H_diag=1)
                d = -grad
            else:
                _remember(memory, grad, self.history_size)
                d = _newton_direction(grad, memory)
            # no curvature is known yet to scale the very first step: along -grad, at most
            # learning_rate long (in the 1-norm)
            t = min(1.0, 1.0 / xp.sum(xp.abs(grad))) * lr if first else lr
            memory.update(d=d, t=t, prev_flat_grad=xp.asarray(grad, copy=True), prev_loss=loss)
            slope = grad @ d
            if slope > -self.tolerance_change:
                break                       # (almost) no descent along d
            if self.line_search_fn is None:
                self._add(t, d)
                used = 0
                if not last:                # the next step evaluates the last point itself
                    value, grad = self._evaluate(loss_fn, self._params)
                    loss, used = float(value), 1
            else:
                loss, grad, t, used = self._search_along(xp, loss_fn, t, d, loss, grad, slope,
                                                        self.max_eval - evaluations)
                memory["t"] = t
                self._add(t, d)
            evaluations += used
            state["func_evals"] += used
            if last or evaluations >= self.max_eval or self._stationary(xp, grad):
                break
            # a step or a loss change below tolerance_change: the iterations have stalled
            if xp.max(xp.abs(d * t)) <= self.tolerance_change or \
                    abs(loss - memory["prev_loss"]) < self.tolerance_change:
                break
        state.update(memory)

    def _search_along(self, xp, loss_fn, t, d, loss, grad, slope, max_ls):
        """``strong_wolfe`` along ``d`` from the variables' current values, which it leaves as
        they were. (Its ``tolerance_change`` is its own default, 1e-9, whatever the
        optimizer's: PyTorch's is too.)"""
        start = self._clone()

        def evaluate(step):
            self._add(step, d)
            value, g = self._evaluate(loss_fn, self._params)
            self._set(start)
            return float(value), g

        return strong_wolfe(xp, evaluate, t, d, loss, grad, slope, max_ls=max_ls)

    # -- checkpoints --------------------------------------------------------------------------
    def expected_state(self, variables) -> dict:
        """``{key: (shape, dtype name)}`` of ``state_dict`` once the variables have been
        stepped (``lbfgs_state.py`` describes the keys)."""
        from .lbfgs_state import expected_state

        return expected_state(self, variables)

    def state_dict(self, variables) -> dict:
        """The state as ``{key: Tensor}`` (copies): ``"iterations"``, ``"learning_rate"`` and,
        for each variable, its slices of PyTorch's flat vectors (``"{name}/d"``,
        ``"{name}/old_dirs"``, ...) and the step's shared numbers; ``variables`` as the other
        optimizers' ``state_dict`` (a Module, a dict or a list of named Variables)."""
        from .lbfgs_state import state_copy

        return state_copy(self, variables)

    def load_state_dict(self, state, variables) -> None:
        """Replace the state by ``state`` (as from ``state_dict``), checked first: a mismatch
        is a ValueError listing it, with nothing changed. The variables with state become the
        bound ones."""
        from .lbfgs_state import load

        load(self, state, variables)
