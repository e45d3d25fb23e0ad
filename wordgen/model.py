"""The one language model every tokenizer shares: embedding -> LSTM (or GRU) -> output layer.

It maps token ids to next-token logits and knows nothing about tokenizers,
text, files or devices; only torch is imported. The recurrent state is passed in
and returned explicitly, so callers decide when to carry it (truncated BPTT,
generation) and when to reset it. `count_parameters` and `forward_flops_per_token`
size a model from its config without building it (compare's size matching, the
benchmarks' FLOP rates).

The output layer is a full linear layer over the vocabulary, or (softmax =
"adaptive", which the size rule picks for large vocabularies) torch's
AdaptiveLogSoftmaxWithLoss, which is exact and normalised but computes the
rare-word clusters only for the targets that fall in them.
`forward` always returns full (B, T, V) scores (log-probabilities for the
adaptive layer, which are valid logits); `loss` is the cheap path training and
evaluation use.

Regularisers for small data (ModelConfig's dropouts, DropConnect on W_hh, AR/TAR;
Merity et al. 2017) act in train mode only: in eval mode `forward` is the plain
network, which is what the generation stepper reproduces. `training_loss` returns
the activation penalty beside the cross-entropy.

Not here: the device and precision choice (device.py), the one-token-at-a-time
generation path (generation/stepper.py), sampling, tokenizers, the autocast itself (training/loop.py).
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
        # One multi-layer module holds the weights (the state-dict names and the generation
        # stepper depend on it). Its own between-layer dropout (a fresh mask per step) is used
        # only when that is what the config asks for; locked dropout between layers and
        # DropConnect run the layers one by one (`_recurrent_regularised`).
        self.rnn = rnn_class(
            config.embedding_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.rate("hidden_dropout") if config.num_layers > 1 and not config.locked_dropout else 0.0,
            batch_first=True,
        )
        self.adaptive = config.output_layer() == "adaptive"
        if self.adaptive:
            # div_value 4: each cluster's projection is 4x narrower than the one before,
            # the setting of Grave et al. 2017 and torch's default.
            self.head = nn.AdaptiveLogSoftmaxWithLoss(
                config.hidden_size, config.vocab_size, config.resolved_cutoffs(), div_value=4.0
            )
        else:
            self.head = nn.Linear(config.hidden_size, config.vocab_size)
        if config.tied():
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
        if not self.config.tied():
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
        dropped, _, state = self._features(ids, state)
        return dropped, state

    def _features(self, ids: torch.Tensor, state: State | None) -> tuple[torch.Tensor, torch.Tensor, State]:
        """ids (B, T) -> top outputs (B, T, H) after and before the output dropout, and the last state."""
        c = self.config
        x = self._dropout(self._embed(ids), c.rate("input_dropout"))  # (B, T, E)
        needs_layers = self.training and (c.rate("weight_dropout") > 0 or (
            c.num_layers > 1 and c.locked_dropout and c.rate("hidden_dropout") > 0))
        out, state = self._recurrent_regularised(x, state) if needs_layers else self.rnn(x, state)  # (B, T, H)
        return self._dropout(out, c.rate("dropout")), out, state

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (B, T) -> embeddings (B, T, E), with embedding dropout in train mode."""
        x = self.embedding(ids)  # (B, T, E)
        p = self.config.rate("embedding_dropout")
        if self.training and p > 0:
            # One keep/drop draw per vocabulary entry: a dropped word is zero wherever it occurs
            # in the batch. Gathering the mask for the ids costs B*T, not V*E.
            keep = x.new_empty(self.config.vocab_size).bernoulli_(1 - p) / (1 - p)  # (V,)
            x = x * keep[ids].unsqueeze(-1)  # (B, T, E)
        return x

    def _dropout(self, x: torch.Tensor, p: float) -> torch.Tensor:
        """Dropout on x (B, T, D), off in eval mode; locked: one mask per row, shared over T."""
        if not self.training or p == 0:
            return x
        if not self.config.locked_dropout:
            return F.dropout(x, p, training=True)
        mask = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1 - p) / (1 - p)  # (B, 1, D)
        return x * mask

    def _recurrent_regularised(self, x: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """The recurrent layers one at a time, with DropConnect on W_hh and dropout between layers.

        Each layer is torch's own fused recurrence (`torch.lstm` / `torch.gru`, the
        operators nn.LSTM / nn.GRU call) on this module's weights, so the speed is
        nn.LSTM's and nothing is copied but the dropped W_hh (4H x H per layer).
        """
        c, rnn = self.config, self.rnn
        lstm = c.rnn_type == "lstm"
        if state is None:
            state = self.init_state(x.size(0))
        h0, c0 = state if lstm else (state, None)  # (L, B, H) each
        hs, cs = [], []
        for layer in range(c.num_layers):
            w_hh = getattr(rnn, f"weight_hh_l{layer}")  # (G*H, H)
            if c.rate("weight_dropout") > 0:
                w_hh = F.dropout(w_hh, c.rate("weight_dropout"), training=True)
            weights = [getattr(rnn, f"weight_ih_l{layer}"), w_hh, getattr(rnn, f"bias_ih_l{layer}"),
                       getattr(rnn, f"bias_hh_l{layer}")]
            if layer > 0:  # _dropout: locked or not, as configured
                x = self._dropout(x, c.rate("hidden_dropout"))
            # Arguments: input, state, weights, has_biases, num_layers, dropout, train, bidirectional, batch_first.
            if lstm:
                x, h, cell = torch.lstm(x, (h0[layer : layer + 1], c0[layer : layer + 1]), weights,
                                        True, 1, 0.0, True, False, True)  # (B, T, H), (1, B, H) x 2
                cs.append(cell)
            else:
                x, h = torch.gru(x, h0[layer : layer + 1], weights, True, 1, 0.0, True, False, True)
            hs.append(h)
        h = torch.cat(hs)  # (L, B, H)
        return x, ((h, torch.cat(cs)) if lstm else h)

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
        loss, _, state = self.training_loss(ids, targets, state, reduction=reduction)
        return loss, state

    def training_loss(
        self, ids: torch.Tensor, targets: torch.Tensor, state: State | None = None, *, reduction: str = "mean"
    ) -> tuple[torch.Tensor, torch.Tensor, State]:
        """(cross-entropy as `loss` gives it, the activation penalty, the last state).

        The penalty is AR + TAR (ModelConfig.activation_reg, temporal_activation_reg):
        zero in eval mode and when both are 0. Training minimises their sum and
        reports the cross-entropy alone.
        """
        dropped, raw, state = self._features(ids, state)  # (B, T, H) each
        c = self.config
        penalty = dropped.new_zeros((), dtype=torch.float32)
        if self.training and c.activation_reg > 0:
            penalty = penalty + c.activation_reg * dropped.float().pow(2).mean()
        if self.training and c.temporal_activation_reg > 0 and raw.size(1) > 1:
            penalty = penalty + c.temporal_activation_reg * (raw[:, 1:] - raw[:, :-1]).float().pow(2).mean()
        return self._cross_entropy(dropped, targets, reduction), penalty, state

    def _cross_entropy(self, out: torch.Tensor, targets: torch.Tensor, reduction: str) -> torch.Tensor:
        """Top outputs (B, T, H) and targets (B, T) -> summed or mean nats over the targets that are not IGNORE."""
        total = self.target_nll(out, targets).sum()
        return total if reduction == "sum" else total / (targets != IGNORE).sum().clamp(min=1)

    def target_nll(self, out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Top outputs (B, T, H) and targets (B, T) -> -ln p(target) per position (B, T); 0 at IGNORE."""
        flat, y = out.flatten(0, 1), targets.flatten()  # (N, H), (N,)
        if not self.adaptive:
            nll = F.cross_entropy(self.head(flat).float(), y, ignore_index=IGNORE, reduction="none")  # (N,)
            return nll.view_as(targets)
        keep = y != IGNORE
        if bool(keep.all()):  # the usual case: no copy of the rows
            return -self.head(flat, y).output.float().view_as(targets)
        nll = flat.new_zeros(y.shape, dtype=torch.float32)  # (N,): the layer has no ignore_index
        if bool(keep.any()):
            nll[keep] = -self.head(flat[keep], y[keep]).output.float()
        return nll.view_as(targets)

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
    if config.output_layer() != "full":
        config = copy.deepcopy(config)
        config.embedding_dim = config.embedding_dim or config.hidden_size
        with torch.device("meta"):
            return LSTMLanguageModel(copy.deepcopy(config)).num_parameters()
    v, e, h = config.vocab_size, config.embedding_dim, config.hidden_size
    gates = 4 if config.rnn_type == "lstm" else 3
    recurrent = sum(gates * h * ((e if layer == 0 else h) + h) + 2 * gates * h for layer in range(config.num_layers))
    return v * e + recurrent + (0 if config.tied() else h * v) + v


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


# Share of the tokens assumed to fall in each tail cluster of the adaptive softmax when its
# cost is estimated before any data is seen: the top of what word-level English books put past
# the shortlist, so the estimate errs dear (figures: docs/development/log.md, "The size rule").
TAIL_SHARE = 0.15


def estimated_adaptive_flops(config: ModelConfig, shares: list[float] | None = None) -> float:
    """Expected forward FLOPs per token of the adaptive output layer.

    The head (the shortlist plus one logit per tail cluster) runs for every token;
    tail cluster i (4^(i+1) times narrower, as the layer is built) only for the
    tokens in it: `shares[i]` of them, measured from real targets by
    benchmarks/sections_train.py, or TAIL_SHARE each before any data is seen.
    """
    h, cutoffs = config.hidden_size, [*config.resolved_cutoffs(), config.vocab_size]
    clusters = len(cutoffs) - 1
    shares = [TAIL_SHARE] * clusters if shares is None else shares
    head = 2 * h * (cutoffs[0] + clusters)
    return head + sum(share * 2 * (h // 4 ** (i + 1)) * (h + cutoffs[i + 1] - cutoffs[i])
                      for i, share in enumerate(shares))
