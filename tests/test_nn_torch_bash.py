"""``xg.nn`` activations and ``xg.losses`` as a PyTorch user meets them at the edges: integer
inputs to activations, empty batches under reduction="mean"."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch")
F = torch.nn.functional

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]
#: activations that only make sense on floating point: integers come out in float32, as
#: ``xg.tanh``'s and ``xg.mean``'s do (and PyTorch's sigmoid and softsign in its default float32)
FLOATING = ["sigmoid", "softplus", "elu", "selu", "celu", "gelu", "silu", "mish", "softsign",
            "log_sigmoid", "hardsigmoid", "hardswish", "leaky_relu", "softmax", "log_softmax",
            "glu"]
#: activations PyTorch computes in the integer dtype itself, and the interval each clips to
INTEGRAL = {"relu": (torch.relu, 0, None), "relu6": (F.relu6, 0, 6),
            "hardtanh": (F.hardtanh, -1, 1)}
INT_DTYPES = [np.int64, np.int32, np.int8, np.uint8]


def _ints(dtype):
    values = [1, 0, 3, 4] if np.dtype(dtype).kind == "u" else [1, -2, 3, -4]
    return np.array(values, dtype=dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", INT_DTYPES + [np.bool_])
@pytest.mark.parametrize("name", FLOATING)
def test_floating_activations_of_integers_are_float32(name, dtype, backend):
    """They came out in float64 (NumPy's int-with-float promotion), or raised NumPy's "boolean
    negative is not supported" for booleans."""
    x = _ints(dtype) if dtype is not np.bool_ else np.array([True, False, True, False])
    fn = getattr(xg.nn, name)
    got = fn(xg.asarray(x, backend=backend))
    assert got.dtype == xg.float32 == xg.tanh(xg.asarray(x, backend=backend)).dtype
    np.testing.assert_array_equal(got.numpy(), fn(xg.asarray(x.astype(np.float32),
                                                             backend=backend)).numpy())


@pytest.mark.parametrize("name", ["sigmoid", "softsign"])
def test_integer_sigmoid_and_softsign_match_pytorch(name):
    x = _ints(np.int64)
    theirs = getattr(F, name)(torch.tensor(x))
    ours = getattr(xg.nn, name)(xg.asarray(x))
    assert str(theirs.dtype) == "torch.float32" and ours.dtype == xg.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("name", sorted(INTEGRAL))
def test_relu_relu6_hardtanh_keep_integers_as_pytorch(name, dtype, backend):
    """relu gave float64 where relu6 and hardtanh (and PyTorch's three) keep the dtype.
    (PyTorch refuses hardtanh's negative limit on unsigned integers; here it clips.)"""
    theirs, low, high = INTEGRAL[name]
    x = _ints(dtype)
    ours = getattr(xg.nn, name)(xg.asarray(x, backend=backend)).numpy()
    assert ours.dtype == dtype
    np.testing.assert_array_equal(ours, np.clip(x, low, high))
    if np.dtype(dtype).kind == "i":
        np.testing.assert_array_equal(ours, theirs(torch.tensor(x)).numpy())


#: (name, ours, PyTorch's) on (pred-like, target-like) float arrays of the same shape
ELEMENTWISE_LOSSES = [
    ("l1", xg.losses.l1, F.l1_loss),
    ("huber", xg.losses.huber, F.huber_loss),
    ("smooth_l1", xg.losses.smooth_l1, F.smooth_l1_loss),
    ("mse", xg.losses.mse, F.mse_loss),
    ("binary_cross_entropy", xg.losses.binary_cross_entropy, F.binary_cross_entropy),
    ("sigmoid_cross_entropy_with_logits", xg.losses.sigmoid_cross_entropy_with_logits,
     F.binary_cross_entropy_with_logits),
    ("kl_div", xg.losses.kl_div, F.kl_div),
]


EMPTY_CASES = [(name, ours, theirs, reduction) for name, ours, theirs in ELEMENTWISE_LOSSES
               for reduction in ("mean", "sum") + (("batchmean",) if name == "kl_div" else ())]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(0,), (0, 3)])
@pytest.mark.parametrize("name, ours, theirs, reduction", EMPTY_CASES,
                         ids=[f"{c[0]}-{c[3]}" for c in EMPTY_CASES])
