"""Training in several processes: torch.distributed from torchrun's environment, and `--nproc`.

`torchrun --nproc-per-node N -m wordgen train ...` runs N copies of `wordgen train`;
torchrun gives each RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT, and
`Group.join` turns them into process groups. `wordgen train --nproc N` is the same
for one machine, started through torchrun's own launcher (`launch`). Nothing here
re-implements a launcher, a rendezvous or an all-reduce: PyTorch does all three.

One run uses three groups:

* the default group (gloo on CPUs, NCCL on GPUs) waits while the first process of
  each machine encodes the corpus into the shared cache (`wait_for_preparation`),
  which may take long on a big corpus: its timeout is `PREPARE_TIMEOUT`;
* the gradient group (same backend) carries DistributedDataParallel's all-reduce;
* a gloo group on the CPU carries the small messages of the loop: the clock and a
  stop signal every step, validation sums, the recurrent states and random states
  that go into a checkpoint.

Every collective of the last two has the run's timeout (`--dist-timeout`). A process
that dies closes its sockets and the others fail at their next message; one that
hangs makes them fail at the timeout; `failures()` turns either into one
`DistributedError` line instead of a traceback, and torchrun stops the rest.

Not here: what the messages mean (wordgen.training), data sharding (data.batchify's rank and
world_size), checkpoints (only rank 0 writes them, wordgen.training decides).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import logging
import os
import re
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from wordgen._io import first_line
from wordgen.errors import ConfigError, DistributedError

PREPARE_TIMEOUT = datetime.timedelta(hours=6)  # encoding a corpus of several GB on one core
DEFAULT_TIMEOUT = 600.0  # seconds: --dist-timeout


def in_torchrun() -> bool:
    """Whether this process is one of several started by torchrun (WORLD_SIZE > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1


def env_rank() -> int:
    """This process's rank as torchrun set it (0 outside torchrun): who prints."""
    return int(os.environ.get("RANK", "0") or 0)


@dataclass
class Group:
    """This process's place in the run, and the means to talk to the others (none when alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    grad_group: Any = None  # for DistributedDataParallel
    cpu_group: Any = None  # gloo: small CPU tensors
    backend: str = ""
    _joined: bool = field(default=False, repr=False)

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def join(cls, device: torch.device, timeout: float) -> Group:
        """Join the run torchrun started (gloo on CPU, NCCL on CUDA), or a group of one."""
        if not in_torchrun():
            return cls()
        if not torch.distributed.is_available():
            raise DistributedError("this torch build has no torch.distributed: train in one process")
        env = os.environ
        rank, world, local = int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", "0"))
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist = torch.distributed
        step_timeout = datetime.timedelta(seconds=timeout)
        try:
            dist.init_process_group(backend, rank=rank, world_size=world, timeout=PREPARE_TIMEOUT)
            grad_group = dist.new_group(backend=backend, timeout=step_timeout)
            cpu_group = grad_group if backend == "gloo" else dist.new_group(backend="gloo", timeout=step_timeout)
        except Exception as err:  # rendezvous, sockets, NCCL: whatever fails, it is one line
            raise DistributedError(f"cannot join the other training processes: {first_line(err)}") from None
        return cls(rank=rank, world_size=world, local_rank=local, grad_group=grad_group, cpu_group=cpu_group,
                   backend=backend, _joined=True)

    # ------------------------------------------------------------------ messages

    def wait_for_preparation(self) -> None:
        """Everyone waits here until each machine's first process has filled the cache."""
        if self.distributed:
            torch.distributed.barrier()

    def broadcast(self, values: list[float]) -> list[float]:
        """Rank 0's `values` on every rank (float64)."""
        if not self.distributed:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64)
        torch.distributed.broadcast(t, src=0, group=self.cpu_group)
        return t.tolist()

    def broadcast_text(self, text: str | None, length: int) -> str:
        """Rank 0's ASCII `text` of exactly `length` characters on every rank (the others pass None)."""
        if not self.distributed:
            return text
        data = torch.zeros(length, dtype=torch.uint8)
        if self.is_main:
            data = torch.frombuffer(bytearray(text.encode("ascii")), dtype=torch.uint8)
        torch.distributed.broadcast(data, src=0, group=self.cpu_group)
        return bytes(data.tolist()).decode("ascii")

    def sum(self, values: list[float]) -> list[float]:
        """The element-wise sum of every rank's `values` (float64)."""
        if not self.distributed:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64)
        torch.distributed.all_reduce(t, group=self.cpu_group)
        return t.tolist()

    def agree(self, elapsed: float, signum: int | None) -> tuple[float, int | None]:
        """The latest clock of all ranks, and the stop signal any of them received, or None (one message)."""
        if not self.distributed:
            return elapsed, signum
        t = torch.tensor([elapsed, float(signum or 0)], dtype=torch.float64)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX, group=self.cpu_group)
        return t[0].item(), int(t[1].item()) or None

    def gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """Every rank's `tensor` (same shape and dtype on all), in rank order, on the CPU."""
        if not self.distributed:
            return [tensor.cpu()]
        local = tensor.detach().cpu().contiguous()
        parts = [torch.empty_like(local) for _ in range(self.world_size)]
        torch.distributed.all_gather(parts, local, group=self.cpu_group)
        return parts

    def share_weights(self, model: torch.nn.Module) -> None:
        """Every rank takes rank 0's parameters and buffers (after rank 0 alone loaded weights from disk)."""
        if not self.distributed:
            return
        with torch.no_grad():
            for tensor in [*model.parameters(), *model.buffers()]:
                torch.distributed.broadcast(tensor, src=0, group=self.grad_group)

    def check_same(self, what: str, text: str) -> None:
        """DistributedError unless `text` is the same on every rank (compared by SHA-256)."""
        if not self.distributed:
            return
        digest = torch.frombuffer(bytearray(hashlib.sha256(text.encode("utf-8")).digest()), dtype=torch.uint8)
        if any(not torch.equal(d, digest) for d in self.gather(digest)):
            raise DistributedError(f"the training processes do not agree on the {what}; run them from one "
                                   "wordgen version with the same corpus, or share the cache (WORDGEN_CACHE)")

    @contextlib.contextmanager
    def failures(self, where: Callable[[], str]):
        """Turn a failed message (a peer died, hung past the timeout) into one DistributedError line.

        `where()` says what the run was doing (called only when it failed).
        """
        try:
            yield
        except RuntimeError as err:
            if not self.distributed or not _is_communication_error(err):
                raise
            raise DistributedError(
                f"rank {self.rank} lost contact with the other training processes {where()}: {_detail(err)}; "
                "a process died or hung (see its own message, if any); the last checkpoint is intact") from None

    def close(self) -> None:
        if self._joined and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
            self._joined = False


