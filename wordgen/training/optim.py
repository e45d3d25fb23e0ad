"""The optimizer and the learning-rate schedule of a training run.

`make_optimizer` builds AdamW (the default) or plain SGD (the classic
word_language_model recipe) with weight decay on the matrices only: decaying
biases pulls the gates' offsets towards zero for no gain (Loshchilov & Hutter
2019 decay weights, not biases). `lr_factor` is the schedule: a linear warm-up,
then a cosine down to `lr_min_ratio` of the peak over the run's length.
`gradient_step` is one step's arithmetic (forward under `autocast_for`, backward,
clipping, the optimizer's update), shared by the loop and the rate probe.

Not here: the learning-rate drop on a validation plateau (wordgen.training.plateau),
or when a step runs and what it counts (wordgen.training.loop).
"""

from __future__ import annotations

import math

import torch

from wordgen.config import TrainConfig
from wordgen.model import detach_state


def lr_factor(step: int, progress: float, config: TrainConfig) -> float:
    """Multiplier of the peak learning rate: linear warm-up, then cosine decay.

    progress: the share of the run done, in [0, 1] (by steps, seconds or characters).
    """
    warmup = min(1.0, (step + 1) / max(1, config.warmup_steps))
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return warmup * (config.lr_min_ratio + (1 - config.lr_min_ratio) * cosine)


def param_groups(model: torch.nn.Module, config: TrainConfig) -> list[dict]:
    """Optimizer groups: matrices decayed, vectors (biases) not -- or one decayed group with decay_vectors."""
    params = list(model.parameters())  # tied weights appear once
    if config.decay_vectors:
        return [{"params": params, "weight_decay": config.weight_decay}]
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW, or SGD when config.optimizer says so, over `param_groups` at the peak rate."""
    optimizer_class = torch.optim.SGD if config.optimizer == "sgd" else torch.optim.AdamW
    return optimizer_class(param_groups(model, config), lr=config.lr)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """The same rate for every group (the groups differ only in weight decay)."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def autocast_for(device: torch.device, precision: str):
    """The forward pass's autocast: bfloat16 for precision 'bf16' (it needs no loss scaling, having
    float32's exponent range, unlike float16), a no-op otherwise."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def gradient_step(model: torch.nn.Module, forward, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                  y: torch.Tensor, state, grad_clip: float, autocast):
    """One optimizer step on the window x, y (B, T) from `state`: (the window's mean nats, a tensor; the new state).

    forward(x, y, state) -> (loss, activation penalty, state): the model's training loss, or DDP's
    module around it (whose backward averages the gradients over the processes). The state is
    detached: gradients stop at the window's edge.
    """
    with autocast:
        loss, penalty, state = forward(x, y, state)
    state = detach_state(state)
    optimizer.zero_grad(set_to_none=True)
    (loss + penalty).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss, state
