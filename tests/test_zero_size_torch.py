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
F = torch.nn.functional
F64 = {"dtype": xg.float64}


def is_torch(namespace):
    return namespace is torch.nn or namespace is F


def layer(build):
    """A case built from ``xg.nn`` / ``torch.nn``: ``build(nn, dtype_keywords)``."""
    return lambda ours: build(xg.nn, F64) if ours else build(torch.nn, {})


def function(build):
    """A case built from ``xg.nn`` / ``torch.nn.functional``: ``build(namespace)``."""
    return lambda ours: build(xg.nn) if ours else build(F)


def axis(namespace, value):
    """The keyword that names an axis: PyTorch's ``dim``, xpgrad's ``axis``."""
    return {"dim": value} if is_torch(namespace) else {"axis": value}


# (id, build, inputs): inputs are (shape, kind); kind "x" a differentiated float input,
# "p" a probability, "+" positive, "s" a sign, "iN" integers in [0, N), "c" a constant float.
CASES = [
    ("Linear in 0", layer(lambda nn, d: nn.Linear(0, 3, **d)), [((2, 0), "x")]),
    ("Linear out 0", layer(lambda nn, d: nn.Linear(3, 0, **d)), [((2, 3), "x")]),
    ("Linear batch 0", layer(lambda nn, d: nn.Linear(3, 4, **d)), [((0, 3), "x")]),
    ("Linear 3-d batch 0", layer(lambda nn, d: nn.Linear(3, 4, **d)), [((2, 0, 3), "x")]),
    ("linear in 0", function(lambda f: f.linear if is_torch(f) else
                             lambda x, w, b: f.linear(x, w.T, b)),   # xpgrad's w is (in, out)
     [((2, 0), "x"), ((3, 0), "x"), ((3,), "x")]),
    ("Conv1d in 0", layer(lambda nn, d: nn.Conv1d(0, 2, 3, **d)), [((1, 0, 5), "x")]),
    ("Conv1d out 0", layer(lambda nn, d: nn.Conv1d(2, 0, 3, **d)), [((1, 2, 5), "x")]),
    ("Conv1d batch 0", layer(lambda nn, d: nn.Conv1d(2, 3, 3, **d)), [((0, 2, 5), "x")]),
    ("Conv1d length 0", layer(lambda nn, d: nn.Conv1d(2, 3, 3, padding=1, **d)),
     [((1, 2, 0), "x")]),
    ("Conv2d in 0", layer(lambda nn, d: nn.Conv2d(0, 2, 3, **d)), [((1, 0, 4, 4), "x")]),
    ("Conv2d out 0", layer(lambda nn, d: nn.Conv2d(2, 0, 3, **d)), [((1, 2, 4, 4), "x")]),
    ("Conv2d batch 0", layer(lambda nn, d: nn.Conv2d(2, 3, 3, **d)), [((0, 2, 4, 4), "x")]),
    ("Conv2d height 0", layer(lambda nn, d: nn.Conv2d(2, 3, 1, **d)), [((1, 2, 0, 4), "x")]),
    ("ConvTranspose1d in 0", layer(lambda nn, d: nn.ConvTranspose1d(0, 2, 3, **d)),
     [((1, 0, 4), "x")]),
    ("ConvTranspose1d out 0", layer(lambda nn, d: nn.ConvTranspose1d(2, 0, 3, **d)),
     [((1, 2, 4), "x")]),
    ("ConvTranspose1d batch 0", layer(lambda nn, d: nn.ConvTranspose1d(2, 3, 3, **d)),
     [((0, 2, 4), "x")]),
    ("ConvTranspose1d length 0", layer(lambda nn, d: nn.ConvTranspose1d(2, 3, 3, **d)),
     [((1, 2, 0), "x")]),
    ("ConvTranspose2d in 0", layer(lambda nn, d: nn.ConvTranspose2d(0, 2, 3, **d)),
     [((1, 0, 2, 2), "x")]),
    ("ConvTranspose2d batch 0", layer(lambda nn, d: nn.ConvTranspose2d(2, 3, 3, **d)),
     [((0, 2, 2, 2), "x")]),
]

