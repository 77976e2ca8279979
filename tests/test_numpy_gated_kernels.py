"""The NumPy backend's fused Elman RNN and GRU kernels (``backends/numpy/gated_scans.py``) against
the generic rules of ``xpgrad.ops.recurrent``: small sizes, and a size whose per-step products
run in blocks (forced under any BLAS kernels here, and checked to run so), from a given and
from a zero ``h0`` (step 0's product skipped); the relu's zeros and non-finite values bit for
bit; against ``torch.nn.GRU`` / ``RNN`` at the blocked size; declined inputs."""
import numpy as np
import pytest

from xpgrad.backends import blas, blas_steps
from xpgrad.backends.numpy.scans import scan_kernels
from xpgrad.ops import recurrent

KERNELS = scan_kernels(np)
CASES = [("rnn_scan", "tanh"), ("rnn_scan", "relu"), ("gru_scan", None)]


def _args(kind, nonlinearity, rng, B, T, H, dtype=np.float64, zero_state=False):
    G = 3 * H if kind == "gru_scan" else H
    args = [rng.standard_normal((B, T, G)), rng.standard_normal((B, H)),
            rng.standard_normal((H, G)) * 0.9 / np.sqrt(H)]
    if zero_state:
        args[1] = np.zeros((B, H))
    args.append(rng.standard_normal(H) if kind == "gru_scan" else nonlinearity)
    return [a.astype(dtype) if isinstance(a, np.ndarray) else a for a in args]


def _generic(kind, args, g):
    forward, vjp = {"rnn_scan": (recurrent._rnn_forward, recurrent._rnn_vjp),
                    "gru_scan": (recurrent._gru_forward, recurrent._gru_vjp)}[kind]
    out = forward(np, *args)
    return out, vjp(np, g, out, [True] * 4, *args)


def _check_against_generic(kind, args, g, rtol, atol_scale):
    kernel = KERNELS[kind]
    out, saved = kernel.forward(*args)
    want_out, want = _generic(kind, args, g)
    np.testing.assert_allclose(out, want_out, rtol=rtol, atol=rtol)
    got = kernel.vjp(g, saved, *args)
    assert len(got) == len(want) and all(a.dtype == args[0].dtype for a in got)
    for name, a, b in zip(["xproj", "h0", "w_hh", "b_hn"], got, want):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol_scale * np.abs(b).max(),
                                   err_msg=name)


@pytest.mark.parametrize("kind,nonlinearity", CASES)
@pytest.mark.parametrize("T", [1, 4, 5])
@pytest.mark.parametrize("zero_state", [False, True])
def test_kernel_equals_the_generic_rule(kind, nonlinearity, T, zero_state):
    rng = np.random.default_rng(T)
    args = _args(kind, nonlinearity, rng, 3, T, 4, zero_state=zero_state)
    _check_against_generic(kind, args, rng.standard_normal((3, T, 4)), 1e-12, 1e-12)


@pytest.fixture
def blocked_calls(monkeypatch):
    """Forces ``stepped_update``'s blocks under the BLAS kernels in use and records how many
    of its updates ran in blocks."""
    lib = blas._library()
    if lib is None:
        pytest.skip("no direct gemm in use: the products are NumPy's")
    monkeypatch.setattr(blas_steps, "BLOCKED_CORES", (getattr(lib, "core", None),))
    calls = []
    planned = blas_steps._blocked_update

    def recording(*a):
        step = planned(*a)
        calls.append(step is not None)
        return step
    monkeypatch.setattr(blas_steps, "_blocked_update", recording)
    return calls


@pytest.mark.parametrize("kind,nonlinearity", CASES)
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-11), (np.float32, 2e-4)])
@pytest.mark.parametrize("zero_state", [False, True])
def test_kernel_in_product_blocks_equals_the_generic_rule(blocked_calls, kind, nonlinearity,
                                                          dtype, rtol, zero_state):
    rng = np.random.default_rng(20)
    B, T, H = 64, 3, 128
    args = _args(kind, nonlinearity, rng, B, T, H, dtype, zero_state)
    g = rng.standard_normal((B, T, H)).astype(dtype)
    _check_against_generic(kind, args, g, rtol, rtol)
    # the forward's steps after the first (step 0's is one product), the backward's (and its
    # ring's wrap-around where the ring holds fewer steps than T)
    assert len(blocked_calls) >= 2 and all(blocked_calls)


def test_relu_keeps_negative_zero_and_its_gradient_is_the_masked_one_bit_for_bit():
    """A -0.0 pre-activation stays -0.0 (as PyTorch's relu; NumPy's maximum gave +0.0); the
    gradient is ``gh`` where the state is nonzero or NaN and +0.0 elsewhere, even where ``gh``
    is inf or NaN."""
    kernel = KERNELS["rnn_scan"]
    x = np.array([[[-0.0, 0.0, -2.0, np.nan, 3.0]]])
    h0, w = np.zeros((1, 5)), np.zeros((5, 5))
    seq, saved = kernel.forward(x, h0, w, "relu")
    np.testing.assert_array_equal(np.signbit(seq), [[[True, False, False, False, False]]])
    np.testing.assert_array_equal(seq, [[[0.0, 0.0, 0.0, np.nan, 3.0]]])
    g = np.array([[[np.inf, np.nan, -5.0, 7.0, -1.5]]])
    da = kernel.vjp(g, saved, x, h0, w, "relu")[0]
    want = np.array([[[0.0, 0.0, 0.0, 7.0, -1.5]]])
    np.testing.assert_array_equal(da.view(np.int64), want.view(np.int64))


