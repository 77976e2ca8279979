"""A decorated method: one ``Function`` per instance, as ``tf.function`` makes one.

``@xg.function`` on a method makes one Function for the class; ``instance.method`` is that
instance's own Function, made on first use with the same options, of the method bound to the
instance held weakly. So ten layers of one class are ten functions of one trace each (one
shared function would retrace as soon as the instances outnumber ``max_traces``), each
instance's ``trace_count`` is its own, and the Function does not keep its instance alive.
An instance that cannot be weakly referenced (``__slots__`` without ``__weakref__``) gets the
class's Function, bound as a plain method.
"""
from __future__ import annotations

import functools
import inspect
import types
import weakref


class WeakMethod:
    """The method ``function`` (the class's Function) decorates, bound to an instance held
    weakly; the bound method's signature and name."""

    def __init__(self, function, ref):
        fn = function.fn
        functools.update_wrapper(self, fn)
        self.function, self._fn, self._ref = function, fn, ref
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):
            return
        parameters = list(signature.parameters.values())[1:]     # without self
        self.__signature__ = signature.replace(parameters=parameters)

    def __call__(self, *args, **kwargs):
        return self._fn(self._ref(), *args, **kwargs)


class InstanceFunctions:
    """The Functions of one decorated method, one per instance (while the instance lives)."""

    def __init__(self):
        self._by_id = {}        # id(instance) -> (weak reference, its Function)

    def of(self, function, obj):
        """``obj``'s Function of the method ``function`` decorates."""
        entry = self._by_id.get(id(obj))
        if entry is not None and entry[0]() is obj:
            return entry[1]
        key, by_id = id(obj), self._by_id

        def forget(ref):
            if by_id.get(key, (None,))[0] is ref:
                del by_id[key]

        try:
            ref = weakref.ref(obj, forget)
        except TypeError:
            return types.MethodType(function, obj)
        own = function.copy_for(WeakMethod(function, ref))
        entry = by_id.setdefault(key, (ref, own))
        return entry[1] if entry[0]() is obj else own
