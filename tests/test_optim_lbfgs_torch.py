"""``xg.optim.LBFGS`` against ``torch.optim.LBFGS``, with and without the strong-Wolfe line
search, on Rosenbrock (two variables of different shapes) and a small logistic regression.

Step by step: before each step, torch's parameters and state (``d``, ``t``, the history,
``H_diag``, ...) are loaded into xpgrad's optimizer (``load_state_dict``), and one
``minimize`` must end where torch's ``step(closure)`` ends, to float64 rounding, after the same
number of loss evaluations. The comparison restarts from torch's state each step because the
two trajectories cannot stay bitwise equal by themselves: torch's ``add_(x, alpha=a)`` rounds
``p + a * x`` once (a fused multiply-add), NumPy twice, and Rosenbrock with a fixed step of 1
doubles such a difference every few iterations. Whole trajectories are compared too, on the
logistic regression, where rounding differences do not grow.
"""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(3)
X = RNG.standard_normal((40, 3))
LABELS = (X @ np.array([1.5, -2.0, 0.5]) + 0.3 + RNG.standard_normal(40) > 0).astype(float)


def rosenbrock(a, b, lib):
    """Rosenbrock in ``a`` (shape (2,)) plus a coupled term in ``b`` (shape (2, 2))."""
    return ((1 - a[0]) ** 2 + 100 * (a[1] - a[0] ** 2) ** 2
            + lib.sum((b - a[0]) ** 2 * (b * b + 1)))


def logistic(w, b, lib):
    """Mean binary cross-entropy of a linear model, weights ``w`` (3, 1) and bias ``b`` (1,),
    plus a little L2 (a unique minimizer)."""
    if lib is xg:
        x, y = (xg.asarray(a, dtype=w.dtype, backend=w.backend) for a in (X, LABELS[:, None]))
    else:
        x, y = (torch.tensor(a, dtype=w.dtype) for a in (X, LABELS[:, None]))
    z = x @ w + b
    return lib.mean(lib.log(1 + lib.exp(-z)) + (1 - y) * z) + 0.01 * lib.sum(w * w)


PROBLEMS = {"rosenbrock": (rosenbrock, [np.array([-1.5, 2.0]),
                                         np.array([[0.3, -0.2], [0.1, 0.4]])]),
            "logistic": (logistic, [np.zeros((3, 1)), np.zeros(1)])}


def pair(problem, dtype="float64", backend="numpy", **options):
    """(xpgrad's variables, optimizer, loss_fn), (torch's parameters, optimizer, closure)."""
    f, starts = PROBLEMS[problem]
    ours = [xg.Variable(s, dtype=dtype, name=f"p{i}", backend=backend)
            for i, s in enumerate(starts)]
    theirs = [torch.tensor(s, dtype=getattr(torch, dtype), requires_grad=True) for s in starts]
    torch_options = {("lr" if k == "learning_rate" else k): v for k, v in options.items()}
    opt = xg.optim.LBFGS(**options)
    topt = torch.optim.LBFGS(theirs, **torch_options)

    def closure():
        topt.zero_grad()
        loss = f(*theirs, torch)
        loss.backward()
        return loss

    return (ours, opt, lambda: f(*ours, xg)), (theirs, topt, closure)


def torch_state(topt, params, history_size) -> dict:
    """torch's LBFGS state in ``xg.optim.LBFGS.state_dict``'s layout (``lbfgs_state.py``)."""
    s = topt.state[params[0]]
    out = {"iterations": 0}
    if "d" not in s:
        return out
    k = len(s["old_dirs"])
    ro = np.zeros(history_size)
    ro[:k] = [float(r) for r in s["ro"]]
    offset = 0
    for i, p in enumerate(params):
        n, shape = p.numel(), tuple(p.shape)

        def piece(v):
            return v.detach().numpy()[offset:offset + n].reshape(shape)

        hist = {key: np.zeros((history_size, *shape)) for key in ("old_dirs", "old_stps")}
        for key in hist:
            for j, v in enumerate(s[key]):
                hist[key][j] = piece(v)
        out.update({f"p{i}/position": i, f"p{i}/n_iter": s["n_iter"],
                    f"p{i}/func_evals": s["func_evals"], f"p{i}/history": k,
                    f"p{i}/t": float(s["t"]), f"p{i}/prev_loss": float(s["prev_loss"]),
                    f"p{i}/H_diag": float(s["H_diag"]), f"p{i}/ro": ro,
                    f"p{i}/d": piece(s["d"]), f"p{i}/prev_flat_grad": piece(s["prev_flat_grad"]),
                    **{f"p{i}/{key}": h for key, h in hist.items()}})
        offset += n
    return out


