"""Backend kernels during a trace: each call of a proxy kernel is one opaque, recorded step."""
from __future__ import annotations

import threading

from ..backend import Kernel
from .traced import leaked


class _KernelProxy:
    """A backend kernel during a trace: each call is one opaque, recorded step.

    One proxy (and one proxy ``Kernel``) per kernel, made on its first trace and reused by
    every later one with ``tracer`` set for the trace's length: every ``Kernel`` made stays in
    ``backend.KERNELS_BY_INDEX`` for the process, so a proxy made per trace would keep its
    tracer -- the traced Variables, and the arrays the kernels saved -- alive for good.
    """

    def __init__(self, kernel):
        self.kernel, self.tracer = kernel, None

    def _call(self, fn, args, params):
        if self.tracer is None:            # a tape recorded in a trace, used after it
            raise leaked()
        return self.tracer.call(fn, args, params, kind="kernel")

    def forward(self, *raws, **params):
        return self._call(self.kernel.forward, raws, params)

    def vjp(self, *args, **params):
        result = self._call(self.kernel.vjp, args, params)
        in_place = self.kernel.vjp_in_place
        if in_place is not None and result is not None:
            real = getattr(args[0], "_real", None)          # the output gradient
            steps = self.tracer.steps
            if getattr(real, "base", 0) is None and getattr(real, "flags", None) is not None \
                    and real.flags.writeable and steps and steps[-1].fn is self.kernel.vjp:
                steps[-1].in_place = in_place
        return result

    def vjp_leaving(self, g, saved, needs, *args, **params):
        """``vjp`` with the ``traced_generic`` positions' gradients left to the generic rules."""
        left = self.kernel.traced_generic
        own = [need and i not in left for i, need in enumerate(needs)]
        grads = list(self._call(self.kernel.vjp, (g, saved, own, *args), params))
        for i in left:
            if needs[i]:
                grads[i] = NotImplemented
        return tuple(grads)

    def vjp_sliced(self, *args, **params):
        return self._call(self.kernel.vjp_sliced, args, params)



#: ``id(kernel) -> (kernel, its _KernelProxy, the proxy Kernel)`` (the kernel is held so that
#: its id is never reused)
_PROXIES: dict = {}


def _proxy_kernel(k, tracer):
    """The proxy ``Kernel`` recording ``k``'s calls into ``tracer``."""
    entry = _PROXIES.get(id(k))
    if entry is None:
        p = _KernelProxy(k)
        vjp = None if k.vjp is None else p.vjp_leaving if k.traced_generic else p.vjp
        # the kernel's own ``saves``: the trace's tape drops the inputs its vjp does not read,
        # as the eager tape does, so the program does not keep them alive until their use
        entry = _PROXIES[id(k)] = (k, p, Kernel(
            p.forward, vjp, saves=k.saves, needs=k.needs,
            vjp_sliced=p.vjp_sliced if k.vjp_sliced is not None else None))
    entry[1].tracer = tracer
    return entry[2]


class TracedKernels(dict):
    """The traced backend's kernel table during a trace: the proxies (a dict of them) for the
    tracing thread; other threads' eager calls get the backend's own table ``real``."""

    __slots__ = ("real", "thread")

    def __init__(self, proxies, real, thread):
        super().__init__(proxies)
        self.real, self.thread = real, thread

    def get(self, name, default=None):
        if threading.get_ident() == self.thread:
            return dict.get(self, name, default)
        return self.real.get(name, default)

    def __getitem__(self, name):
        if threading.get_ident() == self.thread:
            return dict.__getitem__(self, name)
        return self.real[name]

    def __contains__(self, name):
        if threading.get_ident() == self.thread:
            return dict.__contains__(self, name)
        return name in self.real

    def __bool__(self):
        return threading.get_ident() == self.thread or bool(self.real)