for _pool in ["MaxPool1d", "AvgPool1d"]:
    CASES += [(f"{_pool} {where}", layer(lambda nn, d, _pool=_pool: getattr(nn, _pool)(2)),
               [(shape, "x")]) for where, shape in
              [("batch 0", (0, 2, 4)), ("channels 0", (1, 0, 4)), ("length 0", (1, 2, 0))]]
for _pool in ["MaxPool2d", "AvgPool2d"]:
    CASES += [(f"{_pool} {where}", layer(lambda nn, d, _pool=_pool: getattr(nn, _pool)(2)),
               [(shape, "x")]) for where, shape in
              [("batch 0", (0, 2, 4, 4)), ("channels 0", (1, 0, 4, 4)),
               ("height 0", (1, 2, 0, 4))]]
for _pool in ["AdaptiveAvgPool1d", "AdaptiveMaxPool1d"]:
    CASES += [(f"{_pool} {where}", layer(lambda nn, d, _pool=_pool, _out=out:
                                         getattr(nn, _pool)(_out)), [(shape, "x")])
              for where, shape, out in
              [("batch 0", (0, 2, 4), 2), ("channels 0", (1, 0, 4), 2),
               ("length 0", (1, 2, 0), 2), ("output 0", (1, 2, 4), 0)]]
for _pool in ["AdaptiveAvgPool2d", "AdaptiveMaxPool2d"]:
    CASES += [(f"{_pool} {where}", layer(lambda nn, d, _pool=_pool, _out=out:
                                         getattr(nn, _pool)(_out)), [(shape, "x")])
              for where, shape, out in
              [("batch 0", (0, 2, 4, 4), 2), ("channels 0", (1, 0, 4, 4), 2),
               ("height 0", (1, 2, 0, 4), 2), ("output 0", (1, 2, 4, 4), (0, 2))]]

CASES += [
    ("BatchNorm1d features 0", layer(lambda nn, d: nn.BatchNorm1d(0, **d)), [((4, 0), "x")]),
    ("BatchNorm1d batch 0", layer(lambda nn, d: nn.BatchNorm1d(3, **d)), [((0, 3), "x")]),
    ("BatchNorm1d length 0", layer(lambda nn, d: nn.BatchNorm1d(3, **d)), [((2, 3, 0), "x")]),
    ("BatchNorm2d spatial 0", layer(lambda nn, d: nn.BatchNorm2d(3, **d)),
     [((2, 3, 0, 2), "x")]),
    ("BatchNorm1d eval batch 0", layer(lambda nn, d: nn.BatchNorm1d(3, **d).eval()),
     [((0, 3), "x")]),
    ("LayerNorm features 0", layer(lambda nn, d: nn.LayerNorm(0, **d)), [((2, 0), "x")]),
    ("LayerNorm batch 0", layer(lambda nn, d: nn.LayerNorm(3, **d)), [((0, 3), "x")]),
    ("RMSNorm features 0", layer(lambda nn, d: nn.RMSNorm(0, **d)), [((2, 0), "x")]),
    ("GroupNorm channels 0", layer(lambda nn, d: nn.GroupNorm(1, 0, **d)), [((2, 0, 3), "x")]),
    ("GroupNorm batch 0", layer(lambda nn, d: nn.GroupNorm(2, 4, **d)), [((0, 4, 3), "x")]),
    ("GroupNorm length 0", layer(lambda nn, d: nn.GroupNorm(2, 4, **d)), [((2, 4, 0), "x")]),
    ("InstanceNorm1d channels 0", layer(lambda nn, d: nn.InstanceNorm1d(0, **d)),
     [((2, 0, 3), "x")]),
    ("InstanceNorm1d affine channels 0",
     layer(lambda nn, d: nn.InstanceNorm1d(0, affine=True, **d)), [((2, 0, 3), "x")]),
    ("InstanceNorm1d batch 0", layer(lambda nn, d: nn.InstanceNorm1d(3, **d)),
     [((0, 3, 4), "x")]),
    ("InstanceNorm1d length 0", layer(lambda nn, d: nn.InstanceNorm1d(3, **d)),
     [((2, 3, 0), "x")]),
    ("InstanceNorm2d height 0", layer(lambda nn, d: nn.InstanceNorm2d(3, **d)),
     [((2, 3, 0, 4), "x")]),
    ("group_norm channels 0", function(lambda f: lambda x: f.group_norm(x, 1)),
     [((2, 0, 3), "x")]),
    ("layer_norm features 0", function(lambda f: lambda x: f.layer_norm(x, (0,))),
     [((2, 0), "x")]),
]

