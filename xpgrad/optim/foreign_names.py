"""What PyTorch and TensorFlow users type at an xpgrad optimizer, and where xpgrad has it: the
messages of the TypeErrors and AttributeErrors that point them at xpgrad's names.

>>> try:
...     refuse("SGD", {"lr": 0.1})
... except TypeError as e:
...     print(e)
SGD() got an unexpected keyword argument 'lr'; xpgrad uses Keras' names: learning_rate=
"""
from __future__ import annotations

from ..keyword_checks import unexpected_keyword


#: PyTorch's (and optax's) argument names -> what xpgrad (Keras' names) calls them
_TORCH_NAMES = {"lr": "learning_rate=", "eps": "epsilon=", "betas": "beta_1= and beta_2=",
                "alpha": "rho= (RMSprop's smoothing constant)",
                "max_norm": "global_clipnorm= (or xg.optim.clip_global_norm)",
                "b1": "beta_1= (optax's b1)", "b2": "beta_2= (optax's b2)"}


def refuse_minimize_argument(key) -> None:
    """TypeError for a keyword ``minimize`` does not take; TensorFlow's names get a hint."""
    hints = {"var_list": "xpgrad calls TensorFlow's var_list variables=",
             "tape": "xpgrad's minimize records loss_fn() on its own tape (pass the loss "
                     "function, not a loss computed on another tape)"}
    message = f"minimize() got an unexpected keyword argument {key!r}"
    raise TypeError(message + (f": {hints[key]}" if key in hints else ""))


def refuse(owner, unknown, accepted=()) -> None:
    """TypeError for keyword arguments the optimizer ``owner`` does not take (it takes
    ``accepted``), pointing a PyTorch user at xpgrad's name where there is one (``lr`` ->
    ``learning_rate``), and a misspelt name at the closest accepted one.

    >>> try:
    ...     refuse("Adam", {"betas": (0.9, 0.99)}, ("beta_1", "beta_2"))
    ... except TypeError as e:
    ...     print(e)
    Adam() got an unexpected keyword argument 'betas'; xpgrad uses Keras' names: beta_1= and beta_2= (betas=(0.9, 0.99) is beta_1=0.9, beta_2=0.99)
    """
    key = next(iter(unknown))
    hint = _TORCH_NAMES.get(key)
    if key == "lr_decay":
        raise TypeError(f"{owner}() got an unexpected keyword argument 'lr_decay': PyTorch's "
                        f"Adagrad(lr=lr, lr_decay=d) rate lr / (1 + (t - 1) * d) at update t "
                        f"is the schedule {owner}(xg.optim.InverseTimeDecay(lr, 1, d))")
    if key == "betas" and isinstance(unknown[key], (tuple, list)) and len(unknown[key]) == 2:
        first, second = unknown[key]
        hint += f" (betas={unknown[key]!r} is beta_1={first!r}, beta_2={second!r})"
    raise unexpected_keyword(owner, key, accepted,
                             f"; xpgrad uses Keras' names: {hint}" if hint else None)


#: names PyTorch and older Keras users reach for, and where xpgrad has them: reading or
#: assigning one raises an AttributeError saying so
OTHER_NAMES = {
    "step": "xpgrad's optimizers take the gradients: opt.apply_gradients(zip(grads, "
            "variables)), opt.apply(tape.gradient(loss, model), model), or "
            "opt.minimize(loss_fn, variables)",
    "zero_grad": "there are no stored gradients to clear: tape.gradient returns them each step",
    "param_groups": "the hyperparameters are attributes: opt.learning_rate = 1e-4 (kept "
                    "state), opt.get_config(); for groups with their own settings (no "
                    "weight decay on biases) use one optimizer per group, each given its "
                    "group's (gradient, variable) pairs",
    "add_param_group": "a group with its own settings is an optimizer of its own: make "
                       "another (xg.optim.SGD(0.01, momentum=0.9)) and give it the new "
                       "group's (gradient, variable) pairs each step",
    "lr": "the learning rate is opt.learning_rate (read it, or assign a float or a schedule)",
    "exclude_from_weight_decay": "variables without weight decay get their own optimizer "
                                 "(weight_decay=0.0): one optimizer per group, each given its "
                                 "group's (gradient, variable) pairs",
}
