"""``xg.nn.utils.weight_norm`` and ``spectral_norm``: PyTorch's
``torch.nn.utils.parametrizations.weight_norm`` / ``spectral_norm`` for xpgrad layers (the
machinery: ``nn/parametrize.py``). ``dim`` counts axes of the weight in PyTorch's layout (a
Linear's ``w`` is torch's ``weight`` transposed: ``dim=0`` is its output features either way).

>>> import xpgrad as xg
>>> layer = xg.nn.utils.spectral_norm(xg.nn.Linear(4, 3, rng=0), rng=1)
>>> sigma = xg.linalg.svdvals(layer.w)[0].item()          # the weight is w / sigma_max(w)
>>> round(sigma, 3)
1.0
"""
from __future__ import annotations

import numbers

from ..ops.elementwise import abs as _abs
from ..ops.linalg import matmul, matrix_transpose
from ..ops.linalg_norms import vector_norm
from ..ops.reductions import sum as _sum
from ..ops.shape import permute_dims, reshape
from ..tape import stop_gradient
from ..tensor import Variable
from . import parametrize as _p
from .distances import normalize
from .module import Module


def _torch_dim(dim, ndim, who, allow_none):
    """``dim`` (PyTorch's layout) as an axis in ``[0, ndim)``; None stays None where allowed."""
    if dim is None and allow_none:
        return None
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{who}: dim must be an int{' or None' if allow_none else ''}, got "
                        f"{type(dim).__name__} {dim!r}")
    dim = int(dim)
    if not -ndim <= dim < ndim:
        raise ValueError(f"{who}: dim={dim} is out of range for a weight of {ndim} axes "
                         f"(expected {-ndim} <= dim < {ndim})")
    return dim + ndim if dim < 0 else dim


class WeightNorm(Module):
    """``weight = g * v / ||v||`` (PyTorch's ``_WeightNorm``), the norm over every axis but
    ``axis`` (the module's layout; None: over all of them, ``g`` a scalar); ``g`` has the
    weight's axes, of length 1 but ``axis``."""

    def __init__(self, axis):
        super().__init__(name="weight_norm")
        self.axis = axis

    def norm(self, v):
        if self.axis is None:
            return vector_norm(v)
        axes = tuple(a for a in range(v.ndim) if a != self.axis)
        return vector_norm(v, axis=axes, keepdims=True) if axes else _abs(v)

    def compute(self, g, v, update=False):
        return v * (g / self.norm(v))

    def _items(self):
        return iter(())

    _torch_items = _items

    def _extra_repr(self):
        return f", axis={self.axis}"


class SpectralNorm(Module):
    """``weight / sigma`` (PyTorch's ``_SpectralNorm``), ``sigma = u . (W v)`` for ``W`` the
    weight in PyTorch's layout with axis ``dim`` first, flattened to a matrix, and the buffers
    ``_u``, ``_v`` (non-trainable Variables, in ``state_dict``) its left and right singular
    vectors by power iteration: ``n_power_iterations`` steps in each training forward
    (``u = normalize(W v)``, ``v = normalize(W^T u)``, off the tape), none in eval mode; the
    gradient treats ``u`` and ``v`` as constants, as PyTorch's. A 1-D weight is normalized
    (``weight / max(||weight||, eps)``), without buffers."""

    def __init__(self, weight, n_power_iterations, dim, eps, perm, rng):
        super().__init__(name="spectral_norm")
        self.n_power_iterations, self.dim, self.eps, self.perm = \
            n_power_iterations, dim, eps, perm
        self._u = self._v = None
        if weight.ndim > 1:
            from .init import as_rng

            w = stop_gradient(self.matrix(weight))
            gen = as_rng(rng, weight.backend.name)
            h, k = w.shape
            u = normalize(gen.normal(size=(h,), dtype=weight.dtype).to(weight.backend),
                          axis=0, eps=eps)
            v = normalize(gen.normal(size=(k,), dtype=weight.dtype).to(weight.backend),
                          axis=0, eps=eps)
            u, v = self._power(w, u, v, 15)
            base = weight.name.rsplit("/", 1)[0] if weight.name else "spectral_norm"
            self._u = Variable(u, name=f"{base}/_u", trainable=False)
            self._v = Variable(v, name=f"{base}/_v", trainable=False)

    def matrix(self, weight):
        """The weight in PyTorch's layout, axis ``dim`` first, as (size of dim, the rest)."""
        if self.perm is not None:
            weight = permute_dims(weight, self.perm)
        if self.dim != 0:
            weight = permute_dims(weight, (self.dim,) + tuple(
                a for a in range(weight.ndim) if a != self.dim))
        return reshape(weight, (weight.shape[0], -1))

    def _power(self, w, u, v, steps):
        for _ in range(steps):
            u = normalize(matmul(w, v), axis=0, eps=self.eps)
            v = normalize(matmul(matrix_transpose(w), u), axis=0, eps=self.eps)
        return u, v

    def compute(self, weight, update=False):
        if weight.ndim == 1:
            return normalize(weight, axis=0, eps=self.eps)
        w = self.matrix(weight)
        if update and self.training:
            from ..recompute import recomputing

            if not recomputing():         # xg.recompute_grad's rerun moves nothing again
                u, v = self._power(stop_gradient(w), self._u, self._v,
                                   self.n_power_iterations)
                self._u.assign(u)
                self._v.assign(v)
        u, v = stop_gradient(self._u), stop_gradient(self._v)
        sigma = _sum(u * matmul(w, v))
        return weight / sigma

    def _items(self):
        if self._u is not None:
            yield "_u", self._u
            yield "_v", self._v

    _torch_items = _items

    def _extra_repr(self):
        return f", n_power_iterations={self.n_power_iterations}, dim={self.dim}, " \
               f"eps={self.eps}"


