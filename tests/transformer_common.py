"""Helpers of the transformer tests: a torch layer and an xpgrad one holding its weights, and
the comparison of their outputs and of every gradient (inputs, and weights by torch key)."""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch")

E, H, F = 8, 2, 12          # d_model, nhead, dim_feedforward


def _backend(name):
    row = backend_report().get(name, {"available": False, "reason": "not registered"})
    if not row["available"]:
        pytest.skip(f"{name}: {row['reason']}")
    return name


def _pair(kind="encoder", backend="numpy", **kwargs):
    """A torch layer (eval mode) and an xpgrad one holding its weights, float64."""
    torch.manual_seed(0)
    theirs = getattr(torch.nn, f"Transformer{kind.title()}Layer")(
        E, H, F, batch_first=True, dtype=torch.float64, **kwargs).eval()
    ours = getattr(xg.nn, f"Transformer{kind.title()}Layer")(
        E, H, F, batch_first=True, dtype="float64", backend=backend, rng=1, **kwargs).eval()
    ours.load_torch_state_dict(theirs.state_dict())
    return theirs, ours


def _as_torch(value):
    return torch.tensor(value) if isinstance(value, np.ndarray) else value


def compare(theirs, ours, arrays, backend="numpy", torch_kwargs=None, **kwargs):
    """Output and every gradient (inputs, and each weight by its torch key) agree; the
    output's cotangent is random. ``torch_kwargs`` replaces ``kwargs`` for torch."""
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    with warnings.catch_warnings():         # torch's deprecation of mixed mask types
        warnings.simplefilter("ignore")
        out_t = theirs(*ts, **{k: _as_torch(v)
                               for k, v in (torch_kwargs or kwargs).items()})
    cot = np.random.default_rng(7).standard_normal(tuple(out_t.shape))
    names, params = zip(*theirs.named_parameters())
    grads_t = torch.autograd.grad((out_t * torch.tensor(cot)).sum(), ts + list(params))

    xs = [xg.asarray(a, backend=backend) for a in arrays]
    masks = {k: xg.asarray(v, backend=backend) if isinstance(v, np.ndarray) else v
             for k, v in kwargs.items()}
    with xg.GradientTape() as tape:
        tape.watch(xs)
        out = ours(*xs, **masks)
        loss = xg.sum(out * xg.asarray(cot, backend=backend))
    grads = tape.gradient(loss, xs + ours.variables)

    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    for g, g_t in zip(grads, grads_t[:len(ts)]):
        np.testing.assert_allclose(g.numpy(), g_t.numpy(), rtol=1e-9, atol=1e-11)
    twin = copy.deepcopy(ours)              # the weights' gradients under torch's keys
    for variable, grad in zip(twin.variables, grads[len(xs):]):
        variable.assign(grad)
    mine = twin.torch_state_dict()
    assert sorted(mine) == sorted(names)
    for name, g_t in zip(names, grads_t[len(ts):]):
        np.testing.assert_allclose(mine[name], g_t.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=name)
    return out


def _data(N=2, T=5, S=7, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, T, E)), rng.standard_normal((N, S, E))


def _padding(N, S, seed=1):
    mask = np.random.default_rng(seed).random((N, S)) < 0.3
    mask[:, 0] = False                      # every query keeps a key
    return mask
