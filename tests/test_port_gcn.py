"""A two-layer graph convolutional network (Kipf and Welling) ported from PyTorch to xpgrad:
messages gathered along an edge list and summed at their target nodes (torch's ``index_add``,
xpgrad's ``unsorted_segment_sum``), degrees counted by ``at[].add``, the symmetric degree
normalization, and a cross-entropy over the masked (labelled) nodes. From the same weights
(``load_torch_state_dict``) on a synthetic float64 graph, a few Adam steps give torch's losses
and weights to ~1e-12; eager on numpy and numba, and on numba an ``xg.function`` step equal to
the eager one."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

NODES, FEATURES, HIDDEN, CLASSES, EDGES, STEPS = 40, 6, 12, 3, 120, 4


def _graph():
    """Random undirected edges, both directions, and a self-loop at every node."""
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, NODES, EDGES), rng.integers(0, NODES, EDGES)
    loops = np.arange(NODES)
    source, target = np.concatenate([a, b, loops]), np.concatenate([b, a, loops])
    features = rng.normal(size=(NODES, FEATURES))
    labels = rng.integers(0, CLASSES, NODES)
    return source, target, features, labels, rng.random(NODES) < 0.5


class TorchGCN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Linear(FEATURES, HIDDEN)
        self.conv2 = torch.nn.Linear(HIDDEN, CLASSES)

    @staticmethod
    def propagate(h, source, target, norm):
        return torch.zeros_like(h).index_add(0, target, h[source] * norm[:, None])

    def forward(self, x, source, target):
        ones = torch.ones(len(target), dtype=x.dtype)
        degree = torch.zeros(NODES, dtype=x.dtype).index_add(0, target, ones)
        norm = degree[source].rsqrt() * degree[target].rsqrt()
        h = torch.relu(self.propagate(self.conv1(x), source, target, norm))
        return self.propagate(self.conv2(h), source, target, norm)


class GCN(xg.nn.Module):
    """The same network (the same attribute names: the same state-dict keys)."""

    def __init__(self, backend):
        super().__init__("gcn")
        kw = {"rng": 0, "dtype": "float64", "backend": backend}
        self.conv1 = xg.nn.Linear(FEATURES, HIDDEN, **kw)
        self.conv2 = xg.nn.Linear(HIDDEN, CLASSES, **kw)

    @staticmethod
    def propagate(h, source, target, norm):
        return xg.unsorted_segment_sum(h[source] * norm[:, None], target, NODES)

    def forward(self, x, source, target):
        degree = xg.zeros(NODES, dtype=x.dtype, backend=x.backend).at[target].add(1.0)
        norm = 1 / xg.sqrt(degree[source]) / xg.sqrt(degree[target])
        h = xg.nn.relu(self.propagate(self.conv1(x), source, target, norm))
        return self.propagate(self.conv2(h), source, target, norm)


def _ours(backend, state, compiled):
    model = GCN(backend)
    model.load_torch_state_dict(state)
    opt = xg.optim.Adam(1e-2)

    def step(x, source, target, labels, mask):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(x, source, target)[mask], labels[mask])
        variables = model.trainable_variables
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return model, (xg.function(step) if compiled else step)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_gcn_trains_as_torchs(backend):
    if not backend_report().get(backend, {}).get("available"):
        pytest.skip(f"backend {backend} is not available")
    source, target, features, labels, mask = _graph()
    torch.manual_seed(0)
    ref = TorchGCN().double()
    start = {k: v.clone().numpy() for k, v in ref.state_dict().items()}
    runs = {"eager": _ours(backend, ref.state_dict(), compiled=False)}
    if backend == "numba":
        runs["compiled"] = _ours(backend, ref.state_dict(), compiled=True)
    opt_t = torch.optim.Adam(ref.parameters(), lr=1e-2)
    inputs = [xg.asarray(a, backend=backend) for a in (features, source, target, labels, mask)]
    t_inputs = [torch.tensor(a) for a in (features, source, target, labels, mask)]
    for _ in range(STEPS):
        losses = {k: step(*inputs) for k, (_, step) in runs.items()}
        opt_t.zero_grad()
        tx, ts, tt, ty, tm = t_inputs
        tloss = torch.nn.functional.cross_entropy(ref(tx, ts, tt)[tm], ty[tm])
        tloss.backward()
        opt_t.step()
        for loss in losses.values():
            assert loss.item() == pytest.approx(tloss.item(), rel=1e-12)
        if "compiled" in losses:
            assert losses["compiled"].item() == pytest.approx(losses["eager"].item(), rel=1e-14)
    want = {k: v.numpy() for k, v in ref.state_dict().items()}
    for name, (model, _) in runs.items():
        got = model.torch_state_dict()
        assert sorted(got) == sorted(want)
        for key, value in got.items():
            np.testing.assert_allclose(value, want[key], rtol=1e-11, atol=1e-13,
                                       err_msg=f"{name}: {key}")
    if "compiled" in runs:
        assert runs["compiled"][1].trace_count == 1
    for key in want:                                                    # they all moved
        assert np.abs(want[key] - start[key]).max() > 1e-3, key


@pytest.mark.usefixtures("numpy_default")     # the numpy backend named below
def test_gcn_gradient_matches_finite_differences():
    """The node features' gradient through both propagations (the gather, the segment sum
    and the normalization) against central differences."""
    source, target, features, labels, _ = _graph()
    model = GCN("numpy")
    s, t = xg.asarray(source), xg.asarray(target)
    y = xg.asarray(labels)
    xg.testing.check_grads(
        lambda x: xg.losses.softmax_cross_entropy(model(x, s, t), y, reduction="none"),
        [xg.asarray(features)])
