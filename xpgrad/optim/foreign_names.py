"""What PyTorch and TensorFlow users type at an xpgrad optimizer, and where xpgrad has it: the
messages of the TypeErrors and AttributeErrors that point them at xpgrad's names.

>>> try:
...     refuse("SGD", {"lr": 0.1})
... except TypeError as e:
...     print(e)
SGD() got an unexpected keyword argument 'lr'; xpgrad uses Keras' names: learning_rate=
"""
from __future__ import annotations


#: PyTorch's argument names -> what xpgrad (Keras' names) calls them
_TORCH_NAMES = {"lr": "learning_rate=", "eps": "epsilon=", "betas": "beta_1= and beta_2=",
                "alpha": "rho= (RMSprop's smoothing constant)",
                "max_norm": "global_clipnorm= (or xg.optim.clip_global_norm)"}


def refuse_minimize_argument(key) -> None:
    """TypeError for a keyword ``minimize`` does not take; TensorFlow's names get a hint."""
    hints = {"var_list": "xpgrad calls TensorFlow's var_list variables=",
             "tape": "xpgrad's minimize records loss_fn() on its own tape (pass the loss "
                     "function, not a loss computed on another tape)"}
    message = f"minimize() got an unexpected keyword argument {key!r}"
    raise TypeError(message + (f": {hints[key]}" if key in hints else ""))


def refuse(owner, unknown) -> None:
    """TypeError for keyword arguments the optimizer does not take, pointing a PyTorch user at
    xpgrad's name where there is one (``lr`` -> ``learning_rate``)."""
    key = next(iter(unknown))
    hint = _TORCH_NAMES.get(key)
    raise TypeError(f"{owner}() got an unexpected keyword argument {key!r}"
                    + (f"; xpgrad uses Keras' names: {hint}" if hint else
                       f" (xpgrad's {owner} does not have this option)"))


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
    "lr": "the learning rate is opt.learning_rate (read it, or assign a float or a schedule)",
    "exclude_from_weight_decay": "variables without weight decay get their own optimizer "
                                 "(weight_decay=0.0): one optimizer per group, each given its "
                                 "group's (gradient, variable) pairs",
}
