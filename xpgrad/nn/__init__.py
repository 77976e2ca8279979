"""Neural-network building blocks: functional activations and layers built on them.

>>> import xpgrad as xg
>>> model = xg.nn.MLP([2, 4, 1], activation="tanh", rng=xg.random.default_rng(0))
>>> model(xg.ones((3, 2))).shape
(3, 1)
"""
from .._args import no_module_attribute
from ..ops import activations as _activations
from ..ops.activations import *  # noqa: F401,F403 (every activation of the table)
from ..ops.elementwise import tanh
from ..ops.indexing import one_hot
from ..ops.batch_norm import batch_norm
from ..ops.nn import embedding, layer_norm
from ..ops.rms_norm import rms_norm
from ..ops.projected_scans import gru_layer, rnn_layer
from ..ops.recurrent import gru_scan, lstm_layer, lstm_scan, rnn_scan
from . import init
from .activations_layers import (CELU, ELU, GELU, GLU, SELU, Hardsigmoid, Hardswish, Hardtanh,
                                 LeakyReLU, LogSigmoid, LogSoftmax, Mish, ReLU, ReLU6, Sigmoid,
                                 SiLU, Softmax, Softplus, Softsign, Tanh, get_activation)
from .containers import MLP, Sequential, checkpoint_sequential
from .dropout import Dropout, dropout
from .dropout_channels import Dropout1d, Dropout2d
from .conv import conv1d, conv2d
from .conv_layers import Conv1d, Conv2d
from .conv_transpose import conv_transpose1d, conv_transpose2d
from .conv_transpose_layers import ConvTranspose1d, ConvTranspose2d
from .padding import (CircularPad1d, CircularPad2d, ConstantPad1d, ConstantPad2d,
                      ReflectionPad1d, ReflectionPad2d, ReplicationPad1d, ReplicationPad2d,
                      ZeroPad1d, ZeroPad2d, pad)
from .group_norm import GroupNorm, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, group_norm
from .pixel_shuffle import PixelShuffle, PixelUnshuffle, pixel_shuffle, pixel_unshuffle
from .upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d, interpolate
from .embedding_bag import embedding_bag
from .embeddings import Embedding, EmbeddingBag
from .distances import cosine_similarity, normalize, pairwise_distance
from .normalization import BatchNorm1d, LayerNorm, RMSNorm
from .batch_norm_nd import BatchNorm2d, BatchNorm3d
from .adaptive_pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d,
                               adaptive_max_pool2d)
from .adaptive_pooling_layers import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d,
                                      AdaptiveMaxPool2d)
from .pooling import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d
from .pooling_layers import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from .sync_batch_norm import SyncBatchNorm
from .linear import Linear, linear
from .loss_layers import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, CTCLoss, GaussianNLLLoss,
                          HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss, PoissonNLLLoss,
                          SmoothL1Loss)
from .margin_loss_layers import (CosineEmbeddingLoss, HingeEmbeddingLoss, MarginRankingLoss,
                                 MultiLabelMarginLoss, MultiLabelSoftMarginLoss, MultiMarginLoss,
                                 SoftMarginLoss, TripletMarginLoss, TripletMarginWithDistanceLoss)
from .module import Module
from . import module_pytree as _module_pytree  # noqa: F401 (Modules as pytree nodes)
from .functional_call import functional_call, stack_module_state
from .attention import scaled_dot_product_attention
from .multihead import MultiheadAttention
from .transformer import (TransformerDecoderLayer, TransformerEncoderLayer,
                          generate_square_subsequent_mask)
from .transformer_stacks import TransformerDecoder, TransformerEncoder
from .transformer_model import Transformer
from .module_containers import ModuleDict, ModuleList
from .recurrent import GRUCell, LSTMCell, RNNCell
from .recurrent_layers import GRU, LSTM, RNN
from .sequence_classifier import SequenceClassifier
from .shape_layers import Flatten, Identity, Unflatten
from .tbptt import TBPTTResult, detach, tbptt_train

