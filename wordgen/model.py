"""The one language model every tokenizer shares: embedding -> LSTM (or GRU) -> output layer.

It maps token ids to next-token logits and knows nothing about tokenizers,
text, files or devices; only torch is imported. The recurrent state is passed in
and returned explicitly, so callers decide when to carry it (truncated BPTT,
generation) and when to reset it. `count_parameters` and `forward_flops_per_token`
size a model from its config without building it (compare's size matching, the
benchmarks' FLOP rates).

The output layer is a full linear layer over the vocabulary, or (softmax =
"adaptive") torch's AdaptiveLogSoftmaxWithLoss, which is exact and normalised
but computes the rare-word clusters only for the targets that fall in them.
`forward` always returns full (B, T, V) scores (log-probabilities for the
adaptive layer, which are valid logits); `loss` is the cheap path training and
evaluation use.

Not here: the device and precision choice (device.py), the one-token-at-a-time
generation path (stepper.py), sampling, tokenizers, the autocast itself (train.py).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from wordgen.config import ModelConfig

# LSTM state is a pair (h, c), GRU state a single h; each (num_layers, B, H).
State = tuple[torch.Tensor, torch.Tensor] | torch.Tensor

IGNORE = -100  # a target with this id is skipped by `loss` (padding), as in F.cross_entropy


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
        self.adaptive = config.softmax == "adaptive"
        if self.adaptive:
            # div_value 4: each cluster's projection is 4x narrower than the one before,
            # the setting of Grave et al. 2017 and torch's default.
            self.head = nn.AdaptiveLogSoftmaxWithLoss(
                config.hidden_size, config.vocab_size, config.resolved_cutoffs(), div_value=4.0
            )
        else:
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
        if self.adaptive:
            return  # torch's own initialisation of the adaptive layer
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

    def features(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """ids (B, T) -> the (dropped-out) top LSTM outputs (B, T, H) and the last state."""
        x = self.dropout(self.embedding(ids))  # (B, T, E)
        out, state = self.rnn(x, state)  # (B, T, H)
        return self.dropout(out), state

    def scores(self, hidden: torch.Tensor) -> torch.Tensor:
        """Top LSTM outputs (..., H) -> logits (..., V) (log-probabilities if adaptive)."""
        if self.adaptive:
            flat = hidden.reshape(-1, hidden.size(-1))  # (N, H)
            return self.head.log_prob(flat).view(*hidden.shape[:-1], -1)  # (..., V)
        return self.head(hidden)

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """ids (B, T) -> logits (B, T, V) and the state after the last step."""
        out, state = self.features(ids, state)  # (B, T, H)
        return self.scores(out), state  # (B, T, V)

    def loss(
        self, ids: torch.Tensor, targets: torch.Tensor, state: State | None = None, *, reduction: str = "mean"
    ) -> tuple[torch.Tensor, State]:
        """Cross-entropy (nats) of targets (B, T) after ids (B, T), and the last state.

        reduction "mean" or "sum" over the targets that are not IGNORE. The
        adaptive layer never builds the (B, T, V) scores here, which is where
        its speed comes from.
        """
        out, state = self.features(ids, state)  # (B, T, H)
        flat, y = out.flatten(0, 1), targets.flatten()  # (N, H), (N,)
        if not self.adaptive:
            logits = self.head(flat).float()  # (N, V)
            return F.cross_entropy(logits, y, ignore_index=IGNORE, reduction=reduction), state
        keep = y != IGNORE
        if not bool(keep.all()):
            flat, y = flat[keep], y[keep]  # (N', H), (N',): the layer has no ignore_index
        if y.numel() == 0:
            return flat.new_zeros(()), state
        target_logprob = self.head(flat, y).output  # (N',) log p(target)
        nll = -target_logprob.float().sum()
        return (nll if reduction == "sum" else nll / y.numel()), state

    def num_parameters(self) -> int:
        """Trainable parameters, counting tied weights once."""
        return sum(p.numel() for p in self.parameters())


def detach_state(state: State) -> State:
    """Cut the graph between truncated-BPTT windows but keep the values."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def count_parameters(config: ModelConfig) -> int:
    """Parameters of the model `config` describes, counted without building its weights.

    compare's size matching calls this dozens of times per tokenizer, so the plain
    model is counted by formula: embedding V*E; per recurrent layer G*H*(input + H)
    weights and 2*G*H biases (G = 4 gates for an LSTM, 3 for a GRU, as torch.nn
    stores them); output H*V weights unless tied, plus V biases. Any other output
    layer (the adaptive softmax) is built on the meta device, which has shapes but
    no memory, and counted by the model itself. tests/test_model.py checks both
    against `LSTMLanguageModel.num_parameters`.
    """
    if config.softmax != "full":
        with torch.device("meta"):
            return LSTMLanguageModel(copy.deepcopy(config)).num_parameters()
    v, e, h = config.vocab_size, config.embedding_dim, config.hidden_size
    gates = 4 if config.rnn_type == "lstm" else 3
    recurrent = sum(gates * h * ((e if layer == 0 else h) + h) + 2 * gates * h for layer in range(config.num_layers))
    return v * e + recurrent + (0 if config.tie_weights else h * v) + v


def forward_flops_per_token(config: ModelConfig, head_flops: float | None = None) -> float:
    """Floating-point operations (2 per multiply-add) of one token's forward pass.

    Per recurrent layer the G gates are (input + H) x G*H products; the output layer
    is H x V (full softmax) unless `head_flops` gives the adaptive layer's expected
    cost. Pointwise work and the embedding lookup are left out (they are O(H)).
    Training costs about 3x this (the backward pass is two such products).
    """
    e, h = config.embedding_dim, config.hidden_size
    gates = 4 if config.rnn_type == "lstm" else 3
    recurrent = sum(2 * gates * h * ((e if i == 0 else h) + h) for i in range(config.num_layers))
    return recurrent + (2 * h * config.vocab_size if head_flops is None else head_flops)
