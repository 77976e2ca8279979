"""einops' main API (``einops.rearrange(t, ...)``, ``reduce``, ``repeat``, ``einsum``, ``pack``)
on xpgrad Tensors.

einops finds a framework through subclasses of ``einops._backends.AbstractBackend`` whose
``framework_name`` is an imported module. ``install()`` defines that subclass for xpgrad as
soon as einops is imported, before or after xpgrad, without importing einops itself: where
einops is not yet imported, a finder on ``sys.meta_path`` waits for ``einops._backends``.
Every operation is an xpgrad function, so a tape records it.
"""
import sys

_EINOPS_BACKENDS = "einops._backends"


def _define_backend(backends_module):
    """Subclass einops' ``AbstractBackend`` for xpgrad (once per loaded ``einops._backends``:
    a reload makes a new ``AbstractBackend``)."""
    abstract = backends_module.AbstractBackend
    if issubclass(getattr(backends_module, "XpgradBackend", object), abstract):
        return
    import xpgrad as xg

    class XpgradBackend(abstract):
        framework_name = "xpgrad"

        def is_appropriate_type(self, tensor):
            return isinstance(tensor, xg.Tensor)

        def from_numpy(self, x):
            return xg.asarray(x)

        def to_numpy(self, x):
            return x.numpy()

        def arange(self, start, stop):
            return xg.arange(start, stop)

        def reshape(self, x, shape):
            return xg.reshape(x, tuple(shape))

        def transpose(self, x, axes):
            return xg.permute_dims(x, tuple(axes))

        def reduce(self, x, operation, axes):
            return getattr(xg, operation)(x, axis=tuple(axes))

        def stack_on_zeroth_dimension(self, tensors):
            return xg.stack(list(tensors))

        def add_axis(self, x, new_position):
            return xg.expand_dims(x, axis=new_position)

        def tile(self, x, repeats):
            return xg.tile(x, tuple(repeats))

        def concat(self, tensors, axis):
            return xg.concat(list(tensors), axis=axis)

        def is_float_type(self, x):
            return xg.isdtype(x.dtype, "real floating")

        def einsum(self, pattern, *x):
            return xg.einsum(pattern, *x)

    backends_module.XpgradBackend = XpgradBackend


class _EinopsFinder:   # a meta-path finder (importlib.abc not imported: 1-2 ms)
    """Lets the other finders find ``einops._backends``; defines the backend once it has run."""

    def find_spec(self, fullname, path, target=None):
        if fullname != _EINOPS_BACKENDS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _DefiningLoader(spec.loader)
                return spec
        return None


class _DefiningLoader:
    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):       # get_source, get_data, ...: the real loader's
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _remove_finder()
        _define_backend(module)


def _remove_finder():
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _EinopsFinder)]


def install():
    """Make einops' main API accept xpgrad Tensors, now or when einops is imported."""
    if _EINOPS_BACKENDS in sys.modules:
        _define_backend(sys.modules[_EINOPS_BACKENDS])
    elif not any(isinstance(f, _EinopsFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _EinopsFinder())
