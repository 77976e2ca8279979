"""Cases of ``tests/test_differential_fuzz.py`` that move entries rather than compute them:
the shape functions, indexing (basic, integer and boolean, read and written under a tape) and
the products (matmul, tensordot, einsum). See ``differential_cases.py`` for ``Case``.

Indexing is compared through NumPy's own semantics: ``np.arange(size).reshape(shape)[key]``
names the entries ``x[key]`` reads, and PyTorch gathers (or scatters) exactly those, so keys
PyTorch cannot take itself (negative steps) are checked too.
"""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xpgrad as xg
from differential_cases import NONEMPTY, SHAPES, Case, _axes, _dims, _rng, _t


def _sizes(shape):
    return int(np.prod(shape, dtype=int))


@st.composite
def _new_shape(draw, size):
    """A shape of ``size`` entries, sometimes with one -1."""
    if size == 0:
        shape = draw(st.lists(st.integers(0, 3), min_size=1, max_size=3).filter(
            lambda s: 0 in s))
        return tuple(shape)
    factors, n, p = [], size, 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    ndim = draw(st.integers(1 if factors else 0, 4))
    shape = [1] * ndim
    for f in factors:
        shape[draw(st.integers(0, ndim - 1))] *= f
    if ndim and draw(st.booleans()):
        shape[draw(st.integers(0, ndim - 1))] = -1
    return tuple(shape)


@st.composite
def reshapes(draw):
    shape = draw(SHAPES)
    new = draw(_new_shape(_sizes(shape)))
    x = _rng(draw).normal(size=shape)
    return Case(f"reshape({new})", lambda a: xg.reshape(a[0], new),
                lambda t: t[0].reshape(new), [x])


@st.composite
def axis_moves(draw):
    shape = draw(SHAPES)
    ndim = len(shape)
    x = _rng(draw).normal(size=shape)
    which = draw(st.sampled_from(["permute_dims", "moveaxis", "expand_dims", "flip",
                                  "matrix_transpose", "squeeze", "roll"]))
    if which == "permute_dims":
        axes = tuple(draw(st.permutations(range(ndim))))
        return Case(f"permute_dims({axes})", lambda a: xg.permute_dims(a[0], axes),
                    lambda t: t[0].permute(axes), [x])
    if which == "moveaxis" and ndim:
        source = draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim,
                               unique_by=lambda i: i % ndim))
        dest = draw(st.lists(st.integers(-ndim, ndim - 1), min_size=len(source),
                             max_size=len(source), unique_by=lambda i: i % ndim))
        return Case(f"moveaxis({source}, {dest})", lambda a: xg.moveaxis(a[0], source, dest),
                    lambda t: torch.movedim(t[0], source, dest), [x])
    if which == "flip":
        axis = _axes(draw, ndim)
        dims = _dims(axis, ndim)
        return Case(f"flip({axis})", lambda a: xg.flip(a[0], axis=axis),
                    lambda t: torch.flip(t[0], dims), [x])
    if which == "matrix_transpose" and ndim >= 2:
        return Case("matrix_transpose", lambda a: xg.matrix_transpose(a[0]),
                    lambda t: t[0].transpose(-1, -2), [x])
    if which == "squeeze":
        shape = tuple(1 if draw(st.booleans()) else s for s in shape)
        x = x.flat[:_sizes(shape)].reshape(shape) if x.size >= _sizes(shape) else np.ones(shape)
        ones = [i for i, s in enumerate(shape) if s == 1]
        axis = draw(st.one_of(st.none(), st.sampled_from(ones + [i - ndim for i in ones]),
                              st.lists(st.sampled_from(ones), unique=True).map(tuple))
                    if ones else st.none())
        dims = tuple(ones) if axis is None else _dims(axis, ndim)
        return Case(f"squeeze({axis})", lambda a: xg.squeeze(a[0], axis=axis),
                    lambda t: t[0].squeeze(dims) if dims else t[0], [x])
    if which == "roll":
        axis = _axes(draw, ndim)
        n_shift = 1 if axis is None or isinstance(axis, int) else len(axis)
        shift = draw(st.lists(st.integers(-5, 5), min_size=n_shift, max_size=n_shift))
        shift = shift[0] if n_shift == 1 and draw(st.booleans()) else tuple(shift)
        if axis is None and not isinstance(shift, int):
            shift = shift[0]
        return Case(f"roll({shift}, axis={axis})", lambda a: xg.roll(a[0], shift, axis=axis),
                    lambda t: torch.roll(t[0], shift, axis), [x])
    axis = draw(st.integers(-ndim - 1, ndim))
    return Case(f"expand_dims({axis})", lambda a: xg.expand_dims(a[0], axis=axis),
                lambda t: t[0].unsqueeze(axis), [x])


