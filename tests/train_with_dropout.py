"""``xpgrad train`` with a model with dropout registered as ``dropout_mlp``: its builder, for
tests/test_cli_train_resume_dropout.py, and, run as a script (under mpiexec), the command line
``python train_with_dropout.py ARGS`` for ``xpgrad train ARGS``."""
import sys

import xpgrad as xg
from xpgrad.models import MODELS, ModelSpec


def build_dropout_mlp(dataset, hidden, rng, backend):
    """A Dropout sharing the weights' generator, and one whose generator the run's global
    seed makes on its first call."""
    return xg.nn.Sequential([
        xg.nn.Linear(dataset.n_features, hidden[0], rng=rng, backend=backend), xg.nn.ReLU(),
        xg.nn.Dropout(0.3, rng=rng), xg.nn.Dropout(0.2),
        xg.nn.Linear(hidden[0], dataset.n_classes, rng=rng, backend=backend)])


SPEC = ModelSpec("dropout_mlp", build_dropout_mlp, "an MLP with dropout (tests)")

if __name__ == "__main__":
    from xpgrad.cli import main

    MODELS[SPEC.name] = SPEC
    sys.exit(main(sys.argv[1:]))