def weight_norm(module, name=None, dim=0):
    """Reparametrize ``module``'s weight as ``g * v / ||v||`` (PyTorch's
    ``torch.nn.utils.parametrizations.weight_norm(module, name="weight", dim=0)``): ``g``
    (``parametrizations[name].original0``) and ``v`` (``original1``, the weight's shape) are
    trained instead of the weight, which every forward computes from them. ``name`` is the
    weight's attribute (None: the layer's weight, ``w`` for a Linear, whose PyTorch name
    ``"weight"`` is taken too; ``weight`` for the others); ``dim`` the axis, in PyTorch's
    layout of the weight, that keeps one norm per entry (0: per output feature or channel;
    None: one norm for the whole weight, ``g`` a scalar). PyTorch's ``dim=-1`` means None, not
    the last axis, so it is refused here (write None, or the last axis' index). At first the
    weight is unchanged (``g = ||weight||``, ``v = weight``). Returns ``module`` (its class is
    now ``Parametrized<Class>``); ``remove_parametrizations`` / ``remove_weight_norm`` undo it.

    >>> import xpgrad as xg
    >>> conv = xg.nn.utils.weight_norm(xg.nn.Conv2d(2, 4, 3, rng=0))
    >>> conv.parametrizations.weight.original0.shape, len(conv.trainable_variables)
    ((4, 1, 1, 1), 3)
    >>> list(conv.torch_state_dict())
    ['bias', 'parametrizations.weight.original0', 'parametrizations.weight.original1']
    """
    who = "weight_norm"
    name = _p.resolve_name(module, name, who)
    weight = vars(module)[name]
    if isinstance(dim, numbers.Integral) and not isinstance(dim, bool) and dim == -1:
        raise ValueError(f"{who}: dim=-1 means a norm over the whole weight in PyTorch's "
                         f"weight_norm (not the last axis): write dim=None for that, or "
                         f"dim={weight.ndim - 1} for the last axis")
    dim = _torch_dim(dim, weight.ndim, who, allow_none=True)
    torch_key, perm = _p.torch_layout(module, name)
    axis = None if dim is None else (dim if perm is None else perm[dim])
    parametrization = WeightNorm(axis)
    g = parametrization.norm(weight)
    base = _base_name(weight.name, name)
    originals = {"original0": Variable(g, name=f"{base}parametrizations/{name}/original0"),
                 "original1": Variable(weight, name=f"{base}parametrizations/{name}/original1")}
    return _p.register(module, name, parametrization, originals, who)


