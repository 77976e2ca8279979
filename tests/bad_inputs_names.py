"""Rows of the bad-input catalogue (``bad_inputs_table.rows()``) made by walking the public
functions that take arrays (``xg``'s array functions, ``xg.linalg``, ``xg.fft``, ``xg.special``,
``xg.losses`` and the functions of ``xg.nn``): each is called with ``None`` and with a string
where an array goes, the other arguments good, and must raise a TypeError that names the
function and, where it can, the argument (``"matmul: x2 is None, ..."``), not the
``asarray: obj`` of the conversion it calls.

A function is walked when it appears in those namespaces; ``NOT_ARRAY_FUNCTIONS`` lists the
ones that take no array (``arange``, ``grad``, ...). A new function whose required arguments
this file cannot fill (``FILL``, ``RECIPES``) is reported by ``missing_recipes()``, which
``tests/test_refusals_named.py`` requires to be empty: a new function gets a row, and its
row checks that it names itself.
"""
from __future__ import annotations

import inspect

import xpgrad as xg
import xpgrad.ops as ops
from xpgrad.ops import gather_scatter_nd, segments

BADS = {"none": None, "str": "a"}

#: functions of the walked namespaces that take no array (creation from shapes, transforms
#: of functions, dtypes, backends, checkpoints), or take one in no position a bad value can
#: reach first (einsum's subscripts come first: its operands are RECIPES)
NOT_ARRAY_FUNCTIONS = {
    "arange", "empty", "eye", "full", "linspace", "ones", "zeros", "from_dlpack", "asarray",
    "broadcast_shapes", "fftfreq", "rfftfreq", "can_cast", "finfo", "iinfo", "isdtype",
    "result_type", "get_activation", "generate_square_subsequent_mask", "no_module_attribute",
    "detach", "functional_call", "stack_module_state", "checkpoint_sequential", "tbptt_train",
    "ravel_pytree",     # takes a pytree: None is an empty one
}

#: functions whose fix belongs to another engineer's file: name -> that file (their rows are
#: strict xfails, as the catalogue's ``deferred``)
DEFERRED = {}


def _m():
    return xg.ones((3, 3))


def _ids():
    return xg.asarray([0, 1, 1])


#: a good value for a required argument, by its name (the arrays fit a (3, 3) float32 x)
FILL = {
    "x2": _m, "b": _m, "y": _m, "B": _m, "other": _m, "target": _m, "targets": _m,
    "r": _m, "t": _m, "positive": _m, "negative": _m, "key": _m, "value": _m,
    "k": lambda: 1, "n": lambda: 1, "d": lambda: 1, "q": lambda: 0.5, "shift": lambda: 1,
    "repeats": lambda: 2, "repetitions": lambda: (2, 1), "shape": lambda: (9,),
    "axes": lambda: (1, 0), "axis": lambda: 0, "source": lambda: 0, "destination": lambda: 1,
    "dtype": lambda: xg.float64, "num_classes": lambda: 3, "indices": _ids,
    "segment_ids": _ids, "num_segments": lambda: 2, "key_": _m, "fill_value": lambda: 1.0,
    "kernel_size": lambda: 1, "output_size": lambda: 1, "pad": lambda: (1, 1),
    "upscale_factor": lambda: 1, "downscale_factor": lambda: 1, "num_groups": lambda: 1,
    "normalized_shape": lambda: 3, "labels": _ids, "weight": lambda: xg.ones((3, 3, 1)),
    "w": _m, "var": _m, "dfd": _m, "delta": _m, "df": _m, "a": _m, "x": _m, "L": _m,
    "lmbda": _m, "m": _m, "p": _m,
}

