"""optax's names, looked up on ``xg.optim``: where xpgrad has each (``xg.optim.__getattr__``
raises an AttributeError with the hint). The optimizers' ``init`` / ``update`` and
``xg.optim.apply_updates`` are optax's functional calls; what optax builds with ``chain`` is
arguments of one optimizer here, and its schedule functions are schedule classes.

>>> print(OPTAX_NAMES["clip"])
clipvalue=max_delta of any xg.optim optimizer
"""
from __future__ import annotations

_FUNCTIONAL = ("opt.init(params), opt.update(grads, state, params) and "
               "xg.optim.apply_updates(params, updates) as optax's")

#: optax's optimizer functions -> (xpgrad's class, what differs from optax's defaults)
_OPTIMIZERS = {
    "sgd": ("SGD", "optax's momentum=None is momentum=0.0; with momentum (and nesterov=True) "
                   "the steps are optax's trace"),
    "adam": ("Adam", "b1/b2/eps are beta_1=/beta_2=/epsilon=, the same defaults"),
    "adamw": ("AdamW", "optax's weight_decay defaults to 1e-4, xpgrad's (PyTorch's) to 0.01: "
                       "pass weight_decay=1e-4 for optax's numbers"),
    "adamax": ("Adamax", "PyTorch's form: epsilon inside the maximum"),
    "nadam": ("NAdam", "PyTorch's NAdam (a momentum schedule): optax's steps differ"),
    "radam": ("RAdam", "PyTorch's form"),
    "lion": ("Lion", "b1/b2 are beta_1=/beta_2="),
    "adadelta": ("Adadelta", "PyTorch's form (learning rate 1.0)"),
    "rmsprop": ("RMSprop", "PyTorch's form: epsilon outside the root and rho=0.99, where "
                           "optax's decay=0.9 puts eps inside it (the steps differ)"),
    "adagrad": ("Adagrad", "PyTorch's form: epsilon outside the root and the accumulator "
                           "starting at 0, where optax's starts at 0.1 with eps=1e-7 inside "
                           "the root (the steps differ)"),
}

#: optax's schedule functions -> the xpgrad schedule with the same values
_SCHEDULES = {
    "constant_schedule": "a float: learning_rate=value",
    "linear_schedule": "xg.optim.PolynomialDecay(init_value, transition_steps, "
                       "end_learning_rate=end_value, power=1.0)",
    "polynomial_schedule": "xg.optim.PolynomialDecay(init_value, transition_steps, "
                           "end_learning_rate=end_value, power=power)",
    "exponential_decay": "xg.optim.ExponentialDecay(init_value, transition_steps, decay_rate, "
                         "staircase=staircase) (no transition_begin or end_value)",
    "cosine_decay_schedule": "xg.optim.CosineDecay(init_value, decay_steps, alpha=alpha)",
    "warmup_cosine_decay_schedule": "xg.optim.CosineDecay(init_value, decay_steps - "
                                    "warmup_steps, alpha=end_value / peak_value, "
                                    "warmup_target=peak_value, warmup_steps=warmup_steps)",
    "piecewise_constant_schedule": "xg.optim.PiecewiseConstant([b - 1 for b in boundaries], "
                                   "values), values the running products init_value * "
                                   "scale (optax's changes at the boundary, Keras' after it)",
    "join_schedules": "xg.optim.LinearWarmup(schedule, warmup_steps) for a linear warm-up, "
                      "or any callable of the step: learning_rate=lambda step: ...",
    "cosine_onecycle_schedule": "xg.optim.OneCycle(peak_value, transition_steps), PyTorch's "
                                "OneCycleLR (its phases end a step apart from optax's)",
}

OPTAX_NAMES = {
    "chain": "optax.chain(optax.clip_by_global_norm(c), optax.adamw(lr)) is one optimizer "
             "here, xg.optim.AdamW(lr, global_clipnorm=c) (optax.clip(c): clipvalue=c); "
             + _FUNCTIONAL,
    "clip_by_global_norm": "global_clipnorm=max_norm of any xg.optim optimizer (what "
                           "optax.chain(clip_by_global_norm(c), ...) does), or the function "
                           "xg.optim.clip_global_norm(grads, max_norm) -> (clipped, norm)",
    "clip": "clipvalue=max_delta of any xg.optim optimizer",
    "add_decayed_weights": "weight_decay= of the optimizer: AdamW's is optax's adamw "
                           "(decay after the Adam scaling), the others' add wd * params to "
                           "the gradient (add_decayed_weights before the scaling)",
    "GradientTransformation": "every xg.optim optimizer has " + _FUNCTIONAL,
    "OptState": "xg.optim.OptimizerState (what opt.init returns)",
    "inject_hyperparams": "assign the hyperparameter between updates (opt.learning_rate = "
                          "1e-4, opt.momentum = 0.95); the functional state keeps up",
    **{name: f"xg.optim.{ours}(learning_rate, ...), with {_FUNCTIONAL}; {note}"
       for name, (ours, note) in _OPTIMIZERS.items()},
    **{name: f"{hint} (optax's {name}; help(xg.optim.schedules))"
       for name, hint in _SCHEDULES.items()},
}
