"""``RNN(nonlinearity="relu")`` passes the incoming gradient through a NaN state, as
``xg.nn.relu`` and PyTorch's ``threshold_backward`` do (the three scans masked with ``h > 0``
and so zeroed it), and zeroes it exactly where the state is <= 0, also when that gradient is
NaN; compared with PyTorch on every backend."""
import numpy as np
import pytest

import xpgrad as xg


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("power", [1, 2])
@pytest.mark.parametrize("layers", [1, 2])
def test_relu_rnn_gradient_at_nan_states_matches_torch(backend, power, layers):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    x = np.array([[[0.5, np.nan], [0.3, 0.2], [-1.0, 0.4]]])
    ref = torch.nn.RNN(2, 3, num_layers=layers, nonlinearity="relu", batch_first=True).double()
    tx = torch.tensor(x, requires_grad=True)
    (ref(tx)[0] ** power).sum().backward()
    rnn = xg.nn.RNN(2, 3, num_layers=layers, nonlinearity="relu", batch_first=True,
                    backend=backend, dtype=xg.float64)
    rnn.load_torch_state_dict(ref.state_dict())
    xs = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xs)
        loss = xg.sum(rnn(xs)[0] ** power)
    np.testing.assert_allclose(tape.gradient(loss, xs).numpy(), tx.grad.numpy(), rtol=1e-12)
