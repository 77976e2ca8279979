"""Every xg.nn layer and function with a PyTorch twin on zero-size inputs and parameters (a 0 in
the batch, channels, features, spatial or sequence axis in turn; in_features, out_features,
num_channels, hidden_size, embedding_dim 0), against PyTorch on the CPU in float64: the
outputs' values and shapes, the input gradients and the parameter gradients (NaN where PyTorch
gives NaN), or, where PyTorch raises, a ValueError naming the layer or function.

On the current backend: the suite's run with XPGRAD_BACKEND=numba checks the Numba kernels.
Parameter gradients are compared in PyTorch's layout: one SGD step of size 1 on each side,
then ``torch_state_dict()`` before minus after is the gradient under PyTorch's keys.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
from zero_size_layers import CASES as LAYER_CASES  # noqa: E402
from zero_size_more import CASES as MORE_CASES  # noqa: E402

CASES = LAYER_CASES + MORE_CASES


# Where PyTorch raises on a well-defined empty case or answers a number it did not compute,
# xpgrad's answer by choice: case id -> (why, the first output's shape, its entries).
OURS = {
    "MultiMarginLoss mean batch 0": ("PyTorch returns uninitialized memory; the mean over no "
                                     "samples is NaN, as MSELoss's", (), np.nan),
    "MultiLabelMarginLoss batch 0": ("PyTorch returns uninitialized memory; the mean over no "
                                     "samples is NaN, as MSELoss's", (), np.nan),
    "BatchNorm1d features 0": ("PyTorch raises IndexError; no features, an empty output",
                               (4, 0), 0.0),
    "InstanceNorm1d affine channels 0": ("PyTorch raises IndexError; no channels, an empty "
                                         "output", (2, 0, 3), 0.0),
    "AdaptiveMaxPool1d channels 0": ("PyTorch refuses (its adaptive_avg_pool1d answers); "
                                     "pooling no rows is empty", (1, 0, 2), 0.0),
    "AdaptiveMaxPool2d channels 0": ("PyTorch refuses (its adaptive_avg_pool2d answers); "
                                     "pooling no rows is empty", (1, 0, 2, 2), 0.0),
    "PixelUnshuffle channels 0": ("PyTorch returns the input's shape (1, 0, 2, 2)",
                                  (1, 0, 1, 1), 0.0),
    "Conv1d in 0": ("PyTorch gives no output channels; a sum over no input channels is the "
                    "bias, as Linear(0, n)'s", (1, 2, 3), "bias"),
    "Conv2d in 0": ("PyTorch gives no output channels; a sum over no input channels is the "
                    "bias, as Linear(0, n)'s", (1, 2, 2, 2), "bias"),
    "conv1d in 0": ("PyTorch gives no output channels; a sum over no input channels is 0",
                    (1, 3, 3), 0.0),
    "pixel_unshuffle batch 0": ("PyTorch returns the input's shape (0, 1, 2, 2)",
                                (0, 4, 1, 1), 0.0),
    "CTCLoss batch 0": ("PyTorch refuses an empty batch; the mean over no samples is NaN, as "
                        "its other losses' (tests/test_ctc_empty_batch.py)", (), np.nan),
    "EmbeddingBag bag size 0": ("PyTorch raises 'step must be nonzero'; empty bags give "
                                "zeros, as with offsets", (2, 3), 0.0),
    "PixelUnshuffle height 0": ("PyTorch raises on the channels' divisibility by 4; (1, 1, 0, "
                                "2) unshuffles to (1, 4, 0, 1)", (1, 4, 0, 1), 0.0),
    "ReflectionPad1d channels 0": ("PyTorch refuses empty channels; padding each of no rows "
                                   "is empty", (2, 0, 5), 0.0),
    "ReplicationPad1d channels 0": ("PyTorch refuses empty channels; padding each of no rows "
                                    "is empty", (2, 0, 5), 0.0),
    "Upsample channels 0": ("PyTorch refuses empty channels (the batch may be empty)",
                            (1, 0, 6, 6), 0.0),
    "UpsamplingNearest2d channels 0": ("PyTorch refuses empty channels (the batch may be "
                                       "empty)", (1, 0, 6, 6), 0.0),
    "UpsamplingBilinear2d channels 0": ("PyTorch refuses empty channels (the batch may be "
                                        "empty)", (1, 0, 6, 6), 0.0),
}


# Where PyTorch answers and xpgrad refuses by choice: case id -> (why, what the ValueError says).
REFUSED = {
    "embedding_bag offsets 0 with ids": ("ids in no bag: PyTorch drops them silently",
                                         "embedding_bag: offsets must be 1-D and non-empty"),
    "CrossEntropyLoss classes 0": ("no classes to choose from: PyTorch's answer is NaN",
                                   "softmax_cross_entropy: logits need a non-empty class axis"),
}

# PyTorch's NaN that xpgrad answers 0 by choice: (case id, parameter) -> why.
ZERO_NOT_NAN = {
    ("GroupNorm length 0", "weight"): "over no positions nothing depends on the weight: 0, as "
                                      "PyTorch's own InstanceNorm and LayerNorm give",
}


def _inputs(specs):
    rng = np.random.default_rng(0)
    out = []
    for shape, kind in specs:
        if kind.startswith("i"):
            out.append(rng.integers(0, int(kind[1:]), size=shape))
        else:
            value = {"x": rng.normal(size=shape), "c": rng.normal(size=shape),
                     "p": rng.uniform(0.1, 0.9, size=shape), "+": rng.uniform(0.5, 2, size=shape),
                     "s": rng.choice([-1.0, 1.0], size=shape)}[kind]
            out.append(value)
    return out


def _outputs(out):
    """The float arrays of a result (a tensor, or tuples of them: an RNN's states)."""
    if isinstance(out, (tuple, list)):
        return [part for item in out for part in _outputs(item)]
    if out is None:
        return []
    return [out]


def _weights(shapes):
    rng = np.random.default_rng(1)
    return [rng.normal(size=shape) for shape in shapes]


def _theirs(case, arrays, specs):
    """PyTorch's outputs, input gradients, parameter gradients and state dict; the gradients
    None when its backward raises (PyTorch's empty-gradient bugs: PixelShuffle, adaptive
    pooling to or from an empty axis)."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # "Initializing zero-element tensors is a no-op"
        made = case(False)
    module = made.double() if isinstance(made, torch.nn.Module) else made
    tensors = [torch.tensor(a, requires_grad=kind == "x") for a, (_, kind) in zip(arrays, specs)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # its dropout2d's on 3-D input, kl_div's on "mean"
        outs = _outputs(module(*tensors))
    state = module.state_dict() if isinstance(module, torch.nn.Module) else {}
    values = [o.detach().numpy() for o in outs]
    weights = _weights([tuple(o.shape) for o in outs])
    loss = sum((o * torch.tensor(w)).sum() for o, w in zip(outs, weights))
    params = dict(module.named_parameters()) if isinstance(module, torch.nn.Module) else {}
    watched = [t for t in tensors if t.requires_grad] + list(params.values())
    try:
        grads = torch.autograd.grad(loss, watched, allow_unused=True) if loss.requires_grad \
            else [None] * len(watched)
    except RuntimeError:
        return values, None, None, state
    grads = [np.zeros(tuple(t.shape)) if g is None else g.numpy() for t, g in zip(watched, grads)]
    count = len(watched) - len(params)
    return values, grads[:count], dict(zip(params, grads[count:])), state


def _ours(case, arrays, specs, state):
    """xpgrad's outputs, input gradients and parameter gradients (under PyTorch's keys); a
    warning is an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return _ours_quietly(case, arrays, specs, state)


