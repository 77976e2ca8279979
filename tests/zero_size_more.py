"""The zero-size cases of tests/test_zero_size_torch.py, part two: the functions, transformer
and recurrent variants, and the losses (each reduction).

>>> len(CASES) > 100
True
"""
from __future__ import annotations

import pytest

import xpgrad as xg
from zero_size_layers import axis, function, is_torch, layer

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

CASES = [
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
