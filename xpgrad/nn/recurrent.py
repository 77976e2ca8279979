"""Recurrent cells: RNNCell, LSTMCell, GRUCell (one step, or a whole sequence with ``scan``);
the sequence layers RNN, LSTM, GRU built from them are in ``recurrent_layers.py``.

Weights follow ``Linear``'s (in, out) layout, gates in PyTorch's order (i, f, g, o) along the
4H axis, and one bias per layer::

    w_ih: (input_size, 4H)   w_hh: (H, 4H)   b: (4H,)       (RNN: 4H -> H)

so ``torch.nn.LSTM``'s ``weight_ih_l{k} == w_ih.T``, ``weight_hh_l{k} == w_hh.T`` and
``bias_ih_l{k} + bias_hh_l{k} == b`` (``load_torch_state_dict`` / ``torch_state_dict``
convert). States are PyTorch's: ``(num_layers, batch, H)`` tensors, ``(h, c)`` for the LSTM.
The GRU's gates are (r, z, n) along 3H; its reset gate multiplies the hidden side's n bias, so
that bias stays apart: ``b`` (3H,) is ``bias_ih + [bias_hh_r, bias_hh_z, 0]`` and ``b_hn`` (H,)
is ``bias_hh_n``.

A sequence layer projects the inputs of all steps with one matrix product, then runs the
recurrence as one primitive (``xpgrad.ops.recurrent.rnn_scan``; an LSTM layer does both in one,
``lstm_layer``), so the tape holds a handful of nodes per layer whatever the sequence length.

>>> import xpgrad as xg
>>> lstm = xg.nn.LSTM(3, 5, rng=0)
>>> out, (h, c) = lstm(xg.ones((2, 7, 3)))
>>> out.shape, h.shape, c.shape
((2, 7, 5), (1, 2, 5), (1, 2, 5))
"""
from __future__ import annotations

import math

from .. import dtypes as _dt
from .._args import flag
from ..creation import asarray, zeros
from ..ops.nn import linear
from ..ops.shape import reshape
from ..tensor import Tensor, Variable
from . import _checks, _initial
from . import init as _init
from ._torch import load_checked
from .linear import bias_initializer
from .module import Module
from ..ops.recurrent import (NONLINEARITIES, gru_scan, lstm_layer, lstm_layer_states,
                              lstm_states, rnn_scan)
from ._torch_strict import strict_option


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
        self.input_size = _checks.size("input_size", input_size, who, _SIZES)
        self.hidden_size = _checks.size("hidden_size", hidden_size, who, _SIZES)
        dtype = _checks.floating_dtype(dtype, who)
        kernel_fn, recurrent_fn, bias_fn = initializers(kernel_init, recurrent_init, bias_init,
                                                        bias, who)
        G, H = self.GATES * self.hidden_size, self.hidden_size
        gen = _init.as_rng(rng, backend)
        k = 1.0 / math.sqrt(H)                       # PyTorch's default: U(-1/sqrt(H), 1/sqrt(H))
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


def _as_input(x, layer, ndim, who=None):
    who = who or type(layer).__name__
    if not isinstance(x, Tensor):
        x = asarray(x, dtype=layer.w_ih.dtype, backend=layer.w_ih.backend)
    what = "(batch, time, input_size)" if ndim == 3 else "(batch, input_size)"
    if x.ndim != ndim or x.shape[-1] != layer.input_size:
        raise ValueError(f"{who} expects input of shape {what} with "
                         f"input_size={layer.input_size}, got shape {x.shape}")
    if x.dtype != layer.w_ih.dtype:
        raise TypeError(f"{who} has {layer.w_ih.dtype} weights but got a {x.dtype} input; "
                        "cast it with xg.astype")
    return x


def _describe(value):
    if isinstance(value, Tensor):
        return f"a tensor of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__


def _check_pair(state, who, dims):
    """ValueError unless ``state`` is None or a pair ``(h, c)``; ``dims`` words its shapes."""
    if state is None or (isinstance(state, (tuple, list)) and len(state) == 2):
        return
    hint = ""
    if isinstance(state, Tensor):
        hint = ("; xg.stop_gradient and xg.asarray stack a pair into one tensor: cut the "
                "state from the tape with xg.nn.detach(state), which keeps the pair")
    raise ValueError(f"{who}: state must be a pair (h, c) of {dims} tensors, got "
                     f"{_describe(state)}{hint}")


def _check_state(s, shape, what, layer, weights):
    """``s`` as a Tensor of ``shape`` with the dtype and backend of ``layer``'s recurrent
    ``weights``: an array or nested list (as the input may be) is converted to them;
    ValueError/TypeError naming ``what`` for another shape, a Tensor of another dtype, or a
    value that is no array."""
    if not isinstance(s, Tensor):
        try:
            s = asarray(s, dtype=weights.dtype, backend=weights.backend)
        except (TypeError, ValueError):
            pass
    if not isinstance(s, Tensor) or s.shape != shape:
        got = s.shape if isinstance(s, Tensor) else type(s).__name__
        raise ValueError(f"{type(layer).__name__}: {what} must be a tensor of shape {shape}, "
                         f"got {got}")
    if s.dtype != weights.dtype:
        raise TypeError(f"{type(layer).__name__} has {weights.dtype} weights but {what} is "
                        f"{s.dtype}; cast it with xg.astype")
    return s


