"""What a PyTorch user reaches for on a Tensor that xpgrad names otherwise, and where xpgrad has
it: reading one of these names on a Tensor raises the AttributeError (so ``hasattr`` stays
False) with the hint (``tensor_methods`` sets them on ``TensorMethods``, beside TensorFlow's
from ``tf_names.TENSOR``). No imports: every layer of xpgrad may read it.

>>> PYTORCH_NAMES["detach"]
'xg.stop_gradient(t) cuts it from the tapes'
"""
#: torch.multinomial (a function, a Tensor method) -> xpgrad's draws (NumPy's
#: Generator.multinomial, which counts, is another function)
MULTINOMIAL = ("draws come from a generator, rng = xg.random.default_rng(seed): "
               "rng.choice(n, size=k, replace=False, p=probs) for one row of probabilities "
               "(torch's default draws without replacement; replacement=True is replace=True), "
               "xg.distributions.Categorical(probs=probs).sample(rng=rng) for one draw per row "
               "of a batch")
#: PyTorch's Tensor names a user reaches for, and where xpgrad has them: reading one raises the
#: AttributeError (so ``hasattr`` stays False) with the pointer
PYTORCH_NAMES = {
    "backward": "gradients come from a tape: with xg.GradientTape() as tape: loss = ...; then "
                "tape.gradient(loss, variables) (or xg.grad(f))",
    "grad": "gradients are not stored on tensors: tape.gradient(loss, [x]) returns them",
    "requires_grad": "tapes watch trainable Variables by themselves; watch a Tensor with "
                     "tape.watch(t)",
    "requires_grad_": "tapes watch trainable Variables by themselves (v.trainable = False "
                      "freezes one); watch a Tensor with tape.watch(t)",
    "detach": "xg.stop_gradient(t) cuts it from the tapes",
    "cpu": "t.to('numpy') moves it to host memory (t.numpy() gives a NumPy array)",
    "cuda": "t.to('cupy') moves it to the CUDA backend",
    "clone": "xg.asarray(t, copy=True)",
    **{f"new_{name}": f"xg.{name}({args}, dtype=t.dtype, backend=t.backend)"
       for name, args in (("ones", "shape"), ("full", "shape, value"), ("empty", "shape"))},
    "new_zeros": "xg.zeros(shape, dtype=t.dtype, backend=t.backend) (an RNN's init_hidden: "
                 "xg.zeros((num_layers, batch, hidden), dtype=w.dtype, backend=w.backend); a "
                 "recurrent layer's state=None is zeros already)",
    "new_tensor": "xg.asarray(data, dtype=t.dtype, backend=t.backend)",
    "view": "t.reshape(shape)",
    "unsqueeze": "xg.expand_dims(t, axis=k) (squeeze's inverse: t.squeeze(axis=k))",
    "dim": "t.ndim",
    "numel": "t.size (the number of entries, a property as in the array API; the shape is "
             "t.shape)",
    "float": "t.astype(xg.float32)",
    "double": "t.astype(xg.float64)",
    "long": "t.astype(xg.int64)",
    "clamp": "t.clip(min, max) (xg.clip, the array API's name)",
    "masked_fill": "xg.where(mask, value, t) (a new tensor: where mask is true, value)",
    **dict.fromkeys(("split", "chunk"),
                    "xg.unstack(t, axis=k) gives every slice of size one (the axis dropped), "
                    "slicing t[:, i:j] any other piece, and NumPy's np.split(t, sections, "
                    "axis=k) equal pieces, on the tapes (torch's t.split(size, dim=k) is "
                    "np.split(t, t.shape[k] // size, axis=k); t.chunk(n, k) is np.split(t, n, "
                    "axis=k))"),
    **{name: f"xg.{name}(t) (a Tensor has the array API's few methods; its functions are "
             "xpgrad's)"
       for name in ("exp", "log", "log1p", "expm1", "log2", "log10", "sqrt", "square", "sin",
                    "cos", "tanh", "sigmoid", "floor", "ceil", "sign", "reciprocal", "isnan",
                    "isinf", "isfinite", "maximum", "minimum", "nonzero", "nan_to_num")},
    **{name: f"xg.{name}(t, k=diagonal) (k is keyword-only)" for name in ("tril", "triu")},
    "t": "t.T (t.mT swaps the last two axes of a batch)",
    "diagonal": "xg.linalg.diagonal(t, offset=k) (of the last two axes)",
    "trace": "xg.linalg.trace(t, offset=k) (of the last two axes)",
    "fill_diagonal_": "xg.where(xg.eye(n, dtype=xg.bool), value, t) (a new tensor; -xg.inf "
                      "masks a similarity matrix's diagonal)",
    "masked_select": "t[mask] (its length depends on the mask's values)",
    **{name: f"xg.nn.{name}(t{args}) (torch.nn.functional's functions are xg.nn's)"
       for name, args in (("relu", ""), ("softplus", ""), ("softmax", ", axis=-1"),
                          ("log_softmax", ", axis=-1"))},
    **dict.fromkeys(("matmul", "mm", "bmm"), "t @ other (xg.matmul)"),
    "pow": "t ** p (xg.pow)",
    "add": "t + other (xg.add; torch's alpha=a is t + a * other)",
    "sub": "t - other (xg.subtract; torch's alpha=a is t - a * other)",
    "mul": "t * other (xg.multiply)",
    "div": "t / other (xg.divide)",
    "neg": "-t (xg.negative)",
    "norm": "xg.linalg.vector_norm(t, axis=None, ord=2) (xg.linalg.matrix_norm for "
            "matrices)",
    "logsumexp": "xg.logsumexp(t, axis=k)",
    "flip": "xg.flip(t, axis=k)",
    "sort": "xg.sort(t, axis=k) for the values, xg.argsort(t, axis=k) for the indices",
    "argsort": "xg.argsort(t, axis=k)",
    "topk": "xg.topk(t, k)",
    "gather": "xg.take_along_axis(t, indices, axis=k) (torch.gather's dim is axis)",
    "repeat": "xg.tile(t, repetitions) (torch's repeat; torch's repeat_interleave is xg.repeat)",
    "repeat_interleave": "xg.repeat(t, repeats, axis=k) (NumPy's name)",
    "index_select": "xg.take(t, index, axis=k) (torch's dim is axis)",
    "rsqrt": "1 / xg.sqrt(t)",
    **dict.fromkeys(("index_add", "index_add_"),
                    "t.at[index].add(source) along axis 0, t.at[:, index].add(source) along "
                    "axis 1 (a new tensor; repeated indices accumulate, as torch's); into zeros "
                    "xg.unsorted_segment_sum(source, index, num_segments)"),
    **dict.fromkeys(("scatter_add", "scatter_add_"),
                    "torch's t.scatter_add(0, index, src) with one index per row of src (each "
                    "row repeated across the columns, as a graph's messages summed at their "
                    "nodes) is t.at[ids].add(src), into zeros xg.unsorted_segment_sum(src, ids, "
                    "num_segments); TensorFlow's v.scatter_add is v.assign(xg.tensor_scatter_nd_"
                    "add(v, indices, updates))"),
    "scatter_reduce": "the segment reductions into zeros: xg.unsorted_segment_sum, _max, _min, "
                      "_prod, _mean(src, ids, num_segments) (reduce='sum', 'amax', 'amin', "
                      "'prod', 'mean'), or onto t: t.at[ids].add / .max / .min / .multiply(src)",
    "expand": "xg.broadcast_to(t, shape)",
    "contiguous": "a Tensor needs no contiguous(): drop the call (t.reshape copies where it "
                  "must)",
    "type": "t.astype(dtype) casts (t.dtype is the dtype)",
    "multinomial": MULTINOMIAL,
    **{name: f"t {op} other (the operator; xg.{fn})" for name, op, fn in (
        ("eq", "==", "equal"), ("ne", "!=", "not_equal"), ("lt", "<", "less"),
        ("le", "<=", "less_equal"), ("gt", ">", "greater"), ("ge", ">=", "greater_equal"))},
    "view_as": "t.reshape(other.shape)",
    **dict.fromkeys(("normal_", "uniform_"),
                    "draws come from a generator, rng = xg.random.default_rng(seed): "
                    "v.assign(rng.normal(mean, std, size=v.shape, dtype=v.dtype)) (uniform: "
                    "rng.uniform(low, high, ...)), or give the layer init=xg.nn.init.normal(mean, "
                    "stddev)"),
    "lerp_": "a soft update is x += weight * (end - x) (x.add_(end - x, alpha=weight)); "
             "a target network's: target.data.add_(online - target, alpha=tau), or "
             "target.assign(tau * online + (1 - tau) * target)",
}