for _name in ["ReLU", "ReLU6", "ELU", "CELU", "SELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh",
              "Softplus", "Softsign", "Hardtanh", "Hardsigmoid", "Hardswish", "LeakyReLU",
              "LogSigmoid", "Identity", "Dropout", "Dropout1d", "Dropout2d"]:
    _make = (lambda nn, d, _n=_name: getattr(nn, _n)(0.5).eval()) if "Dropout" in _name else \
        (lambda nn, d, _n=_name: getattr(nn, _n)())
    CASES += [(f"{_name} {where}", layer(_make), [(shape, "x")])
              for where, shape in [("batch 0", (0, 3, 2)), ("features 0", (2, 0, 2))]]
for _name in ["Softmax", "LogSoftmax"]:
    CASES += [(f"{_name} {where}", layer(lambda nn, d, _n=_name: getattr(nn, _n)(
        **axis(nn, 1))), [(shape, "x")]) for where, shape in [("batch 0", (0, 3)),
                                                              ("features 0", (2, 0))]]
for _name in ["relu", "relu6", "elu", "celu", "selu", "gelu", "silu", "mish", "sigmoid", "tanh",
              "softplus", "softsign", "hardtanh", "hardsigmoid", "hardswish", "leaky_relu"]:
    CASES.append((f"{_name} features 0", function(lambda f, _n=_name: getattr(f, _n)),
                  [((2, 0), "x")]))
CASES += [
    ("softmax features 0", function(lambda f: lambda x: f.softmax(x, **axis(f, 1))),
     [((2, 0), "x")]),
    ("log_softmax batch 0", function(lambda f: lambda x: f.log_softmax(x, **axis(f, 1))),
     [((0, 3), "x")]),
    ("GLU features 0", layer(lambda nn, d: nn.GLU()), [((2, 0), "x")]),
    ("GLU batch 0", layer(lambda nn, d: nn.GLU()), [((0, 4), "x")]),
    ("glu features 0", function(lambda f: f.glu), [((2, 0), "x")]),
    ("Flatten batch 0", layer(lambda nn, d: nn.Flatten()), [((0, 3, 2), "x")]),
    ("Flatten features 0", layer(lambda nn, d: nn.Flatten()), [((2, 0, 2), "x")]),
    ("Unflatten batch 0", layer(lambda nn, d: nn.Unflatten(1, (2, 3))), [((0, 6), "x")]),
    ("Embedding rows 0 no ids", layer(lambda nn, d: nn.Embedding(0, 3, **d)),
     [((2, 0), "i1")]),
    ("Embedding dim 0", layer(lambda nn, d: nn.Embedding(5, 0, **d)), [((2, 3), "i5")]),
    ("Embedding ids 0", layer(lambda nn, d: nn.Embedding(5, 3, **d)), [((0,), "i5")]),
    ("embedding ids 0", function(lambda f: f.embedding), [((0, 2), "i5"), ((5, 3), "x")]),
    ("EmbeddingBag bags 0", layer(lambda nn, d: nn.EmbeddingBag(5, 3, mode="sum", **d)),
     [((0, 2), "i5")]),
    ("EmbeddingBag bag size 0", layer(lambda nn, d: nn.EmbeddingBag(5, 3, mode="mean", **d)),
     [((2, 0), "i5")]),
    ("EmbeddingBag dim 0", layer(lambda nn, d: nn.EmbeddingBag(5, 0, mode="max", **d)),
     [((2, 3), "i5")]),
    ("one_hot ids 0", function(lambda f: lambda i: f.one_hot(i, 4) * 1.0), [((0,), "i4")]),
    ("PixelShuffle batch 0", layer(lambda nn, d: nn.PixelShuffle(2)), [((0, 4, 2, 2), "x")]),
    ("PixelShuffle channels 0", layer(lambda nn, d: nn.PixelShuffle(2)),
     [((1, 0, 2, 2), "x")]),
    ("PixelShuffle height 0", layer(lambda nn, d: nn.PixelShuffle(2)), [((1, 4, 0, 2), "x")]),
    ("PixelUnshuffle height 0", layer(lambda nn, d: nn.PixelUnshuffle(2)),
     [((1, 1, 0, 2), "x")]),
    ("PixelUnshuffle channels 0", layer(lambda nn, d: nn.PixelUnshuffle(2)),
     [((1, 0, 2, 2), "x")]),
]

