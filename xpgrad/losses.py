"""Losses: ``mse``, ``sigmoid_mse``, ``softmax_cross_entropy``,
``sigmoid_cross_entropy_with_logits``, and PyTorch's ``l1``, ``huber``, ``smooth_l1``, ``nll``,
``binary_cross_entropy``, ``kl_div`` and ``ctc`` (primitives and rules in
``xpgrad/ops/losses.py``, ``xpgrad/ops/probability_losses.py`` and ``xpgrad/ops/ctc.py``); and,
composed of primitives, PyTorch's ``gaussian_nll``, ``poisson_nll``
(``xpgrad/ops/likelihood_losses.py``), ``margin_ranking``, ``hinge_embedding``,
``soft_margin``, ``multilabel_soft_margin``, ``multi_margin``, ``triplet_margin``,
``cosine_embedding`` (``xpgrad/ops/margin_losses.py``), ``multilabel_margin`` and
``triplet_margin_with_distance`` (``xpgrad/ops/margin_losses_more.py``).

>>> import xpgrad as xg
>>> logits = xg.asarray([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]])
>>> round(xg.losses.softmax_cross_entropy(logits, xg.asarray([0, 1])).item(), 4)
0.1324
"""
from ._args import no_module_attribute
from .ops.ctc_args import ctc
from .ops.losses import (REDUCTIONS, huber, l1, mse, sigmoid_cross_entropy_with_logits,
                         sigmoid_mse, smooth_l1, softmax_cross_entropy)
from .ops.likelihood_losses import gaussian_nll, poisson_nll
from .ops.margin_losses import (cosine_embedding, hinge_embedding, margin_ranking, multi_margin,
                                multilabel_soft_margin, soft_margin, triplet_margin)
from .ops.margin_losses_more import multilabel_margin, triplet_margin_with_distance
from .ops.probability_losses import KL_REDUCTIONS, binary_cross_entropy, kl_div, nll

__all__ = ["mse", "sigmoid_mse", "softmax_cross_entropy", "sigmoid_cross_entropy_with_logits",
           "l1", "huber", "smooth_l1", "nll", "binary_cross_entropy", "kl_div", "ctc",
           "gaussian_nll", "poisson_nll", "margin_ranking", "hinge_embedding", "soft_margin",
           "multilabel_soft_margin", "multi_margin", "triplet_margin", "cosine_embedding",
           "multilabel_margin", "triplet_margin_with_distance", "REDUCTIONS", "KL_REDUCTIONS"]

#: torch.nn.functional's loss names -> xpgrad's (the same functions, class axis last)
_PYTORCH_NAMES = {
    "cross_entropy": "xg.losses.softmax_cross_entropy(logits, labels) (class axis last)",
    "nll_loss": "xg.losses.nll(log_probs, labels) (class axis last)",
    "mse_loss": "xg.losses.mse(prediction, target)",
    "l1_loss": "xg.losses.l1(prediction, target)",
    "smooth_l1_loss": "xg.losses.smooth_l1(prediction, target, beta=)",
    "huber_loss": "xg.losses.huber(prediction, target, delta=)",
    "binary_cross_entropy_with_logits": "xg.losses.sigmoid_cross_entropy_with_logits(logits, "
                                        "targets)",
    # softmax_cross_entropy's twin by name (TensorFlow 1's tf.losses.sigmoid_cross_entropy);
    # without the hint Python suggests binary_cross_entropy, which takes probabilities
    "sigmoid_cross_entropy": "xg.losses.sigmoid_cross_entropy_with_logits(logits, targets) "
                             "(logits first; TensorFlow 1's takes the labels first; "
                             "xg.losses.binary_cross_entropy(probs, targets) takes "
                             "probabilities)",
}

_FIRST = "; the prediction comes first here, where Keras' loss(y_true, y_pred) takes it second"
_ON_PROBABILITIES = ("; on probabilities (from_logits=False, Keras' default) "
                     "xg.losses.nll(xg.log(probs), labels)")
#: Keras' loss classes and functions (tf.keras.losses) -> xpgrad's functions and loss classes
_KERAS_NAMES = {
    **dict.fromkeys(("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"),
                    "from_logits=True is xg.losses.softmax_cross_entropy(logits, labels) "
                    "(the class: xg.nn.CrossEntropyLoss())" + _FIRST + _ON_PROBABILITIES),
    **dict.fromkeys(("CategoricalCrossentropy", "categorical_crossentropy"),
                    "from_logits=True is xg.losses.softmax_cross_entropy(logits, one_hot) "
                    "(labels may be probabilities)" + _FIRST),
    **dict.fromkeys(("BinaryCrossentropy", "binary_crossentropy"),
                    "from_logits=True is xg.losses.sigmoid_cross_entropy_with_logits(logits, "
                    "targets) (the class: xg.nn.BCEWithLogitsLoss()); on probabilities "
                    "xg.losses.binary_cross_entropy(probs, targets)" + _FIRST),
    **dict.fromkeys(("MeanSquaredError", "mean_squared_error", "MSE"),
                    "xg.losses.mse(prediction, target) (the class: xg.nn.MSELoss())"),
    **dict.fromkeys(("MeanAbsoluteError", "mean_absolute_error", "MAE", "mae"),
                    "xg.losses.l1(prediction, target) (the class: xg.nn.L1Loss())"),
    "Huber": "xg.losses.huber(prediction, target, delta=) (the class: xg.nn.HuberLoss())",
}
#: torch.nn's loss classes, xg.nn's too (``xg.losses`` holds the functions)
_LOSS_CLASSES = ("L1Loss", "MSELoss", "HuberLoss", "SmoothL1Loss", "CrossEntropyLoss", "NLLLoss",
                 "BCELoss", "BCEWithLogitsLoss", "KLDivLoss", "CTCLoss", "GaussianNLLLoss",
                 "PoissonNLLLoss", "MarginRankingLoss", "HingeEmbeddingLoss", "SoftMarginLoss",
                 "MultiLabelSoftMarginLoss", "MultiMarginLoss", "TripletMarginLoss",
                 "CosineEmbeddingLoss", "MultiLabelMarginLoss", "TripletMarginWithDistanceLoss")


def __getattr__(name):
    from .tf_names import NN as _TENSORFLOW_NAMES       # tf.nn's losses: l2_loss, ...

    hint = _PYTORCH_NAMES.get(name) or _KERAS_NAMES.get(name) or _TENSORFLOW_NAMES.get(name)
    if name in _LOSS_CLASSES:
        hint = f"the loss classes are xg.nn's, as torch.nn's: xg.nn.{name}"
    raise no_module_attribute(__name__, name, hint)