@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_blocked_kernel_matches_torch(blocked_calls, monkeypatch, kind, nonlinearity):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
    import xpgrad as xg

    numpy_backend = xg.get_backend("numpy")
    monkeypatch.setitem(numpy_backend.kernels, kind, KERNELS[kind])
    rng = np.random.default_rng(3)
    B, T, I, H = 64, 4, 8, 128
    if kind == "gru_scan":
        ours = xg.nn.GRU(I, H, batch_first=True, rng=0, dtype="float64", backend="numpy")
        ref = torch.nn.GRU(I, H, batch_first=True).double()
    else:
        ours = xg.nn.RNN(I, H, nonlinearity=nonlinearity, batch_first=True, rng=0,
                         dtype="float64", backend="numpy")
        ref = torch.nn.RNN(I, H, nonlinearity=nonlinearity, batch_first=True).double()
    ours.load_torch_state_dict(ref.state_dict())
    x, ct = rng.standard_normal((B, T, I)), rng.standard_normal((B, T, H))
    xs = xg.asarray(x, backend="numpy")
    named = ours.named_variables()
    with xg.GradientTape() as tape:
        tape.watch(xs)
        out = ours(xs)[0]
        loss = xg.sum(out * xg.asarray(ct, backend="numpy"))
    dx, *grads = tape.gradient(loss, [xs] + list(named.values()))
    tx = torch.tensor(x, requires_grad=True)
    tout = ref(tx)[0]
    (tout * torch.tensor(ct)).sum().backward()
    assert blocked_calls and all(blocked_calls)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-11)
    (dw_hh,) = [g for name, g in zip(named, grads) if name.endswith("w_hh")]
    np.testing.assert_allclose(dw_hh.numpy(), ref.weight_hh_l0.grad.numpy().T, rtol=1e-9,
                               atol=1e-11)


@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_kernel_declines_other_and_mixed_dtypes(kind, nonlinearity):
    rng = np.random.default_rng(1)
    kernel = KERNELS[kind]
    args = _args(kind, nonlinearity, rng, 2, 3, 4)
    assert kernel.forward(*[a.astype(np.float16) if isinstance(a, np.ndarray) else a
                            for a in args]) is None
    mixed = list(args)
    mixed[2] = mixed[2].astype(np.float32)
    assert kernel.forward(*mixed) is None


class _NumpyLike:
    """NumPy under another name: the kernels take the paths they take for CuPy (its own
    ``matmul``, ``maximum`` and ``copyto``, no direct gemm), which need no device here."""

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.mark.parametrize("kind,nonlinearity", CASES)
@pytest.mark.parametrize("zero_state", [False, True])
def test_other_modules_paths_equal_the_generic_rule(kind, nonlinearity, zero_state):
    kernel = scan_kernels(_NumpyLike())[kind]
    rng = np.random.default_rng(7)
    args = _args(kind, nonlinearity, rng, 3, 5, 4, zero_state=zero_state)
    g = rng.standard_normal((3, 5, 4))
    out, saved = kernel.forward(*args)
    want_out, want = _generic(kind, args, g)
    np.testing.assert_allclose(out, want_out, rtol=1e-12, atol=1e-12)
    for a, b in zip(kernel.vjp(g, saved, *args), want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind,nonlinearity", CASES)
@pytest.mark.parametrize("ring, T", [(2, 7), (3, 7), (3, 6), (2, 2), (3, 1)])
def test_the_backward_through_a_ring_of_a_few_steps_equals_the_generic_rule(
        monkeypatch, kind, nonlinearity, ring, T):
    """With the ring of step gradients shorter than the sequence (``scan_rings.RING_BYTES`` made
    ``ring`` steps' worth of all the backward's rings: 3H a step for the RNN, 5H for the GRU):
    whole blocks, a partial first one (the last steps), one block, each adding its part of
    the weight's gradient (and the GRU's ``b_hn``'s) and writing its rows of ``dx``."""
    from xpgrad.backends.numpy import scan_rings

    B, H = 3, 4
    width = 5 * H if kind == "gru_scan" else 3 * H
    monkeypatch.setattr(scan_rings, "RING_BYTES", ring * B * width * 8)
    assert scan_rings.ring_steps(T, B * width * 8) == min(ring, T)
    rng = np.random.default_rng(40 + ring + T)
    args = _args(kind, nonlinearity, rng, B, T, H)
    _check_against_generic(kind, args, rng.standard_normal((B, T, H)), 1e-12, 1e-12)
