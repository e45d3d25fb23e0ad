"""Sharing the CPU with other processes: as many torch threads as there are free cores.

On a 2-core machine a training used to keep 0.36x of its idle speed beside one
busy Python loop, and two trainings together 0.55x of one alone. Two things
cause it. torch's OpenMP threads (GNU libgomp) spin for a while (about 3 ms by
default) before they sleep at the end of every parallel region, and an LSTM step
has hundreds of such regions; when another process takes one of the two cores,
one of our threads waits for the other, which the scheduler has put aside, and
burns the core it waits on. And two threads on one free core take turns at every
barrier. Both need two threads on a machine that has one core for them, so:

* `ThreadPolicy` follows the machine during training and generation: every few seconds it
  measures how many cores *other* processes kept busy (all CPU time in
  /proc/stat minus this process's own) and sets `torch.set_num_threads` to
  the cores left free, at least one and at most the count it started with.
  Two wordgen trainings each settle on one core; when the other process ends,
  the threads come back. Generations remember the last one's count and look,
  since one sample is often over before a first look. `WORDGEN_THREADS=N` fixes
  the count instead.
* libgomp's waiting is left as it is. Passive waiting (``OMP_WAIT_POLICY=PASSIVE``,
  what wordgen set from issue 11 to issue 22) also stopped the collapse, but a
  thread that sleeps at once has to be woken for each of those hundreds of
  regions: on an idle machine it cost 40-60 % of the speed (docs/development/threads.md).
  `openmp_wait_policy()` says which policy is in force, for the benchmarks' records.
* `CpuWatch` measures the same share over a stretch of time (a row of a
  comparison), with the load average at both ends, so a report can say when
  its time budgets were shared.

benchmarks/busy.py measures the effect (idle, beside a busy loop, two
trainings at once); docs/development/log.md, "A busy machine", has the figures.

Linux only where it reads /proc; elsewhere the measurements are None and the
thread count stays as torch set it. Not here: choosing the device (device.py).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

FIRST_CHECK_SECONDS = 0.5  # the first look: a collapsed start wastes every second until then
# Generation's first look comes sooner: a sample of a few hundred tokens can be over in half a
# second. Not sooner than this: /proc/stat counts in 10-ms ticks.
GENERATION_FIRST_CHECK_SECONDS = 0.1
CHECK_SECONDS = 2.0  # between two later looks at the machine
# A policy with a `remember` name starts from the count the last one of that name ended with, if it
# ended this recently: samples drawn one after another are each over before a first look.
MEMORY_SECONDS = 30.0
BUSY_SHARE = 0.5  # other processes using this much of a core count as taking it


def openmp_wait_policy() -> str:
    """The wait policy torch's OpenMP runtime was started with, as far as this process can tell."""
    if "GOMP_SPINCOUNT" in os.environ and "OMP_WAIT_POLICY" not in os.environ:
        return f"spin {os.environ['GOMP_SPINCOUNT']} times, then sleep (GOMP_SPINCOUNT)"
    return os.environ.get("OMP_WAIT_POLICY", "default (spin, then sleep)")


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_seconds() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat; None where there is none.

    The first line of /proc/stat (proc(5)) counts, in clock ticks, user, nice,
    system, idle, iowait, irq, softirq, steal, ...; idle and iowait are free
    time, and steal (the hypervisor running someone else) counts as busy: the
    core was not ours to use.
    """
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()
        ticks = [int(v) for v in fields[1:9]]
        hz = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    total = sum(ticks)
    return (total - ticks[3] - ticks[4]) / hz, total / hz


def load_average() -> tuple[float, float, float] | None:
    """The 1-, 5- and 15-minute load averages, or None where the OS has none (Windows)."""
    return os.getloadavg() if hasattr(os, "getloadavg") else None


@dataclass
class _Mark:
    wall: float
    own: float  # this process's CPU seconds (all its threads)
    machine: tuple[float, float] | None


def _mark() -> _Mark:
    return _Mark(time.perf_counter(), time.process_time(), cpu_seconds())


def other_cores(since: _Mark, now: _Mark) -> float | None:
    """Cores that other processes kept busy on average between two marks (None off Linux or too short)."""
    wall = now.wall - since.wall
    if since.machine is None or now.machine is None or wall < 0.05:
        return None
    busy = now.machine[0] - since.machine[0]
    return max(0.0, (busy - (now.own - since.own)) / wall)


_remembered: dict[str, tuple[_Mark, int]] = {}  # ThreadPolicy's remember name -> (its last look, its count)


class CpuWatch:
    """How busy the rest of the machine was between `CpuWatch()` and `stop()`."""

    def __init__(self):
        self._start = _mark()
        self.load_before = load_average()

    def stop(self) -> dict:
        """{'other_cores', 'cores', 'load_average_before', 'load_average_after', 'busy'}; other_cores may be None."""
        watch = {"other_cores": other_cores(self._start, _mark()), "cores": usable_cores(),
                 "load_average_before": self.load_before, "load_average_after": load_average()}
        return {**watch, "busy": was_busy(watch)}


def was_busy(watch: dict) -> bool:
    """Whether other processes (or, without /proc/stat, the load average) took a real share of the CPU."""
    if watch.get("other_cores") is not None:
        return watch["other_cores"] >= BUSY_SHARE
    after = watch.get("load_average_after")
    return bool(after) and after[0] >= watch.get("cores", 1) + BUSY_SHARE


def fit_threads(others: float, cores: int, cap: int) -> int:
    """Threads for the cores that `others` (cores busy with other processes) leave free: 1..cap.

    Half a core or more of other work counts as taking that core: two threads
    sharing one core wait for each other at every barrier.
    """
    taken = int(others + (1 - BUSY_SHARE))
    return max(1, min(cap, cores - taken))


class ThreadPolicy:
    """torch's thread count following the free cores during a run; `close()` puts the old count back.

    Also a context manager (closed on exit). enabled=False (a GPU run) makes every call a no-op;
    first_check: seconds before the first look (FIRST_CHECK_SECONDS unless given). remember: a
    name; the next policy of that name in this process (within MEMORY_SECONDS) starts from this
    one's count and measures the machine from this one's last look, so a short generation
    beside a busy program does not start on a core that is taken.
    """

    def __init__(self, enabled: bool = True, first_check: float | None = None, remember: str | None = None):
        import torch

        self._torch = torch
        self.enabled = enabled
        self.first_check = first_check
        self.remember = remember
        self.initial = torch.get_num_threads()
        fixed = os.environ.get("WORDGEN_THREADS", "").strip()
        self.fixed = int(fixed) if fixed.isdigit() and int(fixed) > 0 else None
        self.cap = min(self.initial, usable_cores())  # never more than torch was allowed (OMP_NUM_THREADS...)
        self._began = self._last = _mark()
        self._looked = False
        self.threads = self.initial
        self.changes: list[tuple[float, int]] = []  # (seconds since the start, threads) at each change
        if self.fixed is not None and enabled:
            self._set(self.fixed)
        elif enabled and remember in _remembered:
            last_look, threads = _remembered[remember]
            if self._began.wall - last_look.wall < MEMORY_SECONDS:
                self._last = last_look
                self._set(min(threads, self.cap))

    def check(self) -> None:
        """Called between steps: now and then, fit the thread count to the cores others left free."""
        if not self.enabled or self.fixed is not None:
            return
        first = FIRST_CHECK_SECONDS if self.first_check is None else self.first_check
        if time.perf_counter() - self._last.wall < (CHECK_SECONDS if self._looked else first):
            return
        now = _mark()
        others = other_cores(self._last, now)
        self._last, self._looked = now, True
        if others is not None:
            self._set(fit_threads(others, usable_cores(), self.cap))

    def _set(self, threads: int) -> None:
        if threads != self.threads:
            self._torch.set_num_threads(threads)
            self.threads = threads
            self.changes.append((round(time.perf_counter() - self._began.wall, 2), threads))

    def close(self) -> None:
        """Put back the thread count the run started with (and remember this one's, if named)."""
        if self.remember is not None and self.enabled and self.fixed is None:
            _remembered[self.remember] = (self._last, self.threads)
        if self.threads != self.initial:
            self._torch.set_num_threads(self.initial)
            self.threads = self.initial

    def __enter__(self) -> ThreadPolicy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
