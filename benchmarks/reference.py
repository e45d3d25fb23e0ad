"""The plain-PyTorch references the benchmarks divide by: the obvious way, nothing else.

`ReferenceLM` is wordgen's model written as a beginner would write it:
nn.Embedding -> nn.LSTM -> nn.Linear over the whole vocabulary (tied to the
embedding, as wordgen's default), trained with a full softmax cross-entropy,
gradient clipping and an AdamW step -- no data loader, no logging, no
validation. `naive_generate` samples with `nn.LSTM` called on one time step
per token, allocating a new state and new logits each step, and draws with
`torch.multinomial` (what a beginner would call) or, so that a ratio can
separate the model step from the sampler, with wordgen's own inverse-CDF
`wordgen.generation.sampling.draw`.

`Recipe`, `CLASSIC` and `PLAIN_CHAR` with `train_recipe` are the quality suite's
baselines: whole training recipes (network, optimizer, schedule), not just a model.

Deliberately not here: anything clever. These are the baselines.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


class ReferenceLM(nn.Module):
    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, num_layers: int,
                 dropout: float = 0.0, tie_weights: bool = True):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = nn.LSTM(embedding_dim, hidden_size, num_layers, dropout=dropout if num_layers > 1 else 0.0,
                           batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            self.head.weight = self.embedding.weight

    def forward(self, ids: torch.Tensor, state=None):
        x = self.dropout(self.embedding(ids))  # (B, T, E)
        out, state = self.rnn(x, state)  # (B, T, H)
        return self.head(self.dropout(out)), state  # (B, T, V)

    @classmethod
    def like(cls, model) -> "ReferenceLM":
        """A reference with the same shapes and the same weights as a wordgen full-softmax model."""
        c = model.config
        ref = cls(c.vocab_size, c.embedding_dim, c.hidden_size, c.num_layers, c.dropout, c.tie_weights)
        ref.load_state_dict(model.state_dict())
        return ref


def window_gradients(model: ReferenceLM, x: torch.Tensor, y: torch.Tensor, state, grad_clip: float):
    """Plain TBPTT on one window x, y (B, T): forward from `state`, backward, clip; the caller steps.

    Returns the loss and the detached state to carry into the next window.
    """
    logits, state = model(x, state)  # (B, T, V)
    state = tuple(s.detach() for s in state)
    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
    model.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    return loss, state


def reference_train(model: ReferenceLM, table: torch.Tensor, seq_len: int, steps: int, lr: float = 3e-3,
                    grad_clip: float = 1.0) -> dict:
    """TBPTT over table (B, L) for `steps` windows; returns tokens, seconds and the last loss."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    state, tokens, pos = None, 0, 0
    start = time.perf_counter()
    for _ in range(steps):
        if pos + seq_len + 1 > table.size(1):
            pos, state = 0, None
        x, y = table[:, pos : pos + seq_len], table[:, pos + 1 : pos + 1 + seq_len]  # (B, T)
        loss, state = window_gradients(model, x, y, state, grad_clip)
        optimizer.step()
        tokens += y.numel()
        pos += seq_len
    seconds = time.perf_counter() - start
    return {"tokens": tokens, "seconds": seconds, "loss": loss.item()}


SAMPLERS = ("multinomial", "inverse-cdf")


@torch.inference_mode()
def naive_generate(model: ReferenceLM, prompt: torch.Tensor, max_tokens: int, temperature: float = 1.0,
                   seed: int = 0, sampler: str = "multinomial") -> torch.Tensor:
    """prompt (N, P) -> sampled ids (N, max_tokens), nn.LSTM called once per token.

    sampler: "multinomial" (torch.multinomial) or "inverse-cdf" (wordgen.generation.sampling.draw).
    """
    from wordgen.generation.sampling import draw

    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    logits, state = model(prompt)
    logits = logits[:, -1]  # (N, V)
    out = []
    for _ in range(max_tokens):
        probs = torch.softmax(logits / temperature, dim=-1)
        if sampler == "multinomial":
            ids = torch.multinomial(probs, 1, generator=generator)  # (N, 1)
        else:
            ids = draw(probs, generator).view(-1, 1)  # (N, 1)
        out.append(ids)
        logits, state = model(ids, state)  # (N, 1, V)
        logits = logits[:, -1]
    return torch.cat(out, dim=1)


# ------------------------------------------------------------------ quality references
#
# The quality suite (benchmarks/quality.py) trains these on the same split, tokenizer and
# budget as wordgen's defaults. Each is written here in our own words from its description.


