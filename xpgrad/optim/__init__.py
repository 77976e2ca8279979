"""Optimizers (``xg.optim``), learning-rate schedules and gradient clipping.

Keras-style calls (``apply_gradients``, ``minimize``), PyTorch's update formulas and defaults.

>>> import xpgrad as xg
>>> w = xg.Variable([2.0, -1.0], name="w")
>>> opt = xg.optim.Adam(learning_rate=0.1)
>>> for _ in range(3):
...     loss = opt.minimize(lambda: xg.sum(w * w), [w])
>>> opt.iterations
3
"""
from .._args import no_module_attribute
from . import schedules
from .adam_variants import Adamax, Lion, NAdam, RAdam
from .adaptive import Adadelta, Adagrad, Adam, AdamW, RMSprop
from .ema import ExponentialMovingAverage
from .functional import OptimizerState, apply_updates
from .gradient_clipping import TORCH_CLIPPING_NAMES as _TORCH_CLIPPING_NAMES
from .gradient_clipping import clip_global_norm, global_norm
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .plateau import ReduceLROnPlateau
from .early_stopping import EarlyStopping
from .schedules import (Constant, CosineDecay, CosineDecayRestarts, ExponentialDecay,
                        InverseTimeDecay, LinearWarmup, OneCycle, PiecewiseConstant,
                        PolynomialDecay, StepDecay)
from .sgd_optimizer import SGD

# modules renamed because their names hid optax's hints (xg.optim.sgd(...), xg.optim.clip(...)
# raise them now): the old names still import, as pickles of an SGD made before name its module
import sys as _sys  # noqa: E402
for _old, _new in (("sgd", "sgd_optimizer"), ("clip", "gradient_clipping")):
    _sys.modules.setdefault(f"{__name__}.{_old}", _sys.modules[f"{__name__}.{_new}"])
del _sys, _old, _new

OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "adadelta": Adadelta, "rmsprop": RMSprop,
              "adam": Adam, "adamw": AdamW, "adamax": Adamax, "nadam": NAdam, "radam": RAdam,
              "lion": Lion, "lbfgs": LBFGS}


def get(name, **kwargs) -> Optimizer:
    """An optimizer by name (case-insensitive): ``get("adam", learning_rate=1e-3)``."""
    if not isinstance(name, str):
        raise TypeError(f"optimizer name must be a str, one of {sorted(OPTIMIZERS)}; got "
                        f"{type(name).__name__} {name!r}")
    try:
        cls = OPTIMIZERS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; expected one of "
                         f"{sorted(OPTIMIZERS)}") from None
    return cls(**kwargs)


_SCHEDULE = ("a schedule is a callable of the step passed as the optimizer's learning_rate (no "
             "scheduler.step()): xg.optim.Adam(learning_rate=xg.optim.StepDecay(...))")
#: torch.optim.lr_scheduler's classes -> xpgrad's schedules (the table in xg.optim.schedules)
_TORCH_SCHEDULERS = {"StepLR": "StepDecay", "MultiStepLR": "PiecewiseConstant",
                     "ExponentialLR": "ExponentialDecay", "CosineAnnealingLR": "CosineDecay",
                     "CosineAnnealingWarmRestarts": "CosineDecayRestarts",
                     "OneCycleLR": "OneCycle", "PolynomialLR": "PolynomialDecay",
                     "LinearLR": "LinearWarmup"}
#: PyTorch's names that xg.optim does without, and what to write instead
_PYTORCH_NAMES = {
    "lr_scheduler": f"{_SCHEDULE}; StepLR is StepDecay, CosineAnnealingLR CosineDecay, "
                    "OneCycleLR OneCycle, ReduceLROnPlateau xg.optim.ReduceLROnPlateau (table: "
                    "help(xg.optim.schedules))",
    "LambdaLR": f"{_SCHEDULE}; any function of the step is one: learning_rate=lambda step: ...",
    **{torch_name: f"xg.optim.{ours}: {_SCHEDULE} (table: help(xg.optim.schedules))"
       for torch_name, ours in _TORCH_SCHEDULERS.items()},
    "MultiStepLR": "xg.optim.PiecewiseConstant([m - 1 for m in milestones], [lr * gamma ** i "
                   "for i in range(len(milestones) + 1)]): Keras' boundaries are the last step "
                   f"of each rate, torch's milestones the first of the next; {_SCHEDULE}",
    "OneCycleLR": "xg.optim.OneCycle(max_lr, total_steps): the rate; torch's default "
                  "cycle_momentum=True moves the momentum too, which is s.momentum(step) set "
                  "before each update: opt.momentum = s.momentum(opt.iterations) (opt.beta_1 "
                  f"for Adam); {_SCHEDULE}",
    "CosineAnnealingLR": "xg.optim.CosineDecay(lr, T_max, alpha=eta_min / lr): it stays at "
                         "eta_min after T_max steps, where torch's cosine rises again (give "
                         f"T_max the run's length); {_SCHEDULE}",
    **_TORCH_CLIPPING_NAMES,
}


#: HIPS autograd's ``autograd.misc.optimizers`` functions, and xpgrad's optimizers for them
_AUTOGRAD_NAMES = {
    name: f"HIPS autograd's {name}(grad, params, callback, num_iters, step_size{extra}) loop is "
          f"xg.optim.{ours} on Variables{same}: params = "
          f"xg.tree_map(xg.Variable, params), then each step "
          f"opt.apply_gradients(zip(xg.tree_leaves(grad(params, i)), xg.tree_leaves(params)))"
    for name, extra, ours, same in (
        ("adam", "", "Adam(learning_rate=step_size)", ""),
        ("rmsprop", "", "RMSprop(learning_rate=step_size)", ""),
        # its velocity is -(1 - mass) times PyTorch's momentum buffer: the same steps
        ("sgd", ", mass", "SGD(learning_rate=step_size * (1 - mass), momentum=mass)",
         " (the same steps)"))}


def __getattr__(name):
    """PyTorch's ``torch.optim.lr_scheduler`` and its classes, Keras' names for the
    optimizers and schedules xpgrad names otherwise, HIPS autograd's and optax's functions: an
    AttributeError saying where xpgrad's are."""
    from ..tf_names import OPTIM as _KERAS_NAMES
    from .optax_names import OPTAX_NAMES

    hints = [table[name] for table in (_PYTORCH_NAMES, _KERAS_NAMES, _AUTOGRAD_NAMES,
                                       OPTAX_NAMES) if name in table]
    raise no_module_attribute(__name__, name, "; or ".join(hints) or None)


__all__ = ["Optimizer", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "Adamax",
           "NAdam", "RAdam", "Lion", "LBFGS",
           "clip_global_norm", "global_norm", "schedules", "Constant", "ExponentialDecay",
           "StepDecay", "InverseTimeDecay", "PolynomialDecay", "PiecewiseConstant", "CosineDecay",
           "CosineDecayRestarts", "OneCycle", "LinearWarmup", "ReduceLROnPlateau",
           "EarlyStopping", "ExponentialMovingAverage", "OptimizerState", "apply_updates", "OPTIMIZERS", "get"]
