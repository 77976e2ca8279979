"""xg.function's program passes for small programs: repeated pure steps read once
(jit/common_steps.py; a view of a merged result keeps the earlier result's memory alive), indexing and scalar arithmetic written as Python syntax
(jit/step_syntax.py), and a scattered-into buffer made afresh while its reshapes replay
(jit/constants.py). Every compiled result is compared with the eager call, gradients with
finite differences in float64 and with PyTorch."""
import re
import warnings

import numpy as np
import pytest

import xpgrad as xg


def _compiled(fn, *args):
    compiled = xg.function(fn)
    for _ in range(2):              # eager warm-up, then the trace
        compiled(*args)
    return compiled


def _lotka_volterra_loss(s, p):
    with xg.GradientTape() as tape:
        tape.watch([s, p])
        ds = xg.stack([p[0] * s[0] - p[1] * s[0] * s[1], p[2] * s[0] * s[1] - p[3] * s[1]])
        loss = xg.sum(ds * ds)
    grad_s, grad_p = tape.gradient(loss, [s, p])
    return loss, grad_s, grad_p


def _numeric_gradient(f, x, h=1e-6):
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))])


def test_repeated_reads_are_merged_and_the_gradient_matches_torch_and_finite_differences():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    s0, p0 = np.array([10.0, 5.0]), np.array([1.1, 0.4, 0.1, 0.4])
    compiled = _compiled(_lotka_volterra_loss, xg.asarray(s0), xg.asarray(p0))
    (program,) = compiled.programs()
    assert program.common_steps >= 3           # s[0] read three times, s[1] twice
    inputs = re.search(r"    (.*), = inputs", program.source).group(1).split(", ")
    reads = [r for r in re.findall(r"(s\d+)\[\((\d+),\)\]", program.source) if r[0] in inputs]
    assert sorted(reads) == sorted(set(reads)) and len(set(reads)) == 6    # each read once
    for _ in range(4):
        s, p = s0 + rng.normal(size=2), p0 * rng.uniform(0.5, 1.5, size=4)
        loss, grad_s, grad_p = compiled(xg.asarray(s), xg.asarray(p))
        eager = _lotka_volterra_loss(xg.asarray(s), xg.asarray(p))
        for got, want in zip((loss, grad_s, grad_p), eager):
            assert got.dtype == want.dtype == xg.float64
            np.testing.assert_array_equal(got.numpy(), want.numpy())

        def value(s, p):
            ds = np.array([p[0] * s[0] - p[1] * s[0] * s[1], p[2] * s[0] * s[1] - p[3] * s[1]])
            return float(np.sum(ds * ds))

        np.testing.assert_allclose(grad_s.numpy(), _numeric_gradient(lambda v: value(v, p), s),
                                   rtol=1e-6)
        np.testing.assert_allclose(grad_p.numpy(), _numeric_gradient(lambda v: value(s, v), p),
                                   rtol=1e-6)
        ts = torch.tensor(s, requires_grad=True)
        tp = torch.tensor(p, requires_grad=True)
        ds = torch.stack([tp[0] * ts[0] - tp[1] * ts[0] * ts[1],
                          tp[2] * ts[0] * ts[1] - tp[3] * ts[1]])
        torch.sum(ds * ds).backward()
        np.testing.assert_allclose(grad_s.numpy(), ts.grad.numpy(), rtol=1e-13)
        np.testing.assert_allclose(grad_p.numpy(), tp.grad.numpy(), rtol=1e-13)


