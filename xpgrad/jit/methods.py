"""A decorated method: one ``Function`` per instance, as ``tf.function`` makes one.

``@xg.function`` on a method makes one Function for the class; ``instance.method`` is a bound
method of that instance's own Function, made on first use with the same options. So ten
layers of one class are ten functions of one trace each (one shared function would retrace as
soon as the instances outnumber ``max_traces``), and each instance's ``trace_count`` is its
own. The instance's Function leaves ``self`` out of its signatures, so it holds no reference
to the instance (which the class's Function would keep alive forever); the bound method holds
it, as any bound method does, and the instance's Function is dropped with the instance.
"""
from __future__ import annotations

import types
import weakref


class InstanceFunctions:
    """The Functions of one decorated method, one per instance (while the instance lives)."""

    def __init__(self):
        self._by_id = {}        # id(instance) -> (weak reference, its Function)

    def bound(self, function, obj):
        """``obj``'s Function of the method ``function`` decorates, bound to ``obj``."""
        entry = self._by_id.get(id(obj))
        if entry is None or entry[0]() is not obj:
            entry = self._add(function, obj)
        return types.MethodType(entry[1], obj)

    def _add(self, function, obj):
        key, by_id = id(obj), self._by_id

        def forget(ref):
            if by_id.get(key, (None,))[0] is ref:
                del by_id[key]

        try:
            ref = weakref.ref(obj, forget)
        except TypeError:       # no weak references (__slots__): the class's Function
            return (None, function)
        own = function.copy_for(function.fn)
        own._self_in_signature = False
        entry = by_id.setdefault(key, (ref, own))
        return entry if entry[0]() is obj else (ref, own)
