"""PyTorch's keywords on ``xg.nn.init``'s Kaiming and Xavier schemes (``mode=``,
``nonlinearity=``, ``a=``, ``gain=``): a TypeError naming the ``variance_scaling`` initializer
that draws torch's distribution, its scale computed as ``torch.nn.init.calculate_gain`` squared.

>>> print(torch_equivalent("kaiming_normal", {"mode": "fan_out", "nonlinearity": "relu"}))
xg.nn.init.variance_scaling(2.0, 'fan_out', 'untruncated_normal')
"""
from __future__ import annotations

#: torch.nn.init.calculate_gain's gains squared (leaky_relu's depends on ``a``)
_SQUARED_GAINS = {"linear": 1.0, "sigmoid": 1.0, "tanh": 25.0 / 9.0,
                  "relu": 2.0, "selu": 9.0 / 16.0, "conv1d": 1.0, "conv2d": 1.0,
                  "conv3d": 1.0, "conv_transpose1d": 1.0, "conv_transpose2d": 1.0,
                  "conv_transpose3d": 1.0}
#: the fans torch's Kaiming schemes take (its xavier ones have no ``mode``)
_TORCH_MODES = ("fan_in", "fan_out")
_TORCH_KEYWORDS = {"kaiming": ("a", "mode", "nonlinearity", "generator"),
                   "xavier": ("gain", "generator")}


def _scale(family, options) -> float:
    if family == "xavier":
        return float(options.get("gain", 1.0)) ** 2
    nonlinearity = options.get("nonlinearity", "leaky_relu")
    if nonlinearity == "leaky_relu":
        return 2.0 / (1.0 + float(options.get("a", 0) or 0) ** 2)
    if nonlinearity not in _SQUARED_GAINS:
        raise ValueError(f"nonlinearity={nonlinearity!r} is not one of torch's "
                         f"calculate_gain names: {sorted(_SQUARED_GAINS) + ['leaky_relu']}")
    return _SQUARED_GAINS[nonlinearity]


def torch_equivalent(who, options) -> str:
    """The ``variance_scaling(scale, mode, distribution)`` call that draws what torch's
    ``{who}_(w, **options)`` draws (``who`` one of kaiming_uniform, kaiming_normal,
    xavier_uniform, xavier_normal)."""
    family, kind = who.split("_")
    mode = "fan_avg" if family == "xavier" else options.get("mode", "fan_in")
    if family == "kaiming" and mode not in _TORCH_MODES:
        raise ValueError(f"mode={mode!r} is not one of torch's {who}_ modes: "
                         f"{list(_TORCH_MODES)}")
    distribution = "uniform" if kind == "uniform" else "untruncated_normal"
    return (f"xg.nn.init.variance_scaling({_scale(family, options)!r}, {mode!r}, "
            f"{distribution!r})")


def refuse_torch_keywords(who, options) -> None:
    """TypeError for keywords given to ``who`` (``he_uniform``, ``glorot_normal``, ...), naming
    the initializer that draws torch's numbers where the keywords are torch's.

    >>> try:
    ...     refuse_torch_keywords("glorot_uniform", {"gain": 2.0})
    ... except TypeError as e:
    ...     print(str(e).split(" is ")[1].split(",")[0])
    xg.nn.init.variance_scaling(4.0
    """
    if not options:
        return
    torch_name = {"he_uniform": "kaiming_uniform", "he_normal": "kaiming_normal",
                  "glorot_uniform": "xavier_uniform", "glorot_normal": "xavier_normal"}[who]
    family = torch_name.split("_")[0]
    key = next(iter(options))
    message = f"{who}() got an unexpected keyword argument {key!r}"
    if all(k in _TORCH_KEYWORDS[family] and k != "generator" for k in options):
        given = ", ".join(f"{k}={v!r}" for k, v in options.items())
        message += (f": xpgrad's initializers are (rng, shape, dtype) with the scheme fixed; "
                    f"torch's {torch_name}_(w, {given})"
                    f" is {torch_equivalent(torch_name, options)}, called as init(rng, shape) "
                    f"or given to a layer's init= (fans of xpgrad's (in, out) layout)")
    elif key == "generator":
        message += ": the generator is the first argument, rng (an xg.random Generator or seed)"
    raise TypeError(message)
