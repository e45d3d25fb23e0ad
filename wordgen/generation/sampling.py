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


def sampler_probs(logits: torch.Tensor, config: SampleConfig) -> torch.Tensor:
    """logits (N, V) -> the distribution (N, V) the sampler draws the next token from.

    Temperature, then top-k, then top-p, renormalised; a filtered-out token has
    probability 0. Greedy puts all the mass on the most likely token. This is
    what `next_token` draws from, exposed so a playground can show it.
    """
    if config.is_greedy:
        probs = torch.zeros_like(logits, dtype=torch.float32)  # (N, V)
        return probs.scatter_(-1, logits.argmax(dim=-1, keepdim=True), 1.0)
    logits = logits.float() / config.temperature
    if config.top_k is not None:
        logits = filter_top_k(logits, config.top_k)
    if config.top_p is not None:
        logits = filter_top_p(logits, config.top_p)
    return torch.softmax(logits, dim=-1)  # (N, V)


def next_token(
    logits: torch.Tensor, config: SampleConfig, generator: torch.Generator | None = None
) -> torch.Tensor:
    """logits (N, V) -> token ids (N,) under the given sampling settings."""
    if config.is_greedy:
        return logits.argmax(dim=-1)  # no random number is used
    return draw(sampler_probs(logits, config), generator)


def draw(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One id per row of probs (N, V), drawn with the row's probabilities -> (N,).

    Inverse-CDF sampling: one uniform number per row, found in the running sum
    of the probabilities. The same distribution as `torch.multinomial(probs, 1)`
    at a fraction of its cost on the CPU for a word vocabulary, which matters
    because a generation step of a small model is itself cheap (the ratio:
    `python -m benchmarks.micro --only sampler`, docs/results/speed). The sum runs in float64 so rounding cannot move mass
    between tokens; a token of probability 0 is never drawn (its running sum
    equals its neighbour's, and the search returns the first position whose
    sum exceeds u).
    """
    cdf = torch.cumsum(probs.double(), dim=-1)  # (N, V)
    u = torch.rand(probs.size(0), 1, generator=generator, device=probs.device, dtype=cdf.dtype)  # (N, 1)
    ids = torch.searchsorted(cdf, u * cdf[:, -1:], right=True)  # (N, 1)
    return ids.squeeze(-1).clamp_(max=probs.size(-1) - 1)  # clamp: u * total == total in rounding
