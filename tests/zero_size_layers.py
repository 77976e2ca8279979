"""The zero-size cases of tests/test_zero_size_torch.py, part one: the layers (and a few of
their functions) with a 0 in one axis or size; ``layer`` / ``function`` build a case from
xpgrad's namespace or PyTorch's.

>>> len(CASES) > 100
True
"""
from __future__ import annotations

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
