"""Containers: Sequential (a chain of callables) and MLP (stacked Linear layers).

>>> import xpgrad as xg
>>> rng = xg.random.default_rng(0)
>>> model = xg.nn.Sequential(xg.nn.Linear(4, 8, rng=rng), xg.nn.ReLU(), xg.nn.Linear(8, 2, rng=rng))
>>> model(xg.ones((3, 4))).shape
(3, 2)
"""
from __future__ import annotations

import itertools
import numbers

from .. import dtypes as _dt
from .._args import flag
from . import _checks, _initial
from . import init as _init
from ..ops.activations import leaky_relu, relu
from ..ops.nn import fused_activation_name
from .activations_layers import LeakyReLU, ReLU, Sigmoid, Tanh, get_activation
from ..jit.capture import THREAD as _TRACES, guard_value, note_write
from .linear import Linear, bias_initializer
from .module import Module, layer_repr
from .module_hooks import ACTIVE as _HOOKS_ACTIVE
from ._torch_strict import strict_option
from .variable_names import renames


#: activation layers ``linear`` applies in its own primitive, by class (exactly: a subclass
#: may compute something else)
_FUSED_LAYERS = {ReLU: "relu", Sigmoid: "sigmoid", Tanh: "tanh"}


def _fused_name(activation):
    """The name under which ``xg.nn.linear`` fuses ``activation`` (a function or an activation
    layer) into the layer before it, else None (also for a layer whose ``forward`` was
    replaced on the instance, or that has hooks: it runs as given, called)."""
    name = _FUSED_LAYERS.get(activation.__class__)
    if name is not None:
        own = activation.__dict__
        return None if "forward" in own or "_hooks" in own else name
    return fused_activation_name(activation)


def _fusable(layer) -> bool:
    """Whether ``layer`` is a plain Linear (not one whose ``forward`` was replaced on the
    instance, or that has hooks: it must run as given, called)."""
    if layer.__class__ is not Linear:
        return False
    own = layer.__dict__
    return "forward" not in own and "_hooks" not in own


#: Sequential structure versions: each change of a Sequential's layers takes the next
_VERSIONS = itertools.count(1)


