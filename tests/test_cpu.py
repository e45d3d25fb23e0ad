"""wordgen.cpu: how many cores others use, the thread count that fits, polite OpenMP waiting."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from wordgen import cpu
from wordgen.cpu import CpuWatch, ThreadPolicy, fit_threads, other_cores, was_busy

ROOT = Path(__file__).resolve().parent.parent
LINUX = sys.platform.startswith("linux")


@pytest.mark.parametrize("others,cores,cap,threads", [
    (0.0, 2, 2, 2), (0.4, 2, 2, 2), (0.5, 2, 2, 1), (1.7, 2, 2, 1), (5.0, 2, 2, 1),
    (0.0, 2, 1, 1), (0.6, 4, 4, 3), (2.2, 16, 8, 8), (3.0, 16, 16, 13),
])
def test_threads_fit_the_cores_others_leave(others, cores, cap, threads):
    assert fit_threads(others, cores, cap) == threads


def test_other_cores_subtract_this_process():
    since = cpu._Mark(wall=10.0, own=1.0, machine=(100.0, 400.0))
    now = cpu._Mark(wall=12.0, own=2.0, machine=(103.0, 404.0))  # 3 busy seconds in 2 s, 1 of them ours
    assert other_cores(since, now) == pytest.approx(1.0)
    assert other_cores(since, cpu._Mark(12.0, 2.0, None)) is None
    assert other_cores(since, cpu._Mark(10.01, 1.0, (100.0, 400.0))) is None  # too short to say


def test_busy_means_half_a_core_or_a_high_load_average():
    assert was_busy({"other_cores": 0.6, "cores": 2})
    assert not was_busy({"other_cores": 0.2, "cores": 2, "load_average_after": (9.0, 9.0, 9.0)})
    assert was_busy({"other_cores": None, "cores": 2, "load_average_after": (3.0, 2.0, 1.0)})
    assert not was_busy({"other_cores": None, "cores": 2, "load_average_after": None})


def _cpu_seconds_of(pid: int) -> float:
    """User and system seconds a process has used (/proc/PID/stat, fields 14 and 15, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not LINUX, reason="reads /proc/stat")
def test_a_real_busy_process_is_seen():
    assert cpu.cpu_seconds()[0] <= cpu.cpu_seconds()[1]
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        began = time.perf_counter()
        watch, hog_before = CpuWatch(), _cpu_seconds_of(hog.pid)
        time.sleep(1.5)  # the window measured (not a wait for the hog): this process sleeps through it
        hog_used, seen = _cpu_seconds_of(hog.pid) - hog_before, watch.stop()
        wall = time.perf_counter() - began  # a little longer than the watch's own: no false alarm from it
    finally:
        hog.kill()
        hog.wait(timeout=60)
    # Whatever else runs, the others' cores include what the hog itself used in the window (its
    # own count, from the kernel): other load can only add to it. 10% and a tick of slack for
    # the two readings not being taken at the same instant.
    assert hog_used > 0.1, hog_used  # the hog did run
    assert seen["other_cores"] * wall >= 0.9 * hog_used - 0.02, (seen, hog_used)
    assert seen["cores"] >= 1 and len(seen["load_average_after"]) == 3


@pytest.fixture
def two_threads(monkeypatch):
    monkeypatch.setattr(cpu, "_remembered", {})  # no count left by an earlier test's generation
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.skipif(cpu.usable_cores() < 2, reason="needs two cores to move between")
def test_the_policy_follows_the_machine_and_puts_threads_back(two_threads, monkeypatch):
    monkeypatch.delenv("WORDGEN_THREADS", raising=False)
    monkeypatch.setattr(cpu, "FIRST_CHECK_SECONDS", 0.0)
    monkeypatch.setattr(cpu, "CHECK_SECONDS", 0.0)
    load = {"others": 1.2}
    monkeypatch.setattr(cpu, "other_cores", lambda since, now: load["others"])
    monkeypatch.setattr(cpu, "usable_cores", lambda: 2)
    policy = ThreadPolicy()
    policy.check()
    assert torch.get_num_threads() == policy.threads == 1
    load["others"] = 0.1
    policy.check()
    assert torch.get_num_threads() == 2 and [t for _, t in policy.changes] == [1, 2]
    load["others"] = 0.9
    policy.check()
    policy.close()
    assert torch.get_num_threads() == 2


