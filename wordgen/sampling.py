"""Choose the next token from a row of logits: greedy, temperature, top-k, top-p.

The filters compose in the usual order: divide by the temperature, keep the
k most likely tokens, keep the smallest set whose probability reaches p, then
draw. Randomness comes only from the `torch.Generator` passed in, so the same
seed always gives the same tokens. Nothing here knows about models or text.
"""

from __future__ import annotations

import torch

from wordgen.config import SampleConfig


def filter_top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Set every logit below the k-th largest of its row to -inf. logits (N, V)."""
    if k >= logits.size(-1):
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (N, 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def filter_top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of tokens whose probabilities sum to at least p.

    Nucleus sampling (Holtzman et al. 2020, "The Curious Case of Neural Text
    Degeneration"). The most likely token is always kept.
    """
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (N, V)
    probs = torch.softmax(sorted_logits, dim=-1)
    # Probability mass strictly before each token: a token is needed while the
    # mass collected before it is still short of p.
    mass_before = torch.cumsum(probs, dim=-1) - probs  # (N, V)
    drop_sorted = mass_before >= p
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def next_token(
    logits: torch.Tensor, config: SampleConfig, generator: torch.Generator | None = None
) -> torch.Tensor:
    """logits (N, V) -> token ids (N,) under the given sampling settings."""
    if config.is_greedy:
        return logits.argmax(dim=-1)
    logits = logits.float() / config.temperature
    if config.top_k is not None:
        logits = filter_top_k(logits, config.top_k)
    if config.top_p is not None:
        logits = filter_top_p(logits, config.top_p)
    probs = torch.softmax(logits, dim=-1)  # (N, V)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (N,)
