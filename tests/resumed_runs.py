"""An ``xpgrad train`` run split by ``--max-steps`` and resumed from its checkpoint, against
the uninterrupted run: the shared body of the CLI's resume tests."""
import numpy as np

from xpgrad.cli import main


def checkpoint_arrays(path) -> dict:
    """The arrays of the checkpoint at ``path`` by name (its ``__``-named metadata left out)."""
    with np.load(path) as z:
        return {k: z[k] for k in z.files if not k.startswith("__")}


def assert_resumed_equals_whole(run, folder, stop_after=7) -> dict:
    """Run ``run`` (an ``xpgrad train`` command line) to its end, and again stopped after
    ``stop_after`` steps and resumed from its checkpoint (both in ``folder``); assert that the
    two checkpoints hold the same arrays bit for bit (the list of those that differ is empty);
    return the uninterrupted run's."""
    whole, part = str(folder / "whole.npz"), str(folder / "part.npz")
    assert main([*run, "--checkpoint", whole]) == 0
    assert main([*run, "--checkpoint", part, "--max-steps", str(stop_after)]) == 0
    assert main(["train", "-q", "--no-log", "--progress", "never", "--resume", part]) == 0
    a, b = checkpoint_arrays(whole), checkpoint_arrays(part)
    assert sorted(a) == sorted(b), (sorted(a), sorted(b))
    differ = [key for key in a if not np.array_equal(a[key], b[key])]
    assert differ == [], differ
    return a
