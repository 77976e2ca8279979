"""What the recurrent cells (``recurrent.py``) share: ``_Recurrent``, a cell's weights in
``Linear``'s (in, out) layout with their initializers (PyTorch's uniform(-1/sqrt(H), 1/sqrt(H))
unless ``kernel_init``/``recurrent_init``/``bias_init`` say otherwise), the projection of all
steps' inputs in one product, and the conversion of PyTorch's weights and two biases
(``load_torch_state_dict`` / ``torch_state_dict``).

>>> import xpgrad as xg
>>> cell = xg.nn.LSTMCell(3, 4, rng=0)
>>> isinstance(cell, _Recurrent), cell.w_ih.shape, cell.w_hh.shape, cell.b.shape
(True, (3, 16), (4, 16), (16,))
"""
from __future__ import annotations

import math

from .. import dtypes as _dt
from .._args import flag
from ..creation import asarray, zeros
from ..ops.nn import linear
from ..ops.shape import reshape
from ..tensor import Variable
from . import _checks, _initial
from . import init as _init
from ._torch import load_checked
from ._torch_strict import strict_option
from .linear import bias_initializer
from .module import Module
from .recurrent_checks import _as_input


_SIZES = "{owner} needs positive sizes: {name} must be a positive integer, got {value!r}"


def initializers(kernel_init, recurrent_init, bias_init, bias, owner):
    """The initializers of a recurrent layer's ``kernel_init``, ``recurrent_init`` and
    ``bias_init`` (None for each left at its default); errors name ``owner`` and the argument
    (``bias_init`` with ``bias=False`` is a ValueError)."""
    kernel_fn = None if kernel_init is None else _initial.resolve(kernel_init, "kernel_init",
                                                                  owner)
    recurrent_fn = None if recurrent_init is None else _initial.resolve(
        recurrent_init, "recurrent_init", owner)
    return kernel_fn, recurrent_fn, bias_initializer(bias_init, bias, owner)


def _uniform(gen, shape, k, dtype, backend):
    w = gen.uniform(-k, k, size=shape, dtype=dtype)
    return w if backend is None else w.to(backend)


