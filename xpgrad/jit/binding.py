"""Calls bound to the function's signature, as ``tf.function`` binds them: ``f(x)``,
``f(x, 2.0)`` and ``f(x, scale=2.0)`` are one call (the default filled in, keywords naming
positional parameters moved to their places), so they share one signature and one trace.

>>> def f(x, scale=2.0, *, power=1): ...
>>> bind = Binder(f)
>>> bind((1,), {"scale": 2.0}), bind((1,), {}), bind((), {"x": 1, "power": 3})
(((1, 2.0), {'power': 1}), ((1, 2.0), {'power': 1}), ((1, 2.0), {'power': 3}))

A call that does not fit the signature is left as it is (the function raises its own
``TypeError``), and so is every call of a function with ``*args`` or without a signature, or
one marked ``calls_as_given`` (an ``xg.vmap``'s: its ``in_axes`` pair with the arguments
given, and a default it is not given is not mapped, as in JAX).
"""
from __future__ import annotations

import inspect

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_MISSING = inspect.Parameter.empty


class Binder:
    """``bind(args, kwargs)``: the call in its canonical form (module docstring)."""

    def __init__(self, fn):
        try:
            parameters = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):       # a builtin or a callable without a signature
            parameters = None
        if getattr(fn, "calls_as_given", False):
            parameters = None
        if parameters is not None and any(p.kind is inspect.Parameter.VAR_POSITIONAL
                                          for p in parameters):
            parameters = None
        self._parameters = parameters
        self._positional = [p for p in parameters or () if p.kind in _POSITIONAL]
        self._keyword_only = [p for p in parameters or ()
                              if p.kind is inspect.Parameter.KEYWORD_ONLY]
        self._plans = {}      # (number of positional arguments, keywords) -> plan or None
        #: the number of positional arguments of a call that is canonical as it is when it has
        #: no keywords (-1: none is)
        self.plain = len(self._positional) if parameters and not self._keyword_only else -1

    def __call__(self, args, kwargs):
        if self._parameters is None or (not kwargs and not self._keyword_only
                                        and len(args) == len(self._positional)):
            return args, kwargs
        form = (len(args), tuple(kwargs))
        try:
            plan = self._plans[form]
        except KeyError:
            plan = self._plans[form] = self._plan(*form)
        if plan is None:
            return args, kwargs
        more, keywords, extra = plan
        args = args + tuple(kwargs[name] if given else default for name, given, default in more)
        bound = {name: kwargs[name] if given else default for name, given, default in keywords}
        for name in extra:
            bound[name] = kwargs[name]
        return args, bound

    def name_of(self, where) -> str:
        """How messages name argument ``where`` (a position or a keyword) of a bound call."""
        if isinstance(where, int):
            if where < len(self._positional):
                return repr(self._positional[where].name)
            return f"#{where + 1}"
        return repr(where)

    def _plan(self, count, names):
        """For calls with ``count`` positional arguments and the keywords ``names``: the
        positional parameters to append and the keyword-only ones, each ``(name, given,
        default)``, and the other keywords (``**kwargs``); None where the call does not fit."""
        if count > len(self._positional):
            return None
        given = set(names)
        more = []
        for p in self._positional[count:]:
            if p.name in given and p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
                more.append((p.name, True, None))
            elif p.default is not _MISSING and p.name not in given:
                more.append((p.name, False, p.default))
            else:
                return None
        keywords = []
        for p in self._keyword_only:
            if p.name in given:
                keywords.append((p.name, True, None))
            elif p.default is not _MISSING:
                keywords.append((p.name, False, p.default))
            else:
                return None
        known = {p.name for p in self._positional} | {p.name for p in self._keyword_only}
        extra = tuple(n for n in names if n not in known)
        if any(p.name in given for p in self._positional[:count]):
            return None           # a parameter given twice: the function's own TypeError
        if extra and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in self._parameters):
            return None
        return tuple(more), tuple(keywords), extra
