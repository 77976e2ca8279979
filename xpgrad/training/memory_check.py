"""The run's memory, estimated before its model is built (``check_fits_memory``): a ``--hidden``
or ``--batch-size`` too large for the machine is a ConfigError naming the flag and the
estimate, where building and training would swap until the process is killed.

>>> physical_memory() is None or physical_memory() > 0
True
"""
from __future__ import annotations

import os

from ..models import MODELS
from . import ConfigError
from .config import _name

#: bytes of one float32, the models' dtype
FLOAT_BYTES = 4
#: copies of the weights a run keeps: the weights, their gradients, the optimizer's two slots
WEIGHT_COPIES = 4
GIB = 2.0 ** 30


def physical_memory():
    """The machine's memory in bytes, or None where the system does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_fits_memory(cfg, dataset, total=None):
    """ConfigError when the model of ``cfg`` (its ``sizes`` estimate, ``models.py``) and one
    training step on ``dataset`` need more than ``total`` bytes (default: the machine's
    memory); nothing is checked for a model without an estimate or where memory is unknown."""
    sizes = MODELS[cfg.model].sizes
    total = physical_memory() if total is None else total
    if sizes is None or not total:
        return
    batch = min(cfg.batch_size, len(dataset.x_train))
    parameters, activations = sizes(dataset, tuple(cfg.hidden), batch)
    weights = parameters * WEIGHT_COPIES * FLOAT_BYTES
    step = activations * FLOAT_BYTES
    if weights + step <= total:
        return
    per_row = step / batch
    if weights + per_row > total:           # not even one row fits: the layers are too wide
        field, value, fix = "hidden", ",".join(map(str, cfg.hidden)), "a smaller --hidden"
    else:
        rows = int((total - weights) // per_row)
        field, value, fix = "batch_size", cfg.batch_size, f"--batch-size {rows} or less"
    raise ConfigError(f"{_name(field)} {value}: the {cfg.model} model would have about "
                      f"{parameters:.3g} parameters and need about "
                      f"{(weights + step) / GIB:.3g} GiB ({weights / GIB:.3g} for its weights, "
                      f"gradients and optimizer state, {step / GIB:.3g} for one step on "
                      f"{batch} rows), more than this machine's {total / GIB:.3g} GiB of memory; "
                      f"choose {fix}")
