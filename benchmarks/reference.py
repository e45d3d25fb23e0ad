"""The plain-PyTorch references the benchmarks divide by: the obvious way, nothing else.

`ReferenceLM` is wordgen's model written as a beginner would write it:
nn.Embedding -> nn.LSTM -> nn.Linear over the whole vocabulary (tied to the
embedding, as wordgen's default), trained with a full softmax cross-entropy,
gradient clipping and an AdamW step -- no data loader, no logging, no
validation. `naive_generate` samples with `nn.LSTM` called on one time step
per token, allocating a new state and new logits each step, and draws with
`torch.multinomial` (what a beginner would call) or, so that a ratio can
separate the model step from the sampler, with wordgen's own inverse-CDF
`wordgen.sampling.draw`.

Deliberately not here: anything clever. These are the baselines.
"""

from __future__ import annotations

import time

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
        logits, state = model(x, state)  # (B, T, V)
        state = tuple(s.detach() for s in state)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
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

    sampler: "multinomial" (torch.multinomial) or "inverse-cdf" (wordgen.sampling.draw).
    """
    from wordgen.sampling import draw

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