def check_nonlinearity(nonlinearity, owner):
    """ValueError naming ``owner`` unless ``nonlinearity`` is one of ``NONLINEARITIES``.

    >>> check_nonlinearity("relu", "RNN")
    """
    if not isinstance(nonlinearity, str) or nonlinearity not in NONLINEARITIES:
        raise ValueError(f"{owner}: nonlinearity must be one of {NONLINEARITIES}, got "
                         f"{nonlinearity!r}")


class RNNCell(_Recurrent):
    """One Elman step ``h' = act(x @ w_ih + h @ w_hh + b)``, act "tanh" (default) or "relu".
    ``kernel_init``, ``recurrent_init``, ``bias_init``: see ``LSTMCell``.

    >>> import xpgrad as xg
    >>> cell = xg.nn.RNNCell(3, 4, rng=0)
    >>> cell(xg.ones((2, 3))).shape
    (2, 4)
    """

    def __init__(self, input_size, hidden_size, *, nonlinearity="tanh", bias=True,
                 kernel_init=None, recurrent_init=None, bias_init=None, rng=None,
                 dtype=_dt.float32, backend=None, name="rnn_cell"):
        check_nonlinearity(nonlinearity, type(self).__name__)
        super().__init__(input_size, hidden_size, bias=bias, kernel_init=kernel_init,
                         recurrent_init=recurrent_init, bias_init=bias_init, rng=rng,
                         dtype=dtype, backend=backend, name=name)
        self.nonlinearity = nonlinearity

    def forward(self, x, h=None):
        x = _as_input(x, self, 2)
        B = x.shape[0]
        h = self._zeros(x) if h is None else h
        h = _check_state(h, (B, self.hidden_size), "h", self, self.w_hh)
        z = self.project(reshape(x, (B, 1, self.input_size)))
        return reshape(rnn_scan(z, h, self.w_hh, self.nonlinearity), (B, self.hidden_size))

    def scan(self, x, h0):
        """All steps of a (B, T, I) sequence from ``h0`` (B, H): the outputs (B, T, H)."""
        return rnn_scan(self.project(x), h0, self.w_hh, self.nonlinearity)


class LSTMCell(_Recurrent):
    """One LSTM step: ``(h', c') = cell(x, (h, c))``; the state defaults to zeros.

    By default the weights are PyTorch's (uniform in +-1/sqrt(hidden_size)), the biases 0 but
    the forget gate's, ``forget_bias`` (1.0, as Keras' ``unit_forget_bias``).

    Keras' arguments choose otherwise, each a name of ``xg.nn.init.INITIALIZERS`` or a
    callable ``(rng, shape, dtype)`` called once on the whole matrix: ``kernel_init`` for
    ``w_ih`` (input_size, 4H), ``recurrent_init`` for ``w_hh`` (H, 4H), ``bias_init`` for
    ``b`` (4H,) (given ``fan_in=hidden_size`` if it takes that keyword, so
    ``"torch_linear_default"`` draws U(+-1/sqrt(hidden_size)), the law of each of PyTorch's
    two biases; ``b`` stands for their sum but is drawn once). Keras' LSTM is
    ``kernel_init="glorot_uniform", recurrent_init="orthogonal"``: its Orthogonal draws one
    (H, 4H) matrix with orthonormal rows, as here (and as PyTorch's ``orthogonal_`` on the
    (4H, H) ``weight_hh``); each gate's (H, H) block of it is not orthogonal;
    ``recurrent_init=xg.nn.init.blockwise(xg.nn.init.orthogonal(), 4)`` draws each gate's
    block orthogonal. ``forget_bias`` then replaces the forget gate's slice of ``b``, as
    Keras' ``unit_forget_bias=True`` does after its ``bias_initializer``;
    ``forget_bias=None`` keeps ``bias_init``'s draws there (``unit_forget_bias=False``).

    >>> import xpgrad as xg
    >>> cell = xg.nn.LSTMCell(3, 4, rng=0)
    >>> h, c = cell(xg.ones((2, 3)))
    >>> h.shape, c.shape
    ((2, 4), (2, 4))
    >>> keras = xg.nn.LSTMCell(3, 4, kernel_init="glorot_uniform", recurrent_init="orthogonal",
    ...                        rng=0)
    >>> keras.b.tolist()[4:8]
    [1.0, 1.0, 1.0, 1.0]
    """

    GATES = 4

    def __init__(self, input_size, hidden_size, *, bias=True, forget_bias=1.0,
                 kernel_init=None, recurrent_init=None, bias_init=None, rng=None,
                 dtype=_dt.float32, backend=None, name="lstm_cell"):
        if forget_bias is not None:
            forget_bias = _checks.finite("forget_bias", forget_bias, type(self).__name__)
        super().__init__(input_size, hidden_size, bias=bias, kernel_init=kernel_init,
                         recurrent_init=recurrent_init, bias_init=bias_init, rng=rng,
                         dtype=dtype, backend=backend, name=name)
        if bias and forget_bias is not None and (forget_bias or bias_init is not None):
            H = self.hidden_size
            b = self.b.numpy().copy()
            b[H:2 * H] = forget_bias
            self.b.assign(asarray(b, dtype=self.b.dtype, backend=self.b.backend))

    def forward(self, x, state=None):
        x = _as_input(x, self, 2)
        B, H = x.shape[0], self.hidden_size
        _check_pair(state, "LSTMCell", "(batch, hidden)")
        h, c = (self._zeros(x), self._zeros(x)) if state is None else state
        h = _check_state(h, (B, H), "h", self, self.w_hh)
        c = _check_state(c, (B, H), "c", self, self.w_hh)
        states = lstm_states(self.project(reshape(x, (B, 1, self.input_size))), h, c,
                             self.w_hh)
        return states[0, :, 0], states[1, :, 0]

    def scan(self, x, h0, c0):
        """All steps of a (B, T, I) sequence: ``[h_t | c_t]`` of shape (B, T, 2H)."""
        return lstm_layer(*self._layer_args(x, h0, c0))

    def states(self, x, h0, c0):
        """All steps of a (B, T, I) sequence as one (2, B, T, H) array, ``h_t`` in ``[0]`` and
        ``c_t`` in ``[1]`` (what ``LSTM`` runs: its outputs ``[0]`` are a contiguous view)."""
        return lstm_layer_states(*self._layer_args(x, h0, c0))

    def _layer_args(self, x, h0, c0):
        x = _as_input(x, self, 3)
        b = self.b if self.b is not None else zeros((4 * self.hidden_size,),
                                                     dtype=self.w_hh.dtype,
                                                     backend=self.w_hh.backend)
        return x, h0, c0, self.w_ih, self.w_hh, b


