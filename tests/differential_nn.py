"""Cases of ``tests/test_differential_fuzz_more.py`` from ``xg.nn``: conv1d/conv2d (stride,
padding "same" too, dilation, groups, bias, channels first and last), max and average pooling
(padding, ceil_mode, dilation, count_include_pad, divisor_override; max pooling at ties too:
as PyTorch, the first maximum of a window gets the gradient, docs/convolution.md),
layer_norm, group_norm, rms_norm and embedding with padding_idx, against
``torch.nn.functional``. See ``differential_cases.py`` for ``Case``.
"""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import assume
from hypothesis import strategies as st

import xpgrad as xg
from differential_cases import Case, _distinct, _rng, _t

TF = torch.nn.functional


def _per_axis(draw, dims, values):
    """An int, or a tuple of ``dims`` ints when ``dims`` > 1."""
    if dims == 1 or draw(st.booleans()):
        return draw(values)
    return tuple(draw(values) for _ in range(dims))


def _each(value, dims):
    return (value,) * dims if isinstance(value, int) else value


@st.composite
def convolutions(draw):
    rng = _rng(draw)
    dims = draw(st.sampled_from([1, 2]))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    stride = _per_axis(draw, dims, st.integers(1, 3))
    padding = _per_axis(draw, dims, st.integers(0, 2))
    dilation = _per_axis(draw, dims, st.integers(1, 2))
    reach = [d * (k - 1) + 1 - 2 * p for k, d, p in
             zip(kernel, _each(dilation, dims), _each(padding, dims))]
    spatial = tuple(max(r, 1) + draw(st.integers(0, 4)) for r in reach)
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    x = rng.normal(size=batch + (c_in,) + spatial)
    w = rng.normal(size=(c_out, c_in // groups) + kernel)
    b = rng.normal(size=c_out) if draw(st.booleans()) else None
    if stride == 1 and draw(st.booleans()):
        padding = "same"
    channels_last = draw(st.booleans())     # Keras's: input (N, *spatial, C), weight HWIO
    if channels_last:
        x, w = np.moveaxis(x, -dims - 1, -1), np.moveaxis(w, (0, 1), (-1, -2))
    inputs = [x, w] + ([] if b is None else [b])
    name = f"conv{dims}d"
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    data_format = "channels_last" if channels_last else "channels_first"

    def ours(a):
        return getattr(xg.nn, name)(a[0], a[1], a[2] if len(a) > 2 else None,
                                    data_format=data_format, **options)

    def theirs(t):
        x, w = t[0], t[1]
        if channels_last:
            x, w = x.movedim(-1, -dims - 1), w.movedim((-1, -2), (0, 1))
        y = getattr(TF, name)(x, w, t[2] if len(t) > 2 else None, **options)
        return y.movedim(-dims - 1, -1) if channels_last else y
    return Case(f"{name}({x.shape}, {w.shape}, bias={b is not None}, {data_format}, "
                f"{options})", ours, theirs, inputs)


@st.composite
def poolings(draw):
    rng = _rng(draw)
    dims = draw(st.sampled_from([1, 2]))
    kind = draw(st.sampled_from(["max", "avg"]))
    kernel = _per_axis(draw, dims, st.integers(1, 3))
    stride = draw(st.one_of(st.none(), st.just(_per_axis(draw, dims, st.integers(1, 3)))))
    padding = tuple(draw(st.integers(0, k // 2)) for k in _each(kernel, dims))
    padding = padding[0] if len(set(padding)) == 1 and draw(st.booleans()) else padding
    ceil_mode = draw(st.booleans())
    options = dict(stride=stride, padding=padding, ceil_mode=ceil_mode)
    if kind == "max":
        options["dilation"] = _per_axis(draw, dims, st.integers(1, 2))
    else:
        options["count_include_pad"] = draw(st.booleans())
        if dims == 2 and draw(st.booleans()):
            options["divisor_override"] = draw(st.integers(1, 5))
    dilation = _each(options.get("dilation", 1), dims)
    spatial = tuple(d * (k - 1) + 1 + draw(st.integers(0, 4))
                    for k, d in zip(_each(kernel, dims), dilation))
    shape = draw(st.sampled_from([(), (2,)])) + (draw(st.integers(1, 3)),) + spatial
    x = rng.normal(size=shape)
    if kind == "max":       # distinct, or ties: the first of a window's maxima gets its gradient
        x = rng.integers(-1, 2, size=shape) * 1.0 if draw(st.booleans()) else _distinct(rng,
                                                                                          shape)
    name = f"{kind}_pool{dims}d"
    with torch.no_grad():
        try:
            getattr(TF, name)(_t(x), kernel, **options)
        except RuntimeError:        # an output of size 0: refused by both, elsewhere tested
            assume(False)
    return Case(f"{name}({shape}, {kernel}, {options})",
                lambda a: getattr(xg.nn, name)(a[0], kernel, **options),
                lambda t: getattr(TF, name)(t[0], kernel, **options), [x])


@st.composite
def normalizations(draw):
    rng = _rng(draw)
    which = draw(st.sampled_from(["layer_norm", "group_norm", "rms_norm"]))
    affine = draw(st.booleans())
    eps = draw(st.sampled_from([1e-5, 0.1]))
    if which == "group_norm":
        groups = draw(st.integers(1, 3))
        c = groups * draw(st.integers(1, 3))
        shape = (draw(st.integers(1, 3)), c) + tuple(draw(st.lists(st.integers(1, 4),
                                                                  max_size=2)))
        if c // groups * int(np.prod(shape[2:], dtype=int)) == 1:
            shape += (2,)           # PyTorch refuses groups of one entry
        x = rng.normal(size=shape) * 2 + 1
        params = [rng.normal(size=c), rng.normal(size=c)] if affine else []
        return Case(f"group_norm({shape}, {groups}, affine={affine}, eps={eps})",
                    lambda a: xg.nn.group_norm(a[0], groups, *a[1:], eps=eps),
                    lambda t: TF.group_norm(t[0], groups, *t[1:], eps=eps), [x] + params)
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    normalized = shape[len(shape) - draw(st.integers(1, len(shape))):]
    x = rng.normal(size=shape) * 2 + 1
    params = [rng.normal(size=normalized)] if affine else []
    if which == "layer_norm" and affine and draw(st.booleans()):
        params.append(rng.normal(size=normalized))
    ours, theirs = getattr(xg.nn, which), getattr(TF, which)
    return Case(f"{which}({shape}, {normalized}, params={len(params)}, eps={eps})",
                lambda a: ours(a[0], normalized, *a[1:], eps=eps),
                lambda t: theirs(t[0], normalized, *t[1:], eps=eps), [x] + params)


@st.composite
def embeddings(draw):
    rng = _rng(draw)
    rows, width = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    ids = rng.integers(0, rows, size=tuple(draw(st.lists(st.integers(0, 4), max_size=2))))
    padding_idx = draw(st.one_of(st.none(), st.integers(-rows, rows - 1)))
    w = rng.normal(size=(rows, width))
    return Case(f"embedding({ids.tolist()}, rows={rows}, padding_idx={padding_idx})",
                lambda a: xg.nn.embedding(xg.asarray(ids), a[0], padding_idx=padding_idx),
                lambda t: TF.embedding(_t(ids), t[0], padding_idx=padding_idx), [w])
