"""What a PyTorch (or Keras) user reaches for on a Module that xpgrad names otherwise, and
where xpgrad has it: ``Module.__getattr__`` adds the hint to its AttributeError; and the other
hints of Module's errors (a Keras ``training=`` argument, a mixed-backend layer, a subclass
that did not call ``super().__init__()``).

>>> PYTORCH_NAMES["zero_grad"].split(":")[0]
'variables hold no gradients to clear'
"""
import re

#: what a PyTorch (or Keras) user reaches for, and where xpgrad has it
PYTORCH_NAMES = {
    "parameters": "xpgrad uses Keras' names: model.trainable_variables (or model.variables)",
    "named_parameters": "xpgrad uses Keras' names: model.named_variables() is a dict {path: "
                        "Variable}, so torch's `for name, p in model.named_parameters()` is "
                        "`for name, p in model.named_variables().items()`",
    "zero_grad": "variables hold no gradients to clear: tape.gradient returns them each step",
    "cuda": "a module's variables live on the backend they were made on: build it with "
            "backend='cupy' (or under xg.use_backend('cupy'))",
    "to": "a module's variables live on the backend and dtype they were made with: build it "
          "with backend=... (or move state with load_state_dict), and dtype=xg.float64 (or "
          "xg.float32)",
    "requires_grad_": "module.trainable = False freezes a layer (Keras' name): its Variables "
                      "leave trainable_variables; variable.trainable = False freezes one weight",
    **dict.fromkeys(("add_module", "register_module"),
                    "setattr(self, name, module): a Module finds the modules in its attributes "
                    "(xg.nn.ModuleList / ModuleDict hold several)"),
    **dict.fromkeys(("weight", "bias"),
                    "this layer's Variables have xpgrad's names: Linear's are w (in_features, "
                    "out_features), torch's weight transposed, and b (absent with bias=False); "
                    "layer.named_variables() lists a layer's, layer.torch_state_dict() gives "
                    "them under torch's names and layouts"),
    "register_backward_hook": "register_full_backward_hook(hook) (PyTorch's non-full "
                              "register_backward_hook is deprecated; the full one gives the "
                              "gradients of the module call's own inputs, "
                              "hook(module, grad_input, grad_output))",
    "register_parameter": "setattr(self, name, xg.Variable(value, name=...)): a Module finds "
                          "the Variables in its attributes",
    "register_buffer": "an attribute holding a non-trainable xg.Variable(..., "
                       "trainable=False) is kept in named_variables() and checkpoints",
    # Keras' Model methods
    "get_weights": "model.state_dict() ({path: NumPy copy})",
    "set_weights": "model.load_state_dict(state) (by path, checked)",
    "save_weights": "xg.save_checkpoint(path, model) (with the optimizer: xg.save_checkpoint("
                    "path, model, opt))",
    "load_weights": "xg.load_checkpoint(path, model)",
    "num_parameters": "model.count_params() (Keras' name; trainable_only=True for the "
                      "trainable ones)",
    "flatten_parameters": "xpgrad's recurrent weights are always one contiguous array each: "
                          "there is nothing to flatten (drop the call)",
    "trainable_weights": "model.trainable_variables (Keras' other name for them)",
    "weights": "model.variables (Keras' other name; model.state_dict() for NumPy copies)",
    "non_trainable_weights": "model.non_trainable_variables (Keras' other name: BatchNorm's "
                             "running statistics, frozen layers' weights)",
    **dict.fromkeys(("compile", "fit", "evaluate", "predict"),
                    "xpgrad has no Keras Model loop: write the loop with a GradientTape and "
                    "opt.apply_gradients (docs/training.md; xg.function(step) is "
                    "tf.function's), or run xpgrad train"),
    **dict.fromkeys(("double", "float", "half"),
                    "a module's dtype is fixed when it is built: dtype=xg.float64 (or "
                    "xg.float32) in its constructor"),
}