@pytest.mark.skipif(cpu.usable_cores() < 2, reason="needs two cores to move between")
def test_generation_follows_the_machine_too(two_threads, monkeypatch):
    from helpers import uniform_model

    from wordgen.config import SampleConfig
    from wordgen.generation.decode import sample_steps

    monkeypatch.delenv("WORDGEN_THREADS", raising=False)
    monkeypatch.setattr("wordgen.generation.decode.GENERATION_FIRST_CHECK_SECONDS", 0.0)
    monkeypatch.setattr(cpu, "other_cores", lambda since, now: 1.5)  # another process holds a core
    monkeypatch.setattr(cpu, "usable_cores", lambda: 2)
    seen = []
    for _ in sample_steps(uniform_model(7), [1], 5, SampleConfig(temperature=1.0)):
        seen.append(torch.get_num_threads())
    assert seen[0] == 2 and seen[-1] == 1  # one thread from the first check on
    assert torch.get_num_threads() == 2  # and the count put back when the generation ends
    # A half-read generation puts it back too, when it is closed (or collected).
    steps = sample_steps(uniform_model(7), [1], 50, SampleConfig(temperature=1.0))
    next(steps), next(steps), next(steps)
    assert torch.get_num_threads() == 1
    steps.close()
    assert torch.get_num_threads() == 2


@pytest.mark.skipif(cpu.usable_cores() < 2, reason="needs two cores to move between")
def test_a_generation_starts_from_the_count_and_the_look_the_last_one_left(two_threads, monkeypatch):
    from helpers import uniform_model

    from wordgen.config import SampleConfig
    from wordgen.generation.decode import sample_steps

    monkeypatch.delenv("WORDGEN_THREADS", raising=False)
    monkeypatch.setattr("wordgen.generation.decode.GENERATION_FIRST_CHECK_SECONDS", 0.0)
    monkeypatch.setattr(cpu, "usable_cores", lambda: 2)
    windows = []

    def others(since, now):
        windows.append(since.wall)
        return load["others"]

    monkeypatch.setattr(cpu, "other_cores", others)

    def threads_per_step():
        seen = [torch.get_num_threads() for _ in sample_steps(uniform_model(7), [1], 3, SampleConfig())]
        return seen, torch.get_num_threads()

    load = {"others": 1.5}  # another process holds a core
    assert threads_per_step() == ([2, 1, 1], 2)  # the first generation starts with both
    first_end = cpu._remembered["generation"][0].wall
    assert threads_per_step() == ([1, 1, 1], 2)  # the next starts where the last one ended
    assert windows[1] == first_end  # and its first look measures from the last one's last look
    load["others"] = 0.0  # the other process ended
    assert threads_per_step() == ([1, 2, 2], 2)
    assert threads_per_step() == ([2, 2, 2], 2)
    load["others"] = 1.5
    threads_per_step()
    monkeypatch.setattr(cpu, "MEMORY_SECONDS", 0.0)  # a memory this old is not trusted
    assert threads_per_step()[0][0] == 2
    with ThreadPolicy() as training:  # a policy without the name never reads it
        assert training.threads == 2


def test_wordgen_threads_fixes_the_count(two_threads, monkeypatch):
    monkeypatch.setenv("WORDGEN_THREADS", "1")
    monkeypatch.setattr(cpu, "FIRST_CHECK_SECONDS", 0.0)
    policy = ThreadPolicy()
    assert torch.get_num_threads() == 1
    policy.check()  # never moves
    assert policy.threads == 1
    policy.close()
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("preset", [{}, {"OMP_WAIT_POLICY": "PASSIVE"}, {"GOMP_SPINCOUNT": "7"}])
def test_importing_wordgen_leaves_the_openmp_wait_policy_alone(preset):
    # libgomp's own spin-then-sleep waiting is the fastest on an idle machine (benchmarks/busy.py);
    # wordgen changes nothing there, and reports what the user set.
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(PYTHONPATH=str(ROOT), **preset)
    show = ("import os, wordgen.cpu; print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'), "
            "'|', wordgen.cpu.openmp_wait_policy())")
    out = subprocess.run([sys.executable, "-c", f"import wordgen.cli; {show}"],
                         capture_output=True, text=True, env=env, cwd=ROOT, check=True, timeout=300).stdout
    values, policy = out.strip().split(" | ")
    assert values == f"{preset.get('OMP_WAIT_POLICY')} {preset.get('GOMP_SPINCOUNT')}"
    assert policy == {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "spin 7 times, then sleep (GOMP_SPINCOUNT)"}.get(
        next(iter(preset), None), "default (spin, then sleep)")
