"""Bad inputs found by a bug bash over the public API: each test failed before its fix (a deep
AttributeError, a silent wrong number, or an unchecked argument) and checks the clear error (or
the correct result, against NumPy or PyTorch) now."""
import numpy as np
import pytest

import xpgrad as xg


def _tape_and_square():
    x = xg.asarray([1.0, 2.0], dtype="float64")
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
    return tape, x, y


# -- GradientTape.jacobian / gradient argument checks ----------------------------------------
@pytest.mark.parametrize("which", ["target", "source", "source-list"])
def test_jacobian_refuses_non_tensor_arguments(which):
    tape, x, y = _tape_and_square()
    args = {"target": ("y", x), "source": (y, "x"), "source-list": (y, [x])}[which]
    with pytest.raises(TypeError, match="jacobian takes a target Tensor and one source"):
        tape.jacobian(*args)


def test_jacobian_checks_unconnected_gradients():
    tape, x, y = _tape_and_square()
    with pytest.raises(ValueError, match="unconnected_gradients.*'zeros'"):
        tape.jacobian(y, xg.asarray([1.0]), unconnected_gradients="zeros")
    # still correct: d(x*x)/dx = diag(2x)
    np.testing.assert_allclose(tape.jacobian(y, x).numpy(), np.diag([2.0, 4.0]))


def test_gradient_sources_none_names_sources():
    tape, x, y = _tape_and_square()
    with pytest.raises(TypeError, match="sources must be a Tensor or a list of Tensors, got "
                                        "NoneType"):
        tape.gradient(y, None)