for _name, _args in [("ConstantPad1d", (1, 0.5)), ("ZeroPad1d", (1,)), ("ReflectionPad1d", (1,)),
                     ("ReplicationPad1d", (1,)), ("CircularPad1d", (1,))]:
    CASES += [(f"{_name} {where}", layer(lambda nn, d, _n=_name, _a=_args:
                                         getattr(nn, _n)(*_a)), [(shape, "x")])
              for where, shape in [("batch 0", (0, 2, 3)), ("channels 0", (2, 0, 3)),
                                   ("length 0", (2, 3, 0))]]
for _name, _args in [("ConstantPad2d", (1, 0.5)), ("ZeroPad2d", (1,)), ("ReflectionPad2d", (1,)),
                     ("ReplicationPad2d", (1,)), ("CircularPad2d", (1,))]:
    CASES += [(f"{_name} {where}", layer(lambda nn, d, _n=_name, _a=_args:
                                         getattr(nn, _n)(*_a)), [(shape, "x")])
              for where, shape in [("batch 0", (0, 2, 3, 3)), ("height 0", (1, 2, 0, 3))]]
CASES += [
    ("pad constant length 0", function(lambda f: lambda x: f.pad(x, (1, 2))),
     [((2, 3, 0), "x")]),
    ("pad reflect length 0", function(lambda f: lambda x: f.pad(x, (1, 1), mode="reflect")),
     [((2, 3, 0), "x")]),
]

for _name, _kw in [("Upsample", {"scale_factor": 2}), ("UpsamplingNearest2d", {"scale_factor": 2}),
                   ("UpsamplingBilinear2d", {"scale_factor": 2})]:
    CASES += [(f"{_name} {where}", layer(lambda nn, d, _n=_name, _k=_kw: getattr(nn, _n)(**_k)),
               [(shape, "x")]) for where, shape in
              [("batch 0", (0, 2, 3, 3)), ("channels 0", (1, 0, 3, 3)),
               ("height 0", (1, 2, 0, 3))]]
CASES += [
    ("Upsample linear length 0",
     layer(lambda nn, d: nn.Upsample(scale_factor=2, mode="linear")), [((1, 2, 0), "x")]),
    ("interpolate size 0", function(lambda f: lambda x: f.interpolate(x, size=0)),
     [((1, 2, 3), "x")]),
]

for _name in ["RNN", "LSTM", "GRU"]:
    CASES += [(f"{_name} {where}", layer(lambda nn, d, _n=_name, _s=sizes:
                                         getattr(nn, _n)(*_s, batch_first=False, **d)),
               [(shape, "x")])
              for where, sizes, shape in
              [("batch 0", (3, 4), (5, 0, 3)), ("sequence 0", (3, 4), (0, 2, 3)),
               ("input 0", (0, 4), (5, 2, 0)), ("hidden 0", (3, 0), (5, 2, 3)),
               ("unbatched sequence 0", (3, 4), (0, 3))]]
for _name in ["RNNCell", "LSTMCell", "GRUCell"]:
    CASES += [(f"{_name} {where}", layer(lambda nn, d, _n=_name, _s=sizes:
                                         getattr(nn, _n)(*_s, **d)), [(shape, "x")])
              for where, sizes, shape in
              [("batch 0", (3, 4), (0, 3)), ("input 0", (0, 4), (2, 0)),
               ("hidden 0", (3, 0), (2, 3))]]