#: torch's recurrent weights: ``weight_ih_l0``, ``bias_hh_l1_reverse``, a cell's ``weight_ih``
_RECURRENT_WEIGHT = re.compile(r"(weight|bias)_(ih|hh)(?:_l(\d+))?(_reverse)?")


def pytorch_hint(name):
    """Where xpgrad has what PyTorch calls ``name`` on a module, or None.

    >>> print(pytorch_hint("weight_hh_l1_reverse").split(";")[0])
    torch's weight_hh_l1_reverse is reverse_layers[1].w_hh.T here (Linear's (in, out) layout)
    """
    hint = PYTORCH_NAMES.get(name)
    if hint is None and name.startswith(("weight_", "bias_")):
        match = _RECURRENT_WEIGHT.fullmatch(name)
        if match is not None:
            hint = _recurrent_weight_hint(name, *match.groups())
    return hint


def _recurrent_weight_hint(name, kind, side, layer, reverse):
    cell = "" if layer is None else f"{'reverse_layers' if reverse else 'layers'}[{layer}]."
    if kind == "weight":
        where = f"{cell}w_{side}.T here (Linear's (in, out) layout)"
    else:
        where = (f"in {cell}b here, which holds bias_ih + bias_hh (one bias; a GRU's n third "
                 f"of bias_hh is {cell}b_hn)")
    return (f"torch's {name} is {where}; torch_state_dict() gives the weights under torch's "
            "names and layouts, load_torch_state_dict(sd) sets them")


def keras_training_keyword(error):
    """The TypeError for a layer called with Keras' ``training=`` (``error``: Python's).

    >>> import xpgrad as xg
    >>> try:
    ...     xg.nn.ReLU()(xg.ones(2), training=True)
    ... except TypeError as e:
    ...     print(str(e).split("; ")[-1])
    model.eval() and model.train() set the mode, as in PyTorch
    """
    return TypeError(f"{error}: xpgrad's layers take no training= argument (Keras'); "
                     "model.eval() and model.train() set the mode, as in PyTorch")


def keras_call_keyword(error, kwargs):
    """The TypeError for a layer called with a Keras call keyword it does not take
    (``training=``, ``initial_state=``, ``mask=``; ``error``: Python's), or None for another
    TypeError.

    >>> import xpgrad as xg
    >>> lstm = xg.nn.LSTM(2, 3)
    >>> try:
    ...     lstm(xg.ones((1, 4, 2)), initial_state=None)
    ... except TypeError as e:
    ...     print(str(e).split(": ", 1)[-1])
    the state is the second positional argument: lstm(x, (h, c)), each (num_layers, batch, hidden)
    """
    from ..tf_names import CALL_KEYWORDS

    for key in ("training", *CALL_KEYWORDS):
        if key in kwargs and f"keyword argument '{key}'" in str(error):
            return keras_training_keyword(error) if key == "training" else \
                TypeError(f"{error}: {CALL_KEYWORDS[key]}")
    return None


def note_layer(error, module) -> None:
    """Add to a MixedBackendError the innermost layer it came from and its variables'
    backends (the usual cause: a layer built without ``backend=`` on the default one)."""
    if getattr(error, "_xpgrad_layer", None) is not None or not hasattr(error, "add_note"):
        return                                  # (add_note: Python 3.11 and later)
    error._xpgrad_layer = True
    names = sorted({v.backend.name for v in module.variables})
    where = f"whose variables are on {', '.join(names)}" if names else "which has no variables"
    error.add_note(f"in {type(module).__name__} {module.name!r}, {where}: build every layer on "
                   "one backend (backend=..., an rng of that backend, or under "
                   "xg.use_backend(...))")


def not_initialized(module, name):
    """The AttributeError of a subclass whose ``__init__`` did not call ``Module.__init__``.

    >>> str(not_initialized(object(), "forward")).split(": ")[0]
    "'object' object has no attribute 'forward'"
    """
    kind = type(module).__name__
    return AttributeError(f"{kind!r} object has no attribute {name!r}: {kind}.__init__ did not "
                          "call super().__init__() (it sets name and training); call it first, "
                          "as in PyTorch")
