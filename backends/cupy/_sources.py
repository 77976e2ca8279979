"""The CUDA sources next to this file and the template instantiations xpgrad compiles.

One table, ``MODULES``, says which kernels each ``.cu`` file provides (as NVRTC name expressions,
e.g. ``"softmax_ce_labels<float, long long>"``); the loader compiles exactly these, and the tests
compile exactly these with ``nvcc`` and NVRTC. ``source(name)`` returns a file's text with
``common.cuh`` inlined, so a change to the header changes the text CuPy keys its cache on.

>>> from xpgrad.backends.cupy._sources import MODULES, expr
>>> expr("softmax_ce_probs", "float") in MODULES["softmax_ce"]
True
"""
from __future__ import annotations

import re
from pathlib import Path

CUDA_DIR = Path(__file__).with_name("cuda")
HEADER = "common.cuh"
# accurate math: never --use_fast_math. CuPy itself appends -ftz=true (float32 subnormals
# flush to zero; docs/gpu.md), and a -ftz=false here would not override it.
OPTIONS = ("-std=c++17",)

CTYPE = {"float32": "float", "float64": "double", "int32": "int", "int64": "long long"}
FLOATS = ("float", "double")
LABELS = ("int", "long long")
ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "leaky_relu": "LeakyRelu",
               "softplus": "Softplus"}
#: the activations a dense layer applies in its own kernel (``linear_relu``...)
DENSE_ACTIVATIONS = ("relu", "tanh", "sigmoid")
POINTWISE_LOSSES = {"sigmoid_mse": "SigmoidMse", "sigmoid_cross_entropy_with_logits":
                    "SigmoidBce", "mse": "Mse"}
OPTIMIZERS = {"sgd": "Sgd", "adagrad": "Adagrad", "adadelta": "Adadelta", "rmsprop": "Rmsprop",
              "adam": "Adam", "adamax": "Adamax", "nadam": "Nadam", "radam": "Radam",
              "lion": "Lion"}

# launch limits; each must equal the __launch_bounds__ of the kernels in that file (tested)
CE_MAX_THREADS = 1024
POINTWISE_THREADS = 256
ACTIVATION_THREADS = 256
OPTIM_THREADS = 256


def expr(kernel: str, *targs: str) -> str:
    """One instantiation's name expression: ``expr("f", "float", "int") == "f<float, int>"``."""
    return f"{kernel}<{', '.join(targs)}>"


MODULES: dict[str, tuple[str, ...]] = {
    "softmax_ce": tuple(
        [expr("softmax_ce_labels", t, lab) for t in FLOATS for lab in LABELS]
        + [expr("softmax_ce_probs", t) for t in FLOATS]),
    "pointwise_loss": tuple(
        expr("pointwise_loss", t, op) for t in FLOATS for op in POINTWISE_LOSSES.values()),
    "activations": tuple(
        [expr(f"activation_{d}", t, op)
         for t in FLOATS for op in ACTIVATIONS.values() for d in ("fwd", "bwd")]
        + [expr("bias_activation_fwd", t, ACTIVATIONS[a]) for t in FLOATS
           for a in DENSE_ACTIVATIONS]),
    "optim": tuple(expr("optim_update", t, op) for t in FLOATS for op in OPTIMIZERS.values()),
}

_INCLUDE = re.compile(r'^#include "([^"]+)"\s*$', re.M)


def path(module: str) -> Path:
    return CUDA_DIR / f"{module}.cu"


def source(module: str) -> str:
    """The text of ``<module>.cu`` with ``#include "common.cuh"`` replaced by the header."""
    text = path(module).read_text()

    def inline(m):
        if m.group(1) != HEADER:
            raise ValueError(f"{module}.cu includes {m.group(1)!r}; only {HEADER!r} is inlined")
        return (CUDA_DIR / HEADER).read_text()

    return _INCLUDE.sub(inline, text)
