"""``functional_call``: run a Module with tensors passed in place of its Variables
(``torch.func.functional_call``), and ``stack_module_state``: the Variables of several like
modules stacked for an ensemble run by ``xg.vmap`` (``torch.func.stack_module_state``).

The call puts the passed tensors where the module tree holds its Variables (attributes, and
lists, tuples and dicts in them, rebuilt rather than changed) for the one forward and puts
the Variables back in a ``finally``: a module's ordinary forward is untouched.

>>> import xpgrad as xg
>>> lin = xg.nn.Linear(2, 1, init="ones", rng=0)
>>> xg.nn.functional_call(lin, {"linear/w": xg.full((2, 1), 3.0)}, (xg.ones((1, 2)),)).tolist()
[[6.0]]
>>> lin(xg.ones((1, 2))).tolist()                   # the module's own weights again
[[2.0]]
"""
from __future__ import annotations

import copy
import threading
from collections.abc import Mapping

from .._args import flag
from ..tensor import Tensor, Variable
from .module_cache import changed as structure_changed

#: held while a call's tensors stand in a module tree: calls from several threads take turns,
#: so none puts back another's tensors (an ordinary call from another thread meanwhile would
#: still see them, as with torch.func's)
_SWAP = threading.RLock()
#: the swaps of the calls running now, outermost first, and the Variable each stand-in
#: replaces (by the stand-in's id): a call nested in another's forward sees the module's paths
#: and replaces what stands there, as torch.func's nested calls do
_RUNNING, _ORIGINALS = [], {}


