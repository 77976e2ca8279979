"""Scenarios of tests/mpi_worker_user_scripts.py with the models of DDP / Horovod tutorials: a
character language model trained by truncated backpropagation through time on each rank's
shard of the sequences, a classifier over a frozen pretrained embedding under AdamW's weight
decay, and a run resumed from rank 0's checkpoint in the tape style, each against one process
on the whole batch (float64)."""
import numpy as np

import xpgrad as xg
from xpgrad import distributed as dist

from mpi_user_scripts_common import assert_same, data, expect_error, mlp, mse_step, ok, share

VOCABULARY = 6


class CharLM(xg.nn.Module):
    """Embedding, LSTM, a linear head over the characters: ``(ids, state) -> (logits,
    state)``, as ``tbptt_train`` calls it."""

    def __init__(self):
        super().__init__()
        self.embed = xg.nn.Embedding(VOCABULARY, 3, rng=0, dtype=xg.float64)
        self.lstm = xg.nn.LSTM(3, 4, rng=1, dtype=xg.float64)
        self.head = xg.nn.Linear(4, VOCABULARY, rng=2, dtype=xg.float64)

    def forward(self, ids, state=None):
        out, state = self.lstm(self.embed(ids), state)
        return self.head(out), state


def scenario_char_lm_tbptt():
    """Seven sequences of 9 characters (shares of 4 and 3 rows on 2 ranks, 2, 2 and 3 on 3),
    each rank ``tbptt_train``-ing its shard in windows of 3 with DistributedOptimizer(Adam),
    the state carried into a second call on the sequences' continuation, eager and compiled,
    clipped by global norm: the weights and every update's loss (reduced over the ranks,
    weighed by rows) are one process's."""
    rng = np.random.default_rng(3)
    text = rng.integers(0, VOCABULARY, size=(7, 19))
    ids, targets = text[:, :-1], text[:, 1:]

    def loss(logits, labels):
        return xg.losses.softmax_cross_entropy(logits, labels)

    for compile in (False, True):
        models, losses = [], []
        for how in ("one", "optimizer"):
            model, optimizer = CharLM(), xg.optim.Adam(0.02)
            xs, ys = (ids, targets) if how == "one" else (share(ids), share(targets))
            if how == "optimizer":
                optimizer = dist.DistributedOptimizer(optimizer)
            state, seen = None, []
            for part in (slice(0, 9), slice(9, 18)):
                result = xg.nn.tbptt_train(model, loss, optimizer, xg.asarray(xs[:, part]),
                                           xg.asarray(ys[:, part]), 3, state=state,
                                           max_grad_norm=0.5, compile=compile)
                state = result.state
                seen += [float(v) for v in result.losses]
            if how == "optimizer":       # each rank's losses: weighed by rows, summed
                seen = dist.allreduce(xg.asarray(np.array(seen) * len(xs)), op="sum").numpy()
                seen = list(seen / len(ids))
            models.append(model)
            losses.append(seen)
        assert_same(*models, f"char LM, tbptt, compile={compile}")
        np.testing.assert_allclose(losses[1], losses[0], rtol=1e-10)
    ok("char lm tbptt")


class Classifier(xg.nn.Module):
    """A frozen pretrained embedding, mean-pooled, under a trained linear head."""

    def __init__(self):
        super().__init__()
        self.embed = xg.nn.Embedding(10, 4, rng=0, dtype=xg.float64)
        self.embed.weight.trainable = False         # PyTorch's requires_grad_(False)
        self.head = xg.nn.Linear(4, 2, rng=1, dtype=xg.float64)

    def forward(self, ids):
        return self.head(xg.mean(self.embed(ids), axis=1))