CASES += [
    ("MultiheadAttention sequence 0",
     layer(lambda nn, d: nn.MultiheadAttention(4, 2, batch_first=True, **d)),
     [((2, 3, 4), "x"), ((2, 0, 4), "x"), ((2, 0, 4), "x")]),
    ("MultiheadAttention queries 0",
     layer(lambda nn, d: nn.MultiheadAttention(4, 2, batch_first=True, **d)),
     [((2, 0, 4), "x"), ((2, 3, 4), "x"), ((2, 3, 4), "x")]),
    ("MultiheadAttention batch 0",
     layer(lambda nn, d: nn.MultiheadAttention(4, 2, batch_first=True, **d)),
     [((0, 3, 4), "x"), ((0, 3, 4), "x"), ((0, 3, 4), "x")]),
    ("scaled_dot_product_attention keys 0", function(lambda f: f.scaled_dot_product_attention),
     [((2, 3, 4), "x"), ((2, 0, 4), "x"), ((2, 0, 4), "x")]),
    ("scaled_dot_product_attention features 0",
     function(lambda f: f.scaled_dot_product_attention),
     [((2, 3, 0), "x"), ((2, 3, 0), "x"), ((2, 3, 2), "x")]),
    ("TransformerEncoderLayer sequence 0",
     layer(lambda nn, d: nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True,
                                                    **d)), [((2, 0, 4), "x")]),
    ("TransformerEncoderLayer batch 0",
     layer(lambda nn, d: nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True,
                                                    **d)), [((0, 3, 4), "x")]),
    ("cosine_similarity batch 0", function(lambda f: f.cosine_similarity),
     [((0, 3), "x"), ((0, 3), "x")]),
    ("cosine_similarity features 0", function(lambda f: f.cosine_similarity),
     [((2, 0), "x"), ((2, 0), "x")]),
    ("pairwise_distance features 0", function(lambda f: f.pairwise_distance),
     [((2, 0), "x"), ((2, 0), "x")]),
    ("normalize features 0", function(lambda f: f.normalize), [((2, 0), "x")]),
    ("normalize batch 0", function(lambda f: f.normalize), [((0, 3), "x")]),
]