@st.composite
def joins(draw):
    rng = _rng(draw)
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))
    ndim, k = len(shape), draw(st.integers(1, 3))
    if draw(st.booleans()):
        axis = draw(st.integers(-ndim - 1, ndim))
        xs = [rng.normal(size=shape) for _ in range(k)]
        return Case(f"stack(axis={axis})", lambda a: xg.stack(a, axis=axis),
                    lambda t: torch.stack(t, axis), xs)
    axis = draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1)) if ndim else st.none())
    xs = []
    for _ in range(k):
        s = list(shape)
        if axis is not None:
            s[axis] = draw(st.integers(0, 3))
        xs.append(rng.normal(size=s))
    return Case(f"concat(axis={axis})", lambda a: xg.concat(a, axis=axis),
                lambda t: torch.cat([u.reshape(-1) for u in t] if axis is None else t,
                                    0 if axis is None else axis), xs)


@st.composite
def repetitions(draw):
    rng = _rng(draw)
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))
    x, ndim = rng.normal(size=shape), len(shape)
    which = draw(st.sampled_from(["tile", "repeat", "broadcast_to"]))
    if which == "tile":
        reps = tuple(draw(st.lists(st.integers(0, 3), min_size=0, max_size=ndim + 1)))
        return Case(f"tile({reps})", lambda a: xg.tile(a[0], reps),
                    lambda t: torch.tile(t[0], reps), [x])
    if which == "repeat":
        axis = draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1)) if ndim else st.none())
        n = _sizes(shape) if axis is None else shape[axis]
        counts = draw(st.one_of(st.integers(0, 3),
                                st.lists(st.integers(0, 3), min_size=n, max_size=n)))

        def theirs(t):
            u = t[0].reshape(-1) if axis is None else t[0]
            return torch.repeat_interleave(u, _t(np.asarray(counts, dtype=np.int64)),
                                           0 if axis is None else axis)
        return Case(f"repeat({counts}, axis={axis})",
                    lambda a: xg.repeat(a[0], counts if isinstance(counts, int) else
                                        xg.asarray(np.asarray(counts, dtype=np.int64)),
                                        axis=axis), theirs, [x])
    lead = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
    target = lead + tuple(draw(st.integers(0, 3)) if s == 1 else s for s in shape)
    return Case(f"broadcast_to({target})", lambda a: xg.broadcast_to(a[0], target),
                lambda t: torch.broadcast_to(t[0], target), [x])


@st.composite
def gathers(draw):
    rng = _rng(draw)
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    x, ndim = rng.normal(size=shape), len(shape)
    axis = draw(st.integers(-ndim, ndim - 1))
    n = shape[axis]
    if draw(st.booleans()):
        idx = rng.integers(-n, n, size=draw(st.integers(0, 5)))
        return Case(f"take({idx.tolist()}, axis={axis})",
                    lambda a: xg.take(a[0], xg.asarray(idx), axis=axis),
                    lambda t: torch.index_select(t[0], axis, _t(idx % n)), [x])
    idx_shape = list(shape)
    idx_shape[axis] = draw(st.integers(0, 4))
    idx = rng.integers(0, n, size=idx_shape)
    return Case(f"take_along_axis(axis={axis})",
                lambda a: xg.take_along_axis(a[0], xg.asarray(idx), axis=axis),
                lambda t: torch.take_along_dim(t[0], _t(idx), axis), [x])


@st.composite
def _key(draw, shape, unique):
    """An index of ``shape``: basic (slices with negative steps, ints, None, Ellipsis), integer
    arrays, a boolean mask, or a slice and an array together; ``unique``: no entry twice."""
    rng = _rng(draw)
    kinds = ["basic"]
    if shape and 0 not in shape:
        kinds += ["array", "mask"] + (["mixed"] if len(shape) >= 2 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "basic":
        return draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True,
                                      allow_ellipsis=True))
    if kind == "mask":
        lead = draw(st.integers(1, len(shape)))
        return rng.random(shape[:lead]) < 0.5
    n = shape[0] if kind == "array" else shape[1]
    if unique:
        idx = rng.permutation(n)[:draw(st.integers(0, n))] - draw(st.sampled_from([0, n]))
    else:
        idx = rng.integers(-n, n, size=draw(st.lists(st.integers(0, 3), max_size=2)))
    return idx if kind == "array" else (slice(None, None, -1), idx)


def _as_tensor_key(key):
    if isinstance(key, tuple):
        return tuple(_as_tensor_key(k) for k in key)
    return xg.asarray(key) if isinstance(key, np.ndarray) else key


@st.composite
def indexing(draw):
    shape = draw(NONEMPTY if draw(st.booleans()) else SHAPES)
    rng = _rng(draw)
    x = rng.normal(size=shape)
    write = draw(st.booleans())
    key = draw(_key(shape, unique=write))
    as_tensors = draw(st.booleans())    # index arrays as Tensors, made on the case's backend

    def key_ours():
        return _as_tensor_key(key) if as_tensors else key
    positions = np.arange(_sizes(shape)).reshape(shape)[key]
    flat = _t(positions.reshape(-1))
    if not write:
        return Case(f"getitem({key!r})", lambda a: a[0][key_ours()],
                    lambda t: t[0].reshape(-1)[flat].reshape(positions.shape), [x])
    value_shape = positions.shape[draw(st.integers(0, positions.ndim)):]
    value_shape = tuple(1 if draw(st.booleans()) else s for s in value_shape)
    v = rng.normal(size=value_shape)

    def ours(a):
        y = a[0] * 1.0
        y[key_ours()] = a[1]
        return y

    def theirs(t):
        v = t[1].expand(positions.shape).reshape(-1)
        return t[0].reshape(-1).index_put((flat,), v).reshape(shape)
    return Case(f"setitem({key!r}, value shape {value_shape})", ours, theirs, [x, v])


