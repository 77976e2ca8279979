"""``xg.nn.utils``: PyTorch's ``torch.nn.utils`` parametrizations for xpgrad modules.

``weight_norm`` and ``spectral_norm`` (``torch.nn.utils.parametrizations``'),
``remove_parametrizations`` and ``is_parametrized`` (``torch.nn.utils.parametrize``'), and
``remove_weight_norm`` / ``remove_spectral_norm``; ``pad_sequence``
(``torch.nn.utils.rnn``'s; recurrent layers take ``lengths=`` in place of packed sequences);
``parameters_to_vector`` and ``vector_to_parameters``.
Gradient clipping is
``xg.optim.clip_global_norm`` (see ``__getattr__``).

>>> import xpgrad as xg
>>> layer = xg.nn.utils.weight_norm(xg.nn.Linear(3, 2, rng=0))
>>> [v.shape for v in layer.trainable_variables]
[(2,), (1, 2), (3, 2)]
"""
from .._args import no_module_attribute
from ..optim.gradient_clipping import TORCH_CLIPPING_NAMES
from .parameter_vector import parameters_to_vector, vector_to_parameters
from .parametrizations import (remove_spectral_norm, remove_weight_norm, spectral_norm,
                               weight_norm)
from .parametrize import is_parametrized, remove_parametrizations
from .sequence_padding import pad_sequence

__all__ = ["weight_norm", "spectral_norm", "remove_parametrizations", "remove_weight_norm",
           "remove_spectral_norm", "is_parametrized", "pad_sequence", "parameters_to_vector",
           "vector_to_parameters"]

#: torch.nn.utils' names that xpgrad does without, and what to write instead
_PYTORCH_NAMES = dict(TORCH_CLIPPING_NAMES)
_PYTORCH_NAMES.update(dict.fromkeys(
    ("rnn", "pack_padded_sequence", "pad_packed_sequence", "pack_sequence", "unpack_sequence",
     "PackedSequence"),
    "xpgrad has no packed sequences: pad the batch (xg.nn.utils.pad_sequence(seqs, "
    "batch_first=True), torch.nn.utils.rnn's) and give the recurrent layer the lengths, "
    "out, h = gru(x, lengths=lengths): outputs past each length are zero, as after "
    "pad_packed_sequence"))


def __getattr__(name):
    raise no_module_attribute(__name__, name, _PYTORCH_NAMES.get(name))