def _ours_quietly(case, arrays, specs, state):
    made = case(True)
    if state and hasattr(made, "load_torch_state_dict"):
        made.load_torch_state_dict(state)
    xs = [xg.asarray(a) for a in arrays]
    variables = made.trainable_variables if isinstance(made, xg.nn.Module) else []
    watched = [x for x, (shape, kind) in zip(xs, specs) if kind == "x"]
    with xg.GradientTape() as tape:
        tape.watch(watched + list(variables))
        outs = _outputs(made(*xs))
        weights = _weights([tuple(o.shape) for o in outs])
        loss = sum(xg.sum(o * xg.asarray(w, dtype=o.dtype)) for o, w in zip(outs, weights))
    grads = tape.gradient(loss, watched + list(variables))
    input_grads = [np.zeros(x.shape) if g is None else g.numpy()
                   for x, g in zip(watched, grads)]
    parameter_grads = {}
    if variables:
        before = made.torch_state_dict()
        for variable, grad in zip(variables, grads[len(watched):]):
            if grad is not None:
                variable.assign(variable - grad)
        after = made.torch_state_dict()
        parameter_grads = {key: np.asarray(before[key]) - np.asarray(after[key])
                           for key in before}
    return [o.numpy() for o in outs], input_grads, parameter_grads