class Sequential(Module):
    """Apply layers in order; ``Sequential(a, b)`` or ``Sequential([a, b])``. As
    ``torch.nn.Sequential``: indexing (a slice is a Sequential of the same layers),
    ``len``, iteration, ``s[i] = layer``, ``del s[i]`` / ``del s[i:j]``, ``append`` /
    ``extend`` / ``insert`` / ``pop``, ``+=`` and ``+`` (a new Sequential). Layer ``i`` is
    always at index ``i`` (a removal or insertion renumbers those after it, as PyTorch's), so
    its variables are ``"<name>/<layer name>i/..."`` and its torch keys ``"i.weight"``. Under
    ``xg.function`` a change made through these (or by assigning ``layers``) traces anew; an
    edit of the list ``layers`` itself is not seen by a traced function.

    >>> import xpgrad as xg
    >>> model = xg.nn.Sequential(xg.nn.Linear(2, 3, rng=0), xg.nn.Linear(3, 1, rng=1))
    >>> _ = model.insert(1, xg.nn.ReLU())
    >>> list(model.torch_state_dict())
    ['0.weight', '0.bias', '2.weight', '2.bias']
    >>> del model[0]
    >>> list(model.named_variables())
    ['sequential/linear1/w', 'sequential/linear1/b']
    """

    _version = 0      # of the layers (a Sequential pickled before versions: 0)

    def __init__(self, *layers, name: str = "sequential"):
        super().__init__(name)
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = layers[0]
        for layer in layers:
            _check_layer(layer)
        self.layers = list(layers)

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name == "layers":
            self._changed()

    def _changed(self):
        """A new version of the layers: under ``xg.function``, a program traced with the old
        ones is not replayed (``forward`` guards on it)."""
        if _TRACES.tracer is not None:
            note_write(self, "_version")
        vars(self)["_version"] = next(_VERSIONS)

    def _index(self, i, what, end=False):
        """``i`` as an index into the layers, in range (``end``: ``len`` too, for insert)."""
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise TypeError(f"Sequential.{what}: the index must be an int, got "
                            f"{type(i).__name__} {i!r}")
        n = len(self.layers)
        if not -n <= i < n + end:
            raise IndexError(f"Sequential.{what}: index {i} is out of range ({n} layers)")
        i = int(i)
        return i + n if i < 0 else i

    @renames
    def append(self, layer) -> "Sequential":
        """Add ``layer`` at the end; returns self (as PyTorch's)."""
        self.layers.append(_check_layer(layer))
        self._changed()
        return self

    @renames
    def extend(self, layers) -> "Sequential":
        """Add each of ``layers`` (an iterable of layers, a Sequential too) at the end, every
        one checked before any is added; returns self."""
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
            raise TypeError(f"Sequential.extend: layers must be an iterable of layers, got "
                            f"{type(layers).__name__}")
        layers = [_check_layer(layer) for layer in layers]
        self.layers.extend(layers)
        self._changed()
        return self

    @renames
    def insert(self, index, layer) -> "Sequential":
        """Put ``layer`` before ``index`` (``-len <= index <= len``, as PyTorch's; the layers
        from ``index`` on move one up); returns self."""
        index = self._index(index, "insert", end=True)
        self.layers.insert(index, _check_layer(layer))
        self._changed()
        return self

    @renames
    def pop(self, index=-1):
        """Remove and return the layer at ``index`` (the last by default; a slice gives a
        Sequential of the layers removed)."""
        if not isinstance(index, slice):
            index = self._index(index, "pop")
        removed = self[index]
        del self[index]
        return removed

    def __getitem__(self, i):
        """Layer ``i``; a slice is a Sequential of those layers (shared, as PyTorch's)."""
        if isinstance(i, slice):
            return Sequential(self.layers[i], name=self.name)
        return self.layers[self._index(i, "__getitem__")]

    @renames
    def __setitem__(self, i, layer):
        """Replace layer ``i`` (an int, as PyTorch's) with ``layer``."""
        if isinstance(i, slice):
            raise TypeError("Sequential: s[i] = layer takes an int index (as PyTorch's), got a "
                            "slice; del s[i:j] and insert the new layers one by one")
        i = self._index(i, "__setitem__")
        self.layers[i] = _check_layer(layer)
        self._changed()

    @renames
    def __delitem__(self, i):
        """Remove layer ``i``, or the layers of a slice; those after move down (as PyTorch's
        renumbering)."""
        if isinstance(i, slice):
            del self.layers[i]
        else:
            del self.layers[self._index(i, "__delitem__")]
        self._changed()

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __iadd__(self, layers) -> "Sequential":
        return self.extend(layers)

    def __add__(self, other) -> "Sequential":
        """A new Sequential of this one's layers, then ``other``'s (PyTorch's ``+``)."""
        if not isinstance(other, Sequential):
            return NotImplemented
        return Sequential(self.layers + other.layers, name=self.name)

    def forward(self, x):
        layers = self.layers
        # a change of the layers traces anew (ACTIVE first: empty unless hooks or a trace)
        if _HOOKS_ACTIVE and _TRACES.tracer is not None:
            guard_value(self, "_version", self._version)
        last = len(layers) - 1
        i = 0
        while i <= last:
            layer = layers[i]
            if i < last and _fusable(layer):
                name = _fused_name(layers[i + 1])
                if name is not None:          # Linear, ReLU: one primitive (xg.nn.linear)
                    x = layer.forward_activated(x, name)
                    i += 2
                    continue
            x = layer(x)
            i += 1
        return x

    def _repr_items(self):
        # every layer, plain functions too, at its index (a module under its path component)
        return ((f"{layer.name}{i}" if isinstance(layer, Module) else str(i), layer)
                for i, layer in enumerate(self.layers))

    @strict_option
    def load_torch_state_dict(self, state_dict) -> None:
        """Copy a ``torch.nn.Sequential``'s weights (``"0.weight"``, ``"2.bias"``, ...): its
        layers with weights in order, each into the next of this Sequential's layers with
        weights (activations and dropout are skipped on both sides; nested Sequentials load
        theirs). A count, key or shape that does not fit is a ValueError, with nothing changed.
        """
        from ._torch import load_layers

        load_layers(self, self.layers, state_dict)

    def _torch_expected(self, given):
        from ._torch import layers_expected

        return layers_expected(self, self.layers, given)

    def torch_state_dict(self) -> dict:
        """``{"<layer index>.<key>": NumPy array}`` for ``torch.nn.Sequential.load_state_dict``
        when the torch model has the same layers at the same places."""
        from ._torch import layers_state_dict

        return layers_state_dict(self, self.layers)


def _check_layer(layer):
    if isinstance(layer, type) and issubclass(layer, Module):
        raise TypeError(f"Sequential takes layers, got the class {layer.__name__}; make one: "
                        f"{layer.__name__}()")
    if not callable(layer):
        raise TypeError(f"Sequential takes callables (layers), got {type(layer).__name__} "
                        f"{layer!r}")
    return layer