class _Recurrent(Module):
    """One layer's weights and its input projection; subclasses set GATES and the scan.

    Initialization: ``kernel_init`` draws ``w_ih`` (input_size, G), ``recurrent_init``
    ``w_hh`` (H, G) with one call each on the whole matrix (Keras' ``kernel_initializer`` /
    ``recurrent_initializer`` on its ``kernel`` / ``recurrent_kernel``, the same layout), default
    PyTorch's U(-1/sqrt(H), 1/sqrt(H)); ``bias_init`` draws every bias vector (default zeros),
    given ``fan_in=H`` if it takes that keyword (PyTorch draws an RNN's biases with
    1/sqrt(hidden_size)). Each is a name of ``xg.nn.init.INITIALIZERS`` or a callable
    ``(rng, shape, dtype)``; draws in the order w_ih, w_hh, biases."""

    GATES = 1

    def __init__(self, input_size, hidden_size, *, bias=True, kernel_init=None,
                 recurrent_init=None, bias_init=None, rng=None, dtype=_dt.float32,
                 backend=None, name="rnn_cell"):
        super().__init__(name)
        who = type(self).__name__
        bias = flag(bias, "bias", who)
        # 0 as PyTorch's cells (empty weights); its RNN, LSTM and GRU refuse 0, and so do ours
        self.input_size = _checks.count("input_size", input_size, who)
        self.hidden_size = _checks.count("hidden_size", hidden_size, who)
        dtype = _checks.floating_dtype(dtype, who)
        kernel_fn, recurrent_fn, bias_fn = initializers(kernel_init, recurrent_init, bias_init,
                                                        bias, who)
        G, H = self.GATES * self.hidden_size, self.hidden_size
        gen = _init.as_rng(rng, backend)
        k = 1.0 / math.sqrt(H) if H else 0.0         # PyTorch's default: U(-1/sqrt(H), 1/sqrt(H))
        gates = "" if self.GATES == 1 else f"{self.GATES} * "

        def weight(fn, init, arg, shape, layout):
            if fn is None:
                return _uniform(gen, shape, k, dtype, backend)
            w = _initial.draw(fn, init, arg, gen, shape, dtype, who, layout)
            return w if backend is None else w.to(backend)

        self.w_ih = Variable(weight(kernel_fn, kernel_init, "kernel_init", (self.input_size, G),
                                    f"(input_size, {gates}hidden_size)"),
                             name=f"{self.name}/w_ih")
        self.w_hh = Variable(weight(recurrent_fn, recurrent_init, "recurrent_init", (H, G),
                                    f"(hidden_size, {gates}hidden_size)"),
                             name=f"{self.name}/w_hh")

        def bias_vector(shape, layout):
            if bias_fn is None:
                return zeros(shape, dtype=dtype, backend=self.w_ih.backend)
            return _initial.draw(bias_fn, bias_init, "bias_init", gen, shape, dtype, who,
                                 layout, fan_in=H).to(self.w_ih.backend)

        self.b = (Variable(bias_vector((G,), f"({gates}hidden_size,)"), name=f"{self.name}/b")
                  if bias else None)
        self._more_biases(bias_vector if bias else None)

    def _more_biases(self, bias_vector):
        """Biases besides ``b`` (the GRU's ``b_hn``), drawn by ``bias_vector(shape, layout)``
        (None: the cell has no bias)."""

    def project(self, x):
        """The input projection of every step, ``x @ w_ih + b``: (B, T, I) -> (B, T, G)."""
        x = _as_input(x, self, 3)
        B, T, _ = x.shape
        z = linear(reshape(x, (B * T, self.input_size)), self.w_ih, self.b)   # one fused op
        return reshape(z, (B, T, z.shape[-1]))

    def _bias(self, bias, gates):
        """``bias``, or zeros (gates * hidden_size,) for a cell without biases."""
        if bias is not None:
            return bias
        return zeros((gates * self.hidden_size,), dtype=self.w_hh.dtype, backend=self.w_hh.backend)

    def _zeros(self, x):
        return zeros((x.shape[0], self.hidden_size), dtype=self.w_hh.dtype,
                     backend=self.w_hh.backend)

    # -- PyTorch interoperability --------------------------------------------------------------
    @strict_option
    def load_torch_state_dict(self, state_dict) -> None:
        """Copy the weights of a ``torch.nn.RNNCell`` / ``LSTMCell`` / ``GRUCell`` state dict
        (``weight_ih``, ``weight_hh`` and, with ``bias``, ``bias_ih`` and ``bias_hh``; tensors
        or arrays). A missing key, a bias this cell lacks, another shape or values that are not
        real numbers raise ValueError before any weight changes.

        >>> import xpgrad as xg
        >>> cell = xg.nn.GRUCell(2, 3, rng=0)
        >>> xg.nn.GRUCell(2, 3, rng=1).load_torch_state_dict(cell.torch_state_dict())
        <All keys matched successfully>
        """
        G, H = self.w_ih.shape[1], self.hidden_size
        expected = {"weight_ih": (G, self.input_size), "weight_hh": (G, H)}
        if self.b is not None:
            expected.update(bias_ih=(G,), bias_hh=(G,))
        values = dict(zip(expected, load_checked(self, state_dict, expected)))
        self.w_ih.assign(values["weight_ih"].T.copy())    # row-major, as the layers' loader
        self.w_hh.assign(values["weight_hh"].T.copy())
        if self.b is not None:
            self._set_torch_biases(*(asarray(values[k], dtype=self.b.dtype,
                                             backend=self.b.backend)
                                     for k in ("bias_ih", "bias_hh")))

    def torch_state_dict(self) -> dict:
        """``{name: NumPy array}`` in the layout of PyTorch's cell of this kind (the bias in
        ``bias_ih``, zeros in ``bias_hh`` but for the GRU's ``b_hn``)."""
        out = {"weight_ih": self.w_ih.numpy().T.copy(), "weight_hh": self.w_hh.numpy().T.copy()}
        if self.b is not None:
            out["bias_ih"], out["bias_hh"] = self._torch_biases()
        return out

    def _set_torch_biases(self, bias_ih, bias_hh):
        """``b`` from PyTorch's two biases (Tensors on this cell's backend)."""
        self.b.assign(bias_ih + bias_hh)

    def _torch_biases(self):
        """PyTorch's ``(bias_ih, bias_hh)`` as NumPy arrays: the bias in ``bias_ih``."""
        b = self.b.numpy().copy()
        return b, 0 * b

    def _extra_repr(self):
        return f", input_size={self.input_size}, hidden_size={self.hidden_size}"
