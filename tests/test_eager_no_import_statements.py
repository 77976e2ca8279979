"""The eager paths run no import statement once warm: a function-level ``from .x import y``
costs about a microsecond per call (the import machinery runs every time), so modules bind
what they use at import time, or once on first use where an import cycle forbids that. An
opcode tracer counts the IMPORT_NAME instructions that xpgrad's own code executes during a
second call of each workload. The once-bound functions still warn at the caller's line on
their very first call (a fresh interpreter)."""
import dis
import os
import subprocess
import sys
import types
import textwrap

import numpy as np
import pytest

import xpgrad as xg

_PACKAGE = os.path.dirname(os.path.realpath(xg.__file__))
_IMPORT_NAME = dis.opmap["IMPORT_NAME"]
_rng = np.random.default_rng(0)


_SITES = {}


def _import_sites(code):
    """``{bytecode offset: module name}`` of ``code``'s import statements (memoized)."""
    sites = _SITES.get(code)
    if sites is None:
        sites = _SITES[code] = {ins.offset: ins.argval for ins in dis.get_instructions(code)
                                if ins.opcode == _IMPORT_NAME}
    return sites


def imports_executed(call):
    """``["file:line function: import module", ...]`` for each import statement that xpgrad's
    code (backends included) runs during ``call()``."""
    found = []

    def on_opcode(frame, event, arg):
        if event == "opcode":
            module = _import_sites(frame.f_code).get(frame.f_lasti)
            if module is not None:
                found.append(f"{os.path.relpath(frame.f_code.co_filename, _PACKAGE)}:"
                             f"{frame.f_lineno} {frame.f_code.co_name}: import {module!r}")
        return on_opcode

    def on_call(frame, event, arg):
        code = frame.f_code
        if not os.path.realpath(code.co_filename).startswith(_PACKAGE) or not _import_sites(code):
            return None
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        return on_opcode

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        call()
    finally:
        sys.settrace(previous)
    return found


def _floats(*shape):
    return _rng.normal(size=shape).astype(np.float32)


def _training_step(model, loss, optimizer, x, y):
    params = model.trainable_variables

    def step():
        with xg.GradientTape() as tape:
            value = loss(model(x), y)
        optimizer.apply_gradients(zip(tape.gradient(value, params), params))
    return step


def mlp_sgd_step():
    return _training_step(xg.nn.MLP([12, 8, 3]), xg.losses.softmax_cross_entropy,
                          xg.optim.SGD(learning_rate=0.1), xg.asarray(_floats(4, 12)),
                          xg.asarray(np.array([0, 2, 1, 0])))


def mlp_adamw_step():
    return _training_step(xg.nn.MLP([12, 8, 3]), xg.losses.mse,
                          xg.optim.AdamW(learning_rate=0.1), xg.asarray(_floats(4, 12)),
                          xg.asarray(_floats(4, 3)))


def recurrent_steps():
    lstm, gru = xg.nn.LSTM(3, 4, batch_first=True), xg.nn.GRU(3, 4, batch_first=True)
    params = lstm.trainable_variables + gru.trainable_variables
    x = xg.asarray(_floats(2, 5, 3))

    def step():
        with xg.GradientTape() as tape:
            value = xg.sum(lstm(x)[0] ** 2) + xg.sum(gru(x)[0] ** 2)
        tape.gradient(value, params)
    return step


def cnn_step():
    conv, norm = xg.nn.Conv2d(2, 3, 3, padding=1), xg.nn.BatchNorm2d(3)
    w = xg.Variable(_floats(3, 2, 3, 3))
    running_mean, running_var = (xg.Variable(np.zeros(3, np.float32), trainable=False),
                                 xg.Variable(np.ones(3, np.float32), trainable=False))
    x, rng = xg.asarray(_floats(2, 2, 6, 6)), xg.random.default_rng(0)
    params = conv.trainable_variables + norm.trainable_variables + [w]

    def step():
        with xg.GradientTape() as tape:
            h = xg.nn.max_pool2d(xg.relu(norm(conv(x))), 2)
            g = xg.nn.batch_norm(xg.nn.conv2d(x, w, padding=1), running_mean, running_var,
                                 [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], training=True)
            value = xg.sum(xg.nn.dropout(xg.reshape(h, (2, -1)), 0.25, rng=rng)) + xg.sum(g)
        tape.gradient(value, params)
    return step