def functional_call(module, parameters, args=(), kwargs=None, *, strict=False,
                    tie_weights=True):
    """``module(*args, **kwargs)`` with the tensors of ``parameters`` in place of the module's
    Variables (PyTorch's ``torch.func.functional_call``); the module is left exactly as it was
    (its Variables, their values, where they are held), also when the forward raises.

    ``parameters``: a dict ``{path: tensor}`` keyed as ``module.named_variables()`` (so
    ``"mlp/linear0/w"``; non-trainable ones such as BatchNorm's ``running_mean`` too), or a
    tuple of such dicts (``(params, buffers)``), no key twice. A path left out keeps the
    module's Variable (``strict=True`` refuses that, naming the paths); a path the module lacks,
    a tensor of another shape, dtype or backend than the Variable it replaces is an error naming
    it. ``args`` is a tuple of positional arguments (anything else: the one argument).

    Gradients reach the passed tensors (``GradientTape``, ``xg.grad``, any order), ``xg.vmap``
    maps over them (per-example gradients, ensembles: ``stack_module_state``) and
    ``xg.function`` traces the call. A Variable the module holds in several places (tied
    weights) is replaced in all of them (``tie_weights=True``, PyTorch's default); xpgrad names
    such a Variable once, so ``tie_weights=False`` cannot untie it and raises
    NotImplementedError when one is passed. A call in the forward of another (on the same
    module or one below it) takes the same paths and replaces what stands there; the paths it
    leaves out keep the outer call's tensors (torch.func's nesting). A forward that updates a
    buffer (BatchNorm's running statistics in training mode) updates a passed Variable in
    place, as PyTorch updates a passed tensor; a plain Tensor cannot be updated: TypeError
    naming it (pass a Variable, leave it out, or call ``module.eval()``). Calls from several
    threads take turns over the swap; like PyTorch's, the call is not thread-safe against an
    ordinary call of the same module from another thread meanwhile, which would see the
    passed tensors.

    >>> import xpgrad as xg
    >>> model = xg.nn.MLP([3, 4, 1], rng=0)
    >>> params = {k: xg.asarray(v) for k, v in model.named_variables().items()}
    >>> loss = lambda p, x, y: xg.sum((xg.nn.functional_call(model, p, (x,)) - y) ** 2)
    >>> x, y = xg.ones((5, 3)), xg.zeros((5, 1))
    >>> per_example = xg.vmap(xg.grad(loss), in_axes=(None, 0, 0))(params, x[:, None], y[:, None])
    >>> per_example["mlp/linear0/w"].shape
    (5, 3, 4)
    """
    from .module import Module

    if not isinstance(module, Module):
        raise TypeError(f"functional_call: module must be an xg.nn.Module, got "
                        f"{type(module).__name__}")
    strict = flag(strict, "strict", "functional_call")
    tie_weights = flag(tie_weights, "tie_weights", "functional_call")
    given = _merged(parameters)
    args = args if isinstance(args, tuple) else (args,)
    if kwargs is None:
        kwargs = {}
    elif not isinstance(kwargs, Mapping):
        raise TypeError(f"functional_call: kwargs must be a dict of keyword arguments or None, "
                        f"got {type(kwargs).__name__}")
    with _SWAP:               # another thread's call would show its tensors in the tree
        named = _named_variables(module)
        _check_names(module, given, named, strict)
        stand_ins = {id(named[k]): _checked(k, v, named[k]) for k, v in given.items()}
        by_id = {id(named[k]): k for k in given}
        swaps, places = _planned(module, stand_ins)
        if not tie_weights:
            tied = sorted(by_id[i] for i, n in places.items() if n > 1)
            if tied:
                raise NotImplementedError(
                    f"functional_call: tie_weights=False, but {tied} are each held in several "
                    "places of the module (tied weights), and xpgrad names a shared Variable "
                    "once: pass tie_weights=True (one tensor for every place)")
        kept = _buffers_kept(named, given, stand_ins)
        for owner, key, _, new in swaps:
            owner.__dict__[key] = new
        structure_changed()               # around __setattr__: the cached walks walk again
        originals = {id(t): named[by_id[i]] for i, t in stand_ins.items()
                     if id(t) not in _ORIGINALS}
        _ORIGINALS.update(originals)
        _RUNNING.append(swaps)
        try:
            return module(*args, **dict(kwargs))
        except AttributeError as e:
            name = next((by_id[i] for i, t in stand_ins.items()
                         if getattr(e, "obj", None) is t), None)
            if name is None or isinstance(e.obj, Variable):
                raise
            for variable, value in kept:      # a batch the forward counted before it failed
                variable.assign(value)
            raise TypeError(f"functional_call: the forward updates {name!r} in place (a "
                            "buffer, such as BatchNorm's running statistics in training mode), "
                            "which a plain Tensor cannot take: pass an xg.Variable for it (it "
                            "gets the update), leave it out (the module's own Variable does) "
                            "or call module.eval()") from e
        finally:
            _RUNNING.pop()
            for i in originals:
                del _ORIGINALS[i]
            for owner, key, old, _ in reversed(swaps):
                owner.__dict__[key] = old
            structure_changed()


def _named_variables(module) -> dict:
    """``module.named_variables()`` as if no call's tensors stood in its tree (inside another
    call's forward: the Variables they replace, by the module's paths)."""
    if not _RUNNING:
        return module.named_variables()
    for swaps in reversed(_RUNNING):
        for owner, key, old, _ in reversed(swaps):
            owner.__dict__[key] = old
    structure_changed()
    try:
        return module.named_variables()
    finally:
        for swaps in _RUNNING:
            for owner, key, _, new in swaps:
                owner.__dict__[key] = new
        structure_changed()


