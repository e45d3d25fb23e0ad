"""The one language model every tokenizer shares: embedding -> LSTM (or GRU) -> output layer.

It maps token ids to next-token logits and knows nothing about tokenizers,
text or files; only torch is imported. The recurrent state is passed in and
returned explicitly, so callers decide when to carry it (truncated BPTT,
generation) and when to reset it. `resolve_device` is the one place that picks
the device for training and generation, `resolve_precision` the arithmetic.

The output layer is a full linear layer over the vocabulary, or (softmax =
"adaptive") torch's AdaptiveLogSoftmaxWithLoss, which is exact and normalised
but computes the rare-word clusters only for the targets that fall in them.
`forward` always returns full (B, T, V) scores (log-probabilities for the
adaptive layer, which are valid logits); `loss` is the cheap path training and
evaluation use. `LSTMStepper` runs one token at a time for generation.

Not here: sampling, tokenizers, the autocast itself (train.py) or compilation
(tried, no gain: benchmarks/README.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wordgen.config import ModelConfig
from wordgen.errors import ConfigError

# LSTM state is a pair (h, c), GRU state a single h; each (num_layers, B, H).
State = tuple[torch.Tensor, torch.Tensor] | torch.Tensor

IGNORE = -100  # a target with this id is skipped by `loss` (padding), as in F.cross_entropy


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


def bf16_is_fast(device: torch.device) -> bool:
    """Whether this device has bfloat16 arithmetic units, so autocast to bf16 pays.

    CUDA: what torch reports (Ampere and later). CPU: the avx512_bf16 or amx_bf16
    flag in /proc/cpuinfo (Linux); on a CPU without them oneDNN emulates bf16, which
    can be slower than float32, so anything else -- and any other OS -- says no.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto' -> 'bf16' where `bf16_is_fast(device)`, else 'fp32'; explicit values pass through."""
    if precision == "auto":
        return "bf16" if bf16_is_fast(device) else "fp32"
    return precision


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


