"""Checks of public arguments that every layer of xpgrad shares (no imports: usable anywhere).

>>> flag(True, "keepdims", "sum")
True
>>> try:
...     flag("no", "keepdims", "sum")
... except TypeError as e:
...     print(e)
sum: keepdims must be True or False, got 'no'
>>> try:
...     refuse_keywords("sum", {"dim": 1})
... except TypeError as e:
...     print(e)
sum() got an unexpected keyword argument 'dim'; xpgrad uses the array API's names: axis= for dim=
"""
from __future__ import annotations

import numbers
import types


def flag(value, name: str, owner: str | None = None) -> bool:
    """``value`` as a Python bool: ``True``/``False`` or a NumPy bool scalar, nothing else.

    Truthiness would take ``"no"`` or ``"False"`` as True, and 0/1 hide a swapped positional
    argument, so these are refused (as PyTorch refuses them) with a TypeError naming ``name``.
    """
    if value is True or value is False:
        return value
    dtype = getattr(value, "dtype", None)
    if getattr(dtype, "name", None) == "bool" and getattr(value, "shape", None) == () \
            and not hasattr(value, "_backend"):          # a NumPy bool, not a Tensor
        return bool(value)
    where = f"{owner}: " if owner else ""
    raise TypeError(f"{where}{name} must be True or False, got {value!r}")


def no_attribute(obj, name: str, hint: str | None = None) -> AttributeError:
    """The AttributeError for ``obj.name``; ``hint`` says where xpgrad has what another library
    (PyTorch, older Keras) calls ``name``."""
    message = f"{type(obj).__name__!r} object has no attribute {name!r}"
    return AttributeError(message if hint is None else f"{message}: {hint}")


def no_module_attribute(module: str, name: str, hint: str | None = None) -> AttributeError:
    """The AttributeError of a module's ``__getattr__`` for ``name``; ``hint`` says where
    xpgrad has what another library calls ``name``.

    >>> str(no_module_attribute("xpgrad.data", "DataLoader", "xg.data.batches"))
    "module 'xpgrad.data' has no attribute 'DataLoader': xg.data.batches"
    """
    message = f"module {module!r} has no attribute {name!r}"
    return AttributeError(message if hint is None else f"{message}: {hint}")


class Pointer(property):
    """What ``pointer`` makes: a property that always raises (``listed_names`` leaves it out)."""


def pointer(name: str, hint: str) -> property:
    """A class attribute standing for another library's ``name``: reading or assigning it
    raises ``no_attribute`` with ``hint`` (so ``hasattr`` stays False, and an assignment is not
    kept where it would change nothing). A class holding some lists its attributes with
    ``listed_names`` (``__dir__``), so that tab completion does not offer them."""
    def missing(self, *value):
        raise no_attribute(self, name, hint)
    return Pointer(missing, missing)


def listed_names(obj) -> list:
    """``dir(obj)`` without the ``pointer`` attributes of its class: the names for which
    ``hasattr(obj, name)`` is False are not offered (a class's ``__dir__``)."""
    mro = type(obj).__mro__

    def defined(name):          # the attribute as the class's lookup finds it
        return next((vars(c)[name] for c in mro if name in vars(c)), None)

    def offered(name):          # not a pointer, nor a slot left unset (Tensor's _hooks)
        found = defined(name)
        return not isinstance(found, Pointer) and not (
            isinstance(found, types.MemberDescriptorType) and not hasattr(obj, name))

    return sorted(n for n in object.__dir__(obj) if offered(n))


#: PyTorch's keywords of reductions, softmax and joins -> the array API's names for them
TORCH_KEYWORDS = {"dim": "axis=", "dims": "axis=", "keepdim": "keepdims=",
                  "diagonal": "k=", "a_min": "min=", "a_max": "max="}     # the last: NumPy's
#: PyTorch's keywords of the functions that take several axes (fftn, fftshift, permute_dims,
#: tensordot) -> the array API's name for them
TORCH_AXES_KEYWORDS = {"dim": "axes=", "dims": "axes="}
#: NumPy's and JAX's reduction keywords the array API leaves out -> what to write instead
NUMPY_KEYWORDS = {
    "where": "where= is NumPy's and JAX's: mask the input instead, xg.where(mask, x, 0.0) "
             "(-xg.inf for max, xg.inf for min; a masked mean is xg.sum(xg.where(mask, x, "
             "0.0)) / xg.sum(mask))",
    "initial": "initial= is NumPy's and JAX's: combine it with the result instead, "
               "xg.maximum(xg.max(x, axis=...), initial) for max, xg.sum(x) + initial for sum",
}

#: PyTorch's keywords whose value, not only their name, changes -> what to write instead
TORCH_VALUE_KEYWORDS = {
    "unbiased": "unbiased=True is correction=1 (ddof=1); the default here is the array API's "
                "correction=0, the biased estimate, where PyTorch's var and std default to "
                "the unbiased one",
    "requires_grad": "requires_grad= is PyTorch's: a trainable value is xg.Variable(value) "
                     "(tapes watch it by themselves), any other tensor tape.watch(t)",
}


