"""The models of ``tests/test_tutorial_ports_b.py``, written twice, in xpgrad as a user porting
the tutorial writes them and in PyTorch as the tutorial does, with the same attribute names so
that ``torch_state_dict()`` moves the weights: nanoGPT's transformer language model and the
VAE of PyTorch's examples, at toy sizes."""
from __future__ import annotations

import math

import numpy as np
import torch

import xpgrad as xg

F64 = xg.float64
VOCAB, BLOCK, EMBD, HEADS, LAYERS = 11, 8, 16, 4, 2


class GptAttention(xg.nn.Module):
    """nanoGPT's ``CausalSelfAttention``: one projection split into q, k, v, masked softmax."""

    def __init__(self, rng):
        super().__init__()
        self.c_attn = xg.nn.Linear(EMBD, 3 * EMBD, rng=rng, dtype=F64)
        self.c_proj = xg.nn.Linear(EMBD, EMBD, rng=rng, dtype=F64)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = (t.reshape(B, T, HEADS, C // HEADS).swapaxes(1, 2)
                   for t in np.split(self.c_attn(x), 3, axis=2))
        att = (q @ k.swapaxes(-2, -1)) / math.sqrt(C // HEADS)
        att = xg.where(xg.tril(xg.ones((T, T), dtype=xg.bool)), att, -xg.inf)
        y = xg.nn.softmax(att, axis=-1) @ v
        return self.c_proj(y.swapaxes(1, 2).reshape(B, T, C))


class GptBlock(xg.nn.Module):
    def __init__(self, rng):
        super().__init__()
        self.ln_1, self.attn = xg.nn.LayerNorm(EMBD, dtype=F64), GptAttention(rng)
        self.ln_2 = xg.nn.LayerNorm(EMBD, dtype=F64)
        self.c_fc = xg.nn.Linear(EMBD, 4 * EMBD, rng=rng, dtype=F64)
        self.c_proj = xg.nn.Linear(4 * EMBD, EMBD, rng=rng, dtype=F64)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.c_proj(xg.nn.gelu(self.c_fc(self.ln_2(x))))


class Gpt(xg.nn.Module):
    """Token and position embeddings, blocks, final LayerNorm, a read-out tied to ``wte``."""

    def __init__(self, rng):
        super().__init__()
        self.wte = xg.nn.Embedding(VOCAB, EMBD, rng=rng, dtype=F64)
        self.wpe = xg.nn.Embedding(BLOCK, EMBD, rng=rng, dtype=F64)
        self.h = xg.nn.ModuleList([GptBlock(rng) for _ in range(LAYERS)])
        self.ln_f = xg.nn.LayerNorm(EMBD, dtype=F64)
        self.lm_head = xg.nn.Linear(EMBD, VOCAB, bias=False, rng=rng, dtype=F64)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(xg.arange(idx.shape[1]))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))

    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, rng=None):
        """nanoGPT's sampling loop; nothing is recorded outside a tape (its ``no_grad``)."""
        for _ in range(max_new_tokens):
            logits = self(idx[:, -BLOCK:])[:, -1, :] / temperature
            if top_k is not None:
                kth, _ = xg.topk(logits, min(top_k, logits.shape[-1]))
                logits = xg.where(logits < kth[:, [-1]], -xg.inf, logits)
            probs = xg.nn.softmax(logits, axis=-1)
            nxt = xg.distributions.Categorical(probs=probs).sample(rng=rng)
            idx = xg.concat([idx, nxt.reshape(-1, 1)], axis=1)
        return idx


