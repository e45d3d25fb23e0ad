"""The one language model every tokenizer shares: embedding -> LSTM (or GRU) -> linear.

It maps token ids to next-token logits and knows nothing about tokenizers,
text or files; only torch is imported. The recurrent state is passed in and
returned explicitly, so callers decide when to carry it (truncated BPTT,
generation) and when to reset it. `resolve_device` is the one place that picks
the device for training and generation.
"""

from __future__ import annotations

import torch
from torch import nn

from wordgen.config import ModelConfig
from wordgen.errors import ConfigError

# LSTM state is a pair (h, c), GRU state a single h; each (num_layers, B, H).
State = tuple[torch.Tensor, torch.Tensor] | torch.Tensor


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda if available, else cpu. An explicit device must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but torch sees no CUDA GPU here")
    return device


class LSTMLanguageModel(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim)
        rnn_class = nn.LSTM if config.rnn_type == "lstm" else nn.GRU
        self.rnn = rnn_class(
            config.embedding_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)
        if config.tie_weights:
            # Using the input embedding as the output matrix saves V*H parameters and
            # usually lowers perplexity (Press & Wolf 2017, "Using the Output Embedding
            # to Improve Language Models"; Inan et al. 2017).
            self.head.weight = self.embedding.weight
        self._init_weights()

    def _init_weights(self) -> None:
        # Small uniform embeddings and a zero output bias make the initial logits
        # nearly equal, so the first loss is close to ln(vocab_size).
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.zeros_(self.head.bias)
        if not self.config.tie_weights:
            nn.init.uniform_(self.head.weight, -0.1, 0.1)

    def init_state(self, batch_size: int) -> State:
        """All-zero recurrent state for `batch_size` streams, on the model's device."""
        p = next(self.parameters())
        shape = (self.config.num_layers, batch_size, self.config.hidden_size)
        h = torch.zeros(shape, dtype=p.dtype, device=p.device)
        if self.config.rnn_type == "lstm":
            return (h, torch.zeros_like(h))
        return h

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """ids (B, T) -> logits (B, T, V) and the state after the last step."""
        x = self.dropout(self.embedding(ids))  # (B, T, E)
        out, state = self.rnn(x, state)  # (B, T, H)
        logits = self.head(self.dropout(out))  # (B, T, V)
        return logits, state

    def num_parameters(self) -> int:
        """Trainable parameters, counting tied weights once."""
        return sum(p.numel() for p in self.parameters())


def detach_state(state: State) -> State:
    """Cut the graph between truncated-BPTT windows but keep the values."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