__all__ = _activations.__all__ + [
    "tanh", "Module", "functional_call", "stack_module_state", "Linear", "linear", "Sequential", "MLP", "Dropout", "dropout", "ReLU", "Sigmoid",
    "checkpoint_sequential", "Tanh", "LeakyReLU", "Softplus", "Softmax", "LogSoftmax", "ELU",
    "SELU", "CELU", "GELU",
    "SiLU", "Mish", "Softsign", "LogSigmoid", "Hardtanh", "ReLU6", "Hardsigmoid", "Hardswish",
    "GLU", "get_activation", "init", "utils",
    "RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU", "SequenceClassifier", "tbptt_train",
    "TBPTTResult", "detach", "lstm_scan", "lstm_layer", "rnn_scan", "gru_scan",
    "rnn_layer", "gru_layer", "one_hot",
    "Embedding", "embedding", "EmbeddingBag", "embedding_bag", "LayerNorm", "layer_norm",
    "RMSNorm", "rms_norm",
    "BatchNorm1d", "SyncBatchNorm", "batch_norm", "scaled_dot_product_attention",
    "MultiheadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer",
    "TransformerEncoder", "TransformerDecoder", "Transformer", "generate_square_subsequent_mask",
    "Identity", "Flatten", "Unflatten", "ModuleList", "ModuleDict",
    "Conv1d", "conv1d", "MaxPool1d", "max_pool1d", "AvgPool1d", "avg_pool1d",
    "Conv2d", "conv2d", "MaxPool2d", "max_pool2d", "AvgPool2d", "avg_pool2d",
    "BatchNorm2d", "BatchNorm3d",
    "AdaptiveAvgPool1d", "adaptive_avg_pool1d", "AdaptiveAvgPool2d", "adaptive_avg_pool2d",
    "AdaptiveMaxPool1d", "adaptive_max_pool1d", "AdaptiveMaxPool2d", "adaptive_max_pool2d",
    "Dropout1d", "Dropout2d",
    "ConvTranspose1d", "conv_transpose1d", "ConvTranspose2d", "conv_transpose2d",
    "pad", "ZeroPad1d", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d",
    "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d", "CircularPad2d",
    "interpolate", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d",
    "GroupNorm", "group_norm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
    "PixelShuffle", "PixelUnshuffle", "pixel_shuffle", "pixel_unshuffle",
    "normalize", "cosine_similarity", "pairwise_distance",
    "L1Loss", "MSELoss", "HuberLoss", "SmoothL1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss",
    "BCEWithLogitsLoss", "KLDivLoss", "CTCLoss", "GaussianNLLLoss", "PoissonNLLLoss",
    "MarginRankingLoss", "HingeEmbeddingLoss", "SoftMarginLoss", "MultiLabelSoftMarginLoss",
    "MultiMarginLoss", "TripletMarginLoss", "CosineEmbeddingLoss", "MultiLabelMarginLoss",
    "TripletMarginWithDistanceLoss"]

#: PyTorch's names that xpgrad does without, and what to write instead
_PYTORCH_NAMES = {
    **dict.fromkeys(("parallel", "DataParallel", "DistributedDataParallel"),
                    "data-parallel training is xpgrad.distributed's (docs/distributed.md): "
                    "dist.broadcast_variables(model), then dist.DistributedGradientTape(tape)"
                    ".gradient(loss, model.trainable_variables, weight=len(mine))"),
    "ParameterList": "a Module finds the Variables in a plain list attribute (nested too): "
                     "self.weights = [xg.Variable(...), ...]",
    "ParameterDict": "a Module finds the Variables in a plain dict attribute (nested too): "
                     "self.weights = {'a': xg.Variable(...)}",
    "Parameter": "xg.Variable(value, name=...) is a trainable tensor a Module finds in its "
                 "attributes",
    "CosineSimilarity": "xg.nn.cosine_similarity(x1, x2, axis=1, eps=1e-8) is the function",
    "PairwiseDistance": "xg.nn.pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdims=False) is "
                        "the function",
    "functional": "xg.nn holds the functions too: xg.nn.log_softmax(x, axis=-1), xg.nn.relu, "
                  "xg.nn.embedding, xg.nn.scaled_dot_product_attention, ...; losses are "
                  "xg.losses.* (and torch's classes: xg.nn.CrossEntropyLoss, ...)",
}

#: jax.nn's names for the activations xpgrad (and PyTorch) spell otherwise
_JAX_NAMES = {
    "swish": "xg.nn.silu(x) (jax.nn.swish is silu)",
    "hard_tanh": "xg.nn.hardtanh(x) (PyTorch's name)",
    "hard_sigmoid": "xg.nn.hardsigmoid(x) (PyTorch's name)",
    "hard_silu": "xg.nn.hardswish(x) (PyTorch's name)",
    "hard_swish": "xg.nn.hardswish(x) (PyTorch's name)",
    "soft_sign": "xg.nn.softsign(x) (PyTorch's name)",
    "standardize": "over the last axis, xg.nn.layer_norm(x, x.shape[-1:]) (eps=1e-5, as "
                   "jax.nn.standardize's epsilon); over others, (x - xg.mean(x, axis=a, "
                   "keepdims=True)) / xg.sqrt(xg.var(x, axis=a, keepdims=True) + 1e-5)",
}


def __getattr__(name):
    if name == "utils":         # weight_norm, spectral_norm: imported on first use
        import importlib

        return importlib.import_module(f".{name}", __name__)
    from ..tf_names import NN as _TENSORFLOW_NAMES      # tf.nn's and Keras' layers' names

    raise no_module_attribute(__name__, name, _PYTORCH_NAMES.get(name) or _JAX_NAMES.get(name)
                              or _TENSORFLOW_NAMES.get(name) or _functional_loss(name))


def _functional_loss(name):
    """Where torch.nn.functional's loss ``name`` (``F.smooth_l1_loss``, ``F.cross_entropy``)
    is in ``xg.losses``, or None."""
    from .. import losses

    stem = name[:-len("_loss")] if name.endswith("_loss") else name
    ours = losses._PYTORCH_NAMES.get(name) or (
        f"xg.losses.{stem}(...)" if stem in losses.__all__ and stem.islower()
        and (name != stem or name in ("binary_cross_entropy", "kl_div")) else None)
    return ours and f"{ours} (torch.nn.functional's losses are xg.losses')"
