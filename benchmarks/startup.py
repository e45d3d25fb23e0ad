"""python -m benchmarks.startup: how long `wordgen --help` and `wordgen corpora` take to answer.

Each command runs in a fresh interpreter, several times, and the median wall time is
printed. `--against DIR` also times another checkout of wordgen (for example an older
commit made with `git worktree add /tmp/old REV`), interleaved with this one, so the
two figures come from the same minutes of a shared machine and their ratio holds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
# The entry point, exactly as the `wordgen` console script runs it.
CODE = "import sys, wordgen.cli\ntry:\n    sys.exit(wordgen.cli.main(sys.argv[1:]))\nexcept SystemExit:\n    pass"


def wall_time(checkout: Path, args: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(checkout))  # this checkout's wordgen, not the installed one
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", CODE, *args], env=env, cwd="/", stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7, help="runs per command and checkout (default: 7)")
    p.add_argument("--against", type=Path, default=None, metavar="DIR", help="another wordgen checkout to time too")
    args = p.parse_args(argv)
    checkouts = {"this checkout": HERE} | ({"against": args.against} if args.against else {})
    print(f"load average before: {os.getloadavg()}")
    for command in (["--help"], ["corpora"]):
        times: dict[str, list[float]] = {name: [] for name in checkouts}
        for _ in range(args.repeats):
            for name, path in checkouts.items():
                times[name].append(wall_time(path, command))
        medians = {name: statistics.median(t) for name, t in times.items()}
        line = ", ".join(f"{name} {m:.3f} s" for name, m in medians.items())
        if args.against:
            line += f"; against / this = {medians['against'] / medians['this checkout']:.1f}x"
        print(f"wordgen {' '.join(command):8} median of {args.repeats}: {line}")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
