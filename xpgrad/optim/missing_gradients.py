"""The warning ``apply_gradients`` gives when some (not all) gradients are None: Keras'
"Gradients do not exist for variables [...] when minimizing the loss". Those variables are
skipped (their optimizer state too, as torch skips a parameter whose ``.grad`` is None).

>>> import warnings, xpgrad as xg
>>> w, unused = xg.Variable([1.0], name="w"), xg.Variable([2.0], name="unused")
>>> opt = xg.optim.SGD(0.1)
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     _ = opt.apply_gradients([(xg.asarray([1.0]), w), (None, unused)])
...     _ = opt.apply_gradients([(xg.asarray([1.0]), w), (None, unused)])
>>> [str(c.message).split(" when")[0] for c in caught]
["Gradients do not exist for variables ['unused']"]
"""
from __future__ import annotations

import warnings


def warn_missing_gradients(optimizer, variables) -> None:
    """Warn (UserWarning) that ``variables`` got None gradients in ``optimizer``'s
    ``apply_gradients`` and are skipped: once per optimizer for the same list of names."""
    names = [v.name for v in variables]
    warned = vars(optimizer).setdefault("_warned_missing_gradients", set())
    key = tuple(names)
    if key in warned:
        return
    warned.add(key)
    warnings.warn(f"Gradients do not exist for variables {names} when minimizing the loss: "
                  f"{type(optimizer).__name__}.apply_gradients skips them (the loss does not "
                  "use them; pass only the variables it uses to silence this)", UserWarning,
                  stacklevel=3)
