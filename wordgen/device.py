"""Where and in what arithmetic wordgen runs: the device, the precision, the machine it is on.

`resolve_device` is the one place that picks the device for training, evaluation
and generation; `resolve_precision` picks float32 or bfloat16 autocast for
training; `machine_info` describes the machine for reports and benchmarks (CPU
model, cores, torch threads, load average), so every report says the same things
the same way.

Not here: moving tensors (callers do `.to(device)`), the autocast itself (training/loop.py).
"""

from __future__ import annotations

import functools
import os
import platform

import torch

from wordgen.cpu import load_average, openmp_wait_policy
from wordgen.errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda if available, else cpu. An explicit device must exist here (ConfigError).

    Callers check it before any work (train() first thing, the CLI before loading
    anything), so `--device mps` on a machine without it is one line, not a traceback
    after the tokenizer is trained.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"TrainConfig.device={name!r} is not a device torch knows: use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            build = f"a CUDA {torch.version.cuda} build" if torch.version.cuda else "a CPU-only build"
            raise ConfigError(f"TrainConfig.device={name!r} asks for a CUDA GPU, but torch ({build}) sees none "
                              "here: use auto or cpu")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ConfigError(f"TrainConfig.device={name!r} asks for GPU {device.index}, but this machine has "
                              f"{count} (cuda:0 to cuda:{count - 1})")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(f"TrainConfig.device={name!r} asks for Apple's MPS GPU, which this machine or torch "
                              "build does not have: use auto or cpu")
    elif device.type != "cpu":
        raise ConfigError(f"TrainConfig.device={name!r} is not one wordgen runs on: use auto, cpu, cuda, cuda:N or mps")
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
    flags, _ = _cpu_flags_and_name()
    return "avx512_bf16" in flags or "amx_bf16" in flags


@functools.cache
def cpu_runs_bf16_rnns() -> bool:
    """Whether this CPU's oneDNN runs an LSTM and a GRU under bfloat16 autocast at all.

    On some CPUs (AVX2 without bf16 or AVX-512 units) oneDNN has no bf16 recurrent
    primitive and every forward raises; one tiny forward of each says so once per process.
    """
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            for layer in (torch.nn.LSTM(4, 4), torch.nn.GRU(4, 4)):
                layer(torch.zeros(2, 1, 4))  # (T, B, input)
    except RuntimeError:
        return False
    return True


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto' -> 'bf16' where `bf16_is_fast(device)`, else 'fp32'; explicit values pass through.

    An explicit 'bf16' on a CPU that cannot run recurrent layers in it is a ConfigError,
    not a failure inside the first training step.
    """
    if precision == "auto":
        return "bf16" if bf16_is_fast(device) and (device.type != "cpu" or cpu_runs_bf16_rnns()) else "fp32"
    if precision == "bf16" and device.type == "cpu" and not cpu_runs_bf16_rnns():
        raise ConfigError("TrainConfig.precision='bf16': this CPU cannot run wordgen's recurrent layers in bfloat16 "
                          "(oneDNN has no bf16 LSTM or GRU for it); use fp32 or auto")
    return precision


def _cpu_flags_and_name() -> tuple[list[str], str]:
    """The `flags` and `model name` lines of /proc/cpuinfo (Linux); empty elsewhere."""
    flags, name = [], ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags") and not flags:
                    flags = line.split(":", 1)[1].split()
                elif line.startswith("model name") and not name:
                    name = line.split(":", 1)[1].strip()
                if flags and name:
                    break
    except OSError:
        pass
    return flags, name


def machine_info() -> dict:
    """What a report or benchmark should say about the machine it ran on."""
    _, name = _cpu_flags_and_name()
    return {
        "cpu": name or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "omp_wait_policy": openmp_wait_policy(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average": load_average(),
    }
