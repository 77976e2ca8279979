"""GradientTape as a TensorFlow user ports it: output_gradients that a cast would spoil are
refused by name (a complex one for a real target gave a zero gradient), a refused argument
leaves a non-persistent tape usable, a flat named tuple of sources comes back as that named
tuple, a watched non-trainable Variable is among watched_variables, jacobian takes TF's
keywords, and jacobian warns as gradient does when the target never touched the tape."""
import collections
import warnings

import pytest

import xpgrad as xg


def _tape():
    x = xg.asarray([1.0, 2.0])
    tape = xg.GradientTape(persistent=True)
    with tape:
        tape.watch(x)
        y = x * 3.0
    return tape, x, y


@pytest.mark.parametrize("cotangent, error, match", [
    (lambda: xg.asarray([1j, 2j]), TypeError, "complex but the target is float32"),
    (lambda: xg.asarray([True, False]), TypeError, "must hold numbers .* got booleans"),
    (lambda: "ab", TypeError, "must hold numbers .* got strings or objects"),
    (lambda: xg.asarray([1.0, 1.0], backend="numba"), xg.MixedBackendError,
     "output_gradients is on backend 'numba' but the target on 'numpy'")])
@pytest.mark.usefixtures("numpy_default")
def test_output_gradients_a_cast_would_spoil_are_refused(cotangent, error, match):
    tape, x, y = _tape()
    with pytest.raises(error, match=match):
        tape.gradient(y, x, output_gradients=cotangent())
    assert tape.gradient(y, x, output_gradients=[1, 2]).tolist() == [3.0, 6.0]


def test_a_refused_argument_leaves_a_one_shot_tape_usable():
    x = xg.asarray([1.0, 2.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * 3.0
    with pytest.raises(ValueError, match="shape"):
        tape.gradient(y, x, output_gradients=xg.asarray([1.0, 1.0, 1.0]))
    assert tape.gradient(y, x, output_gradients=xg.asarray([1.0, 1.0])).tolist() == [3.0, 3.0]


def test_a_flat_named_tuple_of_sources_keeps_its_type():
    pair = collections.namedtuple("Pair", "w b")
    w, b = xg.Variable([1.0, 2.0]), xg.Variable(3.0)
    with xg.GradientTape(persistent=True) as tape:
        y = xg.sum(w * b)
    grads = tape.gradient(y, pair(w, b))
    assert type(grads) is pair and grads.w.tolist() == [3.0, 3.0] and grads.b.item() == 3.0
    assert type(tape.jacobian(w * b, pair(w, b))) is pair
    assert type(tape.gradient(y, (w, b))) is tuple and type(tape.gradient(y, [w, b])) is list


def test_a_watched_non_trainable_variable_is_listed():
    a, frozen = xg.Variable(1.0, name="a"), xg.Variable(4.0, trainable=False, name="frozen")
    with xg.GradientTape() as tape:
        tape.watch(frozen)
        y = a * frozen
    assert [v.name for v in tape.watched_variables()] == ["frozen", "a"]
    assert tape.gradient(y, frozen).item() == 1.0


def test_jacobian_takes_tensorflows_keywords():
    tape, x, y = _tape()
    want = [[3.0, 0.0], [0.0, 3.0]]
    assert tape.jacobian(y, sources=x).tolist() == want
    assert tape.jacobian(y, source=x).tolist() == want
    assert tape.jacobian(y, x, parallel_iterations=4, experimental_use_pfor=False).tolist() == want
    rows = xg.asarray([[1.0, 2.0], [3.0, 4.0]])
    with xg.GradientTape() as batch_tape:
        batch_tape.watch(rows)
        squares = rows * rows
    assert batch_tape.batch_jacobian(squares, rows, parallel_iterations=2,
                                     experimental_use_pfor=True).tolist() == \
        [[[2.0, 0.0], [0.0, 4.0]], [[6.0, 0.0], [0.0, 8.0]]]
    with pytest.raises(ValueError, match="parallel_iterations must be None or an integer >= 1"):
        tape.jacobian(y, x, parallel_iterations=0)
    with pytest.raises(TypeError, match="takes the sources once"):
        tape.jacobian(y, x, source=x)


def test_jacobian_of_a_target_the_tape_never_saw_warns():
    tape, x, y = _tape()
    with pytest.warns(RuntimeWarning, match="tape.jacobian: the target depends on no tensor"):
        assert tape.jacobian(y * 3.0, x) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tape.jacobian(y, x) is not None


def test_batch_jacobian_of_a_target_the_tape_never_saw_warns_as_jacobian_does():
    # it returned None in silence where tape.jacobian warns
    x = xg.asarray([[1.0, 2.0], [3.0, 4.0]])
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
    with pytest.warns(RuntimeWarning, match="tape.batch_jacobian: the target depends on no"):
        assert tape.batch_jacobian(y * 3.0, x) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tape.batch_jacobian(y, x).tolist() == [[[2.0, 0.0], [0.0, 4.0]],
                                                      [[6.0, 0.0], [0.0, 8.0]]]
        assert tape.batch_jacobian(y * 3.0, x, unconnected_gradients="zero").shape == (2, 2, 2)


def test_a_custom_gradient_integer_output_gets_zeros_as_in_tensorflow():
    # before 2026-12-07 refused ("output 1 has dtype int64, which has no gradient")
    seen = []

    @xg.custom_gradient
    def two(x):
        def grad(g, g_index):
            seen.append(g_index)
            return g * 2
        return (x * 2, xg.argmax(x)), grad

    x = xg.asarray([1.0, 3.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        doubled, index = two(x)
    assert int(index) == 1 and index.dtype == xg.int64
    assert tape.gradient(doubled, x).tolist() == [2.0, 2.0]
    assert seen[0].dtype == xg.int64 and seen[0].shape == () and int(seen[0]) == 0
