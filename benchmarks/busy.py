"""python -m benchmarks.busy: training speed on a shared machine -- idle, beside a busy loop, two at once.

One command measures the three ratios the thread policy (wordgen/cpu.py) is
judged by, for each policy, in one run:

  busy / idle   a training beside one CPU-bound process (`while True: pass`,
                a real second process) / the same training alone
  pair / idle   two trainings started together, their tokens/s summed / one alone

Policies (the first two run by default):

  before    what wordgen did before wordgen.cpu: torch imported first (libgomp's
            default spin-then-sleep waiting) and torch's own thread count, fixed
  wordgen   what `wordgen train` does now: OMP_WAIT_POLICY=PASSIVE set on import,
            the thread count following the free cores (wordgen.cpu.ThreadPolicy)
  passive   the wait policy alone: PASSIVE, torch's thread count fixed
  adaptive  the thread count alone: default waiting, threads following the free cores

Every training is a fresh process running wordgen.train() on the built-in corpus
with the char tokenizer and the default model for --seconds of training (no
validation in between); its figure is the loop's tokens/s. The scenarios run
one after another, the policies interleaved inside each, --repeats times
(medians). The load average and the CPU that processes outside the benchmark
used are printed before and after, and per scenario: on a machine others are
using, the idle figure is not idle, and the ratios say less.

Writes benchmarks/results/busy-<time>.json (never over an earlier file).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wordgen.config import TrainConfig
from wordgen.options import add_settings

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ["before", "wordgen", "passive", "adaptive"]
DEFAULT_POLICIES = ["before", "wordgen"]
SCENARIOS = ["idle", "busy", "pair"]

_WORKER = """
import json, sys, tempfile
policy, seconds, corpus = sys.argv[1], float(sys.argv[2]), sys.argv[3]
import os
if policy == "passive":
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
if policy in ("before", "adaptive"):
    import torch  # torch first: wordgen then leaves libgomp's waiting as it was before wordgen.cpu
if policy in ("before", "passive"):
    import torch
    os.environ["WORDGEN_THREADS"] = str(torch.get_num_threads())  # torch's own count, never changed
from wordgen.config import TrainConfig
from wordgen.training.loop import train
with tempfile.TemporaryDirectory() as out:
    r = train(TrainConfig(corpus=corpus, tokenizer="char", out=out + "/run", time_budget=seconds,
                          eval_interval=10**9, eval_tokens=2048), overwrite=True)
print(json.dumps({"tokens_per_s": r.loop_tokens_per_second, "steps": r.steps, "threads": r.thread_changes}))
"""


def _env(cache: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "WORDGEN_THREADS")}
    env.update(PYTHONPATH=str(ROOT), WORDGEN_CACHE=cache)
    return env


def _start(policy: str, seconds: float, corpus: str, cache: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _WORKER, policy, str(seconds), corpus], cwd=ROOT,
                            env=_env(cache), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"benchmark worker failed:\n{err[-2000:]}")
    return json.loads(out.strip().splitlines()[-1])


def _outside_cores(run) -> tuple[object, float | None]:
    """Run `run()`; return its value and the cores that processes other than this one and its children used."""
    from wordgen.cpu import cpu_seconds

    def own() -> float:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    wall, mine, machine = time.perf_counter(), own(), cpu_seconds()
    value = run()
    wall, mine, after = time.perf_counter() - wall, own() - mine, cpu_seconds()
    if machine is None or after is None:
        return value, None
    return value, max(0.0, (after[0] - machine[0] - mine) / wall)


def scenario(name: str, policy: str, seconds: float, corpus: str, cache: str) -> dict:
    """One training (or two) under `name`; returns tokens/s (summed for a pair) and the workers' reports."""
    if name == "idle":
        workers = [_result(_start(policy, seconds, corpus, cache))]
    elif name == "busy":
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(0.5)  # the loop is running before the training starts
            workers = [_result(_start(policy, seconds, corpus, cache))]
        finally:
            hog.kill()
            hog.wait()
    else:
        procs = [_start(policy, seconds, corpus, cache) for _ in range(2)]
        workers = [_result(p) for p in procs]
    return {"tokens_per_s": sum(w["tokens_per_s"] for w in workers), "workers": workers}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.busy", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=20, help="training seconds per run (default: 20)")
    p.add_argument("--repeats", type=int, default=1, help="runs of every scenario and policy (medians)")
    p.add_argument("--policies", default=",".join(DEFAULT_POLICIES),
                   help=f"comma-separated, of {POLICIES} (default: {','.join(DEFAULT_POLICIES)})")
    add_settings(p, TrainConfig(), ["corpus"])
    p.add_argument("--no-save", action="store_true", help="print only; write no results file")
    args = p.parse_args(argv)
    policies = [s.strip() for s in args.policies.split(",") if s.strip()]
    if not policies or set(policies) - set(POLICIES):
        p.error(f"--policies must name some of {POLICIES}")

    from benchmarks.results_file import write_new
    from wordgen.device import load_average, machine_info

    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']}", flush=True)
    print(f"load average before: {load_average()}", flush=True)
    runs: dict = {(s, pol): [] for s in SCENARIOS for pol in policies}
    outside: dict = {s: [] for s in SCENARIOS}
    with tempfile.TemporaryDirectory() as cache:
        _result(_start(policies[0], 1, args.corpus, cache))  # fills the token cache; not timed
        for _ in range(args.repeats):
            for name in SCENARIOS:
                for policy in policies:
                    result, others = _outside_cores(lambda: scenario(name, policy, args.seconds, args.corpus, cache))
                    runs[name, policy].append(result)
                    outside[name].append(others)
                    print(f"  {name:5} {policy:8} {result['tokens_per_s']:9,.0f} tokens/s"
                          f"   outside load {_cores(others)}   threads {[w['threads'] for w in result['workers']]}",
                          flush=True)
    table = _ratios(runs, policies)
    after = load_average()
    print(f"\nload average after: {after}")
    print(f"{'policy':8} {'idle tok/s':>11} {'busy tok/s':>11} {'busy/idle':>10} {'pair tok/s':>11} {'pair/idle':>10}")
    for row in table:
        print(f"{row['policy']:8} {row['idle']:11,.0f} {row['busy']:11,.0f} {row['busy_ratio']:10.2f} "
              f"{row['pair']:11,.0f} {row['pair_ratio']:10.2f}")
    print("targets: busy/idle >= 0.4, pair/idle >= 0.8 (wordgen policy)")
    doc = {"command": " ".join(["python -m benchmarks.busy", *(argv if argv is not None else sys.argv[1:])]),
           "machine": {**info, "load_average_after": after}, "seconds": args.seconds, "repeats": args.repeats,
           "table": table, "outside_cores": outside,
           "runs": {f"{s}/{pol}": r for (s, pol), r in runs.items()}}
    if not args.no_save:
        print(f"wrote {write_new(doc, 'busy')}")
    return 0


def _cores(value) -> str:
    return "n/a" if value is None else f"{value:.2f} cores"


def _ratios(runs: dict, policies: list[str]) -> list[dict]:
    table = []
    for policy in policies:
        idle, busy, pair = (statistics.median(r["tokens_per_s"] for r in runs[s, policy]) for s in SCENARIOS)
        table.append({"policy": policy, "idle": idle, "busy": busy, "pair": pair,
                      "busy_ratio": busy / idle if idle else float("nan"),
                      "pair_ratio": pair / idle if idle else float("nan")})
    return table


if __name__ == "__main__":
    sys.exit(main())