#: ``name: (call, the argument it names)`` where the bad value is not the first argument or
#: the other arguments need more than FILL gives
RECIPES = {
    "einsum": (lambda bad: xg.einsum("ij->ji", bad), "operand 0"),
    "scatter_nd": (lambda bad: xg.scatter_nd(xg.asarray([[0]]), bad, (3,)), "updates"),
    "conv1d": (lambda bad: xg.nn.conv1d(bad, xg.ones((1, 1, 1))), "input"),
    "conv2d": (lambda bad: xg.nn.conv2d(bad, xg.ones((1, 1, 1, 1))), "input"),
    "conv_transpose1d": (lambda bad: xg.nn.conv_transpose1d(bad, xg.ones((1, 1, 1))),
                         "input"),
    "conv_transpose2d": (lambda bad: xg.nn.conv_transpose2d(bad, xg.ones((1, 1, 1, 1))),
                         "input"),
    "embedding": (lambda bad: xg.nn.embedding(bad, xg.ones((3, 2))), "ids"),
    "embedding_bag": (lambda bad: xg.nn.embedding_bag(bad, xg.ones((3, 2))), "input"),
    "softmax_cross_entropy": (lambda bad: xg.losses.softmax_cross_entropy(bad, _ids()),
                              "logits"),
    "nll": (lambda bad: xg.losses.nll(bad, _ids()), "log_probs"),
    "multi_margin": (lambda bad: xg.losses.multi_margin(bad, _ids()), "x"),
    "multilabel_margin": (
        lambda bad: xg.losses.multilabel_margin(bad, xg.zeros((3, 3), dtype=xg.int64)), "x"),
    "sigmoid_cross_entropy_with_logits": (
        lambda bad: xg.losses.sigmoid_cross_entropy_with_logits(bad, _m()), "logits"),
    "concat": (lambda bad: xg.concat(bad), None), "stack": (lambda bad: xg.stack(bad), None),
    "ctc": (lambda bad: xg.losses.ctc(bad, xg.asarray([[1]]), [1], [1]), "log_probs"),
    "cosine_embedding": (lambda bad: xg.losses.cosine_embedding(bad, _m(), xg.ones(3)), "x1"),
    "margin_ranking": (lambda bad: xg.losses.margin_ranking(bad, xg.ones(3), xg.ones(3)), "x1"),
    "triplet_margin_with_distance": (
        lambda bad: xg.losses.triplet_margin_with_distance(bad, _m(), _m()), "anchor"),
    "batch_norm": (lambda bad: xg.nn.batch_norm(bad, xg.zeros(3), xg.ones(3)), "x"),
    "scaled_dot_product_attention": (
        lambda bad: xg.nn.scaled_dot_product_attention(bad, _m(), _m()), "query"),
    "polygamma": (lambda bad: xg.special.polygamma(1, bad), "x"),
    "multigammaln": (lambda bad: xg.special.multigammaln(bad, 1), "a"),
    "expn": (lambda bad: xg.special.expn(2, bad), "x"),
    "eval_chebyt": (lambda bad: xg.special.eval_chebyt(2, bad), "x"),
    "eval_chebyu": (lambda bad: xg.special.eval_chebyu(2, bad), "x"),
    "eval_hermite": (lambda bad: xg.special.eval_hermite(2, bad), "x"),
    "eval_hermitenorm": (lambda bad: xg.special.eval_hermitenorm(2, bad), "x"),
    "eval_laguerre": (lambda bad: xg.special.eval_laguerre(2, bad), "x"),
    "eval_legendre": (lambda bad: xg.special.eval_legendre(2, bad), "x"),
    "full_like": (lambda bad: xg.full_like(bad, 1.0), "x"),
    "where": (lambda bad: xg.where(bad, _m(), _m()), "argument 1"),
    "tensor_scatter_nd_add": (
        lambda bad: xg.tensor_scatter_nd_add(bad, xg.asarray([[0]]), xg.ones((1, 3))), "tensor"),
    "tensor_scatter_nd_update": (
        lambda bad: xg.tensor_scatter_nd_update(bad, xg.asarray([[0]]), xg.ones((1, 3))),
        "tensor"),
    "rnn_scan": (lambda bad: xg.nn.rnn_scan(bad, xg.zeros((1, 2)), xg.zeros((2, 2))),
                 "xproj"),
    "lstm_scan": (lambda bad: xg.nn.lstm_scan(bad, xg.zeros((1, 2)), xg.zeros((1, 2)),
                                              xg.zeros((2, 8))), "xproj"),
    "gru_scan": (lambda bad: xg.nn.gru_scan(bad, xg.zeros((1, 2)), xg.zeros((2, 6)),
                                            xg.zeros(2)), "xproj"),
    "lstm_layer": (lambda bad: xg.nn.lstm_layer(bad, xg.zeros((1, 2)), xg.zeros((1, 2)),
                                                xg.zeros((3, 8)), xg.zeros((2, 8)),
                                                xg.zeros(8)), "x"),
    "rnn_layer": (lambda bad: xg.nn.rnn_layer(bad, xg.zeros((1, 2)), xg.zeros((3, 2)),
                                              xg.zeros((2, 2)), xg.zeros(2)), "x"),
    "gru_layer": (lambda bad: xg.nn.gru_layer(bad, xg.zeros((1, 2)), xg.zeros((3, 6)),
                                              xg.zeros((2, 6)), xg.zeros(6), xg.zeros(2)),
                  "x"),
    "getitem": (lambda bad: xg.getitem(bad, 0), "x"),
    "interp": (lambda bad: xg.interp(bad, xg.arange(3.0), xg.ones(3)), "x"),
    "hyp2f1": (lambda bad: xg.special.hyp2f1(bad, 1.0, 2.0, xg.ones(3)), "a"),
}

