"""python -m benchmarks.busy: speed alone, beside a busy loop and two at once, under each thread policy.

One command measures what the thread policy (wordgen/cpu.py) is judged by, for
each policy and job, in one run:

  idle          the job alone: tokens/s, and that over the fastest policy's
  busy / idle   the job beside one CPU-bound process (`while True: pass`, a
                real second process) / the same job alone
  pair / idle   two of the job started together, their tokens/s summed / one alone

Jobs: `train-char`, `train-word`, `train-bpe` (wordgen.train() on the built-in
corpus with that tokenizer and its default model, --seconds of training, no
validation in between; the figure is the loop's tokens/s) and `generate-char`,
`generate-word`, `generate-bpe` (a model of that tokenizer trained for a few
seconds first, untimed, then one sample drawn token by token at temperature 1
for --seconds).

Policies, each an environment set before the worker imports anything:

  wordgen   nothing set: what `wordgen train` and `wordgen generate` do now
  active    OMP_WAIT_POLICY=ACTIVE and torch's thread count fixed: libgomp spins
            without end, the fastest on a machine of one's own (the reference
            the idle figures are divided by)
  torch     torch imported before wordgen: libgomp's default waiting and
            torch's thread count, fixed, as plain PyTorch runs
  passive   OMP_WAIT_POLICY=PASSIVE, threads following the free cores: wordgen
            until issue 22
  spin:N    GOMP_SPINCOUNT=N, threads following the free cores

The scenarios run one after another, the policies interleaved inside each,
--repeats times (medians). The load average and the CPU that processes outside
the benchmark used are printed before and after, and per scenario: on a
machine others are using, the idle figure is not idle, and the ratios say less.

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

from benchmarks.busy_worker import JOBS

ROOT = Path(__file__).resolve().parent.parent
NAMED_POLICIES = ["wordgen", "active", "torch", "passive"]
DEFAULT_POLICIES = ["wordgen", "active", "passive"]
SCENARIOS = ["idle", "busy", "pair"]
# The variables a policy sets; the worker's environment starts without any of them.
POLICY_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "WORDGEN_THREADS")


def policy_env(policy: str) -> dict[str, str]:
    """The environment variables one policy sets (WORDGEN_THREADS=torch fixes torch's own count)."""
    if policy == "wordgen":
        return {}
    if policy == "active":
        return {"OMP_WAIT_POLICY": "ACTIVE", "WORDGEN_THREADS": "torch"}
    if policy == "torch":
        return {"WORDGEN_BENCH_TORCH_FIRST": "1", "WORDGEN_THREADS": "torch"}
    if policy == "passive":
        return {"OMP_WAIT_POLICY": "PASSIVE"}
    if policy.startswith("spin:") and policy[5:].isdigit():
        return {"GOMP_SPINCOUNT": policy[5:]}
    raise ValueError(f"unknown policy {policy!r}: one of {NAMED_POLICIES} or spin:N")


def _env(policy: str, cache: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in POLICY_VARIABLES}
    env.update(PYTHONPATH=str(ROOT), WORDGEN_CACHE=cache, **policy_env(policy))
    return env


def _start(job: str, policy: str, seconds: float, corpus: str, work: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "benchmarks.busy_worker", job, str(seconds), corpus, work],
                            cwd=ROOT, env=_env(policy, work + "/cache"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


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


def scenario(name: str, job: str, policy: str, seconds: float, corpus: str, work: str) -> dict:
    """One job (or two) under `name`; returns tokens/s (summed for a pair) and the workers' reports."""
    if name == "idle":
        workers = [_result(_start(job, policy, seconds, corpus, work))]
    elif name == "busy":
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(0.5)  # the loop is running before the job starts
            workers = [_result(_start(job, policy, seconds, corpus, work))]
        finally:
            hog.kill()
            hog.wait()
    else:
        procs = [_start(job, policy, seconds, corpus, work) for _ in range(2)]
        workers = [_result(p) for p in procs]
    return {"tokens_per_s": sum(w["tokens_per_s"] for w in workers), "workers": workers}


def _names(text: str, allowed, what: str, parser) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names or set(names) - set(allowed):
        parser.error(f"{what} must name some of {sorted(allowed)}")
    return names


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.busy", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=20, help="seconds of each job per run (default: 20)")
    p.add_argument("--repeats", type=int, default=1, help="runs of every scenario, job and policy (medians)")
    p.add_argument("--policies", default=",".join(DEFAULT_POLICIES),
                   help=f"comma-separated, of {NAMED_POLICIES} or spin:N (default: {','.join(DEFAULT_POLICIES)})")
    p.add_argument("--jobs", default="train-char", help=f"comma-separated, of {JOBS} (default: train-char)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated, of {SCENARIOS} (default: all)")
    p.add_argument("--corpus", default="shakespeare", help="the text every job trains on (default: the built-in plays)")
    p.add_argument("--no-save", action="store_true", help="print only; write no results file")
    args = p.parse_args(argv)
    policies = [s.strip() for s in args.policies.split(",") if s.strip()]
    if not policies:
        p.error(f"--policies must name some of {NAMED_POLICIES} or spin:N")
    for policy in policies:  # policy_env knows the names and spin:N
        try:
            policy_env(policy)
        except ValueError as err:
            p.error(str(err))
    jobs = _names(args.jobs, JOBS, "--jobs", p)
    scenarios = _names(args.scenarios, SCENARIOS, "--scenarios", p)
    if "idle" not in scenarios:
        p.error("--scenarios must include idle: the other scenarios are divided by it")

    from benchmarks.results_file import write_new
    from wordgen.device import load_average, machine_info

    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores, torch {info['torch']}", flush=True)
    print(f"load average before: {load_average()}", flush=True)
    runs: dict = {(s, j, pol): [] for s in scenarios for j in jobs for pol in policies}
    outside: dict = {s: [] for s in scenarios}
    with tempfile.TemporaryDirectory() as work:
        for tok in sorted({job.split("-")[1] for job in jobs}):  # token caches and the models to sample; not timed
            _result(_start(f"prepare-{tok}", "wordgen", args.seconds, args.corpus, work))
        for _ in range(args.repeats):
            for name in scenarios:
                for job in jobs:
                    for policy in policies:
                        result, others = _outside_cores(
                            lambda: scenario(name, job, policy, args.seconds, args.corpus, work))
                        runs[name, job, policy].append(result)
                        outside[name].append(others)
                        print(f"  {name:5} {job:13} {policy:10} {result['tokens_per_s']:9,.0f} tokens/s   outside "
                              f"load {_cores(others)}   threads {[w['threads'] for w in result['workers']]}",
                              flush=True)
    table = _ratios(runs, scenarios, jobs, policies)
    after = load_average()
    print(f"\nload average after: {after}")
    _print_table(table)
    print("targets: wordgen's idle / fastest >= 0.95; train-char busy / idle >= 0.4, pair / idle >= 0.8")
    doc = {"command": " ".join(["python -m benchmarks.busy", *(argv if argv is not None else sys.argv[1:])]),
           "machine": {**info, "load_average_after": after}, "seconds": args.seconds, "repeats": args.repeats,
           "table": table, "outside_cores": outside,
           "runs": {f"{s}/{j}/{pol}": r for (s, j, pol), r in runs.items()}}
    if not args.no_save:
        print(f"wrote {write_new(doc, 'busy')}")
    return 0


def _cores(value) -> str:
    return "n/a" if value is None else f"{value:.2f} cores"


def _ratios(runs: dict, scenarios: list[str], jobs: list[str], policies: list[str]) -> list[dict]:
    """One row per job and policy: the medians, busy / idle, pair / idle and idle / the fastest idle policy."""
    table = []
    for job in jobs:
        rows = []
        for policy in policies:
            row = {"job": job, "policy": policy}
            for s in scenarios:
                row[s] = statistics.median(r["tokens_per_s"] for r in runs[s, job, policy])
            for s in ("busy", "pair"):
                if s in row:
                    row[f"{s}_ratio"] = row[s] / row["idle"] if row["idle"] else float("nan")
            rows.append(row)
        fastest = max(r["idle"] for r in rows)
        for row in rows:
            row["idle_vs_fastest"] = row["idle"] / fastest if fastest else float("nan")
        table.extend(rows)
    return table


def _print_table(table: list[dict]) -> None:
    print(f"{'job':13} {'policy':10} {'idle tok/s':>11} {'/fastest':>9} {'busy tok/s':>11} {'busy/idle':>10} "
          f"{'pair tok/s':>11} {'pair/idle':>10}")
    for r in table:
        def cell(key, fmt):
            return format(r[key], fmt) if key in r else "-"
        print(f"{r['job']:13} {r['policy']:10} {r['idle']:11,.0f} {r['idle_vs_fastest']:9.2f} "
              f"{cell('busy', ',.0f'):>11} {cell('busy_ratio', '.2f'):>10} "
              f"{cell('pair', ',.0f'):>11} {cell('pair_ratio', '.2f'):>10}")


if __name__ == "__main__":
    sys.exit(main())