def _detail(err: Exception) -> str:
    """The gist of a gloo/NCCL error: its first sentence, without the C++ source location."""
    text = re.sub(r"^\[[^\]]*\]\s*", "", first_line(err))
    return text.split(". ")[0].rstrip(".")[:160]


def _is_communication_error(err: RuntimeError) -> bool:
    dist_error = getattr(torch.distributed, "DistError", None)
    if dist_error is not None and isinstance(err, dist_error):
        return True
    text = str(err).lower()
    return any(word in text for word in ("gloo", "nccl", "connection", "timed out", "timeout", "socket", "peer"))


def device_for(name: str, local_rank: int) -> str:
    """The device name for this process: GPU LOCAL_RANK when the run uses GPUs."""
    if not in_torchrun():
        return name
    if name == "auto":
        return f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        return f"cuda:{local_rank}"
    return name


class _LossForward(torch.nn.Module):
    """model.training_loss as a module's forward, which is what DistributedDataParallel hooks into."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x, y, state):
        return self.model.training_loss(x, y, state)  # (loss, activation penalty, state)


def loss_module(model: torch.nn.Module, group: Group, device: torch.device) -> torch.nn.Module:
    """What a training step calls, (x, y, state) -> (loss, penalty, state): the model's training loss, through DDP
    when there are several processes (its backward then averages the gradients over them)."""
    module = _LossForward(model)
    if not group.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel

    # The adaptive softmax skips a tail cluster that no target of the batch falls in,
    # which DDP must be told about; the full softmax uses every weight every step.
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None,
                                   process_group=group.grad_group, find_unused_parameters=model.adaptive)


def rank_seed(seed: int, rank: int, step: int) -> int:
    """A seed of its own for rank > 0's dropout (rank 0 keeps the stream a single process has)."""
    return (seed * 1_000_003 + rank * 7919 + step) % (2**63)


def global_batch_share(batch_size: int, world_size: int) -> int:
    """Rows of the token table per process: TrainConfig.batch_size is the global batch, shared out."""
    if batch_size % world_size:
        raise ConfigError(f"TrainConfig.batch_size {batch_size} cannot be shared evenly by {world_size} processes: "
                          f"give a multiple of {world_size} (it is the batch of all processes together)")
    return batch_size // world_size


# ---------------------------------------------------------------------- the launcher


def launch(argv: list[str], nproc: int) -> None:
    """Run `python -m wordgen *argv` in `nproc` processes on this machine through torchrun's launcher.

    The same as `torchrun --standalone --nproc-per-node N -m wordgen ...`. Each
    process sees OMP_NUM_THREADS = cores // N unless it is set already, so N
    processes do not fight over the cores. A process that fails stops the others;
    the failure comes back as one DistributedError line.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if nproc < 1:
        raise ConfigError(f"launch(nproc=...) must be at least 1, got {nproc}")
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.1)
    from torch.distributed.elastic.multiprocessing.api import SignalException

    # The elastic agent logs its own multi-line report of a failure (each of its modules'
    # loggers has its own level); ours is one line.
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
               if name.startswith("torch.distributed.elastic")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        elastic_launch(config, sys.executable)("-m", "wordgen", *argv)
    except ChildFailedError as err:
        raise DistributedError(_failure_line(err)) from None
    except SignalException:  # Ctrl-C / SIGTERM: the processes saved their state and said so
        raise KeyboardInterrupt from None
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _failure_line(err) -> str:
    import signal

    # The process that failed first is the one that was not stopped by the launcher (SIGTERM)
    # after another one failed; its own message, if it could print one, is above.
    failures = sorted(err.failures.items())
    own = [(rank, f) for rank, f in failures if f.exitcode != -signal.SIGTERM]
    rank, failure = (own or failures)[0]
    code = failure.exitcode
    if code is not None and code < 0:
        try:
            what = f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            what = f"was killed by signal {-code}"
    else:
        what = f"exited with status {code}"
    others = len(err.failures) - 1
    also = f" ({others} other process{'es' if others > 1 else ''} failed too)" if others else ""
    return f"training process rank {rank} {what}{also}; the others were stopped"