def stack_module_state(modules) -> tuple:
    """``(params, buffers)``: the Variables of ``modules`` (modules of one class with the same
    ``named_variables`` paths, shapes and dtypes) stacked along a new first axis, as PyTorch's
    ``torch.func.stack_module_state``: ``params`` the trainable ones, ``buffers`` the others,
    each a dict ``{path: new Variable}`` (copies: training them leaves the modules alone). An
    ensemble then runs as one vmapped call of one of them (``base``):
    ``xg.vmap(lambda p, b, x: xg.nn.functional_call(base, (p, b), (x,)), in_axes=(0, 0,
    None))(params, buffers, x)``.

    >>> import xpgrad as xg
    >>> models = [xg.nn.MLP([3, 4, 1], rng=seed) for seed in range(5)]
    >>> params, buffers = xg.nn.stack_module_state(models)
    >>> params["mlp/linear0/w"].shape, buffers
    ((5, 3, 4), {})
    >>> run = lambda p, x: xg.nn.functional_call(models[0], p, (x,))
    >>> xg.vmap(run, in_axes=(0, None))(params, xg.ones((2, 3))).shape
    (5, 2, 1)
    """
    from ..ops.joining import stack
    from ..tape import stop_gradient
    from .module import Module

    if isinstance(modules, Module) or not hasattr(modules, "__iter__"):
        raise TypeError(f"stack_module_state: modules must be a list of xg.nn.Modules, got "
                        f"{type(modules).__name__}")
    modules = list(modules)
    if not modules:
        raise ValueError("stack_module_state: modules is empty (stack at least one module)")
    for i, m in enumerate(modules):
        if not isinstance(m, Module):
            raise TypeError(f"stack_module_state: modules[{i}] is a {type(m).__name__}, not an "
                            "xg.nn.Module")
        if type(m) is not type(modules[0]):
            raise TypeError(f"stack_module_state: modules[{i}] is a {type(m).__name__}, "
                            f"modules[0] a {type(modules[0]).__name__} (one class for all)")
    first = modules[0].named_variables()
    states = [first] + [_alike(i, m.named_variables(), first) for i, m in
                        enumerate(modules[1:], 1)]
    params, buffers = {}, {}
    for key, variable in first.items():
        stacked = stack([stop_gradient(s[key]) for s in states])
        into = params if variable.trainable else buffers
        into[key] = Variable(stacked, name=key, trainable=variable.trainable)
    return params, buffers


def _merged(parameters) -> dict:
    """``parameters`` (a dict, or a tuple or list of dicts) as one dict; a key twice raises."""
    parts = (parameters,) if isinstance(parameters, Mapping) else parameters
    if not isinstance(parts, (tuple, list)) or not all(isinstance(p, Mapping) for p in parts):
        raise TypeError(f"functional_call: parameters must be a dict {{path: tensor}} (as "
                        f"module.named_variables()) or a tuple of such dicts, got "
                        f"{type(parameters).__name__}")
    merged = {}
    for part in parts:
        twice = sorted(set(part) & set(merged))
        if twice:
            raise ValueError(f"functional_call: {twice} given in more than one dict of "
                             "parameters (each path once)")
        merged.update(part)
    return merged


def _check_names(module, given, named, strict):
    """ValueError naming the paths of ``given`` the module lacks, and with ``strict`` those it
    has that ``given`` leaves out."""
    unknown = [k for k in given if k not in named]
    if unknown:
        try:
            torch_keys = set(module.torch_state_dict())
        except Exception:          # noqa: BLE001 (a module without torch's layout: no hint)
            torch_keys = set()
        hint = (" (these are PyTorch's keys; xpgrad's are module.named_variables()')"
                if set(unknown) & torch_keys else "")
        raise ValueError(f"functional_call: {unknown} are no Variables of this "
                         f"{type(module).__name__}{hint}; its paths are {list(named)}")
    missing = [k for k in named if k not in given]
    if strict and missing:
        raise ValueError(f"functional_call: strict=True and parameters lack {missing} (pass "
                         "every path of module.named_variables(), or strict=False to keep "
                         "the module's Variables there)")


