"""What a TensorFlow 2 user reaches for that xpgrad names otherwise, and where xpgrad has it:
the hints that the AttributeErrors of ``xg``, ``xg.nn`` and ``xg.losses``, and of Tensors and
Variables, add for TensorFlow's spellings (``tf.reduce_sum`` -> ``xg.sum``), as the PyTorch
tables beside each of them do for PyTorch's. No imports: every layer of xpgrad may read it.

>>> print(NAMESPACE["reduce_sum"])
xg.sum(x, axis=None, keepdims=False) (the array API's name for tf.reduce_sum)
"""
from __future__ import annotations

def _reduction(tf_name, ours, extra=""):
    return f"{ours}(x, axis=None, keepdims=False){extra} (the array API's name for tf.{tf_name})"


#: ``tf.<name>`` (and ``tf.math.<name>``) -> where xpgrad has it
NAMESPACE = {
    "metrics": "a metric is a line of xpgrad operations: accuracy is "
               "xg.mean(xg.argmax(logits, axis=-1) == labels); keep Keras' "
               "update_state / result / reset_state as a running sum of .item() values "
               "over the batches",
    **{f"reduce_{tf}": _reduction(f"reduce_{tf}", f"xg.{ours}") for tf, ours in (
        ("sum", "sum"), ("mean", "mean"), ("max", "max"), ("min", "min"), ("prod", "prod"),
        ("any", "any"), ("all", "all"), ("logsumexp", "logsumexp"))},
    "reduce_std": _reduction("reduce_std", "xg.std", " (TensorFlow's: correction=0)"),
    "reduce_variance": _reduction("reduce_variance", "xg.var", " (TensorFlow's: correction=0)"),
    "reduce_euclidean_norm": "xg.linalg.vector_norm(x, axis=None, keepdims=False)",
    "cast": "xg.astype(x, dtype) (a cast to an integer dtype has no gradient, as TensorFlow's)",
    "convert_to_tensor": "xg.asarray(value, dtype=...)",
    "constant": "xg.asarray(value, dtype=...)",
    "range": "xg.arange(start, stop, step)",
    "transpose": "xg.permute_dims(x, axes) (xg.matrix_transpose(x) swaps the last two axes, "
                 "x.T a 2-D one's)",
    "rank": "x.ndim",
    "gather": "xg.take(x, indices, axis=k) for 1-D indices; x[:, idx] (index arrays of any "
              "shape) otherwise, and xg.take_along_axis(x, indices, axis=k) for batch_dims=1",
    "boolean_mask": "x[mask]",
    "top_k": "xg.topk(x, k) (a (values, indices) tuple)",
    "clip_by_value": "xg.clip(x, min, max)",
    "clip_by_norm": "x * (clip_norm / xg.maximum(xg.linalg.vector_norm(x), clip_norm)); "
                    "an optimizer clips each gradient so with clipnorm=",
    "clip_by_global_norm": "xg.optim.clip_global_norm(grads, clip_norm), which returns "
                           "(clipped, global norm) as TensorFlow's",
    "global_norm": "xg.optim.global_norm(tensors)",
    "identity": "the tensor itself (Tensors are immutable values); xg.asarray(x, copy=True) "
                "copies",
    "UnconnectedGradients": "unconnected_gradients='zero' (or 'none', the default) on "
                            "tape.gradient and tape.jacobian",
    "math": "TensorFlow's tf.math functions are in xg itself (xg.log1p, xg.logsumexp, "
            "xg.topk, ...), the special ones in xg.special",
    "callbacks": "Keras' callbacks are objects the loop steps: xg.optim.EarlyStopping "
                 "(restore_best_weights), xg.optim.ReduceLROnPlateau, xg.CheckpointManager "
                 "(ModelCheckpoint: save when the monitored value is the best), "
                 "xg.events.EventWriter (TensorBoard: add_scalar, add_histogram), tqdm "
                 "(ProgbarLogger); xpgrad train has them as flags",
    "keras": "xg.nn holds the layers (Linear is Dense, LSTM, BatchNorm1d, ...), xg.optim the "
             "optimizers and schedules (with the callbacks ReduceLROnPlateau and "
             "EarlyStopping, stepped in the loop), xg.losses the losses",
    "nest": "the tapes and xg.grad take nested lists, tuples and dicts themselves; "
            "xg.pytree flattens them",
    "shape": "x.shape (a tuple of ints; xg.function traces one program per shape, so it serves "
             "for tf.shape(x) too)",
    "size": "x.size (an int)",
    "fill": "xg.full(shape, value, dtype=...)",
    "squared_difference": "(x - y) ** 2",
    "reverse": "xg.flip(x, axis=k)",
    "cumprod": "xg.cumulative_prod(x, axis=k) (the array API's name)",
    "add_n": "xg.sum(xg.stack(tensors), axis=0)",
    "gradients": "tf.gradients is graph-mode only: tape.gradient(target, sources) in a "
                 "`with xg.GradientTape() as tape:` block, or xg.grad(f)(x)",
    "hessians": "xg.hessian(f)(x) (f(x) -> the scalar ys sums to), or tape.jacobian(g, x) of "
                "a gradient g taken by an inner tape",
    **dict.fromkeys(("map_fn", "vectorized_map"),
                    "xg.vmap(fn)(elems) maps fn over the first axis (pfor's batching, "
                    "tape-differentiable); a Python loop and xg.stack(results) otherwise"),
    "sequence_mask": "xg.arange(maxlen) < lengths[:, None] (a bool (batch, maxlen) mask; "
                     "maxlen=int(xg.max(lengths)) is TensorFlow's default, "
                     "xg.astype(mask, dtype) its dtype=)",
    "foldl": "xg.scan(lambda acc, x: (fn(acc, x), None), initializer, elems)[0] (tape-"
             "differentiable), or a Python loop over elems",
    "foldr": "xg.scan(lambda acc, x: (fn(acc, x), None), initializer, elems, reverse=True)[0] "
             "(tape-differentiable), or a Python loop over reversed elems",
    "py_function": "xpgrad runs Python eagerly: call func(*inp) itself, and its xpgrad "
                   "operations record on the tape (NumPy code on t.numpy() gets a gradient from "
                   "xg.custom_vjp); inside xg.function, t.numpy() raises TraceError "
                   "(on_trace_error='eager' runs that signature eagerly)",
    "numpy_function": "xg.asarray(func(x.numpy())) eagerly (no gradient, as TensorFlow's; "
                      "xg.custom_vjp gives it one); inside xg.function, x.numpy() raises "
                      "TraceError (on_trace_error='eager' runs that signature eagerly)",
    "is_tensor": "isinstance(x, xg.Tensor) (an xg.Variable is a Tensor too)",
    "executing_eagerly": "xpgrad executes eagerly everywhere but inside xg.function, whose "
                         "Python runs only while it traces (docs/function.md): there is no "
                         "flag to ask; what must run on every call goes outside the function "
                         "(xg.print prints on every replay)",
    "ensure_shape": "assert x.shape == (n, 3) (shapes are Python tuples, concrete also while "
                    "xg.function traces, once per shape); xg.function(fn, input_signature=[xg."
                    "TensorSpec((None, 3), dtype)]) checks the arguments on every call",
    "summary": "xg.events.EventWriter(logdir) is tf.summary.create_file_writer(logdir): "
               "writer.add_scalar('loss', loss, step=k) is tf.summary.scalar('loss', loss, "
               "step=k) under writer.as_default(), writer.add_histogram('w', w, step=k) "
               "tf.summary.histogram's; writer.flush(), writer.close()",
    "train": "checkpoints: xg.save_checkpoint(path, model, optimizer) and xg.load_checkpoint("
             "path, model, optimizer) (tf.train.Checkpoint's job); xg.CheckpointManager("
             "directory, model, optimizer, max_to_keep=5) keeps the last ones "
             "(tf.train.CheckpointManager)",
}

