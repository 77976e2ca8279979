"""``lazy``: an attribute computed from the others on first read, then kept (PyTorch's
``lazy_property``), for the parameterization a distribution was not given (``probs`` made from
``logits`` or the other way).

>>> class A:
...     @lazy
...     def b(self):
...         print("computed")
...         return 2
>>> a = A()
>>> a.b + a.b
computed
4
"""
from __future__ import annotations


class lazy:
    def __init__(self, fn):
        self.fn, self.__doc__, self.name = fn, fn.__doc__, fn.__name__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.fn(instance)
        return value