# -- products ---------------------------------------------------------------------------------
EINSUMS = ["ij,jk->ik", "ij->ji", "ii->i", "ii->", "ij->", "i,i->", "i,j->ij", "bij,bjk->bik",
           "ij,ij->ij", "...i,...i->...", "ijk->kji", "ij,jk,kl->il", "i...->...", "ij,j->i"]


@st.composite
def products(draw):
    rng = _rng(draw)
    which = draw(st.sampled_from(["matmul", "tensordot", "einsum"]))
    if which == "matmul":
        shapes = draw(hnp.mutually_broadcastable_shapes(
            signature="(m?,n),(n,p?)->(m?,p?)", max_dims=2, min_side=0, max_side=3))
        a, b = (rng.normal(size=s) for s in shapes.input_shapes)
        return Case("matmul", lambda x: xg.matmul(x[0], x[1]),
                    lambda t: torch.matmul(t[0], t[1]), [a, b])
    if which == "tensordot":
        side = st.integers(0, 3)
        free_a, summed, free_b = (draw(st.lists(side, max_size=2)) for _ in range(3))
        a = rng.normal(size=free_a + summed)
        b = rng.normal(size=summed + free_b)
        axes = len(summed)
        if axes and draw(st.booleans()):    # the summed axes named, in a shuffled order
            order = draw(st.permutations(range(axes)))
            axes = ([len(free_a) + i for i in order], [i for i in order])
        torch_axes = axes if isinstance(axes, int) else [list(axes[0]), list(axes[1])]
        return Case(f"tensordot(axes={axes})", lambda x: xg.tensordot(x[0], x[1], axes=axes),
                    lambda t: torch.tensordot(t[0], t[1], dims=torch_axes), [a, b])
    spec = draw(st.sampled_from(EINSUMS))
    sizes = {c: draw(st.integers(0, 3)) for c in "ijklb"}
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    inputs = [rng.normal(size=[s for c in term for s in (batch if c == "." else
                                                          (sizes[c],))])
              for term in spec.split("->")[0].replace("...", ".").split(",")]
    return Case(f"einsum({spec!r})", lambda x: xg.einsum(spec, *x),
                lambda t: torch.einsum(spec, *t), inputs)


def _forward_steps(key):
    """``key`` with no negative step (PyTorch's views take none)."""
    parts = key if isinstance(key, tuple) else (key,)
    return all(not isinstance(k, slice) or (k.step or 1) > 0 for k in parts)


@st.composite
def view_writes(draw):
    """A write into a view of ``y`` (``view[...] = v``, ``view += v``) or into ``y`` with the
    view read after: both must see it, as PyTorch's views do."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    rng = _rng(draw)
    x = rng.normal(size=shape)
    indices = hnp.basic_indices(shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True)
    key = draw(indices.filter(_forward_steps))
    view_shape = np.empty(shape)[key].shape
    how = draw(st.sampled_from(["view[...] = v", "view += v", "y[key2] = v"]))
    key2 = draw(indices.filter(_forward_steps)) if how == "y[key2] = v" else Ellipsis
    target_shape = np.empty(shape)[key2].shape if how == "y[key2] = v" else view_shape
    v_shape = tuple(1 if draw(st.booleans()) else s for s in
                    target_shape[draw(st.integers(0, len(target_shape))):])
    v = rng.normal(size=v_shape)

    def run(lib_y, view_of, write, value, flat):
        view = view_of(lib_y)
        if how == "view[...] = v":
            write(view, Ellipsis, value)
        elif how == "view += v":
            view += value
        else:
            write(lib_y, key2, value)
        return flat(lib_y, view)

    def ours(a):
        def write(t, k, value):
            t[k] = value
        return run(a[0] * 1.0, lambda y: y[key], write, a[1],
                   lambda y, view: xg.concat([xg.reshape(y, (-1,)), xg.reshape(view, (-1,))]))

    # an int for every axis reads NumPy's scalar, a copy (xpgrad/views.py), where PyTorch's
    # is a 0-d view
    scalar = view_shape == () and Ellipsis not in (key if isinstance(key, tuple) else (key,))

    def theirs(t):
        def write(u, k, value):
            u[k] = value
        return run(t[0] * 1.0, lambda y: y[key].clone() if scalar else y[key], write, t[1],
                   lambda y, view: torch.cat([y.reshape(-1), view.reshape(-1)]))
    return Case(f"{how} with view = y[{key!r}], key2 = {key2!r}", ours, theirs, [x, v])