#: ``tf.nn.<name>`` and ``tf.keras.layers.<name>`` -> where ``xg.nn`` (or xg.losses) has it
NN = {
    "softmax_cross_entropy_with_logits": "xg.losses.softmax_cross_entropy(logits, labels, "
                                         "reduction='none') (labels: probabilities or class "
                                         "indices; TensorFlow's returns one loss per row)",
    "sparse_softmax_cross_entropy_with_logits": "xg.losses.softmax_cross_entropy(logits, "
                                                "labels, reduction='none') (integer labels)",
    "sigmoid_cross_entropy_with_logits": "xg.losses.sigmoid_cross_entropy_with_logits(logits, "
                                         "targets, reduction='none') (logits first; "
                                         "TensorFlow's returns one loss per entry)",
    "l2_loss": "xg.sum(x ** 2) / 2",
    "moments": "(xg.mean(x, axis=axes, keepdims=keepdims), xg.var(x, axis=axes, "
               "keepdims=keepdims))",
    "bias_add": "x + b",
    "Dense": "xg.nn.Linear(in_features, out_features) (the kernel is w, (in, out) as Keras')",
    "BatchNormalization": "xg.nn.BatchNorm1d(num_features, momentum=0.01, eps=1e-3) for "
                          "Keras' defaults: PyTorch's momentum is the weight of the new batch "
                          "(1 - Keras' momentum), and the running variance is unbiased",
    "LayerNormalization": "xg.nn.LayerNorm(normalized_shape, eps=1e-3) for Keras' epsilon",
    "Conv2D": "xg.nn.Conv2d(in_channels, out_channels, kernel_size) (channels first: (N, C, H, "
              "W))",
    "Conv1D": "xg.nn.Conv1d(in_channels, out_channels, kernel_size) (channels first: (N, C, L))",
    "Activation": "the function itself (xg.nn.relu) or its layer (xg.nn.ReLU())",
    "EarlyStopping": "xg.optim.EarlyStopping(model, monitor='val_loss', patience=...) "
                     "(Keras' callback, stepped once an epoch: stop = early.step(val_loss))",
    "ReduceLROnPlateau": "xg.optim.ReduceLROnPlateau(optimizer, patience=...) (Keras' callback, "
                         "stepped once an epoch: scheduler.step(val_loss))",
}