def flat(params) -> np.ndarray:
    return np.concatenate([np.asarray(p.detach() if hasattr(p, "detach") else p.numpy())
                           .ravel() for p in params])


# (max_iter, history_size, steps, tolerance relative to max(1, |x|)): one iteration a step
# compares every iterate to a few units in the last place; longer steps let rounding differences
# grow within the step (Rosenbrock's iterations amplify them: measured 4e-14 after 4, 5e-11
# after 20); history 3 makes the history drop its oldest pair
STEPPING = [(1, 100, 30, 4e-15), (1, 3, 30, 4e-15), (4, 3, 8, 1e-12), (20, 100, 8, 1e-9)]


@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("max_iter, history_size, steps, tol", STEPPING)
def test_each_step_from_torchs_state_ends_where_torchs_does(problem, line_search_fn, max_iter,
                                                            history_size, steps, tol):
    # one iteration with a line search: max_eval's default (1) would leave it no evaluation
    max_eval = 25 if max_iter == 1 and line_search_fn else None
    (ours, opt, loss_fn), (theirs, topt, closure) = pair(
        problem, line_search_fn=line_search_fn, max_iter=max_iter, history_size=history_size,
        max_eval=max_eval)
    moved = 0.0
    for step in range(steps):
        for v, p in zip(ours, theirs):
            v.assign(p.detach().numpy())
        opt.load_state_dict(torch_state(topt, theirs, history_size), ours)
        start = flat(theirs)
        loss = opt.minimize(loss_fn, ours).item()
        torch_loss = topt.step(closure).item()
        s = topt.state[theirs[0]]
        assert loss == pytest.approx(torch_loss, rel=1e-14, abs=1e-300), step
        assert (opt._lbfgs["n_iter"], opt._lbfgs["func_evals"]) == (s["n_iter"],
                                                                    s["func_evals"]), step
        want = flat(theirs)
        np.testing.assert_array_less(np.abs(flat(ours) - want),
                                     tol * np.maximum(1.0, np.abs(want)) + 1e-300,
                                     err_msg=f"step {step}")
        moved = max(moved, np.abs(want - start).max())
    assert moved > 0.1             # the steps went somewhere


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 2e-4)])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_whole_logistic_regression_trajectory_matches_torch(line_search_fn, dtype, rtol,
                                                            backend):
    if backend not in backend_report():
        pytest.skip(f"backend {backend} is not available")
    (ours, opt, loss_fn), (theirs, topt, closure) = pair(
        "logistic", dtype, backend, line_search_fn=line_search_fn, max_iter=5,
        learning_rate=0.8)
    for step in range(6):
        loss = opt.minimize(loss_fn, ours).item()
        assert loss == pytest.approx(topt.step(closure).item(), rel=rtol), step
        np.testing.assert_allclose(flat(ours), flat(theirs), rtol=rtol, atol=rtol,
                                   err_msg=f"step {step}")
        if dtype == "float64":     # float32's rounding may take the line search elsewhere
            assert opt._lbfgs["func_evals"] == topt.state[theirs[0]]["func_evals"]
    assert ours[0].dtype.name == dtype and opt._lbfgs["d"].dtype == np.dtype(dtype)


@pytest.mark.parametrize("line_search_fn, steps", [(None, 40), ("strong_wolfe", 10)])
def test_rosenbrock_converges_to_its_minimum_as_torchs_does(line_search_fn, steps):
    # (a smaller fixed step stalls short of 1e-5: each step then stops at its first
    # evaluation, the loss changing by less than tolerance_change -- torch's too)
    (ours, opt, loss_fn), (theirs, topt, closure) = pair("rosenbrock",
                                                         line_search_fn=line_search_fn)
    for _ in range(steps):
        opt.minimize(loss_fn, ours)
        topt.step(closure)
    for params in (ours, theirs):
        a, b = (np.asarray(p.detach() if hasattr(p, "detach") else p.numpy()) for p in params)
        np.testing.assert_allclose(a, [1.0, 1.0], atol=1e-5)
        np.testing.assert_allclose(b, np.ones((2, 2)), atol=1e-5)
    assert loss_fn().item() < 1e-10