def scenario_frozen_embedding_adamw():
    """A DDP port that freezes the embedding's table as PyTorch's ``requires_grad_(False)``
    does and passes all the model's variables (the frozen table too) to AdamW with weight
    decay, through DistributedGradientTape and through DistributedOptimizer:
    the embedding has no gradient on any rank, so it is neither reduced nor decayed; the head
    trains as on one process, the embedding stays the pretrained one."""
    _, y = data()
    ids = np.random.default_rng(4).integers(0, 10, size=(len(y), 5))
    pretrained = Classifier().embed.weight.numpy()
    models = []
    for how in ("one", "tape", "optimizer"):
        model, optimizer = Classifier(), xg.optim.AdamW(0.05, weight_decay=0.1)
        xs, ys = (ids, y) if how == "one" else (share(ids), share(y))
        if how == "optimizer":
            optimizer = dist.DistributedOptimizer(optimizer)
        everything = model.variables
        for _ in range(3):
            tape, loss = mse_step(model, xs, ys)
            if how == "tape":
                grads = dist.DistributedGradientTape(tape).gradient(loss, everything,
                                                                    weight=len(xs))
            else:
                grads = tape.gradient(loss, everything)
            options = {"weight": len(xs)} if how == "optimizer" else {}
            optimizer.apply_gradients(zip(grads, everything), **options)
        np.testing.assert_array_equal(model.embed.weight.numpy(), pretrained, err_msg=how)
        models.append(model)
    for model in models[1:]:
        assert_same(models[0], model, "frozen embedding, AdamW")
    ok("frozen embedding adamw")


def _tape_steps(model, optimizer, xs, ys, n):
    """``n`` updates in Horovod's tape style: the reduced gradients, the plain optimizer."""
    for _ in range(n):
        variables = model.trainable_variables
        tape, loss = mse_step(model, xs, ys)
        grads = dist.DistributedGradientTape(tape).gradient(loss, variables, weight=len(xs))
        optimizer.apply_gradients(zip(grads, variables))


def scenario_resume_tape():
    """Horovod's resume recipe in the tape style: two steps, rank 0 alone writes the checkpoint
    (model and Adam), then a new run where rank 0 alone reads it, ``broadcast_variables`` and
    ``broadcast_optimizer_state`` give it to the others, two more steps: one process's four.
    Forgetting ``broadcast_optimizer_state`` (the others' Adam at step 0) is named by a
    DistributedError on every rank at the next step's ``gradient`` call."""
    import os
    import shutil
    import tempfile

    x, y = data()
    xs, ys = share(x), share(y)
    model, optimizer = mlp(dist.rank()), xg.optim.Adam(0.01)
    dist.broadcast_variables(model)
    _tape_steps(model, optimizer, xs, ys, 2)
    folder = dist.world().bcast_object(tempfile.mkdtemp() if dist.rank() == 0 else None)
    path = os.path.join(folder, "run.npz")
    if dist.rank() == 0:
        xg.save_checkpoint(path, model, optimizer)
    dist.barrier()
    reference, reference_optimizer = mlp(), xg.optim.Adam(0.01)
    for _ in range(4):
        tape, loss = mse_step(reference, x, y)
        reference_optimizer.apply_gradients(zip(tape.gradient(loss, reference.variables),
                                                reference.variables))
    for forget in (False, True):
        model, optimizer = mlp(dist.rank() + 1), xg.optim.Adam(0.01)
        if dist.rank() == 0:
            xg.load_checkpoint(path, model, optimizer)
        dist.broadcast_variables(model)
        if not forget:
            dist.broadcast_optimizer_state(optimizer, model)
            _tape_steps(model, optimizer, xs, ys, 2)
            assert_same(reference, model, "resumed, tape style")
        elif dist.size() > 1:
            _tape_steps(model, optimizer, xs, ys, 1)
            expect_error(lambda: _tape_steps(model, optimizer, xs, ys, 1),
                         dist.DistributedError, "broadcast_optimizer_state")
    dist.barrier()
    if dist.rank() == 0:
        shutil.rmtree(folder)
    ok("resume tape")
