"""Program.raw_replay(python_floats=True) (jit/python_floats.py): float64 element reads whose
values only go through +, -, *, negation, writes into float64 arrays and stacks give Python
floats; the replay returns the eager call's values bit for bit, and reads whose values meet
anything else (a division, a float32 operand, a function, the result) are left as they were."""
import re

import numpy as np
import pytest

import xpgrad as xg


def f64(values):
    return xg.asarray(np.asarray(values, dtype=np.float64))

def _program(fn, *args):
    compiled = xg.function(fn)
    for _ in range(2):              # eager warm-up, then the trace
        compiled(*args)
    (program,) = compiled.programs()
    return program


def lotka_volterra_vjp(s, p, a):
    """A small right-hand side's value and vector-Jacobian product, as odeint's adjoint has."""
    with xg.GradientTape() as tape:
        tape.watch(s)
        tape.watch(p)
        f = xg.stack([p[0] * s[0] - p[1] * s[0] * s[1], p[2] * s[0] * s[1] - p[3] * s[1]])
    ds, dp = tape.gradient(f, [s, p], output_gradients=a)
    return xg.concat([-f, ds, dp])


def test_a_vjps_element_reads_give_python_floats_and_the_eager_values():
    rng = np.random.default_rng(0)
    s, p, a = (xg.asarray(rng.normal(size=n)) for n in (2, 4, 2))
    program = _program(lotka_volterra_vjp, s, p, a)
    assert "s0_list = s0.tolist()" in program.python_floats_source      # read once
    assert ".tolist()" not in program.source
    floats, scalars = program.raw_replay(python_floats=True), program.raw_replay()
    for _ in range(5):
        s, p, a = (rng.normal(size=n) * 10 for n in (2, 4, 2))
        eager = lotka_volterra_vjp(xg.asarray(s), xg.asarray(p), xg.asarray(a)).numpy()
        got = floats([s, p, a])
        assert type(got) is np.ndarray and got.dtype == np.float64
        np.testing.assert_array_equal(got, eager)
        np.testing.assert_array_equal(scalars([s, p, a]), eager)
    assert ".tolist()" in program.python_floats_source     # p's gradient kept by element
    program.give_back_raw(floats, python_floats=True)
    assert program.raw_replay(python_floats=True) is floats      # kept for the next taker


@pytest.mark.parametrize("body, why", [
    (lambda x, y: xg.stack([x[0] / x[1], y[0]]), "a division (ZeroDivisionError on floats)"),
    (lambda x, y: xg.stack([xg.sin(x[0] * x[1]), y[0]]), "a function"),
    (lambda x, y: xg.concat([(x[0] * x[1]) * xg.ones(3, dtype=xg.float64),
                             xg.stack([y[0]])]), "an array operand"),
    (lambda x, y: (x[0] * x[1], xg.stack([-y[0]])), "the result itself"),
])
def test_reads_whose_values_meet_anything_else_stay_numpy_scalars(body, why):
    """x's reads meet something else and stay; y's only go into a stack and give floats."""
    x, y = f64([3.0, 0.5]), f64([2.0])
    program = _program(body, x, y)
    source = program.python_floats_source
    xs, ys = (name.strip() for name in source.splitlines()[1].split("=")[0].split(",")[:2])
    assert f"{xs}.item(" not in source and f"{xs}.tolist()" not in source, why
    assert f"{ys}_list = {ys}.tolist()" in source            # y[0]: a Python float
    replay = program.raw_replay(python_floats=True)
    raws = [np.array([3.0, 0.5]), np.array([2.0])]
    got = replay(raws) if replay is not None else program.run_arrays(raws)
    for g, e in zip(xg.tree_leaves(got) if replay is None else [got],
                    xg.tree_leaves(body(x, y))):
        np.testing.assert_array_equal(np.asarray(getattr(g, "_data", g)), e.numpy())


def test_a_float32_operand_keeps_the_float64_promotion():
    """A Python float next to a float32 array would make float32 (NEP 50): such a read stays."""
    def mixed(x, y32):
        return (x[0] * x[1]) * y32

    x, y32 = f64([3.0, 0.1]), xg.asarray(np.array([1.0, 2.0], np.float32))
    program = _program(mixed, x, y32)
    assert program.python_floats_source is None
    out = program.raw_replay(python_floats=True)([np.array([3.0, 0.1]),
                                                  np.array([1.0, 2.0], np.float32)])
    assert out.dtype == mixed(x, y32).dtype == np.float64