class _SplitLinear:
    """y = x W^T + b for generation, with W cut column-wise into one block per CPU thread.

    At batch 1 a step is a matrix-vector product, bound by how fast the weights
    stream from memory. MKL runs that product on a single core, and reads a
    (M, K) weight through its transposed view at half speed again; a batched
    product (`torch.baddbmm`) over P contiguous (K, M/P) blocks runs one block
    per thread and reads at what all cores give (figures in
    benchmarks/README.md). The blocks are a copy of the weights made once.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, parts: int):
        out_features, in_features = weight.shape  # (M, K)
        self.out_features = out_features
        width = -(-out_features // parts)  # columns per block, the last block zero-padded
        padded = weight.new_zeros(parts * width, in_features)  # (P*W, K)
        padded[:out_features] = weight.detach()
        self.weight = padded.view(parts, width, in_features).transpose(1, 2).contiguous()  # (P, K, W)
        padded_bias = bias.new_zeros(parts * width)
        padded_bias[:out_features] = bias.detach()
        self.bias = padded_bias.view(parts, 1, width)  # (P, 1, W)

    def new_out(self, batch: int) -> torch.Tensor:
        """A result buffer for `batch` rows: (P, N, W)."""
        return self.weight.new_empty(self.weight.size(0), batch, self.weight.size(2))

    def __call__(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """x (N, K) -> (N, M), computed into `out` (from `new_out`)."""
        parts = self.weight.size(0)
        torch.baddbmm(self.bias, x.expand(parts, *x.shape), self.weight, out=out)  # (P, N, W)
        # (P, N, W) -> (N, P*W): a free view at N = 1, a small copy for larger batches.
        return out.transpose(0, 1).reshape(x.size(0), -1)[:, : self.out_features]


def _packed_weights(model: LSTMLanguageModel, parts: int) -> tuple[list[_SplitLinear], _SplitLinear | None]:
    """The stepper's weight blocks: (one per layer, the output layer or None if adaptive).

    Packing copies every weight once (tens of ms for a 40 MB model, the cost of
    ~20 steps), so the blocks are kept on the model and reused by the next
    generation call until a parameter changes: an optimizer step or
    `load_state_dict` bumps the tensor's version counter, `.to()` its storage.
    """
    key = (parts, tuple((id(p), p.data_ptr(), p._version) for p in model.parameters()))
    cached = getattr(model, "_stepper_weights", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    rnn = model.rnn
    layers = []
    with torch.no_grad():
        for i in range(model.config.num_layers):
            weight = torch.cat([getattr(rnn, f"weight_ih_l{i}"), getattr(rnn, f"weight_hh_l{i}")], 1)  # (4H, E+H)
            bias = getattr(rnn, f"bias_ih_l{i}") + getattr(rnn, f"bias_hh_l{i}")  # (4H,)
            layers.append(_SplitLinear(weight, bias, parts))
        head = None if model.adaptive else _SplitLinear(model.head.weight, model.head.bias, parts)
    model._stepper_weights = (key, (layers, head))
    return layers, head


class LSTMStepper:
    """Advance an LSTM language model one token at a time, in preallocated buffers.

    `nn.LSTM` called with one time step per token pays, every call, for its
    general sequence machinery (argument checks, a new output and state, on
    the CPU a oneDNN primitive set up for the shapes). A generation step needs
    only, per layer, gates = b + [x, h] [W_ih, W_hh]^T (N, 4H) and the cell
    update: one matrix product per layer and one for the output layer, which
    read every weight once (the memory-bandwidth floor of a step), and a
    handful of in-place pointwise operations. The gate order i, f, g, o is
    nn.LSTM's (see its documentation). Eval mode only: no dropout.
    """

    def __init__(self, model: LSTMLanguageModel, state: tuple[torch.Tensor, torch.Tensor]):
        if model.config.rnn_type != "lstm":
            raise ConfigError("LSTMStepper steps LSTM models only")
        self.model = model
        h, c = state  # (L, N, H) each
        self.h, self.c = h.clone().contiguous(), c.clone().contiguous()
        n, hidden = h.shape[1], h.shape[2]
        # One block per CPU thread; on a GPU one block (its matrix-vector kernels use the whole device).
        parts = torch.get_num_threads() if h.device.type == "cpu" else 1
        self.layers, self.head = _packed_weights(model, parts)
        # Buffers of this stepper alone, so that two generations of one model can interleave.
        self.inputs = [h.new_empty(n, lin.weight.size(1)) for lin in self.layers]  # (N, E+H): [x, h]
        self.gates_out = [lin.new_out(n) for lin in self.layers]
        self.tanh_c = h.new_empty(n, hidden)  # (N, H)
        self.logits_out = self.head.new_out(n) if self.head is not None else None

    @torch.no_grad()
    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (N,) -> next-token logits (N, V); the state moves on in place.

        The logits live in a buffer the next call reuses: consume them first.
        """
        hidden = self.h.size(2)
        x = self.model.embedding.weight.index_select(0, ids)  # (N, E)
        for layer, linear in enumerate(self.layers):
            h, c = self.h[layer], self.c[layer]  # (N, H) views of the state
            inputs = self.inputs[layer]
            inputs[:, : x.size(1)] = x
            inputs[:, x.size(1) :] = h
            g = linear(inputs, self.gates_out[layer])  # (N, 4H) gates, before their nonlinearities
            g[:, : 2 * hidden].sigmoid_()  # input and forget gates
            g[:, 3 * hidden :].sigmoid_()  # output gate
            cell = g[:, 2 * hidden : 3 * hidden].tanh_()  # candidate
            c.mul_(g[:, hidden : 2 * hidden]).addcmul_(g[:, :hidden], cell)  # c = f*c + i*g
            torch.tanh(c, out=self.tanh_c)
            torch.mul(g[:, 3 * hidden :], self.tanh_c, out=h)  # h = o * tanh(c)
            x = h
        if self.head is None:
            return self.model.head.log_prob(x)  # (N, V), adaptive softmax
        return self.head(x, self.logits_out)  # (N, V)

    @property
    def state(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.h, self.c