def _checked(key, value, variable):
    """``value`` as the Tensor to stand in for ``variable``: its shape, dtype and backend."""
    from ..creation import asarray

    if not isinstance(value, Tensor):
        try:
            value = asarray(value, backend=variable.backend)
        except (TypeError, ValueError) as e:
            raise TypeError(f"functional_call: parameters[{key!r}] must be a tensor, got "
                            f"{type(value).__name__} ({e})") from None
    if value.backend.name != variable.backend.name:
        raise TypeError(f"functional_call: parameters[{key!r}] is on backend "
                        f"{value.backend.name!r}, the module's Variable on "
                        f"{variable.backend.name!r} (nothing is copied silently)")
    if tuple(value.shape) != tuple(variable.shape):
        raise ValueError(f"functional_call: parameters[{key!r}] has shape {tuple(value.shape)}, "
                         f"the module's Variable {tuple(variable.shape)}")
    if value.dtype != variable.dtype:
        raise TypeError(f"functional_call: parameters[{key!r}] is {value.dtype}, the module's "
                        f"Variable {variable.dtype} (no silent promotion: cast with "
                        "xg.astype)")
    return value


def _buffers_kept(named, given, stand_ins) -> list:
    """``(Variable, copy of its value)`` for the module's own buffers (non-trainable
    Variables not passed) when a plain Tensor stands in for another buffer: if the forward
    fails to update that one, it may have updated these before (BatchNorm's counter), and
    they are put back."""
    if not any(not named[k].trainable and not isinstance(stand_ins[id(named[k])], Variable)
               for k in given):
        return []
    return [(v, v.numpy().copy()) for v in named.values()
            if not v.trainable and id(v) not in stand_ins]


def _planned(module, stand_ins):
    """``(swaps, places)``: ``(owner, key, old value, new value)`` for every attribute of a
    module in the tree holding a Variable to replace (in ``stand_ins``, by id), and how many
    places hold each of them."""
    places = dict.fromkeys(stand_ins, 0)
    swaps = []
    for owner in (module, *module.submodules()):
        for key, value in vars(owner).items():
            if isinstance(value, _HOLDERS):
                new = _replaced(value, stand_ins, places, ())
                if new is not value:
                    swaps.append((owner, key, value, new))
    return swaps, places


def _replaced(value, stand_ins, places, walking):
    """``value`` with the Variables of ``stand_ins`` replaced, containers rebuilt (never
    changed) where they hold one; ``value`` itself where nothing is replaced."""
    if isinstance(value, Tensor):       # a Variable, or another call's stand-in for one
        original = id(_ORIGINALS.get(id(value), value))
        new = stand_ins.get(original)
        if new is None:
            return value
        places[original] += 1
        return new
    if not isinstance(value, _CONTAINERS) or id(value) in walking:
        return value
    walking = (*walking, id(value))
    items = value.items() if isinstance(value, dict) else enumerate(value)
    changed = {k: new for k, item in items if isinstance(item, _HOLDERS)
               and (new := _replaced(item, stand_ins, places, walking)) is not item}
    if not changed:
        return value
    if isinstance(value, tuple):
        items = [changed.get(i, item) for i, item in enumerate(value)]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    rebuilt = copy.copy(value)
    for k, new in changed.items():
        rebuilt[k] = new
    return rebuilt


def _alike(index, state, first) -> dict:
    """``state`` (``modules[index]``'s variables) checked against ``modules[0]``'s."""
    if list(state) != list(first):
        raise ValueError(f"stack_module_state: modules[{index}] has the Variables "
                         f"{list(state)}, modules[0] {list(first)} (the same paths: build "
                         "the modules alike, with the same name=)")
    for key, variable in state.items():
        ref = first[key]
        if (variable.shape, variable.dtype, variable.backend.name) != (
                ref.shape, ref.dtype, ref.backend.name):
            raise ValueError(f"stack_module_state: {key!r} of modules[{index}] is "
                             f"{variable.dtype} {variable.shape} on {variable.backend.name!r}, "
                             f"modules[0]'s {ref.dtype} {ref.shape} on {ref.backend.name!r}")
    return state


_CONTAINERS = (list, tuple, dict)
_HOLDERS = (Tensor, *_CONTAINERS)
