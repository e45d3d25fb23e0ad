"""The neural cache: what followed similar moments earlier in the same text becomes likelier.

Grave, Joulin & Usunier 2017 ("Improving Neural Language Models with a
Continuous Cache"). While the model reads a text in order, the top-layer output
h_i of each of the last `window` positions is kept with the token that came
after it. At position t every kept position votes for its next token, weighted
by how much it resembles now:

    p_cache(w) = sum over kept i with x[i+1] = w of  softmax_i(theta * h_t . h_i)
    p(w)       = (1 - lambda) * p_model(w) + lambda * p_cache(w)

Nothing is trained: the network is the one training produced. A novel's names
and turns of phrase, once they have appeared in the text being read, get more
probability than the network alone gives them (the gain on three novels is in
docs/development/log.md, "The neural cache").

Two readers use it, both reading text in order: scoring held-out text
(`block_nll`, which wordgen.evaluate calls window by window, several columns
at once) and generation (`Memory`, which wordgen.generation.decode fills with the
prompt and then with every token drawn). It is off unless asked for
(`wordgen evaluate --cache`, `wordgen generate --cache`, `cache=Cache()` in
Python): a model's figures without it describe the network alone, and in
generation it also pulls the prompt's words back in where they do not fit.

The position just before t is never a voter: its next token is the token just
read, and letting it vote makes a generator repeat a word ("was was was"). Scoring hardly
changes either way (the figures: docs/development/log.md, "The neural cache").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from wordgen.errors import ConfigError
from wordgen.model import IGNORE, LSTMLanguageModel

SKIP = 1  # the latest positions that never vote (see the module docstring)


@dataclass(frozen=True)
class Cache:
    """The cache's settings. They were picked once from a small grid on Frankenstein's
    validation split (Grave et al. 2017 tune theta and lambda per corpus on validation
    text); on three books every variant of theta 0.1-0.3, lambda 0.1-0.2 and window
    1000-4000 scores within 1 % of these (docs/development/log.md, "The neural cache")."""

    window: int = 2000  # positions kept
    theta: float = 0.3  # sharpness of the match softmax
    lam: float = 0.1  # the cache's share of the distribution

    def __post_init__(self):
        if self.window < 1 or not (self.theta >= 0 and math.isfinite(self.theta)) or not 0 < self.lam < 1:
            raise ConfigError(f"cache needs window >= 1, theta >= 0 and lambda in (0, 1); got {self.window}, "
                              f"{self.theta}, {self.lam}")


@dataclass
class Memory:
    """The kept positions of each of B texts read side by side: outputs (B, M, H), next tokens (B, M)."""

    settings: Cache
    keys: torch.Tensor | None = None  # (B, M, H)
    next_ids: torch.Tensor | None = None  # (B, M)

    def add(self, outputs: torch.Tensor, next_ids: torch.Tensor) -> None:
        """Keep outputs (B, T, H) with the tokens that followed them (B, T); only the last `window` stay."""
        outputs = outputs.float()
        if self.keys is not None:
            outputs, next_ids = torch.cat([self.keys, outputs], 1), torch.cat([self.next_ids, next_ids], 1)
        w = self.settings.window
        # Copies: the generation stepper hands in views of buffers it overwrites on the next step.
        self.keys, self.next_ids = outputs[:, -w:].clone(), next_ids[:, -w:].clone()

    def mix(self, logits: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """Next-token logits (B, V) and the output h_t (B, H) -> log p of the mixture (B, V).

        With nothing kept yet the model's own log-probabilities come back.
        """
        log_model = torch.log_softmax(logits.float(), dim=-1)  # (B, V)
        voters = 0 if self.keys is None else self.keys.size(1) - SKIP
        if voters <= 0:
            return log_model
        s = self.settings
        keys, next_ids = self.keys[:, :voters], self.next_ids[:, :voters]  # (B, M', H), (B, M'): the latest SKIP left out
        weights = torch.softmax(s.theta * torch.einsum("bh,bmh->bm", output.float(), keys), dim=-1)  # (B, M)
        p_cache = torch.zeros_like(log_model).scatter_add_(1, next_ids, weights)  # (B, V)
        return torch.logaddexp(log_model + math.log1p(-s.lam), torch.log(p_cache) + math.log(s.lam))


def block_nll(model: LSTMLanguageModel, inputs: torch.Tensor, targets: torch.Tensor, state,
              memory: Memory | None) -> tuple[torch.Tensor, object]:
    """-ln p(target) of every position of a block: inputs and targets (B, T) -> nats (B, T), and the state.

    IGNORE targets score 0. With a `memory` each position sees the kept positions
    and the earlier positions of its own block (at most `window` of them); the block
    is then added to the memory. Without one, this is the network alone.
    """
    outputs, state = model.features(inputs, state)  # (B, T, H), eval mode: no dropout
    nll = model.target_nll(outputs, targets).float()  # (B, T)
    if memory is None:
        return nll, state
    s = memory.settings
    b, t, _ = outputs.shape
    queries = outputs.float()  # (B, T, H)
    kept = 0 if memory.keys is None else memory.keys.size(1)
    keys = queries if memory.keys is None else torch.cat([memory.keys, queries], 1)  # (B, K, H), K = kept + T
    key_next = targets if memory.next_ids is None else torch.cat([memory.next_ids, targets], 1)  # (B, K)
    # Position t of the block sits at index kept + t of the keys: it sees indices in
    # [kept + t - window, kept + t - SKIP), and never a padding position (IGNORE).
    query_at = kept + torch.arange(t, device=outputs.device)[:, None]  # (T, 1)
    key_at = torch.arange(keys.size(1), device=outputs.device)[None, :]  # (1, K)
    visible = (key_at < query_at - SKIP) & (key_at >= query_at - s.window)  # (T, K)
    visible = visible[None] & (key_next != IGNORE)[:, None, :]  # (B, T, K)
    scores = (s.theta * queries @ keys.transpose(1, 2)).masked_fill(~visible, float("-inf"))  # (B, T, K)
    seen = visible.any(-1)  # (B, T): positions with something to vote
    weights = torch.softmax(scores.masked_fill(~seen[..., None], 0.0), dim=-1) * visible  # (B, T, K)
    p_cache = (weights * (key_next[:, None, :] == targets[:, :, None])).sum(-1)  # (B, T)
    mixed = -torch.logaddexp(-nll + math.log1p(-s.lam), torch.log(p_cache) + math.log(s.lam))  # (B, T)
    nll = torch.where(seen & (targets != IGNORE), mixed, nll)
    memory.add(queries, targets)
    return nll, state