def test_an_empty_batch_is_nan_or_zero_without_a_warning(name, ours, theirs, reduction, shape,
                                                         dtype, backend):
    """PyTorch's mean of no entries is NaN, silently; l1, huber, smooth_l1,
    binary_cross_entropy and kl_div also warned (NumPy's "Mean of empty slice")."""
    a = np.zeros(shape, dtype)
    with warnings.catch_warnings():         # kl_div's note on reduction="mean"
        warnings.simplefilter("ignore", UserWarning)
        want = theirs(torch.tensor(a, requires_grad=True), torch.tensor(a), reduction=reduction)
    x = xg.asarray(a, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = ours(x, xg.asarray(a, backend=backend), reduction=reduction)
        grad = tape.gradient(loss, x)
    np.testing.assert_array_equal(loss.numpy(), want.detach().numpy())
    assert grad.shape == shape and loss.numpy().dtype == dtype


LAYERS = ["RNN", "GRU", "LSTM"]


def _layer_pair(kind, layers):
    theirs = getattr(torch.nn, kind)(3, 4, num_layers=layers, batch_first=True).double()
    ours = getattr(xg.nn, kind)(3, 4, layers, batch_first=True, dtype="float64", rng=0)
    ours.load_torch_state_dict(theirs.state_dict())
    return ours, theirs


@pytest.mark.parametrize("as_given", [np.asarray, lambda a: a.tolist()], ids=["ndarray", "list"])
@pytest.mark.parametrize("kind", LAYERS)
def test_recurrent_layers_take_an_array_like_initial_state_as_their_input(kind, as_given):
    """The input could be a NumPy array, the initial state could not ("h0 must be a tensor of
    shape (2, 2, 4), got ndarray")."""
    rng = np.random.default_rng(0)
    x, h, c = (rng.standard_normal(s) for s in [(2, 5, 3), (2, 2, 4), (2, 2, 4)])
    ours, theirs = _layer_pair(kind, 2)
    state = (as_given(h), as_given(c)) if kind == "LSTM" else as_given(h)
    got, got_state = ours(x, state)
    want, want_state = theirs(torch.tensor(x), (torch.tensor(h), torch.tensor(c))
                              if kind == "LSTM" else torch.tensor(h))
    # an absolute floor too: an entry near 0 was 1.5e-12 off relative to itself once
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-14)
    for a, b in zip(got_state if kind == "LSTM" else [got_state],
                    want_state if kind == "LSTM" else [want_state]):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["RNNCell", "GRUCell", "LSTMCell"])
def test_recurrent_cells_take_an_array_like_state(kind):
    rng = np.random.default_rng(1)
    x, h, c = (rng.standard_normal(s) for s in [(2, 3), (2, 4), (2, 4)])
    cell = getattr(xg.nn, kind)(3, 4, dtype="float64", rng=0)
    as_arrays = cell(x, (h, c) if kind == "LSTMCell" else h)
    as_tensors = cell(x, (xg.asarray(h), xg.asarray(c)) if kind == "LSTMCell" else xg.asarray(h))
    for a, b in zip(*(r if kind == "LSTMCell" else [r] for r in (as_arrays, as_tensors))):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("kind", LAYERS)
def test_a_recurrent_state_of_another_shape_or_kind_is_still_named(kind):
    ours, _ = _layer_pair(kind, 1)
    x = np.zeros((2, 5, 3))
    bad = np.zeros((1, 3, 4))
    with pytest.raises(ValueError, match=r"must be a tensor of shape \(1, 2, 4\), got \(1, 3, 4\)"):
        ours(x, (bad, bad) if kind == "LSTM" else bad)
    with pytest.raises(ValueError, match=r"must be a tensor of shape \(1, 2, 4\), got str"):
        ours(x, ("h", "c") if kind == "LSTM" else "h")


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear_loads_and_writes_a_torch_linear_state_dict(dtype, bias):
    """Embedding, LayerNorm and the recurrent layers had ``load_torch_state_dict``; Linear,
    the layer a port needs first, had not (and its weight is the transpose of PyTorch's)."""
    torch.manual_seed(0)
    theirs = torch.nn.Linear(5, 3, bias=bias, dtype=getattr(torch, dtype))
    ours = xg.nn.Linear(5, 3, bias=bias, dtype=dtype, rng=0)
    ours.load_torch_state_dict(theirs.state_dict())
    assert ours.w.numpy().flags.c_contiguous
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(dtype)
    np.testing.assert_allclose(ours(x).numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-6 if dtype == "float32" else 1e-15)
    with torch.no_grad():                       # copies: torch's later updates stay torch's
        theirs.weight.add_(1.0)
    again = torch.nn.Linear(5, 3, bias=bias, dtype=getattr(torch, dtype))
    again.load_state_dict({k: torch.tensor(v) for k, v in ours.torch_state_dict().items()})
    np.testing.assert_array_equal(again.weight.detach().numpy(), ours.w.numpy().T)


def test_linear_refuses_a_torch_state_dict_it_would_load_wrongly():
    ours = xg.nn.Linear(5, 3, bias=False, rng=0)
    before = ours.w.numpy().copy()
    with pytest.raises(ValueError, match="unexpected keys \\['bias'\\]"):
        ours.load_torch_state_dict(torch.nn.Linear(5, 3).state_dict())
    with pytest.raises(ValueError, match=r"'weight' has shape \(5, 3\), this Linear needs "
                                         r"\(3, 5\)"):
        ours.load_torch_state_dict({"weight": np.zeros((5, 3))})      # xpgrad's own layout
    with pytest.raises(ValueError, match=r"missing keys \['weight'\].*prefixes \['head'\]"):
        ours.load_torch_state_dict({"head.weight": np.zeros((3, 5))})
    np.testing.assert_array_equal(ours.w.numpy(), before)


