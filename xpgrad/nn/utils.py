"""``xg.nn.utils``: PyTorch's ``torch.nn.utils`` parametrizations for xpgrad modules.

``weight_norm`` and ``spectral_norm`` (``torch.nn.utils.parametrizations``'),
``remove_parametrizations`` and ``is_parametrized`` (``torch.nn.utils.parametrize``'), and
``remove_weight_norm`` / ``remove_spectral_norm``. Gradient clipping is
``xg.optim.clip_global_norm`` (see ``__getattr__``).

>>> import xpgrad as xg
>>> layer = xg.nn.utils.weight_norm(xg.nn.Linear(3, 2, rng=0))
>>> [v.shape for v in layer.trainable_variables]
[(2,), (1, 2), (3, 2)]
"""
from .._args import no_module_attribute
from .parametrizations import (remove_spectral_norm, remove_weight_norm, spectral_norm,
                               weight_norm)
from .parametrize import is_parametrized, remove_parametrizations

__all__ = ["weight_norm", "spectral_norm", "remove_parametrizations", "remove_weight_norm",
           "remove_spectral_norm", "is_parametrized"]

#: torch.nn.utils' names that xpgrad does without, and what to write instead
_PYTORCH_NAMES = {
    name: "torch.nn.utils.clip_grad_norm_ is xg.optim.clip_global_norm(grads, max_norm, "
          "eps=1e-6), which returns (clipped grads, norm); clip_grad_value_ is an "
          "optimizer's clipvalue="
    for name in ("clip_grad_norm_", "clip_grad_norm", "clip_grad_value_")}


def __getattr__(name):
    raise no_module_attribute(__name__, name, _PYTORCH_NAMES.get(name))