class GRUCell(_Recurrent):
    """One GRU step, PyTorch's equations (gates r, z, n; the module docstring has the biases)::

        r = sigmoid(x @ w_ih_r + h @ w_hh_r + b_r);   z = sigmoid(x @ w_ih_z + h @ w_hh_z + b_z)
        n = tanh(x @ w_ih_n + b_n + r * (h @ w_hh_n + b_hn));   h' = (1 - z) * n + z * h

    ``h' = cell(x, h=None)`` (zeros when None). Weights as PyTorch's (uniform in
    +-1/sqrt(hidden_size)), biases zero, or as ``kernel_init`` (``w_ih`` (input_size, 3H)),
    ``recurrent_init`` (``w_hh`` (H, 3H)) and ``bias_init`` draw them (see ``LSTMCell``;
    ``bias_init`` draws ``b`` (3H,) once, then ``b_hn`` (H,), not Keras' two bias rows summed).

    >>> import xpgrad as xg
    >>> cell = xg.nn.GRUCell(3, 4, rng=0)
    >>> cell(xg.ones((2, 3))).shape, cell.b.shape, cell.b_hn.shape
    ((2, 4), (12,), (4,))
    """

    GATES = 3

    def __init__(self, input_size, hidden_size, *, bias=True, kernel_init=None,
                 recurrent_init=None, bias_init=None, rng=None, dtype=_dt.float32,
                 backend=None, name="gru_cell"):
        super().__init__(input_size, hidden_size, bias=bias, kernel_init=kernel_init,
                         recurrent_init=recurrent_init, bias_init=bias_init, rng=rng,
                         dtype=dtype, backend=backend, name=name)

    def _more_biases(self, bias_vector):
        self.b_hn = (Variable(bias_vector((self.hidden_size,), "(hidden_size,)"),
                              name=f"{self.name}/b_hn") if bias_vector is not None else None)

    def forward(self, x, h=None):
        x = _as_input(x, self, 2)
        B = x.shape[0]
        h = self._zeros(x) if h is None else h
        h = _check_state(h, (B, self.hidden_size), "h", self, self.w_hh)
        out = self.scan(reshape(x, (B, 1, self.input_size)), h)
        return reshape(out, (B, self.hidden_size))

    def scan(self, x, h0):
        """All steps of a (B, T, I) sequence from ``h0`` (B, H): the outputs (B, T, H)."""
        b_hn = self.b_hn if self.b_hn is not None else zeros(
            (self.hidden_size,), dtype=self.w_hh.dtype, backend=self.w_hh.backend)
        return gru_scan(self.project(x), h0, self.w_hh, b_hn)

    def _set_torch_biases(self, bias_ih, bias_hh):
        H = self.hidden_size
        keep = asarray([1.0] * (2 * H) + [0.0] * H, dtype=bias_hh.dtype, backend=bias_hh.backend)
        self.b.assign(bias_ih + bias_hh * keep)
        self.b_hn.assign(bias_hh[2 * H:])

    def _torch_biases(self):
        bias_hh = 0 * self.b.numpy()
        bias_hh[2 * self.hidden_size:] = self.b_hn.numpy()
        return self.b.numpy().copy(), bias_hh
