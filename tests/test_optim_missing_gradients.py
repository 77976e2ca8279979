"""Some None gradients in ``apply_gradients``: skipped with one UserWarning naming their
variables (Keras' "Gradients do not exist for variables [...] when minimizing the loss"),
the other variables updated exactly as without the None pairs; eager and xg.function."""
import warnings

import numpy as np
import pytest

import xpgrad as xg


def _gradient_warnings(caught):
    return [str(c.message) for c in caught if "Gradients do not exist" in str(c.message)]


def _train(compiled, with_unused, steps=3):
    w = xg.Variable(np.array([1.0, -2.0]), name="w")
    unused = xg.Variable(np.array([3.0]), name="unused")
    opt = xg.optim.Adam(0.1)

    def step():
        with xg.GradientTape() as tape:
            loss = xg.sum(w * w * w)
        variables = [w, unused] if with_unused else [w]
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
    run = xg.function(step) if compiled else step
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(steps):
            run()
    return w.numpy(), unused.numpy(), opt, unused, _gradient_warnings(caught)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "xg.function"])
def test_none_gradients_warn_once_naming_the_variables_and_are_skipped(compiled):
    w, unused, opt, unused_var, messages = _train(compiled, with_unused=True)
    w_ref, _, _, _, ref_messages = _train(False, with_unused=False)
    assert len(messages) == 1 and "['unused']" in messages[0]
    assert "Adam.apply_gradients skips them" in messages[0]
    assert ref_messages == []
    np.testing.assert_array_equal(w, w_ref)             # as if the pair were not given
    np.testing.assert_array_equal(unused, [3.0])         # not touched
    assert id(unused_var) not in opt._state and opt.iterations == 3


def test_a_new_set_of_missing_variables_warns_again_and_minimize_warns():
    a, b, c = (xg.Variable([float(k)], name=n) for k, n in enumerate("abc", 1))
    opt = xg.optim.SGD(0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opt.minimize(lambda: xg.sum(a * a), [a, b])
        opt.minimize(lambda: xg.sum(a * a), [a, b])
        opt.minimize(lambda: xg.sum(a * a), [a, b, c])
    messages = _gradient_warnings(caught)
    assert len(messages) == 2
    assert "['b']" in messages[0] and "['b', 'c']" in messages[1]
    assert b.tolist() == [2.0] and c.tolist() == [3.0]


def test_every_gradient_present_does_not_warn():
    w = xg.Variable([1.0], name="w")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xg.optim.SGD(0.1).apply_gradients([(xg.asarray([1.0]), w)])
    assert w.tolist() == [pytest.approx(0.9)]