CASES += [
    ("Linear no bias out 0", layer(lambda nn, d: nn.Linear(3, 0, bias=False, **d)),
     [((2, 3), "x")]),
    ("conv1d batch 0", function(lambda f: f.conv1d), [((0, 2, 5), "x"), ((3, 2, 3), "x"),
                                                      ((3,), "x")]),
    ("conv1d in 0", function(lambda f: f.conv1d), [((1, 0, 5), "x"), ((3, 0, 3), "x")]),
    ("conv2d batch 0", function(lambda f: lambda x, w: f.conv2d(x, w, padding=1)),
     [((0, 2, 3, 3), "x"), ((3, 2, 3, 3), "x")]),
    ("conv_transpose1d batch 0", function(lambda f: f.conv_transpose1d),
     [((0, 2, 4), "x"), ((2, 3, 3), "x"), ((3,), "x")]),
    ("conv_transpose2d batch 0", function(lambda f: lambda x, w: f.conv_transpose2d(x, w,
                                                                                 stride=2)),
     [((0, 2, 2, 2), "x"), ((2, 3, 3, 3), "x")]),
    ("batch_norm training batch 0", function(lambda f: lambda x, w, b: f.batch_norm(
        x, None, None, w, b, training=True)), [((0, 3), "x"), ((3,), "x"), ((3,), "x")]),
    ("batch_norm training length 0", function(lambda f: lambda x, w, b: f.batch_norm(
        x, None, None, w, b, training=True)), [((2, 3, 0), "x"), ((3,), "x"), ((3,), "x")]),
    ("batch_norm eval batch 0", function(lambda f: lambda x, m, v: f.batch_norm(x, m, v)),
     [((0, 3), "x"), ((3,), "c"), ((3,), "+")]),
    ("rms_norm batch 0", function(lambda f: lambda x, w: f.rms_norm(x, (3,), w)),
     [((0, 3), "x"), ((3,), "x")]),
    ("layer_norm batch 0", function(lambda f: lambda x, w, b: f.layer_norm(x, (3,), w, b)),
     [((0, 3), "x"), ((3,), "x"), ((3,), "x")]),
    ("group_norm batch 0", function(lambda f: lambda x, w, b: f.group_norm(x, 2, w, b)),
     [((0, 4, 3), "x"), ((4,), "x"), ((4,), "x")]),
    ("LayerNorm no affine features 0",
     layer(lambda nn, d: nn.LayerNorm(0, elementwise_affine=False, **d)), [((2, 0), "x")]),
    ("InstanceNorm1d running statistics batch 0",
     layer(lambda nn, d: nn.InstanceNorm1d(3, track_running_stats=True, **d)),
     [((0, 3, 4), "x")]),
    ("BatchNorm2d batch 0", layer(lambda nn, d: nn.BatchNorm2d(3, **d)), [((0, 3, 2, 2), "x")]),
    ("dropout batch 0", function(lambda f: lambda x: f.dropout(x, 0.5, False)),
     [((0, 3), "x")]),
    ("pixel_shuffle batch 0", function(lambda f: lambda x: f.pixel_shuffle(x, 2)),
     [((0, 4, 2, 2), "x")]),
    ("pixel_unshuffle batch 0", function(lambda f: lambda x: f.pixel_unshuffle(x, 2)),
     [((0, 1, 2, 2), "x")]),
    ("adaptive_avg_pool2d batch 0", function(lambda f: lambda x: f.adaptive_avg_pool2d(x, 3)),
     [((0, 2, 4, 4), "x")]),
    ("adaptive_max_pool1d batch 0", function(lambda f: lambda x: f.adaptive_max_pool1d(x, 3)),
     [((0, 2, 5), "x")]),
    ("max_pool1d indices batch 0", function(lambda f: lambda x: f.max_pool1d(
        x, 2, return_indices=True)[0]), [((0, 2, 4), "x")]),
    ("max_pool2d padding batch 0", function(lambda f: lambda x: f.max_pool2d(x, 3, 2, 1)),
     [((0, 2, 5, 5), "x")]),
    ("avg_pool2d ceil batch 0", function(lambda f: lambda x: f.avg_pool2d(
        x, 2, ceil_mode=True)), [((0, 2, 5, 5), "x")]),
    ("avg_pool1d padding batch 0", function(lambda f: lambda x: f.avg_pool1d(x, 3, 1, 1)),
     [((0, 2, 5), "x")]),
    ("embedding_bag offsets no ids", function(lambda f: lambda i, o, w: f.embedding_bag(
        i, w, o, mode="mean")), [((0,), "i5"), ((2,), "i1"), ((5, 3), "x")]),
    *[(f"embedding_bag {mode} offsets no bags", function(
        lambda f, _m=mode: lambda i, o, w: f.embedding_bag(i, w, o, mode=_m)),
       [((0,), "i5"), ((0,), "i1"), ((5, 3), "x")]) for mode in ("sum", "mean", "max")],
    ("embedding_bag offsets 0 with ids", function(lambda f: lambda i, o, w: f.embedding_bag(
        i, w, o, mode="sum")), [((3,), "i5"), ((0,), "i1"), ((5, 3), "x")]),
    ("Embedding padding ids 0", layer(lambda nn, d: nn.Embedding(5, 3, padding_idx=0, **d)),
     [((0, 4), "i5")]),
    ("interpolate bilinear batch 0", function(lambda f: lambda x: f.interpolate(
        x, scale_factor=2, mode="bilinear")), [((0, 2, 3, 3), "x")]),
    ("interpolate linear align batch 0", function(lambda f: lambda x: f.interpolate(
        x, size=5, mode="linear", align_corners=True)), [((0, 2, 3), "x")]),
    ("Upsample size 0", layer(lambda nn, d: nn.Upsample(size=0)), [((1, 2, 3), "x")]),
    ("pad replicate batch 0", function(lambda f: lambda x: f.pad(x, (1, 2), mode="replicate")),
     [((0, 2, 3), "x")]),
    ("pad circular batch 0", function(lambda f: lambda x: f.pad(x, (1, 1, 1, 1),
                                                               mode="circular")),
     [((0, 2, 3, 3), "x")]),
    ("pad negative to 0", function(lambda f: lambda x: f.pad(x, (-1, -2))), [((2, 3), "x")]),
    ("softmax batch 0", function(lambda f: lambda x: f.softmax(x, **axis(f, 0))),
     [((0, 3), "x")]),
    ("pairwise_distance batch 0", function(lambda f: f.pairwise_distance),
     [((0, 3), "x"), ((0, 3), "x")]),
    ("normalize p1 features 0", function(lambda f: lambda x: f.normalize(x, 1.0)),
     [((2, 0), "x")]),
    ("scaled_dot_product_attention queries 0",
     function(lambda f: f.scaled_dot_product_attention),
     [((2, 0, 4), "x"), ((2, 3, 4), "x"), ((2, 3, 4), "x")]),
    ("scaled_dot_product_attention batch 0",
     function(lambda f: lambda q, k, v: f.scaled_dot_product_attention(q, k, v, is_causal=True)),
     [((0, 3, 4), "x"), ((0, 3, 4), "x"), ((0, 3, 4), "x")]),
    ("scaled_dot_product_attention values 0",
     function(lambda f: f.scaled_dot_product_attention),
     [((2, 3, 4), "x"), ((2, 3, 4), "x"), ((2, 3, 0), "x")]),
    ("MultiheadAttention embed 0",
     layer(lambda nn, d: nn.MultiheadAttention(0, 1, batch_first=True, **d)),
     [((2, 3, 0), "x"), ((2, 3, 0), "x"), ((2, 3, 0), "x")]),
    ("TransformerDecoderLayer target 0",
     layer(lambda nn, d: nn.TransformerDecoderLayer(4, 2, 8, dropout=0.0, batch_first=True,
                                                    **d)), [((2, 0, 4), "x"), ((2, 3, 4), "x")]),
    ("TransformerDecoderLayer memory 0",
     layer(lambda nn, d: nn.TransformerDecoderLayer(4, 2, 8, dropout=0.0, batch_first=True,
                                                    **d)), [((2, 3, 4), "x"), ((2, 0, 4), "x")]),
    ("TransformerEncoderLayer norm first sequence 0",
     layer(lambda nn, d: nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True,
                                                    norm_first=True, **d)), [((2, 0, 4), "x")]),
    ("Transformer batch 0",
     layer(lambda nn, d: nn.Transformer(4, 2, 1, 1, 8, dropout=0.0, batch_first=True, **d)),
     [((0, 3, 4), "x"), ((0, 2, 4), "x")]),
    ("LSTM bidirectional batch 0",
     layer(lambda nn, d: nn.LSTM(3, 2, 2, batch_first=True, bidirectional=True, **d)),
     [((0, 4, 3), "x")]),
    ("GRU two layers batch 0", layer(lambda nn, d: nn.GRU(3, 2, 2, batch_first=True, **d)),
     [((0, 4, 3), "x")]),
    ("RNN relu batch 0",
     layer(lambda nn, d: nn.RNN(3, 2, nonlinearity="relu", batch_first=True, **d)),
     [((0, 4, 3), "x")]),
    ("LSTMCell batch 0 state", layer(lambda nn, d: nn.LSTMCell(3, 2, **d)),
     [((0, 3), "x")]),
    ("CTCLoss batch 0", layer(lambda nn, d: nn.CTCLoss()),
     [((5, 0, 4), "x"), ((0, 2), "i3"), ((0,), "i1"), ((0,), "i1")]),
]
for _name, _reduction in [("CrossEntropyLoss", "mean"), ("NLLLoss", "mean"),
                          ("CrossEntropyLoss", "sum")]:
    CASES.append((f"{_name} weight {_reduction} batch 0",
                  layer(lambda nn, d, _n=_name, _r=_reduction: getattr(nn, _n)(
                      weight=torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64) if is_torch(nn)
                      else xg.asarray([1.0, 2.0, 0.5], dtype=xg.float64), reduction=_r)),
                  [((0, 3), "x"), ((0,), "i3")]))