def layers_and_ops():
    a, table = xg.Variable(_floats(4, 6)), xg.Variable(_floats(10, 6))
    ids = xg.asarray(np.array([1, 3, 3, 7]))

    def step():
        with xg.GradientTape() as tape:
            h = xg.nn.layer_norm(a, 6, weight=np.ones(6, np.float32)) + xg.nn.embedding(ids, table)
            h = h + xg.nn.rms_norm(a, 6)
            h = h + xg.einsum("ii->i", a[:, :4])[:, None] + xg.std(a, axis=1)[:, None]
            h = h + xg.nn.one_hot(ids, 10)[:, :6].astype(xg.float32) + xg.take(table, ids, axis=0)
            h = h + xg.tensordot(a, table[:6], axes=1) + xg.inner(a, table[:4])[:, :1]
            h = h + xg.linalg.trace(table[:6], dtype=xg.float32)
            value = xg.sum(xg.topk(h, 2)[0]) + xg.sum(h.at[0, 0].set(2.0))
        tape.gradient(value, [a, table])
    return step


def tensors_and_variables():
    v, t = xg.Variable(_floats(3)), xg.asarray(_floats(3))

    def step():
        v.assign([1.0, 2.0, 3.0])
        t.to(t.device)
        xg.zeros((2, 2)), xg.ones(3, dtype=xg.float64), xg.arange(4)
        xg.linspace(xg.asarray(0.0), 1.0, 5)
        with xg.GradientTape() as tape:
            tape.watch(t)
            xg.asarray([t[0], t[1]])
        xg.asarray(t, dtype=xg.float64), xg.asarray(t, copy=True)     # a tensor cast, copied
    return step


def jacobians_and_transforms():
    x = xg.asarray(np.array([0.3, -0.2, 0.5]))
    f = lambda u: xg.sum(xg.sin(u) * u)       # noqa: E731

    def step():
        with xg.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = xg.tanh(x) * 2.0
            b = xg.reshape(y, (3, 1)) * 3.0
        tape.jacobian(y, x), tape.batch_jacobian(b, xg.reshape(x, (3, 1)))
        xg.grad(f)(x), xg.hvp(f, (x,), (x,)), xg.jvp(f, (x,), (x,)), xg.vmap(f)(x[:, None])
    return step


def state_dict_round_trip():
    model = xg.nn.MLP([4, 3, 2])
    return lambda: model.load_state_dict(model.state_dict())


WORKLOADS = [mlp_sgd_step, mlp_adamw_step, recurrent_steps, cnn_step, layers_and_ops,
             tensors_and_variables, jacobians_and_transforms, state_dict_round_trip]


@pytest.mark.parametrize("make", WORKLOADS, ids=lambda make: make.__name__)
def test_a_warm_eager_workload_runs_no_import_statement(make):
    with xg.use_backend("numpy"):               # whatever $XPGRAD_BACKEND names
        step = make()
        step(), step()                      # the first calls may import what they bind once
        assert imports_executed(step) == []


def test_the_tracer_sees_a_function_level_import():
    def imports_inside():
        from xpgrad.creation import asarray
        return asarray

    module = types.ModuleType("xpgrad._import_probe")
    code = compile(textwrap.dedent("""
        def probe():
            from xpgrad.creation import asarray
            return asarray
    """), os.path.join(_PACKAGE, "_import_probe.py"), "exec")
    exec(code, module.__dict__)
    assert imports_executed(imports_inside) == []             # a test's own code: not counted
    sites = imports_executed(module.probe)
    assert len(sites) == 1 and sites[0].endswith("probe: import 'xpgrad.creation'"), sites


def test_the_once_bound_paths_warn_at_the_callers_line_on_their_first_call(tmp_path):
    script = tmp_path / "first_calls.py"
    script.write_text(textwrap.dedent("""
        import warnings
        import xpgrad as xg

        warnings.simplefilter("always")
        with warnings.catch_warnings(record=True) as caught:
            x = xg.asarray([1.0, 2.0])
            with xg.GradientTape(persistent=True) as tape:
                tape.watch(x)
            y = x * 2.0
            tape.jacobian(y, x)                                   # line 11
            xg.zeros(3, dtype=xg.int32).at[0].set(1.5)            # line 12
            model = xg.nn.Linear(2, 1)
            model.load_state_dict(model.torch_state_dict(), strict=False)   # line 14
        for w in caught:
            print(w.category.__name__, w.filename == __file__, w.lineno)
    """))
    root = os.path.dirname(_PACKAGE)
    env = dict(os.environ, XPGRAD_BACKEND="numpy",
               PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                         check=True).stdout.split("\n")
    assert out[:3] == ["RuntimeWarning True 11", "UserWarning True 12", "UserWarning True 14"], out