def spectral_norm(module, name=None, n_power_iterations: int = 1, eps: float = 1e-12,
                  dim=None, *, rng=None):
    """Divide ``module``'s weight by its largest singular value (PyTorch's
    ``torch.nn.utils.parametrizations.spectral_norm(module, name="weight",
    n_power_iterations=1, eps=1e-12, dim=None)``), estimated by power iteration: the weight in
    PyTorch's layout, axis ``dim`` first (None: 0, a ConvTranspose's 1), flattened to a matrix
    ``W``; the buffers ``parametrizations[name][0]._u`` and ``_v`` (non-trainable Variables,
    saved in ``state_dict`` and ``torch_state_dict`` under PyTorch's keys
    ``parametrizations.weight.0._u``) start as normalized draws from ``rng`` (a Generator, an
    int seed, None: fresh entropy; its stream is xpgrad's, not torch's) moved by 15 steps, and
    take ``n_power_iterations`` steps in every forward in training mode (none in eval mode, or
    when the weight is read outside a forward). The trained Variable is the original weight
    itself (``parametrizations[name].original``): its gradient goes through
    ``W / (u . W v)``, ``u`` and ``v`` constants, as in PyTorch. ``name`` as ``weight_norm``'s.
    Returns ``module``; ``remove_parametrizations`` / ``remove_spectral_norm`` undo it.

    >>> import xpgrad as xg
    >>> conv = xg.nn.utils.spectral_norm(xg.nn.Conv2d(2, 4, 3, rng=0), rng=0)
    >>> [(k, v.shape) for k, v in conv.torch_state_dict().items()][1:]
    [('parametrizations.weight.original', (4, 2, 3, 3)), ('parametrizations.weight.0._u', \
(4,)), ('parametrizations.weight.0._v', (18,))]
    """
    from .conv_transpose_layers import ConvTranspose1d, ConvTranspose2d
    from .linear import Linear  # noqa: F401  (the layout table names it)

    who = "spectral_norm"
    name = _p.resolve_name(module, name, who)
    weight = vars(module)[name]
    if isinstance(n_power_iterations, bool) or not isinstance(n_power_iterations,
                                                              numbers.Integral) \
            or n_power_iterations <= 0:
        raise ValueError(f"{who}: n_power_iterations must be a positive int, got "
                         f"{n_power_iterations!r}")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps > 0:
        raise ValueError(f"{who}: eps must be a positive number, got {eps!r}")
    if dim is None:
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d)) else 0
    dim = _torch_dim(dim, weight.ndim, who, allow_none=False)
    _, perm = _p.torch_layout(module, name)
    parametrization = SpectralNorm(weight, int(n_power_iterations), dim, float(eps), perm, rng)
    return _p.register(module, name, parametrization, {"original": weight}, who)


def remove_weight_norm(module, name=None):
    """``remove_parametrizations(module, name)`` of a ``weight_norm``: the weight becomes a
    Variable again, holding its current value (ValueError if ``name`` is not weight-normed).

    >>> import xpgrad as xg
    >>> type(remove_weight_norm(weight_norm(xg.nn.Linear(2, 2, rng=0)))).__name__
    'Linear'
    """
    return _remove_kind(module, name, WeightNorm, "remove_weight_norm", "weight_norm")


def remove_spectral_norm(module, name=None):
    """``remove_parametrizations(module, name)`` of a ``spectral_norm``: ``original`` (the
    same Variable) takes the weight's current value and goes back into the attribute.

    >>> import xpgrad as xg
    >>> layer = xg.nn.Linear(2, 2, rng=0)
    >>> w = layer.w
    >>> remove_spectral_norm(spectral_norm(layer, rng=0)).w is w
    True
    """
    return _remove_kind(module, name, SpectralNorm, "remove_spectral_norm", "spectral_norm")


def _remove_kind(module, name, kind, who, what):
    names = getattr(type(module), "_parametrized_names", ())
    if name is None:
        name = names[0] if len(names) == 1 else _p.default_name(module)
    if name == "weight" and isinstance(module, _p.Linear) and "w" in names:
        name = "w"
    if isinstance(name, str) and name in names and \
            not isinstance(_p.parametrization_of(module, name), kind):
        raise ValueError(f"{who}: {type(module).__name__}.{name} is parametrized by "
                         f"{type(_p.parametrization_of(module, name)).__name__}, not {what}")
    return _p.remove_parametrizations(module, name)


def _base_name(variable_name, attribute):
    """The prefix of a layer's Variable names (``"mlp/linear0/"`` of ``"mlp/linear0/w"``)."""
    if variable_name and variable_name.endswith("/" + attribute):
        return variable_name[:-len(attribute)]
    return f"{variable_name}/" if variable_name else ""


__all__ = ["weight_norm", "spectral_norm", "remove_weight_norm", "remove_spectral_norm",
           "WeightNorm", "SpectralNorm"]