class TorchGptAttention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = torch.nn.Linear(EMBD, 3 * EMBD)
        self.c_proj = torch.nn.Linear(EMBD, EMBD)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = (t.view(B, T, HEADS, C // HEADS).transpose(1, 2)
                   for t in self.c_attn(x).split(EMBD, dim=2))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // HEADS)
        att = att.masked_fill(torch.tril(torch.ones(T, T)) == 0, float("-inf"))
        y = torch.softmax(att, -1) @ v
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class TorchGptBlock(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.attn = torch.nn.LayerNorm(EMBD), TorchGptAttention()
        self.ln_2 = torch.nn.LayerNorm(EMBD)
        self.c_fc, self.c_proj = torch.nn.Linear(EMBD, 4 * EMBD), torch.nn.Linear(4 * EMBD, EMBD)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.c_proj(torch.nn.functional.gelu(self.c_fc(self.ln_2(x))))


class TorchGpt(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = torch.nn.Embedding(VOCAB, EMBD), torch.nn.Embedding(BLOCK, EMBD)
        self.h = torch.nn.ModuleList([TorchGptBlock() for _ in range(LAYERS)])
        self.ln_f = torch.nn.LayerNorm(EMBD)
        self.lm_head = torch.nn.Linear(EMBD, VOCAB, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def nanogpt_lr(it, lr=6e-3, warmup=3, decay_iters=10, min_lr=6e-4):
    """nanoGPT's ``get_lr``: linear warm-up, cosine decay, then constant."""
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it > decay_iters:
        return min_lr
    ratio = (it - warmup) / (decay_iters - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


class Vae(xg.nn.Module):
    """PyTorch's examples/vae at 16 pixels: encoder to (mu, logvar), decoder to logits."""

    def __init__(self, rng, pixels=16, hidden=32, latent=2):
        super().__init__()
        self.fc1 = xg.nn.Linear(pixels, hidden, rng=rng, dtype=F64)
        self.fc21 = xg.nn.Linear(hidden, latent, rng=rng, dtype=F64)
        self.fc22 = xg.nn.Linear(hidden, latent, rng=rng, dtype=F64)
        self.fc3 = xg.nn.Linear(latent, hidden, rng=rng, dtype=F64)
        self.fc4 = xg.nn.Linear(hidden, pixels, rng=rng, dtype=F64)

    def forward(self, x, eps):
        h = xg.nn.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + eps * xg.exp(0.5 * logvar)                     # the reparameterization
        return self.fc4(xg.nn.relu(self.fc3(z))), mu, logvar


class TorchVae(torch.nn.Module):
    def __init__(self, pixels=16, hidden=32, latent=2):
        super().__init__()
        self.fc1, self.fc21 = torch.nn.Linear(pixels, hidden), torch.nn.Linear(hidden, latent)
        self.fc22, self.fc3 = torch.nn.Linear(hidden, latent), torch.nn.Linear(latent, hidden)
        self.fc4 = torch.nn.Linear(hidden, pixels)

    def forward(self, x, eps):
        h = torch.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + eps * torch.exp(0.5 * logvar)
        return self.fc4(torch.relu(self.fc3(z))), mu, logvar


def vae_loss(logits, x, mu, logvar):
    """Bernoulli likelihood on logits plus the closed-form KL to N(0, I), summed."""
    bce = xg.losses.sigmoid_cross_entropy_with_logits(logits, x, reduction="sum")
    return bce - 0.5 * xg.sum(1 + logvar - mu ** 2 - xg.exp(logvar))


def torch_vae_loss(logits, x, mu, logvar):
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    return bce - 0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp())


def torch_copy(model, ref):
    """``ref`` (a torch module in float64) loaded with ``model``'s weights."""
    ref.double().load_state_dict({k: torch.as_tensor(np.asarray(v))
                                  for k, v in model.torch_state_dict().items()})
    return ref


S2S_VOCAB, S2S_LEN, S2S_EMBD, S2S_HIDDEN = 10, 5, 8, 16


class BahdanauAttention(xg.nn.Module):
    """Additive attention: ``v . tanh(W1 query + W2 values)`` scores, softmax over time."""

    def __init__(self, rng):
        super().__init__()
        self.W1 = xg.nn.Linear(S2S_HIDDEN, S2S_HIDDEN, rng=rng, dtype=F64)
        self.W2 = xg.nn.Linear(S2S_HIDDEN, S2S_HIDDEN, rng=rng, dtype=F64)
        self.V = xg.nn.Linear(S2S_HIDDEN, 1, rng=rng, dtype=F64)

    def forward(self, query, values):                 # (B, H), (B, T, H)
        score = self.V(xg.tanh(self.W1(xg.expand_dims(query, axis=1)) + self.W2(values)))
        weights = xg.nn.softmax(score, axis=1)        # (B, T, 1)
        return xg.sum(weights * values, axis=1), weights


class Seq2Seq(xg.nn.Module):
    """A GRU encoder, and a GRUCell decoder fed its embedded token and the attention context;
    ``forward`` is teacher forcing (the true previous token in), ``greedy`` feeds back its own
    argmax."""

    def __init__(self, rng):
        super().__init__()
        self.enc_emb = xg.nn.Embedding(S2S_VOCAB, S2S_EMBD, rng=rng, dtype=F64)
        self.encoder = xg.nn.GRU(S2S_EMBD, S2S_HIDDEN, batch_first=True, rng=rng, dtype=F64)
        self.dec_emb = xg.nn.Embedding(S2S_VOCAB, S2S_EMBD, rng=rng, dtype=F64)
        self.attn = BahdanauAttention(rng)
        self.cell = xg.nn.GRUCell(S2S_EMBD + S2S_HIDDEN, S2S_HIDDEN, rng=rng, dtype=F64)
        self.out = xg.nn.Linear(S2S_HIDDEN, S2S_VOCAB, rng=rng, dtype=F64)

    def _step(self, token, h, memory):
        context, _ = self.attn(h, memory)
        h = self.cell(xg.concat([self.dec_emb(token), context], axis=-1), h)
        return self.out(h), h

    def forward(self, src, dec_in):
        memory, h = self.encoder(self.enc_emb(src))
        h, logits = h[0], []
        for t in range(dec_in.shape[1]):
            step_logits, h = self._step(dec_in[:, t], h, memory)
            logits.append(step_logits)
        return xg.stack(logits, axis=1)

    def greedy(self, src, start=1):
        memory, h = self.encoder(self.enc_emb(src))
        h, token, out = h[0], xg.full((src.shape[0],), start, dtype=xg.int64), []
        for _ in range(src.shape[1]):
            logits, h = self._step(token, h, memory)
            token = xg.argmax(logits, axis=-1)
            out.append(token)
        return xg.stack(out, axis=1)


class TorchBahdanauAttention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.W1 = torch.nn.Linear(S2S_HIDDEN, S2S_HIDDEN)
        self.W2 = torch.nn.Linear(S2S_HIDDEN, S2S_HIDDEN)
        self.V = torch.nn.Linear(S2S_HIDDEN, 1)

    def forward(self, query, values):
        weights = torch.softmax(self.V(torch.tanh(self.W1(query.unsqueeze(1)) + self.W2(values))),
                                dim=1)
        return torch.bmm(weights.transpose(1, 2), values).squeeze(1), weights


class TorchSeq2Seq(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.enc_emb = torch.nn.Embedding(S2S_VOCAB, S2S_EMBD)
        self.encoder = torch.nn.GRU(S2S_EMBD, S2S_HIDDEN, batch_first=True)
        self.dec_emb = torch.nn.Embedding(S2S_VOCAB, S2S_EMBD)
        self.attn = TorchBahdanauAttention()
        self.cell = torch.nn.GRUCell(S2S_EMBD + S2S_HIDDEN, S2S_HIDDEN)
        self.out = torch.nn.Linear(S2S_HIDDEN, S2S_VOCAB)

    def forward(self, src, dec_in):
        memory, h = self.encoder(self.enc_emb(src))
        h, logits = h[0], []
        for t in range(dec_in.shape[1]):
            context, _ = self.attn(h, memory)
            h = self.cell(torch.cat([self.dec_emb(dec_in[:, t]), context], dim=-1), h)
            logits.append(self.out(h))
        return torch.stack(logits, dim=1)


def reversal_batch(rng, n):
    """Digits 3-9 to be reversed; the decoder's input is the target shifted right after the
    start token 1 (teacher forcing)."""
    src = rng.integers(3, S2S_VOCAB, size=(n, S2S_LEN))
    target = src[:, ::-1].copy()
    return src, np.concatenate([np.ones((n, 1), np.int64), target[:, :-1]], axis=1), target