def test_float32_reads_are_not_rewritten_and_float64_ones_are():
    def body(x):
        return xg.stack([x[0] * x[1], -x[0]])

    x32 = xg.asarray(np.array([1.5, 2.0], np.float32))
    assert _program(body, x32).python_floats_source is None
    assert "s0_list = s0.tolist()" in _program(body, f64([1.5, 2.0])).python_floats_source


def test_an_array_written_element_by_element_is_whole_again_where_it_is_used_whole():
    def partial_sums(x):
        acc = xg.zeros(3, dtype=xg.float64)
        acc[0] = x[0] * 2.0
        acc[2] = -x[1]
        total = xg.sum(acc)          # its whole use: an array again here
        acc[1] = x[1]                # (a write after it: to a copy)
        return acc * total

    x = f64([1.0, 2.0])
    program = _program(partial_sums, x)
    assert ".tolist()" in program.python_floats_source
    replay = program.raw_replay(python_floats=True)
    for values in ([1.0, 2.0], [-3.5, 0.25], [1e150, 1e-300]):
        np.testing.assert_array_equal(replay([np.array(values)]),
                                      partial_sums(f64(values)).numpy())


def _negated_then_written(x):
    n = -xg.stack([x[0], x[1] * x[0]])
    n[0] = x[1]                                   # a write: n is not kept by element
    return xg.concat([n, -n, x])


@pytest.mark.parametrize("body", [
    lambda x: xg.concat([-xg.stack([x[0], x[1] * x[0]]), xg.zeros(1, dtype=xg.float64), x]),
    lambda x: xg.reshape(-xg.stack([x[0] - x[1], x[1]]), (2,)) * x,
    lambda x: xg.concat([-xg.stack([x[0] * 2.0, x[1]]), xg.stack([x[1], -x[0]])]),
    lambda x: (lambda s: xg.stack([s[1], s[0] * s[1]]))(xg.stack([x[0] * 2.0, x[1]])),
    _negated_then_written,
])
def test_small_arrays_kept_by_element_replay_the_eager_values(body):
    """Stacks, negations, reshapes and concatenations of small float64 arrays (element_arrays.py)
    give the eager call's arrays bit for bit, whether kept by element or not."""
    x = f64([1.5, -0.25])
    program = _program(body, x)
    replay = program.raw_replay(python_floats=True)
    for values in ([1.5, -0.25], [3.0, 7.0], [-1e-300, 1e150]):
        got = replay([np.array(values)])
        eager = body(f64(values)).numpy()
        assert got.dtype == eager.dtype and got.shape == eager.shape
        np.testing.assert_array_equal(got, eager)


def test_the_adjoints_result_is_one_array_made_from_its_elements():
    s, p, a = f64([1.0, 2.0]), f64([0.5, 0.25, 0.125, 1.0]), f64([1.0, -1.0])
    program = _program(lotka_volterra_vjp, s, p, a)
    source = program.python_floats_source
    called = {program.constants[name] for name in re.findall(r"\b(c\d+)\(", source)}
    assert called == {np.array}                  # no concatenate, negative, stack or copy
    assert np.concatenate in {program.constants[name]
                              for name in re.findall(r"\b(c\d+)\(", program.source)}


@pytest.mark.parametrize("body, listed", [
    (lambda x: xg.stack([x[1:3][0] * x[-1], x[::2][1] - x[0]]), True),
    (lambda x: xg.stack([x[2:][1], x[:2][-1] * 3.0]), True),
    (lambda x: xg.stack([x[0] * x[1], x[2]]) * x[:2], False),     # x read whole too
    (lambda x: xg.stack([x[1:3][0] * x[3], xg.sin(x[0])]), False),  # a read a function sees
])
def test_an_input_read_only_by_element_is_made_a_list_once(body, listed):
    x = f64([1.5, -0.25, 4.0, 0.5])
    program = _program(body, x)
    source = program.python_floats_source or ""
    assert ("s0_list = s0.tolist()" in source) == listed
    replay = program.raw_replay(python_floats=True)
    for values in ([1.5, -0.25, 4.0, 0.5], [-3.0, 7.0, 1e-300, 1e150]):
        got = replay([np.array(values)]) if replay is not None else \
            program.run_arrays([np.array(values)])._data
        np.testing.assert_array_equal(got, body(f64(values)).numpy())


def test_a_program_names_the_inputs_it_never_reads():
    """odeint passes an autonomous system's time unconverted where the program never reads it."""
    x, t = f64([1.0, 2.0]), f64(0.5)
    assert _program(lambda x, t: xg.stack([x[0] * x[1], -x[0]]), x, t).unread_inputs == {1}
    assert _program(lambda x, t: xg.stack([x[0] * t, -x[0]]), x, t).unread_inputs == set()
