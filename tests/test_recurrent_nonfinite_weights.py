"""An inf or NaN in a recurrent weight reaches the outputs from step 0 on, also from the
modules' default zero state (``0 * inf`` is NaN in ``h0 @ w_hh``), as in PyTorch: the NumPy
scans skip step 0's product for a zero ``h0`` only where ``w_hh`` is finite. Outputs and
gradients compared with PyTorch's, NaN for NaN, on every host backend."""
import numpy as np
import pytest

import xpgrad as xg

MODULES = {"RNN": {"nonlinearity": "tanh"}, "RNN_relu": {"nonlinearity": "relu"},
           "GRU": {}, "LSTM": {}}


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf * 0
@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("name", sorted(MODULES))
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_a_nonfinite_recurrent_weight_from_a_zero_state_matches_torch(backend, name, bad):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = name.split("_")[0]
    ref = getattr(torch.nn, module)(2, 3, batch_first=True, **MODULES[name]).double()
    with torch.no_grad():
        ref.weight_hh_l0[1, 2] = bad
    x = np.random.default_rng(0).standard_normal((2, 3, 2))
    tx = torch.tensor(x, requires_grad=True)
    expected = ref(tx)[0]
    expected.sum().backward()
    layer = getattr(xg.nn, module)(2, 3, batch_first=True, backend=backend, dtype=xg.float64,
                                   **MODULES[name])
    layer.load_torch_state_dict(ref.state_dict())
    xs = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xs)
        out = layer(xs)[0]
        loss = xg.sum(out)
    assert np.isnan(expected.detach().numpy()[:, 0]).any()     # step 0 reached
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(loss, xs).numpy(), tx.grad.numpy(), rtol=1e-12)
