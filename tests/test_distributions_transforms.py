"""xg.distributions.transforms, TransformedDistribution and LogNormal against
torch.distributions (float64): each transform's forward map, inverse and log_abs_det_jacobian
with their gradients (for the input and the transform's parameters), composed transforms with
event axes, the change of variables in log_prob, LogNormal's moments and entropy; then finite
differences of rsample, and errors naming the bad argument."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

from torch_compare import assert_matches_torch

torch = pytest.importorskip("torch")
td = torch.distributions
D = xg.distributions
R = np.random.default_rng(5)

# name -> (maker(module)(*parameters) -> transform, parameters, x in the domain)
TRANSFORMS = {
    "exp": (lambda m: m.ExpTransform, [], R.standard_normal((2, 3))),
    "affine_numbers": (lambda m: (lambda: m.AffineTransform(0.5, -2.0)), [],
                       R.standard_normal((2, 3))),
    "affine_tensors": (lambda m: m.AffineTransform, [R.standard_normal(3), R.uniform(-2, 2, 3)],
                       R.standard_normal((2, 3))),
    "affine_event_dim": (lambda m: (lambda loc, s: m.AffineTransform(loc, s, event_dim=1)),
                         [R.standard_normal(3), R.uniform(0.5, 2, (2, 3))],
                         R.standard_normal((4, 2, 3))),
    "sigmoid": (lambda m: m.SigmoidTransform, [], R.standard_normal((2, 3)) * 3),
    "tanh": (lambda m: m.TanhTransform, [], R.standard_normal((2, 3)) * 2),
    "power": (lambda m: m.PowerTransform, [np.array(2.5)], R.uniform(0.5, 2, (2, 3))),
    "compose": (lambda m: (lambda loc, s: m.ComposeTransform(
        [m.AffineTransform(loc, s, event_dim=1), m.ExpTransform(), m.PowerTransform(0.5)])),
        [R.standard_normal(3), R.uniform(0.5, 2, 3)], R.standard_normal((2, 3))),
    "inverse_of_sigmoid": (lambda m: (lambda: m.SigmoidTransform().inv), [],
                           R.uniform(0.05, 0.95, (2, 3))),
}


def _module(m):
    return m.transforms


@pytest.mark.parametrize("name", TRANSFORMS)
@pytest.mark.parametrize("part", ["forward", "inverse", "log_abs_det_jacobian"])
def test_transform_matches_torch(name, part):
    maker, params, x = TRANSFORMS[name]

    def run(module):
        def fn(*a):
            t, x = maker(_module(module))(*a[:-1]), a[-1]
            if part == "forward":
                return t(x)
            if part == "inverse":
                return t.inv(t(x))                    # through y: both maps and their grads
            return t.log_abs_det_jacobian(x, t(x))
        return fn
    assert_matches_torch(run(D), run(td), params + [x])


def test_transform_attributes_match_torch():
    ours, theirs = D.transforms, td.transforms
    for name in ["ExpTransform", "SigmoidTransform", "TanhTransform", "SoftmaxTransform"]:
        a, b = getattr(ours, name)(), getattr(theirs, name)()
        assert (a.bijective, a.domain.event_dim, a.codomain.event_dim) == \
            (b.bijective, b.domain.event_dim, b.codomain.event_dim), name
    a = ours.ComposeTransform([ours.AffineTransform(0.0, 1.0, event_dim=2), ours.ExpTransform()])
    b = theirs.ComposeTransform([theirs.AffineTransform(0.0, 1.0, event_dim=2),
                                 theirs.ExpTransform()])
    assert (a.domain.event_dim, a.codomain.event_dim) == (b.domain.event_dim,
                                                          b.codomain.event_dim) == (2, 2)
    t = ours.TanhTransform()
    assert t.inv.inv is t and t.inv.domain is t.codomain and t.inv.bijective


def test_softmax_transform_is_not_bijective():
    x = R.standard_normal((2, 4))
    t = D.transforms.SoftmaxTransform()
    y = t(xg.asarray(x))
    np.testing.assert_allclose(y.numpy(), td.transforms.SoftmaxTransform()(torch.as_tensor(x))
                               .numpy(), rtol=1e-12)
    np.testing.assert_allclose(t(t.inv(y)).numpy(), y.numpy(), rtol=1e-12)
    assert not t.bijective and t.event_dim == 1
    with pytest.raises(NotImplementedError, match="SoftmaxTransform has no log_abs_det"):
        t.log_abs_det_jacobian(xg.asarray(x), y)


def test_sigmoid_transform_stays_inside_the_unit_interval():
    t = D.transforms.SigmoidTransform()
    x = xg.asarray([-800.0, 0.0, 800.0], dtype=xg.float64)
    y = t(x)
    assert 0 < y.numpy()[0] and y.numpy()[2] < 1
    assert np.isfinite(t.inv(y).numpy()).all()
    assert np.isfinite(t.log_abs_det_jacobian(x, y).numpy()).all()


def test_transform_finite_differences():
    loc, scale = xg.asarray(R.standard_normal(3)), xg.asarray(R.uniform(0.5, 2, 3))
    x = xg.asarray(R.standard_normal((2, 3)))
    T = D.transforms

    def chain(loc, scale, x):
        t = T.ComposeTransform([T.AffineTransform(loc, scale), T.TanhTransform()])
        return t.log_abs_det_jacobian(x, t(x)) + t(x)
    check_grads(chain, [loc, scale, x])


# -- TransformedDistribution, LogNormal ---------------------------------------------------------
DISTRIBUTIONS = {
    "tanh_normal": (lambda m: (lambda loc, s: m.TransformedDistribution(
        m.Normal(loc, s), [m.transforms.TanhTransform()])),
        [R.standard_normal(3), R.uniform(0.5, 1.5, 3)], R.uniform(-0.9, 0.9, (2, 3))),
    "affine_sigmoid": (lambda m: (lambda loc, s, a: m.TransformedDistribution(
        m.Laplace(loc, s), [m.transforms.AffineTransform(0.3, a),
                            m.transforms.SigmoidTransform()])),
        [R.standard_normal(3), R.uniform(0.5, 1.5, 3), R.uniform(0.5, 2, 3)],
        R.uniform(0.1, 0.9, (2, 3))),
    "event_dim_from_transform": (lambda m: (lambda loc, s, a: m.TransformedDistribution(
        m.Normal(loc, s), m.transforms.AffineTransform(0.0, a, event_dim=1))),
        [R.standard_normal((2, 3)), R.uniform(0.5, 1.5, (2, 3)), R.uniform(0.5, 2, 3)],
        R.standard_normal((4, 2, 3))),
    "mvn_exp": (lambda m: (lambda loc: m.TransformedDistribution(
        m.MultivariateNormal(loc, scale_tril=torch.eye(3, dtype=torch.float64)
                             if m is td else xg.eye(3, dtype=xg.float64)),
        [m.transforms.ExpTransform()])),
        [R.standard_normal(3)], R.uniform(0.5, 2, (2, 3))),
    "lognormal": (lambda m: m.LogNormal, [R.standard_normal((2, 3)), R.uniform(0.5, 1.5, 3)],
                  R.uniform(0.2, 3, (2, 3))),
}


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_log_prob_and_shapes_match_torch(name):
    maker, params, value = DISTRIBUTIONS[name]
    assert_matches_torch(lambda *a: maker(D)(*a[:-1]).log_prob(a[-1]),
                         lambda *a: maker(td)(*a[:-1]).log_prob(a[-1]), params + [value])
    ours = maker(D)(*[xg.asarray(p) for p in params])
    theirs = maker(td)(*[torch.as_tensor(p) for p in params])
    assert (ours.batch_shape, ours.event_shape) == (tuple(theirs.batch_shape),
                                                    tuple(theirs.event_shape))
    assert ours.sample((5,), rng=0).shape == tuple(theirs.sample((5,)).shape)
    assert ours.has_rsample == theirs.has_rsample


@pytest.mark.parametrize("method", ["mean", "mode", "variance", "stddev", "entropy"])
def test_lognormal_moments_match_torch(method):
    params = [R.standard_normal((2, 3)) * 0.5, R.uniform(0.3, 1.2, 3)]
    get = (lambda d: d.entropy()) if method == "entropy" else (lambda d: getattr(d, method))
    assert_matches_torch(lambda *p: get(D.LogNormal(*p)), lambda *p: get(td.LogNormal(*p)),
                         params)


def test_rsample_gradients_match_finite_differences():
    loc, scale = xg.asarray(R.standard_normal(3)), xg.asarray(R.uniform(0.5, 1.5, 3))
    T = D.transforms
    check_grads(lambda loc, scale: D.TransformedDistribution(
        D.Normal(loc, scale), [T.AffineTransform(1.0, 0.5), T.TanhTransform()]).rsample(
            (4,), rng=3), [loc, scale])
    check_grads(lambda loc, scale: D.LogNormal(loc, scale).rsample((4,), rng=3), [loc, scale])


def test_samples_follow_the_distribution():
    d = D.LogNormal(xg.asarray(0.3, dtype=xg.float64), xg.asarray(0.5, dtype=xg.float64))
    y = d.sample((20000,), rng=1).numpy()
    assert (y > 0).all()
    assert abs(np.log(y).mean() - 0.3) < 0.02 and abs(np.log(y).std() - 0.5) < 0.02
    assert d.sample((3,), rng=1).tolist() == d.sample((3,), rng=1).tolist()


def test_bad_arguments_are_named():
    T = D.transforms
    with pytest.raises(TypeError, match="base_distribution must be a Distribution"):
        D.TransformedDistribution(T.ExpTransform(), [T.ExpTransform()])
    with pytest.raises(TypeError, match=r"transforms\[1\] must be a Transform"):
        D.TransformedDistribution(D.Normal(0.0, 1.0), [T.ExpTransform(), "exp"])
    with pytest.raises(TypeError, match="transforms must be a Transform or a list"):
        D.TransformedDistribution(D.Normal(0.0, 1.0), xg.exp)
    with pytest.raises(ValueError, match="needs at least 1 axes"):
        D.TransformedDistribution(D.Normal(0.0, 1.0), T.AffineTransform(0.0, 1.0, event_dim=1))
    with pytest.raises(TypeError, match=r"parts\[0\] must be a Transform"):
        T.ComposeTransform([None])
    with pytest.raises(TypeError, match="parts must be a list"):
        T.ComposeTransform(T.ExpTransform())
    with pytest.raises(ValueError, match="event_dim must be >= 0"):
        T.AffineTransform(0.0, 1.0, event_dim=-1)
    with pytest.raises(TypeError, match="event_dim must be an int"):
        T.AffineTransform(0.0, 1.0, event_dim=1.0)
    with pytest.raises(TypeError, match="scale must be a number or a Tensor"):
        T.AffineTransform(0.0, "2")
    with pytest.raises(TypeError, match="exponent must be a number or a Tensor"):
        T.PowerTransform(None)
    with pytest.raises(ValueError, match="LogNormal.log_prob: value must be > 0"):
        D.LogNormal(0.0, 1.0).log_prob(xg.asarray([-1.0]))
    with pytest.raises(ValueError, match="Normal: scale must be > 0"):
        D.LogNormal(0.0, -1.0)
    with pytest.raises(ValueError, match="TransformedDistribution.log_prob: value must be"):
        D.TransformedDistribution(D.Normal(0.0, 1.0), T.TanhTransform()).log_prob(2.0)
