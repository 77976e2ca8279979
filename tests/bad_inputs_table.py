"""The catalogue of bad inputs (``tests/test_bad_inputs.py`` runs it): one row per input a user
could plausibly give, with the exception it must raise and the words its message must contain
(the argument or flag it names, often the value). Kept importable on its own, so a script can
count how many rows an older version got right (``count(rows())``).

A row whose fix belongs to a file another engineer owns and that fails today names that file in
``deferred``; the test marks it ``xfail(strict=True)``, so it turns into a failure (to be
unmarked) when the fix lands.
"""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
from dataclasses import dataclass
from typing import Callable

import numpy as np

import bad_inputs_names  # tests/ is on sys.path (conftest.py's folder)
import xpgrad as xg


@dataclass
class Row:
    area: str
    id: str
    call: Callable
    exc: type | tuple
    names: tuple
    deferred: str | None = None      # the owner file of a fix that has not landed


class CLIError(Exception):
    """``xpgrad ...`` exited with status 2; the message is what it printed on stderr."""


def _tmp() -> str:
    global _TMP
    if _TMP is None:
        _TMP = tempfile.mkdtemp(prefix="xpgrad-bad-inputs-")
    return _TMP


_TMP = None


def _cli(*argv, train_defaults=True):
    """Run ``xpgrad argv`` in-process from a scratch directory: CLIError(stderr) on exit 2."""
    from xpgrad.cli import main

    argv = list(argv)
    if argv[0] == "train" and train_defaults:
        for flag, value in (("--epochs", "1"), ("--max-steps", "1"), ("--hidden", "8")):
            if flag not in argv and "--resume" not in argv:
                argv += [flag, value]
        if "--logdir" not in argv and "--no-log" not in argv:
            argv.append("--no-log")
        argv.append("--quiet")
    err = io.StringIO()
    cwd = os.getcwd()
    os.chdir(_tmp())
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
    except SystemExit as e:
        code = e.code
    finally:
        os.chdir(cwd)
    if code == 2:
        raise CLIError(err.getvalue())
    if code not in (0, None):
        raise RuntimeError(f"exit status {code}: {err.getvalue()}")
    return code