@dataclass(frozen=True)
class Recipe:
    """A plain training recipe: the network, the optimizer and the schedule, nothing else."""

    name: str
    embedding_dim: int
    hidden_size: int
    num_layers: int
    dropout: float  # nn.Dropout on the embedding and the LSTM output, nn.LSTM's between layers
    optimizer: str  # "sgd" (plain p -= lr * grad) or "adam"
    lr: float
    grad_clip: float
    batch_size: int
    seq_len: int
    # At the end of each pass, if validation did not improve, lr /= anneal (1: never).
    anneal: float = 1.0


# The classic PyTorch example, pytorch/examples word_language_model (main.py, its README's
# "python main.py --cuda --epochs 6 --tied" family): 2 x 200 LSTM, embedding 200, dropout 0.2,
# tied weights (Press & Wolf 2017), plain SGD at lr 20 with the gradient norm clipped at 0.25,
# batches of 20 streams x 35 tokens, and lr divided by 4 after any epoch whose validation loss
# did not improve; the weights with the best validation loss are kept.
CLASSIC = Recipe("classic word_language_model", 200, 200, 2, 0.2, "sgd", 20.0, 0.25, 20, 35, anneal=4.0)
# A plain character LSTM as a beginner writes it from the lesson: 2 x 256, no dropout, Adam
# at 2e-3, clip 1, batches of 32 x 64. Kept as the best weights seen at each pass.
PLAIN_CHAR = Recipe("plain char LSTM", 256, 256, 2, 0.0, "adam", 2e-3, 1.0, 32, 64)
# The plain LSTM of issue 22's comparison: 2 x 512, no dropout, Adam at torch's default lr of
# 1e-3 and no gradient clipping (an infinite norm clips nothing), batches of 64 x 128.
PLAIN_512 = Recipe("plain 2 x 512 LSTM", 512, 512, 2, 0.0, "adam", 1e-3, math.inf, 64, 128)
RECIPES = {"classic": CLASSIC, "plain": PLAIN_CHAR, "plain512": PLAIN_512}


def classic_init(model: ReferenceLM) -> None:
    """word_language_model's initialisation: uniform(-0.1, 0.1) embedding (and tied decoder), zero bias."""
    nn.init.uniform_(model.embedding.weight, -0.1, 0.1)
    nn.init.zeros_(model.head.bias)


def train_recipe(recipe: Recipe, vocab_size: int, train_ids: torch.Tensor, val_loss, *, seconds: float | None = None,
                 tokens: int | None = None, seed: int = 0) -> dict:
    """Train `recipe` on train_ids (N,) until `seconds` of training or `tokens` have passed.

    val_loss(model) -> mean validation nats per token, called at the end of every pass
    (and at the end); the best weights are returned as a state dict with the figures.
    Validation time does not count against `seconds`, as in wordgen's own runs it
    does; the reference is given the benefit of the doubt.
    """
    torch.manual_seed(seed)
    model = ReferenceLM(vocab_size, recipe.embedding_dim, recipe.hidden_size, recipe.num_layers, recipe.dropout)
    classic_init(model)
    table = batchify_plain(train_ids, recipe.batch_size)  # (B, L)
    adam = torch.optim.Adam(model.parameters(), lr=recipe.lr) if recipe.optimizer == "adam" else None
    lr, best, best_state, history = recipe.lr, math.inf, None, []
    seen, spent, state, pos, passes = 0, 0.0, None, 0, 0

    def check() -> None:
        nonlocal best, best_state, lr
        loss = val_loss(model)
        model.train()
        history.append({"tokens": seen, "seconds": spent, "val_loss": loss, "lr": lr})
        if loss < best:
            best, best_state = loss, {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif recipe.anneal > 1:
            lr /= recipe.anneal

    model.train()
    while (seconds is None or spent < seconds) and (tokens is None or seen < tokens):
        if pos + 2 > table.size(1):  # the pass is over: validate, maybe anneal, start again
            passes += 1
            check()
            pos, state = 0, None
        began = time.perf_counter()
        t = min(recipe.seq_len, table.size(1) - 1 - pos)
        x, y = table[:, pos : pos + t], table[:, pos + 1 : pos + 1 + t]  # (B, T)
        _, state = window_gradients(model, x, y, state, recipe.grad_clip)
        if adam is not None:
            adam.step()
        else:
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(p.grad, alpha=-lr)
        pos += t
        seen += y.numel()
        spent += time.perf_counter() - began
    check()
    return {"state": best_state, "best_val_loss": best, "tokens": seen, "seconds": spent, "passes": passes,
            "history": history}


def batchify_plain(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(N,) -> (B, N // B): B contiguous streams, as word_language_model's batchify."""
    length = ids.numel() // batch_size
    return ids[: batch_size * length].view(batch_size, length)