def _same(got, want, what):
    assert got.shape == want.shape, f"{what}: shape {got.shape}, PyTorch's {want.shape}"
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9, equal_nan=True, err_msg=what)


def _refused(case, arrays, specs, name, why):
    with pytest.raises(ValueError) as raised:
        _ours(case, arrays, specs, {})
    said = str(raised.value).replace("_", "").lower()
    assert name.split()[0].replace("_", "").lower() in said, (str(raised.value), why)


def _empty_gradients(input_grads, parameter_grads, arrays, specs):
    """Where PyTorch's backward raises, the input gradients are zeros of the inputs' shapes and
    the parameters' are zeros."""
    inputs = [a for a, (_, kind) in zip(arrays, specs) if kind == "x"]
    for got, a in zip(input_grads, inputs):
        _same(got, np.zeros(a.shape), "gradient of an input")
    for key, got in parameter_grads.items():
        _same(got, np.zeros(got.shape), f"gradient of {key}")


@pytest.mark.parametrize("name, case, specs", CASES, ids=[c[0] for c in CASES])
def test_zero_size_matches_torch(name, case, specs):
    arrays = _inputs(specs)
    if name in REFUSED:
        with pytest.raises(ValueError, match=REFUSED[name][1]):
            _ours(case, arrays, specs, {})
        return
    if name in OURS:
        reason, shape, fill = OURS[name]
        values, input_grads, parameter_grads = _ours(case, arrays, specs, {})
        if fill == "bias":     # the bias on each channel; its gradient the cotangent's sums
            bias = case(True).bias.numpy()
            fill = np.reshape(bias, (1, -1) + (1,) * (len(shape) - 2))
            cotangent = _weights([shape])[0]
            _same(parameter_grads.pop("bias"), cotangent.sum(axis=(0, *range(2, len(shape)))),
                  "gradient of bias")
        _same(values[0], np.broadcast_to(fill, shape), f"output ({reason})")
        _empty_gradients(input_grads, parameter_grads, arrays, specs)
        return
    try:
        want = _theirs(case, arrays, specs)
    except (RuntimeError, ValueError, IndexError) as error:
        _refused(case, arrays, specs, name, str(error))
        return
    values, input_grads, parameter_grads = _ours(case, arrays, specs, want[3])
    assert len(values) == len(want[0])
    for i, (got, expected) in enumerate(zip(values, want[0])):
        _same(got, expected, f"output {i}")
    if want[1] is None:
        _empty_gradients(input_grads, parameter_grads, arrays, specs)
        return
    for i, (got, expected) in enumerate(zip(input_grads, want[1])):
        _same(got, expected, f"gradient of input {i}")
    for key, expected in want[2].items():
        if key.startswith(("bias_ih", "bias_hh")):
            # xpgrad's recurrent layers hold one bias where PyTorch holds two
            assert np.isnan(parameter_grads[key]).any() == np.isnan(expected).any(), key
            continue
        if (name, key) in ZERO_NOT_NAN:
            assert np.isnan(expected).all(), "PyTorch's gradient is no longer NaN"
            expected = np.zeros_like(expected)
        _same(parameter_grads[key], expected, f"gradient of {key}")