#: functions whose operands an elementwise applier names by position ("argument 1")
NAMED_BY_POSITION = {"bitwise_and", "bitwise_invert", "bitwise_left_shift", "bitwise_or",
                     "bitwise_right_shift", "bitwise_xor",
                     "round"}    # xg.special.round (PyTorch's, with decimals) is xg.round's


def named_as(module, name, fn):
    """The name ``fn``'s errors give: its own where ``name`` is another name of it in
    ``module`` (``xg.special.bessel_j0`` is ``xg.special.j0``: "xg.special.j0: x ...")."""
    own = getattr(fn, "__name__", name)
    return own if own != name and getattr(module, own, None) is fn else name


def _namespaces():
    array_functions = (list(ops.__all__) + list(segments.__all__)
                       + list(gather_scatter_nd.__all__)
                       + ["zeros_like", "ones_like", "empty_like", "full_like"])
    nn_functions = [n for n in dir(xg.nn) if not n.startswith("_")]
    losses = [n for n in dir(xg.losses) if not n.startswith("_")]
    return (("xg", xg, array_functions), ("linalg", xg.linalg, xg.linalg.__all__),
            ("fft", xg.fft, xg.fft.__all__), ("special", xg.special, xg.special.__all__),
            ("losses", xg.losses, losses), ("nn", xg.nn, nn_functions))


def walked():
    """``[(namespace, name, function)]``: every public function of the walked namespaces that
    takes an array (no class, nothing from outside xpgrad)."""
    out = []
    for label, module, names in _namespaces():
        for name in sorted(set(names)):
            fn = getattr(module, name, None)
            if (fn is None or inspect.isclass(fn) or not callable(fn) or inspect.ismodule(fn)
                    or not (getattr(fn, "__module__", "") or "").startswith("xpgrad")
                    or name in NOT_ARRAY_FUNCTIONS):
                continue
            out.append((label, name, fn))
    return out


def _required(fn):
    """The names of ``fn``'s required positional parameters (None where it has no signature
    Python can read)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    return [p.name for p in params
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            and p.default is p.empty]


def recipe(name, fn):
    """``(call(bad), argument name)`` for ``fn``, or None where none can be made."""
    if name in RECIPES:
        return RECIPES[name]
    required = _required(fn)
    # an elementwise primitive's applier names operands by position ("tanh: argument 1")
    code = getattr(fn, "__code__", None)
    by_position = ("argument 1" if name in NAMED_BY_POSITION
                   or code and code.co_filename.endswith("appliers.py") else None)
    if required is None or not required:
        return (lambda bad: fn(bad)), by_position
    first, rest = required[0], required[1:]
    if any(r not in FILL for r in rest):
        return None
    return (lambda bad: fn(bad, *(FILL[r]() for r in rest))), by_position or first


def missing_recipes():
    """``namespace.name`` of every walked function without a recipe (neither ``RECIPES`` nor
    ``FILL`` fills its required arguments)."""
    return [f"{label}.{name}" for label, name, fn in walked()
            if name not in RECIPES and recipe(name, fn) is None]


#: functions that take any value where an array goes (a print: None prints "None"), with a
#: call of each that passes a bad value in another argument: ``id: (call, the text it names)``
ANY_VALUE = {
    "debug.print-fmt": (lambda: xg.debug.print(None, xg.ones(2)), "xg.debug.print: fmt"),
    "debug.print-file": (lambda: xg.debug.print("{}", xg.ones(2), file="a"),
                         "xg.debug.print: file"),
    "print-sep": (lambda: xg.print(xg.ones(2), sep=0), "xg.print: sep"),
    "print-end": (lambda: xg.print(xg.ones(2), end=0), "xg.print: end"),
    "print-file": (lambda: xg.print(xg.ones(2), file="a"), "xg.print: file"),
}


def rows(Row):
    """The catalogue's rows for the walk: ``names/<namespace>.<name>-<bad>`` raises a
    TypeError naming ``name:`` (and the argument, where the recipe knows it); and
    ``ANY_VALUE``'s."""
    out = [Row("names", f"xg.{row_id}", call, TypeError, (names,))
           for row_id, (call, names) in ANY_VALUE.items()]
    modules = {label: module for label, module, _ in _namespaces()}
    for label, name, fn in walked():
        made = recipe(name, fn)
        if made is None:
            continue
        call, argument = made
        named = named_as(modules[label], name, fn)
        for bad_id, bad in BADS.items():
            names = (f"{named}: {argument}",) if argument else (named,)
            out.append(Row("names", f"{label}.{name}-{bad_id}",
                           (lambda call=call, bad=bad: call(bad)), TypeError, names,
                           DEFERRED.get(name)))
    return out