def checkpoint_sequential(layers, segments, x):
    """``layers`` (a Sequential, or a list of callables) applied to ``x`` in ``segments``
    chunks, each but the last under ``xg.recompute_grad``, as PyTorch's
    ``torch.utils.checkpoint.checkpoint_sequential``: the tapes keep only each chunk's input,
    and the backward pass recomputes one chunk at a time (the last one's values are needed at
    once, so it is not recomputed). ``segments`` near the square root of the depth keeps the
    fewest values.

    >>> import xpgrad as xg
    >>> rng = xg.random.default_rng(0)
    >>> model = xg.nn.Sequential([xg.nn.Linear(4, 4, rng=rng) for _ in range(4)])
    >>> x = xg.ones((2, 4))
    >>> with xg.GradientTape() as tape:
    ...     loss = xg.sum(xg.nn.checkpoint_sequential(model, 2, x) ** 2)
    >>> len(tape.gradient(loss, model.trainable_variables))
    8
    """
    from ..recompute import recompute_grad

    if isinstance(layers, Sequential):
        layers = layers.layers
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(f"checkpoint_sequential: layers must be a Sequential or a list of "
                        f"callables, got {type(layers).__name__}")
    layers = [_check_layer(layer) for layer in layers]
    segments = _checks.size("segments", segments, "checkpoint_sequential")
    if segments > max(len(layers), 1):
        raise ValueError(f"checkpoint_sequential: segments={segments} is more than the "
                         f"{len(layers)} layers")
    size = -(-len(layers) // segments)
    chunks = [layers[i:i + size] for i in range(0, len(layers), size)]
    for i, chunk in enumerate(chunks):
        x = _chain(chunk, x) if i == len(chunks) - 1 else recompute_grad(_chain)(chunk, x)
    return x


def _chain(layers, x):
    for layer in layers:
        x = layer(x)
    return x


class MLP(Module):
    """Multi-layer perceptron with layer sizes ``sizes = [in, hidden..., out]``.

    ``activation`` (a name such as "relu", "tanh", "sigmoid", or a callable) follows every hidden
    layer; ``output_activation`` (default None: logits) follows the last. ``init`` (every
    layer's, as ``Linear`` takes it: a name of ``xg.nn.init.INITIALIZERS`` or a callable)
    defaults to "he" for relu-like activations, else "glorot"; ``bias_init`` (every layer's,
    as ``Linear`` takes it; each layer's ``fan_in`` is its own input size) defaults to zeros.
    Variables:
    ``"{name}/linear{i}/w"`` and ``/b``.

    >>> import xpgrad as xg
    >>> mlp = xg.nn.MLP([784, 256, 10], rng=xg.random.default_rng(0))
    >>> mlp(xg.zeros((2, 784))).shape, len(mlp.trainable_variables)
    ((2, 10), 4)
    """

    def __init__(self, sizes, activation="relu", output_activation=None, *, rng=None,
                 init=None, bias=True, bias_init=None, dtype=_dt.float32, backend=None,
                 name: str = "mlp"):
        super().__init__(name)
        bias = flag(bias, "bias", "MLP")
        sizes = _checks.sizes("sizes", sizes, "MLP", least=0)    # 0 as Linear takes it
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs at least [in, out], got {sizes}")
        self.sizes = sizes
        self.activation = get_activation(activation, "activation", "MLP")
        self.output_activation = get_activation(output_activation, "output_activation", "MLP")
        if init is None:        # relu-like: by name, the function or its layer
            act = self.activation
            relu_like = act in (relu, leaky_relu) or isinstance(act, (ReLU, LeakyReLU))
            init = "he" if relu_like else "glorot"
        _initial.resolve(init, "init", "MLP")             # errors name the MLP, not a Linear
        bias_initializer(bias_init, bias, "MLP")
        gen = _init.as_rng(rng, backend)
        layers = [Linear(a, b, rng=gen, init=init, bias=bias, bias_init=bias_init,
                         dtype=dtype, backend=backend, name=f"{self.name}/linear{i}")
                  for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]
        for layer in layers:
            layer.name = "linear"   # path component; the list index is appended
        self.layers = layers        # (its Variables are named after these paths)

    def forward(self, x):
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            act = self.activation if i < last else self.output_activation
            name = None if act is None else _fused_name(act)
            if name is not None and _fusable(layer):
                x = layer.forward_activated(x, name)      # one primitive: see xg.nn.linear
                continue
            x = layer(x)
            if act is not None:
                x = act(x)
        return x

    @strict_option
    def load_torch_state_dict(self, state_dict) -> None:
        """Copy the weights of a ``torch.nn.Sequential`` of Linear layers (with activations
        between them, which hold none): its Linear layers in order (see
        ``Sequential.load_torch_state_dict``)."""
        from ._torch import load_layers

        load_layers(self, self.layers, state_dict, self._torch_index)

    def _torch_expected(self, given):
        from ._torch import layers_expected

        return layers_expected(self, self.layers, given, self._torch_index)

    def _torch_index(self, i):
        """The index of layer ``i`` in ``torch.nn.Sequential(Linear, activation, ...)``."""
        return i if self.activation is None else 2 * i

    def torch_state_dict(self) -> dict:
        """The state dict of ``torch.nn.Sequential(Linear, activation, ..., Linear)`` (no
        activation layers when ``activation`` is None): ``"0.weight"``, ``"2.weight"``, ..."""
        from ._torch import layers_state_dict

        return layers_state_dict(self, self.layers, self._torch_index)

    def _extra_repr(self):
        # an activation that is a Module is shown below, with the layers
        shown = {k: layer_repr(getattr(self, k)) for k in ("activation", "output_activation")
                 if not isinstance(getattr(self, k), Module)}
        if shown.get("output_activation") == "None":
            del shown["output_activation"]
        return f", sizes={self.sizes}" + "".join(f", {k}={v}" for k, v in shown.items())
