"""``clip_global_norm(grads, max_norm, eps=1e-6)`` scales as ``torch.nn.utils.clip_grad_norm_``
(``max_norm / (norm + 1e-6)``, at most 1); the default ``eps=0`` stays TensorFlow's
``clip_by_global_norm``. Found porting PyTorch's word_language_model: with the default, its
weights drifted from torch's by 1e-6 relative per clipped update."""
import warnings

import numpy as np
import pytest
import torch

import xpgrad as xg

SHAPES = [(3, 4), (4,), (2, 2, 2)]


def _grads(scale):
    rng = np.random.default_rng(0)
    raw = [rng.standard_normal(s) for s in SHAPES]
    norm = np.sqrt(sum((g ** 2).sum() for g in raw))
    return [g * (scale / norm) for g in raw]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("norm", [5.0, 0.25 - 1e-7, 0.1])
def test_eps_gives_torch_clip_grad_norm(norm, backend):
    raw = _grads(norm)
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in raw]
    for p, g in zip(params, raw):
        p.grad = torch.from_numpy(g.copy())
    t_norm = torch.nn.utils.clip_grad_norm_(params, 0.25)
    clipped, x_norm = xg.optim.clip_global_norm([xg.asarray(g, backend=backend) for g in raw],
                                                0.25, eps=1e-6)
    assert float(x_norm) == pytest.approx(t_norm.item(), rel=1e-14)
    for c, p in zip(clipped, params):
        np.testing.assert_allclose(c.numpy(), p.grad.numpy(), rtol=1e-14, atol=0)


def test_default_is_tensorflow_clip_by_global_norm():
    raw = _grads(0.25 - 1e-7)            # under max_norm: TensorFlow leaves it, torch scales
    clipped, _ = xg.optim.clip_global_norm([xg.asarray(g) for g in raw], 0.25)
    for c, g in zip(clipped, raw):
        np.testing.assert_array_equal(c.numpy(), g)


@pytest.mark.parametrize("eps", [-1e-6, float("nan"), "1e-6"])
def test_bad_eps_is_named(eps):
    with pytest.raises((ValueError, TypeError), match="eps"):
        xg.optim.clip_global_norm([xg.asarray([1.0])], 1.0, eps=eps)


def _torch_clip(raw, max_norm, **kwargs):
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in raw]
    for p, g in zip(params, raw):
        p.grad = torch.from_numpy(g.copy())
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm, **kwargs)
    return norm.item(), [p.grad.numpy() for p in params]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("norm_type", [1, 1.5, 3.0, float("inf"), "inf"])
@pytest.mark.parametrize("scale", [5.0, 0.1])
def test_norm_type_gives_torch_clip_grad_norm(norm_type, scale, backend):
    raw = _grads(scale)
    t_norm, t_grads = _torch_clip(raw, 0.25, norm_type=norm_type)
    clipped, x_norm = xg.optim.clip_global_norm([xg.asarray(g, backend=backend) for g in raw],
                                                0.25, eps=1e-6, norm_type=norm_type)
    assert float(x_norm) == pytest.approx(t_norm, rel=1e-13)
    for c, t in zip(clipped, t_grads):
        np.testing.assert_allclose(c.numpy(), t, rtol=1e-13, atol=0)


def test_norm_type_inf_is_the_largest_magnitude():
    grads = [xg.asarray([0.5, -3.0]), None, xg.asarray([[2.0], [-1.0]])]
    clipped, norm = xg.optim.clip_global_norm(grads, 1.5, norm_type=float("inf"))
    assert float(norm) == 3.0
    assert clipped[1] is None
    np.testing.assert_array_equal(clipped[0].numpy(), [0.25, -1.5])


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_error_if_nonfinite_raises_as_torch(bad):
    raw = [np.array([1.0, bad]), np.array([2.0])]
    with pytest.raises(RuntimeError, match="non-finite"):
        _torch_clip(raw, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="norm of order 2.0 .* is (nan|inf)"):
        xg.optim.clip_global_norm([xg.asarray(g) for g in raw], 1.0, error_if_nonfinite=True)



INFINITE = [np.array([[1.0, np.inf], [-2.0, 0.5]]), np.array([3.0, -np.inf, 0.0]),
            np.array([4.0])]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_type, eps", [(2.0, 0.0), (2.0, 1e-6), (1, 1e-6),
                                            (float("inf"), 0.0)])
def test_an_infinite_gradient_clips_as_torch_without_a_warning(norm_type, eps, dtype):
    """torch's total norm is inf and its scale 0: finite entries become 0, infinite ones NaN
    (inf * 0), silently; NumPy warned 'invalid value encountered in multiply'."""
    raw = [g.astype(dtype) for g in INFINITE]
    t_norm, t_grads = _torch_clip([g.astype(np.float64) for g in raw], 1.0,
                                  norm_type=norm_type)
    assert t_norm == np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clipped, norm = xg.optim.clip_global_norm([xg.asarray(g) for g in raw], 1.0, eps=eps,
                                                  norm_type=norm_type)
    assert float(norm) == t_norm
    for c, t in zip(clipped, t_grads):
        assert c.numpy().dtype == dtype
        np.testing.assert_array_equal(c.numpy(), t.astype(dtype))      # NaN where torch's


def test_an_infinite_gradient_in_an_xg_function_replay_clips_without_a_warning():
    variable = xg.Variable(np.ones(4))

    @xg.function
    def clipped_gradient(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(variable * x)
        return xg.optim.clip_global_norm(tape.gradient(loss, [variable]), 1.0, eps=1e-6)

    finite, infinite = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, np.inf, 3.0, 4.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for x in (finite, finite, finite, infinite, finite, infinite):
            (ours,), norm = clipped_gradient(xg.asarray(x))
            t_norm, (theirs,) = _torch_clip([x], 1.0)
            assert float(norm) == t_norm
            np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-15, atol=0)
    assert len(clipped_gradient.programs()) == 1


def test_nonfinite_norm_passes_by_default():
    _, norm = xg.optim.clip_global_norm([xg.asarray([1.0, np.nan])], 1.0)
    assert np.isnan(float(norm))


@pytest.mark.parametrize("norm_type, error", [(0, ValueError), (-2.0, ValueError),
                                              (float("nan"), ValueError), (True, ValueError),
                                              ("two", TypeError), (None, TypeError)])
def test_bad_norm_type_is_named(norm_type, error):
    with pytest.raises(error, match="clip_global_norm: norm_type"):
        xg.optim.clip_global_norm([xg.asarray([1.0])], 1.0, norm_type=norm_type)