CASES += [
    ("CrossEntropyLoss label smoothing batch 0",
     layer(lambda nn, d: nn.CrossEntropyLoss(label_smoothing=0.1)), [((0, 3), "x"), ((0,), "i3")]),
    ("KLDivLoss batchmean batch 0", layer(lambda nn, d: nn.KLDivLoss(reduction="batchmean")),
     [((0, 3), "x"), ((0, 3), "p")]),
    ("BCELoss weight batch 0",
     layer(lambda nn, d: nn.BCELoss(weight=torch.ones(3, dtype=torch.float64) if is_torch(nn)
                                    else xg.ones(3, dtype=xg.float64))),
     [((0, 3), "p"), ((0, 3), "p")]),
    ("BCEWithLogitsLoss pos_weight batch 0",
     layer(lambda nn, d: nn.BCEWithLogitsLoss(
         pos_weight=torch.full((3,), 2.0, dtype=torch.float64) if is_torch(nn)
         else xg.full((3,), 2.0, dtype=xg.float64))), [((0, 3), "x"), ((0, 3), "p")]),
]

_LOSSES = [("MSELoss", "x", "x"), ("L1Loss", "x", "x"), ("HuberLoss", "x", "x"),
           ("SmoothL1Loss", "x", "x"), ("BCELoss", "p", "p"), ("BCEWithLogitsLoss", "x", "p"),
           ("KLDivLoss", "x", "p"), ("SoftMarginLoss", "x", "s"),
           ("MultiLabelSoftMarginLoss", "x", "p"), ("PoissonNLLLoss", "x", "+"),
           ("HingeEmbeddingLoss", "x", "s")]