def test_a_read_after_a_write_into_the_same_element_is_not_merged():
    # x[0] * x[0] + x[0]: the gradient scatters three times into element 0 of one buffer,
    # reading it back after each write; merging those reads would lose two of the writes
    def f(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = x[0] * x[0] + x[0] + 3.0 * x[1]
        return tape.gradient(y, x)

    x0 = np.array([0.3, -2.0])
    compiled = _compiled(f, xg.asarray(x0))
    source = compiled.programs()[0].source
    assert len(re.findall(r"\[\(0,\)\] = ", source)) >= 2     # the writes it must not skip
    for x in (x0, np.array([-1.5, 4.0]), np.array([2.0, 0.0])):
        got = compiled(xg.asarray(x)).numpy()
        np.testing.assert_array_equal(got, f(xg.asarray(x)).numpy())
        np.testing.assert_allclose(got, [2 * x[0] + 1, 3.0], rtol=1e-15)


def test_array_results_are_merged_only_where_nothing_returns_them():
    def f(x):
        a, b = xg.exp(x), xg.exp(x)
        return a[1] + b[1], xg.exp(x)    # the returned exp keeps an array of its own

    x = xg.asarray(np.array([0.5, -1.0]))
    compiled = _compiled(f, x)
    program = compiled.programs()[0]
    assert program.common_steps >= 2
    (first, returned), (again, returned_again) = compiled(x), compiled(x)
    np.testing.assert_array_equal(first.numpy(), f(x)[0].numpy())
    np.testing.assert_array_equal(returned.numpy(), np.exp(x.numpy()))
    assert not np.shares_memory(returned.numpy(), returned_again.numpy())


def test_a_view_of_a_merged_result_keeps_the_earlier_results_memory():
    # the second 1 - x is merged into the first; the view broadcast_arrays takes of it then
    # views the first one's buffer, which the plan must not hand to the (2,)-shaped results
    # after it (it did: the replay read exp's values through the view, 509.7 for 18.4)
    def f(x, a):
        r1 = xg.broadcast_arrays(a, 1.0 - x)[1] * 2.0
        q = xg.broadcast_arrays(a, 1.0 - x)[1]
        t = xg.exp(x) * 3.0 + 1.0
        return r1 + q * (t * t - 1.0)

    x = xg.asarray(np.array([0.25, 0.5]))
    a = xg.asarray(np.array([[1.0, 2.0], [3.0, 4.0]]))
    compiled = _compiled(f, x, a)
    assert compiled.programs()[0].common_steps >= 1
    for _ in range(2):
        np.testing.assert_allclose(compiled(x, a).numpy(), f(x, a).numpy(), rtol=1e-15)
    t = 3.0 * np.exp(x.numpy()) + 1.0
    np.testing.assert_allclose(compiled(x, a).numpy()[0],
                               (1.0 - x.numpy()) * (2.0 + t * t - 1.0), rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_scalar_arithmetic_written_as_operators_keeps_the_eager_dtype_and_values(dtype):
    def f(v):
        return xg.stack([v[0] * 1.5 - v[1] / 3.0, -v[0] + v[1] * v[1]])

    v = xg.asarray(np.array([1.25, -0.7]).astype(dtype))
    compiled = _compiled(f, v)
    source = compiled.programs()[0].source
    assert " * 1.5)" in source and "(-s" in source
    for values in ([1.25, -0.7], [3e38, 2.0], [-0.0, 1e-30]):
        x = xg.asarray(np.array(values).astype(dtype))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")         # float32 overflow: both warn alike
            got, want = compiled(x), f(x)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_integer_scalars_keep_numpys_wrapping_without_a_warning():
    def f(v):
        return xg.stack([v[0] + v[1], v[0] * v[1]])

    big = np.iinfo(np.int64).max
    v = xg.asarray(np.array([big, 2], dtype=np.int64))
    compiled = _compiled(f, v)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = compiled(v).numpy()
        want = f(v).numpy()
    np.testing.assert_array_equal(got, want)


def test_a_scattered_gradient_cast_and_reshaped_reads_the_written_values():
    # the zeros the gradient scatters into is written and then cast and reshaped: the cast was
    # folded into a constant of the unwritten zeros (all-zero results); now the buffer is
    # made afresh on each replay and its cast and reshape replay on it
    torch = pytest.importorskip("torch")

    def f(p):
        with xg.GradientTape() as tape:
            tape.watch(p)
            y = p[0] * p[1] - p[3] * p[3]
        g = tape.gradient(y, p)
        return xg.astype(g, xg.float32), xg.reshape(g, (2, 2))

    p0 = np.array([1.0, 2.0, 3.0, 4.0])
    compiled = _compiled(f, xg.asarray(p0))
    for p in (p0, np.array([-0.5, 0.25, 7.0, 1.5])):
        cast, square = compiled(xg.asarray(p))
        want_cast, want_square = f(xg.asarray(p))
        assert cast.dtype == xg.float32 and square.shape == (2, 2)
        np.testing.assert_array_equal(cast.numpy(), want_cast.numpy())
        np.testing.assert_array_equal(square.numpy(), want_square.numpy())
        tp = torch.tensor(p, requires_grad=True)
        (tp[0] * tp[1] - tp[3] * tp[3]).backward()
        np.testing.assert_allclose(square.numpy().ravel(), tp.grad.numpy(), rtol=1e-15)
        numeric = _numeric_gradient(lambda v: v[0] * v[1] - v[3] * v[3], p)
        np.testing.assert_allclose(square.numpy().ravel(), numeric, rtol=1e-7, atol=1e-9)
        assert not np.shares_memory(square.numpy(), compiled(xg.asarray(p))[1].numpy())
    program = compiled.programs()[0]
    assert program.constants_copied >= 1 and ".reshape((2, 2))" in program.source


def test_a_wrong_argument_still_raises_the_eager_error():
    compiled = _compiled(lambda v: v[0] * v[1], xg.asarray(np.array([1.0, 2.0])))
    with pytest.raises(IndexError):
        compiled(xg.asarray(np.array([1.0])))


def test_a_write_forgets_only_the_steps_reading_the_written_memory():
    # x[0] and y[0] are read before and after a write into x: the second y[0] is the first,
    # the second x[0] is read again; the add after them reads the merged slot (its facts
    # found again after the pass gave it new arguments)
    import operator
    from types import SimpleNamespace

    from xpgrad.jit.common_steps import merge_common_steps
    from xpgrad.jit.program_steps import Ref, SlotInfo, Step
    from xpgrad.jit.step_facts import reads

    f64 = np.dtype(np.float64)
    slots = [SlotInfo((2,), f64, 0, 0, True), SlotInfo((2,), f64, 1, 1, True)]
    slots += [SlotInfo((), f64, k, 2 + k, False) for k in range(5)]
    add = Step(np.add, (Ref(4), Ref(5)), {}, Ref(6), "call")
    steps = [Step(None, (), {}, Ref(0), "input"), Step(None, (), {}, Ref(1), "input"),
             Step(operator.getitem, (Ref(0), (0,)), {}, Ref(2), "call"),
             Step(operator.getitem, (Ref(1), (0,)), {}, Ref(3), "call"),
             Step(operator.setitem, (Ref(0), (1,), 5.0), {}, None, "call"),
             Step(operator.getitem, (Ref(0), (0,)), {}, Ref(4), "call"),
             Step(operator.getitem, (Ref(1), (0,)), {}, Ref(5), "call"), add]
    assert reads(add) == (4, 5)
    program = SimpleNamespace(steps=steps, slots=slots)
    assert merge_common_steps(program, escaping={6}) == 1
    assert reads(add) == (4, 3)


def _reads_and_writes(n):
    """A program reading ``n`` elements of one array, each read followed by a write into an
    array of its own (``b[k][0] = 0``): every read stays remembered past the writes."""
    import operator

    from xpgrad.jit.program_steps import Ref, SlotInfo, Step

    f64 = np.dtype(np.float64)
    slots = [SlotInfo((n,), f64, 0, 0, True)]
    steps = [Step(None, (), {}, Ref(0), "input")]
    for k in range(n):
        array, element = len(slots), len(slots) + 1
        slots += [SlotInfo((2,), f64, len(steps), array, True),
                  SlotInfo((), f64, len(steps) + 1, element, False)]
        steps += [Step(None, (), {}, Ref(array), "input"),
                  Step(operator.getitem, (Ref(0), (k,)), {}, Ref(element), "call"),
                  Step(operator.setitem, (Ref(array), (0,), 0.0), {}, None, "call")]
    return steps, slots


def test_merging_common_steps_does_work_linear_in_the_writes():
    # each write once rebuilt the table of every step remembered so far, so 8 times the steps
    # took 58 times as long (in a 100-draw HMC chain 5.3 s of a 6.8 s trace). Counted here in
    # lines of common_steps.py executed, not seconds: linear work gives a ratio near 8,
    # the old quadratic one near 64
    import sys
    from types import SimpleNamespace

    from xpgrad.jit import common_steps

    def lines(n):
        steps, slots = _reads_and_writes(n)
        program = SimpleNamespace(steps=steps, slots=slots)
        count = [0]

        def tracer(frame, event, arg):
            if frame.f_code.co_filename != common_steps.__file__:
                return None
            if event == "line":
                count[0] += 1
            return tracer

        sys.settrace(tracer)
        try:
            assert common_steps.merge_common_steps(program, escaping=set()) == 0
        finally:
            sys.settrace(None)
        return count[0]

    short, long = lines(300), lines(2400)
    assert short > 300 and long < 12 * short, (short, long)