#: ``tf.keras.optimizers.<name>`` and ``tf.keras.optimizers.schedules.<name>`` -> xg.optim's
OPTIM = {
    "PiecewiseConstantDecay": "xg.optim.PiecewiseConstant(boundaries, values) (Keras' "
                              "PiecewiseConstantDecay, the same steps)",
    "LearningRateSchedule": "xg.optim.schedules.Schedule (or any callable of the step: "
                            "learning_rate=lambda step: ...)",
    "Nadam": "xg.optim.NAdam is PyTorch's NAdam, whose momentum schedule differs from Keras' "
             "Nadam (its steps are not Keras')",
}

#: Keras' layer keywords -> xpgrad's (``xg.nn._checks.known_keywords`` adds the hint)
LAYER_KEYWORDS = {
    "units": "; the sizes are positional, as PyTorch's: Linear(in_features, out_features), "
             "LSTM(input_size, hidden_size)",
    "use_bias": "; xpgrad calls it bias=",
    "activation": "; xpgrad's layers compute no activation: follow the layer with one, "
                  "xg.nn.Sequential(xg.nn.Linear(i, o), xg.nn.ReLU()), or xg.nn.relu(layer(x))",
    "epsilon": "; xpgrad's layers call it eps=",
    "kernel_initializer": "; xpgrad calls it kernel_init= (recurrent layers) or init= (Linear)",
    "recurrent_initializer": "; xpgrad calls it recurrent_init=",
    "bias_initializer": "; xpgrad calls it bias_init=",
    "return_sequences": ": xpgrad's recurrent layers always return (outputs, state): outputs "
                        "holds every step (return_sequences=True), outputs[:, -1] the last",
    "return_state": ": xpgrad's recurrent layers always return (outputs, state), state being "
                    "(h, c) for an LSTM",
    "stateful": ": pass the state on yourself: outputs, state = lstm(x, state), cut from the "
                "tape between chunks with xg.stop_gradient (xg.nn.tbptt_train does both)",
}

#: keyword arguments of a Keras layer's call -> what a Module's call takes instead
CALL_KEYWORDS = {
    "initial_state": "the state is the second positional argument: lstm(x, (h, c)), each "
                     "(num_layers, batch, hidden)",
    "mask": "xpgrad's layers take no mask=; pad and weight the loss (or slice the sequences)",
}

#: a Variable's (or Tensor's) TensorFlow methods -> xpgrad's
TENSOR = {
    "get_shape": "t.shape",
    "value": "v.read_value() (a copy of the current value), or v itself in an expression",
    "initial_value": "xpgrad keeps no initial value: copy it when you make the variable "
                     "(v.numpy())",
    **dict.fromkeys(("scatter_nd_update", "scatter_update", "scatter_add", "scatter_nd_add"),
                    "v[index] = value writes in place (v.assign(xg.where(mask, new, v)) "
                    "for a mask; v.assign(xg.tensor_scatter_nd_update(v, indices, updates)) "
                    "or xg.tensor_scatter_nd_add for TensorFlow's N-d indices)"),
}

#: a ``tf.function``'s attributes -> an ``xg.function``'s
FUNCTION = {
    "experimental_get_tracing_count": "f.trace_count",
    "get_concrete_function": "xg.function traces on its second call with a signature and has "
                             "no concrete functions to ask for; f.programs() lists the traced "
                             "programs (each with .source)",
    "python_function": "f.fn (also f.__wrapped__)",
}

#: ``tf.Variable``'s keywords that ``xg.Variable`` does not take -> what xpgrad does instead
VARIABLE_KEYWORDS = {
    **dict.fromkeys(("shape", "validate_shape"),
                    "a Variable's shape is its initial value's and assign keeps it (a value of "
                    "another shape is a ValueError); for one that changes shape make a new "
                    "Variable"),
    **dict.fromkeys(("synchronization", "aggregation"),
                    "each process holds its own Variables; xg.distributed averages the "
                    "gradients across processes (DistributedGradientTape), so leave it out"),
}
