"""Prints that run on every call of an ``xg.function`` step, replays included: ``print_values``
(``xg.print``, TensorFlow's ``tf.print``: Python's ``print`` arguments) and ``print_formatted``
(``xg.debug.print``, JAX's ``jax.debug.print``: a ``str.format`` string). Tensors print as
their NumPy values; ``jit/replay_print.py`` records the print in the program.

>>> import xpgrad as xg
>>> step = xg.function(lambda x: (xg.print("x", x), x * 2.0)[1])
>>> for k in range(3):                     # eager, traced, replayed: each prints
...     y = step(xg.asarray([1.0, float(k)]))
x [1. 0.]
x [1. 1.]
x [1. 2.]
"""
from __future__ import annotations

from .jit.replay_print import emit


def print_values(*values, sep=" ", end="\n", file=None, flush=False):
    """Python's ``print(*values, sep=, end=, file=, flush=)`` with each tensor as its NumPy
    value, which an ``xg.function`` step runs on every call, replays included, with that
    call's values (TensorFlow's ``tf.print``; this one writes to ``sys.stdout`` by default, as
    ``print``). Under ``xg.vmap`` a tensor prints once, its whole batch (batch axis first).

    >>> import xpgrad as xg
    >>> xg.print("loss", xg.asarray(0.5), sep=": ")
    loss: 0.5
    """
    for name, text in (("sep", sep), ("end", end)):
        if text is not None and not isinstance(text, str):
            raise TypeError(f"xg.print: {name} must be a str or None, got "
                            f"{type(text).__name__}")
    _check_file("xg.print", file)
    sep = " " if sep is None else sep
    end = "\n" if end is None else end
    emit(lambda args, kwargs: sep.join(map(str, args)) + end, values, {}, file, flush)


def print_formatted(fmt, *args, file=None, **kwargs):
    """``print(fmt.format(*args, **kwargs))`` with each tensor as its NumPy value, which an
    ``xg.function`` step runs on every call, replays included, with that call's values (JAX's
    ``jax.debug.print``). Under ``xg.vmap`` a tensor prints once, its whole batch (batch axis
    first), where JAX prints each example's.

    >>> import xpgrad as xg
    >>> xg.debug.print("loss {loss:.3f} at step {}", 7, loss=xg.asarray(0.25))
    loss 0.250 at step 7
    """
    if not isinstance(fmt, str):
        raise TypeError(f"xg.debug.print: fmt must be a format str (\"loss {{x}}\"), got "
                        f"{type(fmt).__name__}")
    _check_file("xg.debug.print", file)
    emit(lambda values, keywords: fmt.format(*values, **keywords) + "\n", args, kwargs, file)


def _check_file(function, file):
    if file is not None and not callable(getattr(file, "write", None)):
        raise TypeError(f"{function}: file must have a write method (a stream such as "
                        f"sys.stderr) or be None, got {type(file).__name__}")


__all__ = ["print_formatted", "print_values"]