def _file(name, data: bytes) -> str:
    path = os.path.join(_tmp(), name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def _checkpoint(name="good.npz", model=None):
    path = os.path.join(_tmp(), name)
    xg.save_checkpoint(path, model if model is not None else xg.nn.MLP([4, 3, 2], rng=0))
    return path


def _damaged(kind):
    with open(_checkpoint(f"src-{kind}.npz"), "rb") as f:
        good = f.read()
    if kind == "truncated":
        return _file("truncated.npz", good[: len(good) // 2])
    if kind == "empty":
        return _file("empty.npz", b"")
    if kind == "text":
        return _file("text.npz", b"not a zip file\n" * 20)
    if kind == "flipped":
        import zipfile

        path = _file("flipped.npz", good)
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("model/mlp/linear0/w.npy")
        data = bytearray(good)
        data[info.header_offset + 30 + len(info.filename) + info.file_size - 3] ^= 0x01
        return _file("flipped.npz", bytes(data))
    if kind == "object":
        path = os.path.join(_tmp(), "object.npz")
        np.savez(path, **{"__xpgrad__": np.asarray('{"format": 1}'),
                          "model/mlp/linear0/w": np.array([{"a": 1}], dtype=object)})
        return path
    raise ValueError(kind)


def _mlp():
    return xg.nn.MLP([4, 3, 2], rng=0)


def _var(value=(1.0, 2.0), name="w", **kw):
    return xg.Variable(np.asarray(value), name=name, **kw)


def _grad_of(f, *args):
    return xg.grad(f)(*args)


def _tape_twice():
    x = xg.asarray([1.0, 2.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(x * x)
    tape.gradient(y, x)
    tape.gradient(y, x)


def _tape_gradient(target=None, sources=None, output_gradients=None):
    x = xg.asarray([1.0, 2.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    return tape.gradient(y if target is None else target, x if sources is None else sources,
                         output_gradients=output_gradients)


def _isub_in_tape():
    w = _var()
    with xg.GradientTape():
        w -= xg.asarray([1.0, 1.0])


def _nested_enter():
    tape = xg.GradientTape()
    with tape:
        with tape:
            pass


def _optimizer_step(opt, grad, var):
    return opt.apply_gradients([(grad, var)])


def _schedule_nan():
    w = _var()
    opt = xg.optim.SGD(learning_rate=lambda step: float("nan"))
    opt.apply_gradients([(xg.asarray([1.0, 1.0]), w)])


def _lstm_call(x=None, state=None, cell=False):
    layer = (xg.nn.LSTMCell if cell else xg.nn.LSTM)(3, 4, rng=0)
    if x is None:
        x = xg.ones((2, 3)) if cell else xg.ones((2, 5, 3))
    return layer(x, state)


def _tbptt(**kw):
    lstm = xg.nn.LSTM(1, 2, rng=0)
    args = dict(model=lstm, loss_fn=xg.losses.mse, optimizer=xg.optim.SGD(0.1),
                inputs=xg.ones((2, 6, 1)), targets=xg.zeros((2, 6, 2)), k1=2)
    args.update(kw)
    return xg.nn.tbptt_train(**args)


def _mixed_backends():
    a = xg.asarray([1.0], backend="numpy")
    b = xg.asarray([1.0], backend="numba")
    return a + b


def _fake_trained_checkpoint():
    """A training checkpoint (with its config) of a small MLP run, made once."""
    path = os.path.join(_tmp(), "run.npz")
    if not os.path.exists(path):
        _cli("train", "--checkpoint", path, "--hidden", "8")
    return path


def rows() -> list:
    ones = xg.ones
    x23 = xg.ones((2, 3))
    R = Row
    T, V, I, K = TypeError, ValueError, IndexError, KeyError
    C = xg.CheckpointError
    CL = CLIError
    nan, inf = float("nan"), float("inf")
    return [
        # -- the tensor API (creation, shapes, ops) ---------------------------------------------
        R("tensor", "asarray-str", lambda: xg.asarray("abc"), T, ("obj", "str", "'abc'")),
        R("tensor", "asarray-ragged", lambda: xg.asarray([[1.0], [2.0, 3.0]]), V,
          ("inhomogeneous",)),
        R("tensor", "asarray-bad-dtype", lambda: xg.asarray([1.0], dtype="float33"), (T, V),
          ("float33",)),
        R("tensor", "asarray-overflow", lambda: xg.asarray(1e40, dtype="float32"),
          (OverflowError, V, RuntimeWarning), ("overflow",)),        # warns, as NumPy does
        R("tensor", "astype-overflow",
          lambda: xg.astype(xg.asarray(1e40, dtype="float64"), "float32"),
          (OverflowError, V, RuntimeWarning), ("overflow",)),
        R("tensor", "asarray-bad-backend", lambda: xg.asarray([1.0], backend="nope"),
          xg.UnknownBackendError, ("nope",)),
        R("tensor", "zeros-negative", lambda: xg.zeros((-1, 2)), V, ("negative",)),
        R("tensor", "zeros-float-shape", lambda: xg.zeros((2.5,)), T, ("shape", "2.5")),
        R("tensor", "ones-str-shape", lambda: xg.ones("3"), T, ("shape", "'3'")),
        R("tensor", "full-str-value", lambda: xg.full((2,), "x"), (T, V), ("x",)),
        R("tensor", "arange-zero-step", lambda: xg.arange(0, 10, 0), V, ("step",)),
        R("tensor", "linspace-negative-num", lambda: xg.linspace(0.0, 1.0, -1), V, ("-1",)),
        R("tensor", "eye-negative", lambda: xg.eye(-1), V, ("n_rows", ">= 0")),
        R("tensor", "eye-float", lambda: xg.eye(2.5), T, ("n_rows", "2.5")),
        R("tensor", "eye-float-k", lambda: xg.eye(2, k=0.5), T, ("k",)),
        R("tensor", "linspace-float-num", lambda: xg.linspace(0.0, 1.0, 2.5), T, ("num", "2.5")),
        # an alias's errors name the alias, not the function it shares its work with
        R("tensor", "allclose-negative-rtol", lambda: xg.allclose(x23, x23, rtol=-1.0), V,
          ("allclose: rtol",)),
        R("tensor", "allclose-str-equal-nan", lambda: xg.allclose(x23, x23, equal_nan="no"), T,
          ("allclose", "equal_nan")),
        R("tensor", "allclose-none-b", lambda: xg.allclose(x23, None), T, ("allclose: a and b",)),
        R("tensor", "matrix-exp-not-square", lambda: xg.linalg.matrix_exp(x23), V,
          ("linalg.matrix_exp: A", "square")),
        R("tensor", "matrix-exp-integer", lambda: xg.linalg.matrix_exp(xg.eye(2, dtype=xg.int32)),
          T, ("linalg.matrix_exp: A", "floating")),
        R("tensor", "matrix-exp-negative-squarings",
          lambda: xg.linalg.matrix_exp(ones((2, 2)), max_squarings=-1), V,
          ("linalg.matrix_exp: max_squarings",)),
        R("tensor", "remat-not-callable", lambda: xg.remat(3), T, ("remat: fn", "callable")),
        R("tensor", "remat-policy", lambda: xg.remat(xg.sin, policy="dots"), T,
          ("remat: policy",)),
        R("tensor", "psi-complex", lambda: xg.special.psi(xg.asarray([1j])), T,
          ("special.psi: x", "real")),
        R("tensor", "arange-nan", lambda: xg.arange(0.0, float("nan")), V, ("stop", "nan")),
        R("tensor", "full-none", lambda: xg.full((2,), None), T, ("fill_value", "None")),
        R("tensor", "full-like-none", lambda: xg.full_like(x23, None), T, ("fill_value",)),
        R("tensor", "asarray-none-dtype", lambda: xg.asarray(None, dtype=xg.float32), T,
          ("None",)),
        R("tensor", "reshape-size", lambda: xg.reshape(x23, (4,)), V, ("(4,)",)),
        R("tensor", "reshape-two-minus-one", lambda: xg.reshape(x23, (-1, -1)), V, ("-1",)),
        R("tensor", "concat-shapes", lambda: xg.concat([x23, ones((2, 2))], axis=0), V,
          ("(2, 2)", "axis 0")),
        R("tensor", "concat-empty", lambda: xg.concat([]), (V, T), ("concat",)),
        R("tensor", "stack-shapes", lambda: xg.stack([x23, ones((3, 2))]), V, ("shape",)),
        R("tensor", "sum-axis", lambda: xg.sum(x23, axis=5), (V, I), ("axis 5",)),
        R("tensor", "mean-float-axis", lambda: xg.mean(x23, axis=1.5), T, ("axis", "1.5")),
        R("tensor", "matmul-shapes", lambda: xg.matmul(x23, x23), V, ("(2, 3)",)),
        R("tensor", "add-broadcast", lambda: x23 + ones((4,)), V, ("broadcast",)),
        R("tensor", "astype-bad", lambda: xg.astype(x23, "nope"), (T, V), ("nope",)),
        R("tensor", "register-hook-not-callable", lambda: x23.register_hook(2.0), T,
          ("register_hook", "hook", "float")),
        R("tensor", "register-hook-int", lambda: xg.asarray([1, 2]).register_hook(print),
          RuntimeError, ("register_hook", "int64")),
        R("tensor", "index-out-of-bounds", lambda: x23[5], I, ("5",)),
        R("tensor", "index-str", lambda: x23["a"], (I, T), ("'a'",)),
        R("tensor", "permute-repeated", lambda: xg.permute_dims(x23, (0, 0)), V, ("axes",)),
        R("tensor", "expand-dims-axis", lambda: xg.expand_dims(x23, axis=5), (V, I),
          ("axis",)),
        R("tensor", "squeeze-not-one", lambda: xg.squeeze(x23, axis=0), V, ("squeeze",)),
        R("tensor", "broadcast-to", lambda: xg.broadcast_to(x23, (5,)), V, ("broadcast",)),
        R("tensor", "bool-of-array", lambda: bool(ones(3)), V, ("ambiguous",)),
        R("tensor", "float-of-array", lambda: float(ones(3)), T, ("(3,)",)),
        R("tensor", "item-of-array", lambda: ones(3).item(), V, ("one element", "(3,)")),
        R("tensor", "to-unknown", lambda: ones(2).to("nope"), xg.UnknownBackendError,
          ("nope",)),
        R("tensor", "inv-non-square", lambda: xg.linalg.inv(x23), V, ("square",)),
        R("tensor", "one-hot-negative", lambda: xg.one_hot(xg.asarray([1]), -1), V,
          ("num_classes",)),
        R("tensor", "one-hot-float", lambda: xg.one_hot(xg.asarray([1.0]), 3), T, ("integer",)),
        R("tensor", "one-hot-out-of-range", lambda: xg.one_hot(xg.asarray([3]), 3), I,
          ("num_classes=3", "3")),
        R("tensor", "einsum-sizes", lambda: xg.einsum("ij,jk", xg.ones((2, 3)), xg.ones((4, 2))),
          V, ("'j'", "3", "4")),
        R("tensor", "einsum-operands", lambda: xg.einsum("ij,jk", xg.ones((2, 3))), V,
          ("2 operands",)),
        R("tensor", "sort-axis", lambda: xg.sort(x23, axis=3), (V, I), ("axis",)),
        R("tensor", "argmax-axis", lambda: xg.argmax(x23, axis=3), (V, I), ("axis",)),
        R("tensor", "flip-axis", lambda: xg.flip(x23, axis=4), (V, I), ("axis",)),
        R("tensor", "moveaxis-axis", lambda: xg.moveaxis(x23, 0, 9), (V, I), ("9",)),
        R("tensor", "unstack-axis", lambda: xg.unstack(x23, axis=5), (V, I), ("axis",)),
        R("tensor", "tile-negative", lambda: xg.tile(x23, (-1,)), V, ("negative",)),
        R("tensor", "softmax-axis", lambda: xg.nn.softmax(x23, axis=5), (V, I), ("axis",)),
        R("tensor", "fft-n-zero", lambda: xg.fft.fft(xg.ones(4), n=0), V, ("n",)),
        R("tensor", "fft-axis", lambda: xg.fft.fft(xg.ones(4), axis=3), (V, I), ("axis",)),
        R("tensor", "vecdot-shapes", lambda: xg.vecdot(ones(3), ones(4)), V, ("3",)),
        R("tensor", "random-bad-seed", lambda: xg.random.default_rng("abc"), (T, V),
          ("seed",)),
        R("tensor", "random-global-bad-seed", lambda: xg.random.seed("abc"), T,
          ("xg.random.seed", "seed")),
        R("tensor", "random-global-negative-seed", lambda: xg.random.seed(-1), V,
          ("xg.random.seed", "seed")),
        R("tensor", "random-global-bad-state", lambda: xg.random.set_state({"entropy": 1}), V,
          ("xg.random.set_state", "state")),
        R("tensor", "random-negative-size", lambda: xg.random.default_rng(0).normal(size=-1),
          V, ("negative",)),
        R("tensor", "random-integers-empty", lambda: xg.random.default_rng(0).integers(5, 2),
          V, ("high",)),
        R("tensor", "where-shapes", lambda: xg.where(xg.asarray([True, False]), ones(2),
                                                       ones(3)), V, ("broadcast",)),
        R("tensor", "std-correction", lambda: xg.std(ones(3), correction=-1), V,
          ("correction",)),
        # -- the tape and the functional API ---------------------------------------------------
        R("tape", "gradient-twice", _tape_twice, RuntimeError, ("persistent",)),
        R("tape", "gradient-target-list-of-str", lambda: _tape_gradient(target="y"), T,
          ("target",)),
        R("tape", "gradient-source-str", lambda: _tape_gradient(sources="x"), T, ("str",)),
        R("tape", "watch-str", lambda: xg.GradientTape().watch("x"), T, ("str",)),
        R("tape", "output-gradients-shape",
          lambda: _tape_gradient(output_gradients=xg.ones(3)), V, ("(3,)",)),
        R("tape", "enter-twice", _nested_enter, RuntimeError, ("already recording",)),
        R("tape", "grad-non-scalar", lambda: _grad_of(lambda x: x * 2, xg.ones(3)), (V, T),
          ("scalar",)),
        R("tape", "grad-not-callable", lambda: xg.grad("f"), T, ("callable",)),
        R("tape", "grad-float16", lambda: xg.grad(lambda x: xg.sum(x))(
            np.ones(2, np.float16)), T, ("argument 0", "float16")),
        R("tape", "jvp-float16", lambda: xg.jvp(lambda x: x, np.ones(2, np.float16),
                                                np.ones(2, np.float16)), T,
          ("primals[0]", "float16")),
        R("tape", "jacobian-non-tensor-output",
          lambda: xg.jacobian(lambda x: (x, "x"))(xg.ones(2)),
          T, ("jacobian: f must return Tensors", "str at output[1]")),
        R("tape", "grad-argnums", lambda: xg.grad(lambda x: xg.sum(x), argnums=3)(xg.ones(2)),
          (V, I), ("argnums",)),
        R("tape", "value-and-grad-non-scalar",
          lambda: xg.value_and_grad(lambda x: x)(xg.ones(2)), (V, T), ("scalar",)),
        R("tape", "variable-isub-in-tape", _isub_in_tape, V, ("'w'", "-=")),
        R("tape", "grad-int-input", lambda: _grad_of(lambda x: xg.sum(x * 1.0),
                                                     xg.asarray([1, 2])), (T, V), ("int64",)),
        # -- losses -------------------------------------------------------------------------
        R("losses", "mse-shapes", lambda: xg.losses.mse(ones(3), ones(4)), V,
          ("target", "pred", "(4,)")),
        R("losses", "mse-dtypes", lambda: xg.losses.mse(ones(3), ones(3, dtype="float64")), T,
          ("target", "float64")),
        R("losses", "mse-int-pred", lambda: xg.losses.mse(xg.asarray([1, 2]), ones(2)), T,
          ("pred", "int64")),
        R("losses", "mse-reduction", lambda: xg.losses.mse(ones(3), ones(3), reduction="avg"),
          V, ("reduction", "'avg'")),
        R("losses", "mse-reduction-none-object",
          lambda: xg.losses.mse(ones(3), ones(3), reduction=None), V, ("reduction", "None")),
        R("losses", "sce-label-range",
          lambda: xg.losses.softmax_cross_entropy(x23, xg.asarray([0, 3])), I,
          ("label 3", "3 classes")),
        R("losses", "sce-label-negative",
          lambda: xg.losses.softmax_cross_entropy(x23, xg.asarray([0, -1])), I, ("label -1",)),
        R("losses", "sce-label-shape",
          lambda: xg.losses.softmax_cross_entropy(x23, xg.asarray([0, 1, 2])), V,
          ("labels", "(2,)")),
        R("losses", "sce-float-labels-as-indices",
          lambda: xg.losses.softmax_cross_entropy(x23, xg.asarray([0.0, 1.0])), T,
          ("labels", "integer")),
        R("losses", "sce-0d-logits",
          lambda: xg.losses.softmax_cross_entropy(xg.asarray(1.0), xg.asarray(0)), V,
          ("logits", "class axis")),
        R("losses", "sce-no-classes",
          lambda: xg.losses.softmax_cross_entropy(xg.ones((2, 0)), xg.asarray([0, 0])), V,
          ("logits", "class axis")),
        R("losses", "sce-bool-labels",
          lambda: xg.losses.softmax_cross_entropy(x23, xg.asarray([True, False])), T,
          ("labels", "bool")),
        R("losses", "sce-int-logits",
          lambda: xg.losses.softmax_cross_entropy(xg.asarray([[1, 2]]), xg.asarray([0])), T,
          ("logits", "int64")),
        R("losses", "sce-probs-shape",
          lambda: xg.losses.softmax_cross_entropy(x23, xg.ones((2, 2))), V,
          ("probability targets", "(2, 3)")),
        R("losses", "sce-reduction",
          lambda: xg.losses.softmax_cross_entropy(x23, xg.asarray([0, 1]), reduction="max"),
          V, ("reduction", "'max'")),
        R("losses", "sce-label-list-range",
          lambda: xg.losses.softmax_cross_entropy(x23, [0, 7]), I, ("label 7",)),
        R("losses", "sce-complex-labels",
          lambda: xg.losses.softmax_cross_entropy(x23, xg.asarray([1j, 0j])), T,
          ("labels", "complex")),
        R("losses", "bce-shapes",
          lambda: xg.losses.sigmoid_cross_entropy_with_logits(ones(3), ones(2)), V,
          ("targets", "logits")),
        R("losses", "bce-int-targets",
          lambda: xg.losses.sigmoid_cross_entropy_with_logits(ones(2), xg.asarray([1, 0])), T,
          ("targets", "int64")),
        R("losses", "smse-reduction",
          lambda: xg.losses.sigmoid_mse(ones(2), ones(2), reduction="mean "), V,
          ("reduction",)),
        R("losses", "smse-str-logits", lambda: xg.losses.sigmoid_mse("ab", ones(2)), T,
          ("logits",)),
        R("losses", "sce-mixed-backends",
          lambda: xg.losses.softmax_cross_entropy(x23.to("numpy"),
                                                  xg.asarray([0, 1], backend="numba")),
          xg.MixedBackendError, ("numpy", "numba")),
        # -- layers ---------------------------------------------------------------------------
        R("layers", "linear-negative", lambda: xg.nn.Linear(-1, 3), V, ("in_features", "-1")),
        R("layers", "linear-float-size", lambda: xg.nn.Linear(2.5, 3), T,
          ("in_features", "2.5")),
        R("layers", "linear-str-size", lambda: xg.nn.Linear(3, "4"), T, ("out_features", "'4'")),
        R("layers", "linear-bool-size", lambda: xg.nn.Linear(True, 4), T, ("in_features",)),
        R("layers", "linear-init", lambda: xg.nn.Linear(3, 4, init="nope"), V,
          ("init", "'nope'")),
        R("layers", "linear-int-dtype", lambda: xg.nn.Linear(3, 4, dtype="int32"), T,
          ("dtype", "int32")),
        R("layers", "linear-rng", lambda: xg.nn.Linear(3, 4, rng="abc"), T, ("rng", "str")),
        R("layers", "linear-input-features", lambda: xg.nn.Linear(3, 4, rng=0)(ones((2, 5))), V,
          ("Linear", "in_features=3", "(2, 5)")),
        R("layers", "linear-input-dtype",
          lambda: xg.nn.Linear(3, 4, rng=0)(ones((2, 3), dtype="float64")), T,
          ("Linear", "float64", "float32")),
        R("layers", "linear-input-0d", lambda: xg.nn.Linear(3, 4, rng=0)(xg.asarray(1.0)), V,
          ("Linear", "()")),
        R("layers", "mlp-one-size", lambda: xg.nn.MLP([4]), V, ("sizes", "[4]")),
        R("layers", "mlp-negative-size", lambda: xg.nn.MLP([4, -1, 2]), V, ("sizes", "-1")),
        R("layers", "mlp-float-size", lambda: xg.nn.MLP([4, 2.5, 2]), T, ("sizes", "2.5")),
        R("layers", "mlp-str-sizes", lambda: xg.nn.MLP("482"), T, ("sizes", "str")),
        R("layers", "mlp-activation", lambda: xg.nn.MLP([4, 2], activation="nope"), V,
          ("activation", "'nope'")),
        R("layers", "mlp-input", lambda: _mlp()(ones((2, 5))), V, ("in_features=4", "(2, 5)")),
        R("layers", "sequential-int", lambda: xg.nn.Sequential(3), T, ("Sequential", "int")),
        R("layers", "sequential-append-int", lambda: xg.nn.Sequential().append(3), T,
          ("Sequential", "int")),
        R("layers", "rnn-hidden-zero", lambda: xg.nn.RNN(3, 0), V, ("hidden_size", "0")),
        R("layers", "rnn-float-hidden", lambda: xg.nn.RNN(3, 4.5), T, ("hidden_size", "4.5")),
        R("layers", "rnn-nonlinearity", lambda: xg.nn.RNN(3, 4, nonlinearity="sigmoid"), V,
          ("nonlinearity", "'sigmoid'")),
        R("layers", "lstm-layers-zero", lambda: xg.nn.LSTM(3, 4, num_layers=0), V,
          ("num_layers", "0")),
        R("layers", "lstm-input-1d", lambda: _lstm_call(x=ones((3,))), V,
          ("LSTM", "(batch, time, input_size)", "unbatched input is (time, input_size)", "(3,)")),
        R("layers", "lstm-time-major-input", lambda: xg.nn.LSTM(3, 4, batch_first=False, rng=0)(
            ones((5, 2, 2))), V, ("LSTM", "(time, batch, input_size)", "(5, 2, 2)")),
        R("layers", "lstm-unbatched-state", lambda: _lstm_call(
            x=ones((5, 3)), state=(ones((1, 2, 4)), ones((1, 2, 4)))), V,
          ("unbatched", "h", "(1, 4)", "(1, 2, 4)")),
        R("layers", "lstm-state-shape",
          lambda: _lstm_call(state=(ones((1, 2, 5)), ones((1, 2, 4)))), V, ("h", "(1, 2, 4)")),
        R("layers", "lstm-state-not-pair", lambda: _lstm_call(state=ones((1, 2, 4))), V,
          ("state", "pair")),
        R("layers", "lstmcell-state-single", lambda: _lstm_call(state=(ones((2, 4)),), cell=True),
          (V, T), ("state", "(h, c)")),
        R("layers", "lstm-input-dtype", lambda: _lstm_call(x=ones((2, 5, 3), dtype="float64")),
          T, ("float64", "float32")),
        R("layers", "rnncell-state-shape", lambda: xg.nn.RNNCell(3, 4, rng=0)(ones((2, 3)),
                                                                          ones((2, 5))), V,
          ("h", "(2, 4)")),
        R("layers", "sequence-classifier-cell",
          lambda: xg.nn.SequenceClassifier(8, [4], 3, cell="transformer"), V,
          ("cell", "'transformer'")),
        R("layers", "embedding-ids-float",
          lambda: xg.nn.Embedding(5, 2, rng=0)(xg.asarray([1.0])), T, ("ids", "float32")),
        R("layers", "embedding-ids-range",
          lambda: xg.nn.Embedding(5, 2, rng=0)(xg.asarray([2, 5])), I, ("ids", "[0, 5)", "5")),
        R("layers", "embedding-padding-idx",
          lambda: xg.nn.Embedding(5, 2, padding_idx=9), V, ("padding_idx", "9")),
        R("layers", "gru-dtype", lambda: xg.nn.GRU(3, 4, num_layers=2, dtype="int32"), T,
          ("GRU: dtype", "int32")),
        R("layers", "embedding-pretrained-rank",
          lambda: xg.nn.Embedding.from_pretrained(np.ones(3)), V,
          ("Embedding.from_pretrained", "embeddings", "(3,)")),
        R("layers", "embedding-pretrained-ints",
          lambda: xg.nn.EmbeddingBag.from_pretrained(np.ones((2, 2), dtype=np.int64)), T,
          ("EmbeddingBag.from_pretrained", "embeddings", "int64")),
        R("layers", "layer-norm-eps", lambda: xg.nn.LayerNorm(4, eps=-1.0), V, ("eps", "-1.0")),
        R("layers", "layer-norm-shape", lambda: xg.nn.LayerNorm((4, -1)), V,
          ("normalized_shape", "(4, -1)")),
        R("layers", "layer-norm-input", lambda: xg.nn.LayerNorm(4)(xg.ones((2, 3))), V,
          ("normalized_shape", "(2, 3)")),
        R("layers", "rms-norm-eps", lambda: xg.nn.RMSNorm(4, eps=-1.0), V, ("eps", "-1.0")),
        R("layers", "rms-norm-input", lambda: xg.nn.RMSNorm(4)(xg.ones((2, 3))), V,
          ("normalized_shape", "(2, 3)")),
        R("layers", "embedding-bag-range",
          lambda: xg.nn.EmbeddingBag(5, 2, rng=0)(xg.asarray([2, 5]), xg.asarray([0])), I,
          ("input", "[0, 5)", "5")),
        R("layers", "embedding-bag-offsets",
          lambda: xg.nn.EmbeddingBag(5, 2, rng=0)(xg.asarray([2, 3]), xg.asarray([1])), V,
          ("offsets", "1")),
        R("layers", "embedding-bag-weights-mode",
          lambda: xg.nn.EmbeddingBag(5, 2, rng=0)(xg.asarray([[2, 3]]),
                                                  per_sample_weights=xg.ones((1, 2))), V,
          ("per_sample_weights", "'mean'")),
        R("layers", "gru-h0", lambda: xg.nn.GRU(3, 4, rng=0)(xg.ones((2, 5, 3)),
                                                             xg.ones((2, 4))), V,
          ("h0", "(1, 2, 4)", "(2, 4)")),
        R("layers", "dropout-rate", lambda: xg.nn.Dropout(1.5), V, ("rate", "1.5")),
        R("layers", "dropout-nan", lambda: xg.nn.Dropout(nan), V, ("rate", "nan")),
        R("layers", "dropout-str", lambda: xg.nn.Dropout("a"), T, ("rate", "'a'")),
        R("layers", "leaky-relu-slope", lambda: xg.nn.LeakyReLU(negative_slope=nan), V,
          ("negative_slope", "nan")),
        R("layers", "init-unknown", lambda: xg.nn.init.get("nope"), V, ("init", "'nope'")),
        R("layers", "tbptt-k1", lambda: _tbptt(k1=0), V, ("k1", "0")),
        R("layers", "tbptt-k2", lambda: _tbptt(k1=3, k2=2), V, ("k2", "k1")),
        R("layers", "tbptt-inputs-2d", lambda: _tbptt(inputs=ones((2, 6))), V,
          ("LSTM", "input")),
        R("layers", "tbptt-lengths", lambda: _tbptt(targets=xg.zeros((2, 5, 2))), V,
          ("inputs", "targets")),
        R("layers", "torch-state-missing",
          lambda: xg.nn.LSTM(3, 4, rng=0).load_torch_state_dict({}), (K, V),
          ("weight_ih_l0",)),
        # -- optimizers --------------------------------------------------------------------------
        R("optim", "sgd-lr-nan", lambda: xg.optim.SGD(nan), V, ("learning_rate", "nan")),
        R("optim", "sgd-lr-inf", lambda: xg.optim.SGD(inf), V, ("learning_rate", "inf")),
        R("optim", "sgd-lr-negative", lambda: xg.optim.SGD(-0.1), V, ("learning_rate", "-0.1")),
        R("optim", "sgd-lr-str", lambda: xg.optim.SGD("fast"), T, ("learning_rate", "fast")),
        R("optim", "sgd-momentum-nan", lambda: xg.optim.SGD(0.1, momentum=nan), V,
          ("momentum", "nan")),
        R("optim", "sgd-momentum-one", lambda: xg.optim.SGD(0.1, momentum=1.0), V,
          ("momentum", "1.0")),
        R("optim", "sgd-weight-decay-nan", lambda: xg.optim.SGD(0.1, weight_decay=nan), V,
          ("weight_decay", "nan")),
        R("optim", "sgd-clipnorm-nan", lambda: xg.optim.SGD(0.1, global_clipnorm=nan), V,
          ("global_clipnorm", "nan")),
        R("optim", "sgd-nesterov-no-momentum", lambda: xg.optim.SGD(0.1, nesterov=True), V,
          ("SGD", "nesterov", "momentum")),
        R("optim", "sgd-dampening-one", lambda: xg.optim.SGD(0.1, momentum=0.9, dampening=1.0),
          V, ("dampening", "1.0")),
        R("optim", "sgd-nesterov-dampening",
          lambda: xg.optim.SGD(0.1, momentum=0.9, nesterov=True, dampening=0.1), V,
          ("SGD", "nesterov", "dampening")),
        R("optim", "adam-maximize-str", lambda: xg.optim.Adam(0.1, maximize="yes"), T,
          ("maximize", "yes")),
        R("optim", "adam-epsilon-negative", lambda: xg.optim.Adam(epsilon=-1e-8), V,
          ("epsilon", "-1e-08")),
        R("optim", "adam-epsilon-nan", lambda: xg.optim.Adam(epsilon=nan), V,
          ("epsilon", "nan")),
        R("optim", "adam-beta1-one", lambda: xg.optim.Adam(beta_1=1.0), V, ("beta_1", "1.0")),
        R("optim", "adam-beta2-nan", lambda: xg.optim.Adam(beta_2=nan), V, ("beta_2", "nan")),
        R("optim", "adamw-weight-decay-negative", lambda: xg.optim.AdamW(weight_decay=-1), V,
          ("weight_decay", "-1")),
        R("optim", "rmsprop-rho", lambda: xg.optim.RMSprop(rho=1.5), V, ("rho", "1.5")),
        R("optim", "rmsprop-momentum-nan", lambda: xg.optim.RMSprop(momentum=nan), V,
          ("momentum", "nan")),
        R("optim", "adadelta-rho-nan", lambda: xg.optim.Adadelta(rho=nan), V, ("rho", "nan")),
        R("optim", "adagrad-epsilon-zero", lambda: xg.optim.Adagrad(epsilon=0.0), V,
          ("epsilon", "0.0")),
        R("optim", "adagrad-accumulator", lambda: xg.optim.Adagrad(initial_accumulator_value=-1),
          V, ("initial_accumulator_value", "-1")),
        R("optim", "get-unknown", lambda: xg.optim.get("lamb"), V, ("optimizer", "'lamb'")),
        R("optim", "schedule-nan", _schedule_nan, V, ("schedule", "nan", "step 0")),
        R("optim", "exponential-decay-steps", lambda: xg.optim.ExponentialDecay(0.1, 0, 0.5), V,
          ("decay_steps", "0")),
        R("optim", "cosine-alpha", lambda: xg.optim.CosineDecay(0.1, 10, alpha=nan), V,
          ("alpha", "nan")),
        R("optim", "step-decay-gamma", lambda: xg.optim.StepDecay(0.1, 2, gamma=-1.0), V,
          ("gamma", "-1.0")),
        R("optim", "apply-not-variable",
          lambda: _optimizer_step(xg.optim.SGD(0.1), ones(2), ones(2)), T, ("Variable",)),
        R("optim", "apply-shape",
          lambda: _optimizer_step(xg.optim.SGD(0.1), ones(3), _var()), V, ("'w'", "(3,)")),
        R("optim", "apply-all-none",
          lambda: _optimizer_step(xg.optim.SGD(0.1), None, _var()), V,
          ("No gradients provided", "'w'")),
        R("optim", "apply-empty", lambda: xg.optim.SGD(0.1).apply_gradients([]), V,
          ("apply_gradients", "pairs")),
        R("optim", "apply-int-variable",
          lambda: _optimizer_step(xg.optim.SGD(0.1), None, _var((1, 2), name="n")), T,
          ("'n'", "int64")),
        R("optim", "apply-not-pairs", lambda: xg.optim.SGD(0.1).apply_gradients([_var()]), T,
          ("pairs",)),
        R("optim", "apply-pairs-swapped",
          lambda: xg.optim.SGD(0.1).apply_gradients(zip([_var()], [ones(2)])), T,
          ("(gradient, variable)", "zip(grads, variables)", "'w'")),
        R("optim", "apply-gradients-alone",
          lambda: xg.optim.SGD(0.1).apply_gradients([ones((40, 30))]), T,
          ("pairs", "Tensor of shape (40, 30)")),
        R("optim", "apply-twice-same-var",
          lambda: (lambda w: xg.optim.SGD(0.1).apply_gradients([(ones(2), w), (ones(2), w)]))(
              _var()), V, ("'w'", "twice")),
        R("optim", "clip-nan", lambda: xg.optim.clip_global_norm([ones(2)], nan), V,
          ("max_norm", "nan")),
        R("optim", "clip-not-tensor", lambda: xg.optim.clip_global_norm([[1.0, 2.0]], 1.0), T,
          ("Tensors", "list")),
        R("optim", "minimize-unconnected",
          lambda: xg.optim.SGD(0.1).minimize(lambda: xg.sum(ones(2)), [_var(name="u")]), V,
          ("No gradients provided", "'u'")),
        # -- checkpoints ---------------------------------------------------------------------------
        R("checkpoint", "save-missing-dir",
          lambda: xg.save_checkpoint("/no/such/dir/c.npz", _mlp()), C, ("/no/such/dir",
                                                                        "does not exist")),
        R("checkpoint", "save-to-directory", lambda: xg.save_checkpoint(_tmp(), _mlp()), C,
          ("directory",)),
        R("checkpoint", "save-int-path", lambda: xg.save_checkpoint(3, _mlp()), T,
          ("path", "int")),
        R("checkpoint", "save-duplicate-names",
          lambda: xg.save_checkpoint(os.path.join(_tmp(), "d.npz"), [_var(), _var()]), V,
          ("'w'", "two variables")),
        R("checkpoint", "load-truncated", lambda: xg.load_checkpoint(_damaged("truncated"),
                                                                     _mlp()), C,
          ("truncated.npz", "truncated")),
        R("checkpoint", "load-empty", lambda: xg.load_checkpoint(_damaged("empty"), _mlp()), C,
          ("empty.npz", "empty")),
        R("checkpoint", "load-not-zip", lambda: xg.load_checkpoint(_damaged("text"), _mlp()), C,
          ("text.npz", "not a .npz")),
        R("checkpoint", "load-flipped-byte",
          lambda: xg.load_checkpoint(_damaged("flipped"), _mlp()), C,
          ("flipped.npz", "damaged")),
        R("checkpoint", "load-object-array",
          lambda: xg.load_checkpoint(_damaged("object"), _mlp()), C, ("object.npz", "pickled")),
        R("checkpoint", "load-directory", lambda: xg.load_checkpoint(_tmp(), _mlp()), C,
          ("directory",)),
        R("checkpoint", "load-missing", lambda: xg.load_checkpoint(
            os.path.join(_tmp(), "missing.npz"), _mlp()), FileNotFoundError, ("missing.npz",)),
        R("checkpoint", "load-shape-mismatch",
          lambda: xg.load_checkpoint(_checkpoint(), xg.nn.MLP([4, 5, 2], rng=0)), C,
          ("shape of 'model/mlp/linear0/w'", "(4, 3)")),
        R("checkpoint", "load-wrong-optimizer",
          lambda: (lambda p: xg.load_checkpoint(p, _mlp(), xg.optim.SGD(0.1)))(
              _saved_with_adam()), C, ("Adam", "SGD")),
        # -- backends ------------------------------------------------------------------------------
        R("backends", "get-unknown", lambda: xg.get_backend("nope"), xg.UnknownBackendError,
          ("'nope'",)),
        R("backends", "get-int", lambda: xg.get_backend(3), T, ("backend", "int")),
        R("backends", "set-unknown", lambda: xg.set_backend("nope"), xg.UnknownBackendError,
          ("'nope'",)),
        R("backends", "use-unknown", lambda: xg.use_backend("nope").__enter__(),
          xg.UnknownBackendError, ("'nope'",)),
        R("backends", "mixed", _mixed_backends, xg.MixedBackendError, ("numpy", "numba")),
        R("backends", "register-kernel-typo",
          lambda: type(xg.get_backend("numpy"))().register_kernel("tahn", xg.Kernel(None)), K,
          ("'tahn'", "names no primitive")),
        R("backends", "numba-warmup-dtype",
          lambda: xg.get_backend("numba").warmup(dtypes=("int8",)), (V, T), ("int8",)),
        # -- data --------------------------------------------------------------------------------
        R("data", "dataset-unknown", lambda: _data().load_dataset("cifar"), V, ("'cifar'",)),
        R("data", "split-fraction", lambda: _data().split(np.zeros((4, 2)), np.arange(4), 1.5),
          V, ("test_fraction", "1.5")),
        R("data", "batches-zero", lambda: _data().batches(10, 0), V, ("batch_size", "0")),
        R("data", "idx-not-idx", lambda: _data().read_idx(_file("x.idx", b"\x01\x02\x03\x04")),
          V, ("x.idx", "not an IDX file")),
        R("data", "mnist-missing-dir", lambda: _data().load_mnist("/no/such"), V, ("/no/such",)),
        R("data", "download-unknown", lambda: _data().download("cifar"), V, ("'cifar'",)),
        # -- the command line ----------------------------------------------------------------
        R("cli", "checkpoint-missing-dir", lambda: _cli("train", "--checkpoint",
                                                        "/no/such/dir/c.npz"), CL,
          ("--checkpoint", "/no/such/dir")),
        R("cli", "checkpoint-is-dir", lambda: _cli("train", "--checkpoint", _tmp()), CL,
          ("--checkpoint", "directory")),
        R("cli", "logdir-is-file", lambda: _cli("train", "--logdir", _file("afile", b"x")), CL,
          ("--logdir", "afile")),
        R("cli", "seed-negative", lambda: _cli("train", "--seed", "-1"), CL, ("--seed", "-1")),
        R("cli", "lr-inf", lambda: _cli("train", "--learning-rate", "inf"), CL,
          ("--learning-rate", "inf")),
        R("cli", "lr-nan", lambda: _cli("train", "--learning-rate", "nan"), CL,
          ("--learning-rate", "nan")),
        R("cli", "lr-zero", lambda: _cli("train", "--learning-rate", "0"), CL,
          ("--learning-rate", "0")),
        R("cli", "lr-negative", lambda: _cli("train", "--lr", "-1"), CL,
          ("--learning-rate", "-1")),
        R("cli", "epochs-zero", lambda: _cli("train", "--epochs", "0"), CL, ("--epochs", "0")),
        R("cli", "batch-size-negative", lambda: _cli("train", "--batch-size", "-4"), CL,
          ("--batch-size", "-4")),
        R("cli", "max-steps-zero", lambda: _cli("train", "--max-steps", "0"), CL,
          ("--max-steps", "0")),
        R("cli", "hidden-zero", lambda: _cli("train", "--hidden", "0"), CL, ("--hidden",)),
        R("cli", "hidden-junk", lambda: _cli("train", "--hidden", "8,x"), CL, ("--hidden",)),
        R("cli", "model-unknown", lambda: _cli("train", "--model", "nope"), CL,
          ("--model", "'nope'")),
        R("cli", "optimizer-unknown", lambda: _cli("train", "--optimizer", "nope"), CL,
          ("--optimizer", "'nope'")),
        R("cli", "dataset-unknown", lambda: _cli("train", "--dataset", "nope"), CL,
          ("--dataset", "'nope'")),
        R("cli", "backend-unknown", lambda: _cli("train", "--backend", "nope"), CL,
          ("--backend", "'nope'")),
        R("cli", "data-dir-without-idx-dataset", lambda: _cli("train", "--data-dir", _tmp()), CL,
          ("--data-dir", "--dataset mnist")),
        R("cli", "threads-zero", lambda: _cli("train", "--threads", "0"), CL,
          ("--threads", "0")),
        R("cli", "mnist-missing-data-dir",
          lambda: _cli("train", "--dataset", "mnist", "--data-dir", "/no/such"), CL,
          ("--data-dir", "/no/such")),
        R("cli", "mnist-data-dir-is-file",
          lambda: _cli("train", "--dataset", "mnist", "--data-dir", _file("afile", b"x")), CL,
          ("--data-dir", "afile", "not a directory")),
        R("cli", "checkpoint-corrupt", lambda: _cli("train", "--checkpoint",
                                                    _damaged("truncated")), CL,
          ("--checkpoint", "truncated.npz")),
        R("cli", "resume-corrupt", lambda: _cli("train", "--resume", _damaged("text")), CL,
          ("--resume", "text.npz")),
        R("cli", "resume-missing", lambda: _cli("train", "--resume",
                                                os.path.join(_tmp(), "nothing.npz")), CL,
          ("--resume", "nothing.npz")),
        R("cli", "resume-conflicting-hidden",
          lambda: _cli("train", "--resume", _fake_trained_checkpoint(), "--hidden", "16",
                       "--epochs", "1"), CL, ("--hidden", "16")),
        R("cli", "checkpoint-every-zero", lambda: _cli("train", "--checkpoint-every", "0"), CL,
          ("--checkpoint-every", "0")),
        R("cli", "checkpoint-every-without-path",
          lambda: _cli("train", "--checkpoint-every", "3"), CL, ("--checkpoint-every",)),
        R("cli", "unknown-flag", lambda: _cli("train", "--frobnicate"), CL, ("--frobnicate",)),
        R("cli", "unknown-command", lambda: _cli("nope"), CL, ("'nope'",)),
        R("cli", "warmup-unknown-backend", lambda: _cli("warmup", "--backend", "nope"), CL,
          ("--backend", "'nope'")),
        R("cli", "bench-threads-zero", lambda: _cli("bench", "--threads", "0"), CL,
          ("--threads",)),
        R("cli", "bench-unknown-group", lambda: _cli("bench", "--only", "nope"), CL,
          ("--only", "'nope'")),
    ] + bad_inputs_names.rows(Row)     # every public array function given None or a str


def _data():
    from xpgrad import data

    return data


def _saved_with_adam():
    model, opt = _mlp(), xg.optim.Adam(0.1)
    opt.minimize(lambda: xg.sum(model(xg.ones((1, 4)))), model)
    path = os.path.join(_tmp(), "adam.npz")
    xg.save_checkpoint(path, model, opt)
    return path


# -- judging a row ---------------------------------------------------------------------------
def outcome(row) -> tuple:
    """``("clear" | "unclear" | "accepted", detail)``: clear when the row's exception type
    was raised with every name in its message."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")      # an overflow warning counts as raising
            row.call()
    except BaseException as e:           # noqa: BLE001 (any outcome is classified)
        if isinstance(e, (KeyboardInterrupt, SystemExit)) and not isinstance(e, row.exc):
            raise
        message = str(e)
        if isinstance(e, row.exc) and all(n in message for n in row.names):
            return "clear", f"{type(e).__name__}: {message}"
        return "unclear", f"{type(e).__name__}: {message}"
    return "accepted", "no exception"


def count(table) -> dict:
    """How many rows of ``table`` end clear, unclear or accepted (by area and in total)."""
    totals = {"clear": 0, "unclear": 0, "accepted": 0}
    by_area = {}
    for row in table:
        kind, _ = outcome(row)
        totals[kind] += 1
        by_area.setdefault(row.area, {"clear": 0, "unclear": 0, "accepted": 0})[kind] += 1
    return {"total": totals, "by_area": by_area, "rows": len(table)}