@pytest.mark.parametrize("make, words", [
    (lambda: xg.nn.Softmax(dim=1), "^Softmax\\(\\) got an unexpected keyword argument 'dim'; "
                                   "xpgrad calls it axis="),
    (lambda: xg.nn.LogSoftmax(dim=1), "^LogSoftmax\\(\\) .* 'dim'; xpgrad calls it axis="),
    (lambda: xg.nn.GLU(dim=1), "^GLU\\(\\) .* 'dim'; xpgrad calls it axis="),
    (lambda: xg.nn.Dropout(p=0.5), "^Dropout\\(\\) .* 'p'; xpgrad calls it rate="),
    (lambda: xg.nn.ReLU(inplace=True), "^ReLU\\(\\) .* 'inplace': xpgrad's layers never"),
    (lambda: xg.nn.LeakyReLU(0.2, inplace=True), "^LeakyReLU\\(\\) .* 'inplace'"),
    (lambda: xg.nn.Linear(4, 2, device="cpu"), "^Linear\\(\\) .* 'device'; .*backend="),
    (lambda: xg.nn.Embedding(5, 2, max_norm=1.0),
     "^Embedding\\(\\) .* 'max_norm' \\(xpgrad's Embedding does not have this option\\)"),
    (lambda: xg.nn.GRU(2, 3, proj_size=2), "^GRU\\(\\) .* 'proj_size': only an LSTM"),
])
def test_pytorch_keywords_a_layer_lacks_are_named_with_the_layer(make, words):
    """The TypeError named another class's __init__ ("Softmax.__init__() got an unexpected
    keyword argument 'dim'" for LogSoftmax and GLU, "Module.__init__()" for ReLU) and gave no
    hint where xpgrad's name differs."""
    with pytest.raises(TypeError, match=words):
        make()


def test_layers_still_take_their_own_keywords():
    assert xg.nn.Softmax(axis=0, name="s").axis == 0
    assert xg.nn.Dropout(rate=0.25).rate == 0.25
    assert xg.nn.ReLU(name="act").name == "act"
    assert xg.nn.Linear(in_features=3, out_features=2, rng=0).w.shape == (3, 2)


def test_a_layer_whose_init_is_a_builtin_gets_pythons_own_error():
    """The keyword check caches ``__init__``'s signature weakly; a builtin slot (here
    ``object.__init__``) cannot be weakly referenced, and the construction failed with "cannot
    create weak reference to 'wrapper_descriptor' object". Such an ``__init__`` is left to
    Python's own checks."""
    class Plain(xg.nn.Module):
        __init__ = object.__init__

    try:
        Plain(units=3)        # object.__init__ lets it through: Module overrides __new__
    except TypeError as e:
        assert "weak reference" not in str(e)
    with pytest.raises(TypeError, match="unexpected keyword argument 'dim'; xpgrad calls it"):
        xg.nn.Softmax(dim=1)                            # the check still runs after it


class _Counted:
    """A mixin whose own ``__new__`` takes the constructor's arguments."""

    def __new__(cls, units, **kwargs):
        obj = super().__new__(cls)
        obj.units_seen = units
        return obj


def test_a_layer_mixing_in_a_class_with_its_own_new_gets_its_arguments():
    """Module.__new__ (the keyword check) hands the arguments on to the next ``__new__``
    in the MRO, as Python would without it ("missing 1 required positional argument")."""
    class Counted(xg.nn.Module, _Counted):
        def __init__(self, units, name=None):
            super().__init__(name)

    assert Counted(4, name="c").units_seen == 4


def test_a_positional_only_parameter_given_by_keyword_is_pythons_own_error():
    """The layer has the parameter: the message must not say it lacks the option."""
    class Scaled(xg.nn.Module):
        def __init__(self, scale, /, name=None):
            super().__init__(name)

    with pytest.raises(TypeError, match="positional-only arguments passed as keyword"):
        Scaled(scale=2.0)


def test_the_keyword_check_keeps_no_layer_class_alive():
    """The check caches each ``__init__``'s keywords: a layer class made in a function (its
    ``__init__`` holding that function's objects) must still be freed when dropped."""
    import gc
    import weakref

    class Held:
        pass

    def make_layer_class():
        held = Held()

        class Layer(xg.nn.Module):
            def __init__(self, name=None):
                super().__init__(name)
                self.held = type(held).__name__

        Layer(name="layer")             # a keyword: checked against Layer.__init__
        return weakref.ref(held)

    held = make_layer_class()
    gc.collect()
    assert held() is None
