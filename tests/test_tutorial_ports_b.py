"""Well-known programs ported to xpgrad as a new user writes them (docs/porting.md, "Porting
the well-known tutorials"), each checked against the PyTorch original in float64: nanoGPT
(AdamW with weight-decay groups, clipping, its warm-up cosine rate, tied weights, top-k
sampling), the VAE of PyTorch's examples, and the DCGAN training step (two optimizers, the
generator's output cut from the tape for the critic). The models: ``tests/tutorial_models.py``.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import xpgrad as xg
from tutorial_models import (BLOCK, F64, S2S_HIDDEN, S2S_VOCAB, VOCAB, Gpt, Seq2Seq, TorchGpt,
                             TorchSeq2Seq, TorchVae, Vae, nanogpt_lr, reversal_batch, torch_copy,
                             torch_vae_loss, vae_loss)

pytestmark = pytest.mark.usefixtures("numpy_default")


def _torch_layout(model, grads):
    """``grads`` (in ``model.trainable_variables``' order) under torch's names and layouts."""
    holder = copy.deepcopy(model)
    for variable, grad in zip(holder.trainable_variables, grads):
        variable.assign(grad)
    return holder.torch_state_dict()


def _batch(rng, data, n=6):
    ix = rng.integers(0, len(data) - BLOCK - 1, n)
    return (np.stack([data[i:i + BLOCK] for i in ix]),
            np.stack([data[i + 1:i + 1 + BLOCK] for i in ix]))


def test_nanogpt_trains_as_torchs_with_decay_groups_clipping_and_its_schedule(one_thread):
    model = Gpt(xg.random.default_rng(0))
    ref = torch_copy(model, TorchGpt())
    assert len(model.trainable_variables) == len(list(ref.parameters()))    # tied: counted once
    decay = [v for v in model.trainable_variables if v.ndim >= 2]
    plain = [v for v in model.trainable_variables if v.ndim < 2]
    opts = [xg.optim.AdamW(nanogpt_lr, weight_decay=wd, beta_1=0.9, beta_2=0.95)
            for wd in (0.1, 0.0)]
    ref_opt = torch.optim.AdamW(
        [{"params": [p for p in ref.parameters() if p.dim() >= 2], "weight_decay": 0.1},
         {"params": [p for p in ref.parameters() if p.dim() < 2], "weight_decay": 0.0}],
        lr=nanogpt_lr(0), betas=(0.9, 0.95))
    data, rng, losses = np.tile(np.arange(VOCAB), 40), np.random.default_rng(0), []
    for it in range(12):
        xb, yb = _batch(rng, data)
        with xg.GradientTape() as tape:
            logits = model(xg.asarray(xb))
            loss = xg.losses.softmax_cross_entropy(logits.reshape(-1, VOCAB),
                                                   xg.asarray(yb).reshape(-1))
        grads, norm = xg.optim.clip_global_norm(tape.gradient(loss, decay + plain), 1.0,
                                                eps=1e-6)
        opts[0].apply_gradients(zip(grads[:len(decay)], decay))
        opts[1].apply_gradients(zip(grads[len(decay):], plain))
        for group in ref_opt.param_groups:
            group["lr"] = nanogpt_lr(it)
        ref_loss = torch.nn.functional.cross_entropy(ref(torch.tensor(xb)).view(-1, VOCAB),
                                                     torch.tensor(yb).view(-1))
        ref_opt.zero_grad()
        ref_loss.backward()
        ref_norm = torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0)
        ref_opt.step()
        assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-11)
        assert norm.item() == pytest.approx(ref_norm.item(), rel=1e-11)
        losses.append(loss.item())
    assert np.mean(losses[-3:]) < 0.6 * np.mean(losses[:3])
    for key, value in ref.state_dict().items():
        np.testing.assert_allclose(model.torch_state_dict()[key], value.numpy(), atol=1e-10)


def test_nanogpt_generate_samples_from_the_top_k_only(one_thread):
    model = Gpt(xg.random.default_rng(1))
    ref = torch_copy(model, TorchGpt())
    start = xg.asarray([[0, 1, 2], [5, 6, 7]])
    greedy = model.generate(start, BLOCK + 3, top_k=1, rng=0).numpy()   # past the block too
    idx = torch.tensor(start.numpy())
    with torch.no_grad():
        for _ in range(BLOCK + 3):
            idx = torch.cat([idx, ref(idx[:, -BLOCK:])[:, -1].argmax(-1, keepdim=True)], 1)
    np.testing.assert_array_equal(greedy, idx.numpy())
    drawn = model.generate(start, 40, temperature=0.7, top_k=3, rng=xg.random.default_rng(2))
    logits = model(drawn[:, :BLOCK])                    # each draw among its context's top 3
    top3 = np.argsort(logits.numpy(), axis=-1)[..., -3:]
    assert all(drawn.numpy()[b, t + 1] in top3[b, t]
               for b in range(2) for t in range(2, BLOCK - 1))


def test_vae_loss_and_gradients_are_torchs_and_training_lowers_it(one_thread):
    rng = np.random.default_rng(0)
    prototypes = (rng.random((4, 16)) > 0.5).astype(np.float64)
    x = prototypes[rng.integers(0, 4, 256)]
    x = np.where(rng.random(x.shape) < 0.05, 1 - x, x)
    model = Vae(xg.random.default_rng(0))
    ref = torch_copy(model, TorchVae())
    eps = rng.normal(size=(32, 2))
    with xg.GradientTape() as tape:
        logits, mu, logvar = model(xg.asarray(x[:32]), xg.asarray(eps))
        loss = vae_loss(logits, xg.asarray(x[:32]), mu, logvar)
    grads = tape.gradient(loss, model.trainable_variables)
    ref_x = torch.tensor(x[:32])
    ref_logits, ref_mu, ref_logvar = ref(ref_x, torch.tensor(eps))
    ref_loss = torch_vae_loss(ref_logits, ref_x, ref_mu, ref_logvar)
    ref_loss.backward()
    assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-12)
    ref_grads = {k: p.grad for k, p in ref.named_parameters()}
    ours = _torch_layout(model, grads)
    for key, g in ref_grads.items():
        np.testing.assert_allclose(ours[key], g.numpy(), rtol=1e-10, atol=1e-12)
    opt, noise = xg.optim.Adam(1e-2), xg.random.default_rng(1)
    epochs = []
    for epoch in range(16):
        total = 0.0
        for idx in xg.data.batches(len(x), 64, rng=np.random.default_rng(epoch)):
            xb = xg.asarray(x[idx])
            with xg.GradientTape() as tape:
                logits, mu, logvar = model(xb, noise.normal(size=(len(idx), 2), dtype=F64))
                loss = vae_loss(logits, xb, mu, logvar)
            opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                    model.trainable_variables))
            total += loss.item()
        epochs.append(total / len(x))
    assert epochs[-1] < 0.6 * epochs[0]


def _gan_pair(rng, sizes):
    ours = xg.nn.Sequential(xg.nn.Linear(sizes[0], sizes[1], rng=rng, dtype=F64),
                            xg.nn.LeakyReLU(0.2),
                            xg.nn.Linear(sizes[1], sizes[2], rng=rng, dtype=F64))
    ref = torch.nn.Sequential(torch.nn.Linear(sizes[0], sizes[1]), torch.nn.LeakyReLU(0.2),
                              torch.nn.Linear(sizes[1], sizes[2]))
    return ours, torch_copy(ours, ref)


def test_dcgan_steps_as_torchs_critic_first_then_generator_through_the_updated_critic(
        one_thread):
    """PyTorch's DCGAN loop: ``fake = netG(noise)`` once; the critic's step on real and on
    ``fake.detach()`` (``xg.stop_gradient``); then, after the critic's update, the generator's
    loss through the updated critic and back through the same ``fake``. One persistent tape
    records it all and the critic's update happens inside it (the update writes a fresh
    buffer where the tape holds the old one)."""
    rng = xg.random.default_rng(0)
    (gen, ref_gen), (critic, ref_critic) = _gan_pair(rng, (4, 16, 2)), _gan_pair(rng, (2, 16, 1))
    opt_g, opt_d = (xg.optim.Adam(2e-3, beta_1=0.5) for _ in range(2))
    ref_opt_g = torch.optim.Adam(ref_gen.parameters(), lr=2e-3, betas=(0.5, 0.999))
    ref_opt_d = torch.optim.Adam(ref_critic.parameters(), lr=2e-3, betas=(0.5, 0.999))
    bce, ref_bce = xg.nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss()
    data = np.random.default_rng(0)
    ones, zeros = xg.ones((32, 1), dtype=F64), xg.zeros((32, 1), dtype=F64)
    for _ in range(5):
        real = data.normal(size=(32, 2)) * 0.3 + 2.0
        noise = data.normal(size=(32, 4))
        with xg.GradientTape(persistent=True) as tape:
            fake = gen(xg.asarray(noise))
            err_d = bce(critic(xg.asarray(real)), ones) + bce(critic(xg.stop_gradient(fake)),
                                                             zeros)
            opt_d.apply_gradients(zip(tape.gradient(err_d, critic.trainable_variables),
                                      critic.trainable_variables))
            err_g = bce(critic(fake), ones)
        opt_g.apply_gradients(zip(tape.gradient(err_g, gen.trainable_variables),
                                  gen.trainable_variables))
        ref_fake = ref_gen(torch.tensor(noise))
        ref_opt_d.zero_grad()
        ref_err_d = (ref_bce(ref_critic(torch.tensor(real)), torch.ones(32, 1, dtype=torch.float64))
                     + ref_bce(ref_critic(ref_fake.detach()),
                               torch.zeros(32, 1, dtype=torch.float64)))
        ref_err_d.backward()
        ref_opt_d.step()
        ref_opt_g.zero_grad()
        ref_err_g = ref_bce(ref_critic(ref_fake), torch.ones(32, 1, dtype=torch.float64))
        ref_err_g.backward()
        ref_opt_g.step()
        assert (err_d.item(), err_g.item()) == pytest.approx(
            (ref_err_d.item(), ref_err_g.item()), rel=1e-12)
    for ours, ref in ((gen, ref_gen), (critic, ref_critic)):
        for key, value in ref.state_dict().items():
            np.testing.assert_allclose(ours.torch_state_dict()[key], value.numpy(), rtol=1e-10,
                                       atol=1e-13)


def test_seq2seq_with_additive_attention_and_teacher_forcing_is_torchs_and_learns(one_thread):
    model = Seq2Seq(xg.random.default_rng(0))
    ref = torch_copy(model, TorchSeq2Seq())
    data = np.random.default_rng(0)
    src, dec_in, target = reversal_batch(data, 8)
    with xg.GradientTape() as tape:
        logits = model(xg.asarray(src), xg.asarray(dec_in))
        loss = xg.losses.softmax_cross_entropy(logits, xg.asarray(target))
    grads = tape.gradient(loss, model.trainable_variables)
    ref_loss = torch.nn.functional.cross_entropy(
        ref(torch.tensor(src), torch.tensor(dec_in)).reshape(-1, S2S_VOCAB),
        torch.tensor(target).reshape(-1))
    ref_loss.backward()
    assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-12)
    ours = _torch_layout(model, grads)
    for key, p in ref.named_parameters():
        # the GRUs' r and z biases are one Variable here (bias_ih + bias_hh), written into
        # bias_ih: torch's bias_hh gradient there equals its bias_ih gradient
        keep = slice(2 * S2S_HIDDEN, None) if "bias_hh" in key else slice(None)
        np.testing.assert_allclose(ours[key][keep], p.grad.numpy()[keep], rtol=1e-9,
                                   atol=1e-12)
    opt = xg.optim.Adam(1e-2)
    for _ in range(120):
        src, dec_in, target = reversal_batch(data, 32)
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(xg.asarray(src), xg.asarray(dec_in)),
                                                   xg.asarray(target))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                model.trainable_variables))
    src, _, target = reversal_batch(data, 64)
    assert np.mean(model.greedy(xg.asarray(src)).numpy() == target) > 0.6    # chance: 1/7
