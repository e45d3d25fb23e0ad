"""The batch-1 generation fast path: an LSTM language model advanced one token at a time.

`LSTMStepper` computes exactly what `LSTMLanguageModel.forward` computes for one
time step of an LSTM (eval mode, no dropout), but with the weights packed once into
contiguous per-thread blocks and every buffer preallocated, so a step costs about
what reading the weights from memory costs (figures in docs/development/log.md, "Speed").
`decode.sample_steps` uses it for LSTMs; GRUs take the plain `model.forward` path.

Not here: sampling (sampling.py), prompts and text (decode.py), training.
"""

from __future__ import annotations

import torch

from wordgen.errors import ConfigError
from wordgen.model import LSTMLanguageModel


class _SplitLinear:
    """y = x W^T + b for generation, with W cut column-wise into one block per CPU thread.

    At batch 1 a step is a matrix-vector product, bound by how fast the weights
    stream from memory. MKL runs that product on a single core, and reads a
    (M, K) weight through its transposed view at half speed again; a batched
    product (`torch.baddbmm`) over P contiguous (K, M/P) blocks runs one block
    per thread and reads at what all cores give (figures in
    docs/development/log.md, "Speed"). The blocks are a copy of the weights made once.
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

    Packing copies every weight once, which costs as much as many steps (figures
    in docs/development/log.md, "Speed"), so the blocks are kept on the model and reused by the next
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