for _name, _input, _target in _LOSSES:
    for _reduction in ["mean", "sum", "none"]:
        CASES.append((f"{_name} {_reduction} batch 0",
                      layer(lambda nn, d, _n=_name, _r=_reduction: getattr(nn, _n)(reduction=_r)),
                      [((0, 3), _input), ((0, 3), _target)]))
    CASES.append((f"{_name} features 0", layer(lambda nn, d, _n=_name: getattr(nn, _n)()),
                  [((2, 0), _input), ((2, 0), _target)]))
for _name, _target in [("CrossEntropyLoss", "i3"), ("NLLLoss", "i3"), ("MultiMarginLoss", "i3")]:
    for _reduction in ["mean", "sum", "none"]:
        CASES.append((f"{_name} {_reduction} batch 0",
                      layer(lambda nn, d, _n=_name, _r=_reduction: getattr(nn, _n)(reduction=_r)),
                      [((0, 3), "x"), ((0,), _target)]))
CASES += [
    ("CrossEntropyLoss classes 0", layer(lambda nn, d: nn.CrossEntropyLoss()),
     [((2, 0), "x"), ((2, 0), "c")]),
    ("CrossEntropyLoss probabilities batch 0", layer(lambda nn, d: nn.CrossEntropyLoss()),
     [((0, 3), "x"), ((0, 3), "p")]),
    ("CrossEntropyLoss spatial 0", layer(lambda nn, d: nn.CrossEntropyLoss()),
     [((2, 3, 0), "x"), ((2, 0), "i3")]),
    ("MultiLabelMarginLoss batch 0", layer(lambda nn, d: nn.MultiLabelMarginLoss()),
     [((0, 3), "x"), ((0, 3), "i3")]),
    ("GaussianNLLLoss batch 0", layer(lambda nn, d: nn.GaussianNLLLoss()),
     [((0, 3), "x"), ((0, 3), "x"), ((0, 3), "+")]),
    ("CosineEmbeddingLoss batch 0", layer(lambda nn, d: nn.CosineEmbeddingLoss()),
     [((0, 3), "x"), ((0, 3), "x"), ((0,), "s")]),
    ("MarginRankingLoss batch 0", layer(lambda nn, d: nn.MarginRankingLoss()),
     [((0,), "x"), ((0,), "x"), ((0,), "s")]),
    ("TripletMarginLoss batch 0", layer(lambda nn, d: nn.TripletMarginLoss()),
     [((0, 3), "x"), ((0, 3), "x"), ((0, 3), "x")]),
    ("TripletMarginLoss features 0", layer(lambda nn, d: nn.TripletMarginLoss()),
     [((2, 0), "x"), ((2, 0), "x"), ((2, 0), "x")]),
    ("TripletMarginWithDistanceLoss batch 0",
     layer(lambda nn, d: nn.TripletMarginWithDistanceLoss()),
     [((0, 3), "x"), ((0, 3), "x"), ((0, 3), "x")]),
]


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
