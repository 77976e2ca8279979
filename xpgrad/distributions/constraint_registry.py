"""``transform_to`` and ``biject_to``, PyTorch's ``torch.distributions.constraint_registry``:
the transform from unconstrained reals onto a constraint's set, so a constrained parameter is
optimized as a free one (``scale = transform_to(constraints.positive)(raw)``), as PyTorch's
and Pyro's maximum-likelihood fits write it. The same transforms as PyTorch's: ``real``
and ``real_vector`` (Categorical's logits, MultivariateNormal's loc) the identity,
``positive`` and ``nonnegative`` ``ExpTransform``, ``unit_interval`` ``SigmoidTransform``,
``interval(low, high)`` a sigmoid scaled onto it, ``simplex`` and ``unnormalized_simplex``
(Categorical's probs, PyTorch's simplex) ``SoftmaxTransform`` (``transform_to`` only:
PyTorch's bijection onto the simplex, ``StickBreakingTransform``, is not in xpgrad).

>>> import xpgrad as xg
>>> D = xg.distributions
>>> to_scale = D.transform_to(D.Normal.arg_constraints["scale"])
>>> raw = xg.asarray([-1.0, 0.0], dtype=xg.float64)
>>> [round(v, 4) for v in to_scale(raw).tolist()], to_scale.inv(to_scale(raw)).tolist()
([0.3679, 1.0], [-1.0, 0.0])
"""
from __future__ import annotations

from . import constraints
from .transforms import AffineTransform, ComposeTransform, ExpTransform, SigmoidTransform
from .transforms import SoftmaxTransform


_SIMPLICES = {constraints.simplex: "simplex",
              constraints.unnormalized_simplex: "unnormalized_simplex"}


def transform_to(constraint):
    """A transform from the reals onto ``constraint``'s set (``torch.distributions.transform_to``);
    NotImplementedError naming the constraint where there is none.

    >>> import xpgrad as xg
    >>> D = xg.distributions
    >>> D.transform_to(D.constraints.interval(2.0, 4.0))(xg.asarray(0.0)).item()
    3.0
    """
    return _transform(constraint, "transform_to")


def biject_to(constraint):
    """A bijection from the reals onto ``constraint``'s set
    (``torch.distributions.biject_to``): ``transform_to``'s, but for ``simplex``, where
    PyTorch's is ``StickBreakingTransform`` (not in xpgrad: a NotImplementedError says so).

    >>> import xpgrad as xg
    >>> D = xg.distributions
    >>> type(D.biject_to(D.constraints.positive)).__name__
    'ExpTransform'
    """
    if constraint in _SIMPLICES:
        raise NotImplementedError(
            f"biject_to(constraints.{_SIMPLICES[constraint]}): PyTorch's "
            "StickBreakingTransform is not in xpgrad; transform_to of it is SoftmaxTransform "
            "(onto the simplex, not one to one)")
    return _transform(constraint, "biject_to")


def _transform(constraint, who):
    if constraint is constraints.real or constraint is constraints.real_vector:
        return ComposeTransform([])
    if constraint is constraints.positive or constraint is constraints.nonnegative:
        return ExpTransform()
    # unnormalized_simplex: Categorical's probs, PyTorch's simplex (a softmax lands in both)
    if constraint in _SIMPLICES:
        return SoftmaxTransform()
    if hasattr(constraint, "lower_bound") and hasattr(constraint, "upper_bound"):
        low, high = constraint.lower_bound, constraint.upper_bound
        if _number(low) and _number(high) and low == 0 and high == 1:
            return SigmoidTransform()
        return ComposeTransform([SigmoidTransform(), AffineTransform(low, high - low)])
    raise NotImplementedError(
        f"{who}({constraint!r}): xpgrad has transforms onto constraints.real, real_vector, "
        "positive, nonnegative, unit_interval, interval(low, high) and simplex (PyTorch's "
        "constraint_registry has more)")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