def refuse_keywords(owner: str, unexpected: dict, torch_names: dict = TORCH_KEYWORDS) -> None:
    """Raise the TypeError Python raises for ``owner(..., key=value)`` with a keyword it does
    not take (``unexpected``: a ``**`` catch-all's dict), adding the array API's names for
    PyTorch's among them (``torch_names``: ``dim=`` -> ``axis=``, or ``TORCH_AXES_KEYWORDS``
    for a function of several axes).

    >>> try:
    ...     refuse_keywords("fftn", {"dim": (0, 1)}, TORCH_AXES_KEYWORDS)
    ... except TypeError as e:
    ...     print(e)
    fftn() got an unexpected keyword argument 'dim'; xpgrad uses the array API's names: axes= for dim=
    """
    key = next(iter(unexpected))
    message = f"{owner}() got an unexpected keyword argument {key!r}"
    ours = [f"{torch_names[k]} for {k}=" for k in unexpected if k in torch_names]
    if ours:
        message += "; xpgrad uses the array API's names: " + ", ".join(ours)
    message += "".join(f"; {NUMPY_KEYWORDS[k]}" for k in unexpected if k in NUMPY_KEYWORDS)
    message += "".join(f"; {TORCH_VALUE_KEYWORDS[k]}" for k in unexpected
                       if k in TORCH_VALUE_KEYWORDS)
    raise TypeError(message)


#: the reductions whose two-tensor call in PyTorch (``torch.max(a, b)``) is an elementwise function
ELEMENTWISE_TWINS = {"max": "maximum", "min": "minimum"}


def refuse_extra_positional(owner: str, positional: tuple, extra: tuple,
                            keywords: tuple, then: str = "") -> None:
    """Raise the TypeError for ``owner(...)`` given the ``extra`` positional arguments after
    those it takes so (``positional``, their names), naming ``keywords``, which it takes by
    keyword only: NumPy's and PyTorch's next positional argument (``dtype``, ``keepdim``,
    ``ddof``, ``b``, ...) is seldom the array API's, so it is refused, never guessed.
    ``then`` ends the message (the call spelled with keywords).

    >>> try:
    ...     refuse_extra_positional("sum", ("x", "axis"), (None,), ("dtype", "keepdims"))
    ... except TypeError as e:
    ...     print(e)
    sum() takes at most 2 positional arguments (x, axis) but 3 were given; dtype= and keepdims= are keyword-only
    """
    n = len(positional)
    named = [f"{k}=" for k in keywords]
    listed = " and ".join(named) if len(named) < 3 else ", ".join(named[:-1]) + " and " + \
        named[-1]
    raise TypeError(f"{owner}() takes at most {n} positional argument{'s' if n != 1 else ''} "
                    f"({', '.join(positional)}) but {n + len(extra)} were given; {listed} "
                    f"{'is' if len(named) == 1 else 'are'} keyword-only{then}")


def is_operand(value) -> bool:
    """Whether ``value``, where an axis goes, is rather a second operand: an array, a Tensor or
    a float (a Python or NumPy integer is an axis; a 0-d Tensor is an operand, as in PyTorch).

    >>> is_operand(1), is_operand((0, 1)), is_operand(2.5)
    (False, False, True)
    """
    if isinstance(value, numbers.Integral):
        return False
    return isinstance(value, float) or hasattr(value, "shape") and hasattr(value, "dtype")


def refuse_tensor_axis(name: str, axis, method: bool = True) -> None:
    """Raise the TypeError for ``x.max(y)`` or ``xg.max(x, y)`` (``name``: max or min;
    ``method``: which of the two) with an operand ``y`` where the axis goes: PyTorch's
    ``x.max(y)`` and ``torch.max(x, y)`` are the elementwise ``xg.maximum(x, y)``.

    >>> try:
    ...     refuse_tensor_axis("min", 2.5)
    ... except TypeError as e:
    ...     print(e)
    TensorMethods.min: axis must be None, an int or a tuple of ints, got float; the elementwise minimum of two tensors (torch's x.min(y)) is xg.minimum(x, y)
    >>> try:
    ...     refuse_tensor_axis("max", 2.5, method=False)
    ... except TypeError as e:
    ...     print(e)
    max: axis must be None, an int or a tuple of ints, got float; the elementwise maximum of two tensors (torch.max(a, b)) is xg.maximum(a, b)
    """
    twin = ELEMENTWISE_TWINS[name]
    where, theirs, ours = (("TensorMethods.", f"torch's x.{name}(y)", f"xg.{twin}(x, y)")
                           if method else ("", f"torch.{name}(a, b)", f"xg.{twin}(a, b)"))
    raise TypeError(f"{where}{name}: axis must be None, an int or a tuple of ints, got "
                    f"{type(axis).__name__}; the elementwise {twin} of two tensors ({theirs}) "
                    f"is {ours}")
