"""What a PyTorch (or Keras) user reaches for on a Module that xpgrad names otherwise, and
where xpgrad has it: ``Module.__getattr__`` adds the hint to its AttributeError.

>>> PYTORCH_NAMES["zero_grad"].split(":")[0]
'variables hold no gradients to clear'
"""
#: what a PyTorch (or Keras) user reaches for, and where xpgrad has it
PYTORCH_NAMES = {
    "parameters": "xpgrad uses Keras' names: model.trainable_variables (or model.variables)",
    "named_parameters": "xpgrad uses Keras' names: model.named_variables() ({path: Variable})",
    "zero_grad": "variables hold no gradients to clear: tape.gradient returns them each step",
    "cuda": "a module's variables live on the backend they were made on: build it with "
            "backend='cupy' (or under xg.use_backend('cupy'))",
    "to": "a module's variables live on the backend they were made on: build it with "
          "backend=... (or move state with load_state_dict)",
    "requires_grad_": "module.trainable = False freezes a layer (Keras' name): its Variables "
                      "leave trainable_variables; xg.Variable(..., trainable=False) makes "
                      "one that is never trained",
    **dict.fromkeys(("add_module", "register_module"),
                    "setattr(self, name, module): a Module finds the modules in its attributes "
                    "(xg.nn.ModuleList / ModuleDict hold several)"),
    **dict.fromkeys(("weight", "bias"),
                    "this layer's Variables have xpgrad's names: Linear's are w (in_features, "
                    "out_features), torch's weight transposed, and b (absent with bias=False); "
                    "layer.named_variables() lists a layer's, layer.torch_state_dict() gives "
                    "them under torch's names and layouts"),
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
    **dict.fromkeys(("double", "float", "half"),
                    "a module's dtype is fixed when it is built: dtype=xg.float64 (or "
                    "xg.float32) in its constructor"),
}
