"""Keyword arguments a class or function does not take: its accepted names, read from its
signature once, and the TypeError Python raises for another, with a "did you mean" for a
misspelt one (layers, optimizers and schedules share it); and the TypeError for too many
positional arguments, naming the keyword-only ones.

>>> def make(learning_rate, momentum=0.0): pass
>>> print(unexpected_keyword("SGD", "momentun", keywords_of(make)))
SGD() got an unexpected keyword argument 'momentun'; did you mean momentum=?
>>> print(unexpected_keyword("SGD", "fused", keywords_of(make)))
SGD() got an unexpected keyword argument 'fused' (xpgrad's SGD does not have this option)
"""
from __future__ import annotations

import contextlib
import difflib
import inspect
import weakref

from ._args import refuse_extra_positional

#: ``{function: keywords_of(function)}``; weak: a dropped class is freed with its __init__
_KEYWORDS = weakref.WeakKeyDictionary()


def keywords_of(function):
    """The parameter names of ``function`` (positional-only ones too: Python's own message
    says what is wrong with those); None when it takes any keyword (``**kwargs``). A
    decorated function's own (a ``functools.wraps`` wrapper's), not the wrapped one's."""
    try:
        return _KEYWORDS[function]
    except (KeyError, TypeError):       # TypeError: not weakly referable (a C slot wrapper)
        pass
    try:
        params = inspect.signature(function, follow_wrapped=False).parameters.values()
    except (TypeError, ValueError):     # no signature to read: let Python's own call check
        return None
    names = None if any(p.kind is p.VAR_KEYWORD for p in params) else named_parameters(function)
    with contextlib.suppress(TypeError):
        _KEYWORDS[function] = names
    return names


def named_parameters(function) -> frozenset:
    """The names ``function`` takes by name, those a ``**`` catch-all takes left out (empty
    when it has no signature to read)."""
    try:
        params = inspect.signature(function, follow_wrapped=False).parameters.values()
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))


def unexpected_keyword(owner: str, key: str, accepted, hint: str | None = None) -> TypeError:
    """The TypeError for ``owner(key=...)``, which takes only ``accepted`` keywords: ``hint``
    (another library's name said as xpgrad's, starting with ``;`` or ``:``) when given, else
    the closest accepted name when one is close, else that ``owner`` has no such option."""
    message = f"{owner}() got an unexpected keyword argument {key!r}"
    if hint:
        return TypeError(message + hint)
    meant = difflib.get_close_matches(key, sorted(set(accepted) - {"self"}), n=1, cutoff=0.66)
    return TypeError(message + (f"; did you mean {meant[0]}=?" if meant else
                                f" (xpgrad's {owner} does not have this option)"))


def check_keywords(cls, kwargs, hints) -> None:
    """``unexpected_keyword`` for the first of ``kwargs`` that ``cls()`` does not take (its
    ``__init__``'s names), with ``hints[key]`` (another library's name said as xpgrad's) when
    there is one: called from ``__new__`` on each construction given keywords, kept short."""
    accepted = keywords_of(cls.__init__)
    if accepted is None or accepted.issuperset(kwargs):
        return
    key = next(key for key in kwargs if key not in accepted)
    raise unexpected_keyword(cls.__name__, key, accepted, hints.get(key))


#: ``{function: (its positional names, self left out; its keyword-only names)}``
_POSITIONALS = weakref.WeakKeyDictionary()


def positional_names(function):
    """``(positional, keyword_only)``: the names ``function`` (a method: ``self`` left out)
    takes by position, and those it takes by name only; None when it takes ``*args`` or has
    no signature to read."""
    try:
        return _POSITIONALS[function]
    except (KeyError, TypeError):
        pass
    try:
        params = list(inspect.signature(function, follow_wrapped=False).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    names = None if any(p.kind is p.VAR_POSITIONAL for p in params) else (
        tuple(p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)),
        tuple(p.name for p in params if p.kind is p.KEYWORD_ONLY))
    with contextlib.suppress(TypeError):
        _POSITIONALS[function] = names
    return names


def check_positionals(cls, args, torch_order=()) -> None:
    """TypeError for ``cls(*args)`` given more arguments than ``cls.__init__`` takes by
    position (Python says only "takes from 3 to 4 positional arguments"): it names the
    keyword-only ones and, when ``torch_order`` (PyTorch's positional order of the same
    names) reaches that far, the call spelled with keywords.

    >>> class LSTM:
    ...     def __init__(self, input_size, hidden_size, *, bias=True, batch_first=None): pass
    >>> try:
    ...     check_positionals(LSTM, (3, 4, False), ("input_size", "hidden_size", "bias"))
    ... except TypeError as e:
    ...     print(e)
    LSTM() takes at most 2 positional arguments (input_size, hidden_size) but 3 were given; bias= and batch_first= are keyword-only. PyTorch's order as keywords: LSTM(3, 4, bias=False)
    """
    names = positional_names(cls.__init__)
    if names is None or len(args) <= len(names[0]) or not names[1]:
        return                              # Python's own error says it all
    positional, keyword_only = names
    extra = args[len(positional):]
    then = ""
    if len(args) <= len(torch_order) and tuple(torch_order[:len(positional)]) == positional:
        call = [repr(a) for a in args[:len(positional)]] + [
            f"{name}={value!r}" for name, value in zip(torch_order[len(positional):], extra)]
        then = f". PyTorch's order as keywords: {cls.__name__}({', '.join(call)})"
    refuse_extra_positional(cls.__name__, positional, extra, keyword_only, then)


class CheckedKeywords:
    """A base class whose construction with a keyword its ``__init__`` does not take raises
    ``check_keywords``' TypeError, ``_KEYWORD_HINTS`` giving the hints (not Python's own);
    with too many positional arguments, ``check_positionals``'."""

    _KEYWORD_HINTS: dict = {}

    def __new__(cls, *args, **kwargs):
        if kwargs:
            check_keywords(cls, kwargs, cls._KEYWORD_HINTS)
        if args:
            check_positionals(cls, args)
        return super().__new__(cls)
