"""python -m benchmarks.scale: memory against corpus size, data preparation time, and 2 processes vs 2 threads.

Sections (--only, comma-separated):

  memory   the built-in corpus repeated R times (--repeats 1,10,100: ~5 / 50 / 500 MB of text),
           written as a folder of R x 38 play files. For each R, in fresh processes and a fresh
           cache: `wordgen train --corpus FOLDER --max-steps 20` (the corpus is encoded: data
           preparation time, store and arrow sizes on disk), `prepare()` alone again (the
           cache is filled: what a second run waits for), `wordgen train ... --streaming` for
           the R in --streamed, and `wordgen evaluate` of a small char checkpoint on the test
           split. Per process: the peak RSS (ru_maxrss of that child, from os.wait4), the
           peaks of its anonymous and file-backed resident memory (RssAnon / RssFile from
           /proc, sampled every 50 ms), the wall time, and the time spent in data preparation
           (wordgen.training.prepare.prepare, timed inside the process).
  onefile  one text file (the built-in plays joined, or --text FILE, repeated as needed and cut to
           --onefile-mb) against the same text
           --grow times over in one file, for char, word and BPE: peak RSS of `wordgen train
           --corpus FILE --max-steps 3` in fresh processes, a fresh cache each, and the ratio
           big / small per tokenizer (issue 23 asks for at most 1.2x at 10x the text).
  ddp      training tokens/s of `wordgen train` in 2 processes x 1 thread (torchrun, gloo)
           against 1 process x 2 threads, same global batch, default model, built-in corpus,
           interleaved (--rounds), and their ratio.

Prints one JSON line per figure and writes a new benchmarks/results/scale-<sections>-<time>.json. Runs take minutes at R = 100
on 2 cores; figures taken while other jobs run are noisy in time (not in memory).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.results_file import write_new
from wordgen.device import load_average, machine_info

ROOT = Path(__file__).resolve().parent.parent

# Runs `wordgen train/evaluate` (the real CLI) with a timer around data preparation.
_CLI = """
import json, sys, time
import wordgen.training.prepare as P
took = []
def timed(original):
    def run(*args, **kwargs):
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            took.append(time.perf_counter() - began)
    return run
P.prepare = timed(P.prepare)  # prepare_together looks it up in the module when called
from wordgen.cli import main
code = main(sys.argv[1:])
print("SCALE " + json.dumps({"prepare_s": sum(took)}), file=sys.stderr)
sys.exit(code)
"""

# Data preparation alone (corpus -> tokenizer -> token stores), timed.
_PREP = """
import json, sys, time
from wordgen.config import TrainConfig
from wordgen.training.prepare import prepare
began = time.perf_counter()
_, _, train, val = prepare(TrainConfig(corpus=sys.argv[1], tokenizer="word", max_steps=1))
print("SCALE " + json.dumps({"prepare_s": time.perf_counter() - began, "tokens": len(train) + len(val)}),
      file=sys.stderr)
"""

# One process of the 2-process / 2-thread comparison: train() and rank 0 reports.
_WORKER = """
import json, resource, sys
from wordgen.config import TrainConfig
from wordgen.training.loop import train
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime
began = cpu()
r = train(TrainConfig.from_dict(json.loads(sys.argv[1])), overwrite=True)
line = {"train_cpu_s": cpu() - began}
if r.rank == 0:
    line.update(tokens_per_s=r.loop_tokens_per_second, steps=r.steps, tokens=r.tokens_seen)
print("SCALE " + json.dumps(line), file=sys.stderr)
"""


def measure(args: list[str], env: dict | None = None) -> dict:
    """Run a process to its end: its own peak RSS (ru_maxrss from os.wait4), the peaks of its
    RssAnon / RssFile (sampled from /proc every 50 ms), the wall time, and its SCALE line."""
    began = time.perf_counter()
    proc = subprocess.Popen(args, env={**os.environ, **(env or {})}, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    # VmHWM is the child's own peak: its ru_maxrss cannot read below the parent's peak, which
    # Linux folds into a child's when it execs.
    peaks = {"RssAnon": 0, "RssFile": 0, "VmHWM": 0}
    streams = {}
    readers = [threading.Thread(target=lambda name=name, f=f: streams.__setitem__(name, f.read()), daemon=True)
               for name, f in (("out", proc.stdout), ("err", proc.stderr))]
    for reader in readers:
        reader.start()
    done = threading.Event()

    def sample():
        while not done.wait(0.05):
            try:
                with open(f"/proc/{proc.pid}/status") as f:
                    for line in f:
                        key = line.split(":")[0]
                        if key in peaks:
                            peaks[key] = max(peaks[key], int(line.split()[1]))
            except OSError:
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own resource usage, ru_maxrss in kB (Linux)
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    for reader in readers:
        reader.join()
    err = streams.get("err", "")
    if proc.returncode:
        raise RuntimeError(f"{' '.join(args[:6])} failed:\n{err[-2000:]}")
    result: dict = {}
    for line in err.splitlines():  # one per process; CPU seconds add up over the processes
        if line.startswith("SCALE "):
            found = json.loads(line[6:])
            cpu = result.get("train_cpu_s", 0.0) + found.pop("train_cpu_s", 0.0)
            result.update(found)
            if cpu:
                result["train_cpu_s"] = cpu
    # CPU seconds of the child and of every descendant it waited for (torchrun's workers).
    result.update(wall_s=time.perf_counter() - began, cpu_s=usage.ru_utime + usage.ru_stime,
                  maxrss_mb=usage.ru_maxrss / 1024,
                  hwm_mb=peaks["VmHWM"] / 1024, anon_mb=peaks["RssAnon"] / 1024, file_mb=peaks["RssFile"] / 1024)
    return result


def write_corpus(folder: Path, repeats: int) -> int:
    """The built-in plays, `repeats` copies of each as its own file; returns the bytes written."""
    from wordgen.corpora import list_shakespeare_plays, play_text

    total = 0
    plays = [(slug, play_text(slug)) for slug in list_shakespeare_plays()]
    for copy in range(repeats):
        part = folder / f"copy{copy:03d}"
        part.mkdir(parents=True, exist_ok=True)
        for slug, text in plays:
            (part / f"{slug}.txt").write_text(text, encoding="utf-8")
            total += len(text.encode("utf-8"))
    return total


def section_memory(rows: list, repeats: list[int], streamed: list[int], steps: int, tmp: Path) -> None:
    """Per repeat count: train cold, prepare warm, evaluate; train again with --streaming for `streamed`."""
    python = sys.executable
    for r in repeats:
        corpus = tmp / f"corpus{r}"
        size = write_corpus(corpus, r)
        cache = tmp / f"cache{r}"
        env = {"WORDGEN_CACHE": str(cache), "HF_DATASETS_CACHE": str(tmp / "hf")}
        base = {"section": "memory", "repeats": r, "text_mb": size / 1e6}
        # One validation (at the end) of the first 20 000 validation tokens: the default 200 000
        # through the default model would take minutes on 2 cores and measure the model, not the data.
        train = [python, "-c", _CLI, "train", "--corpus", str(corpus), "--tokenizer", "word", "--max-steps",
                 str(steps), "--eval-interval", str(10**9), "--eval-tokens", "20000", "--quiet", "--overwrite",
                 "--out", str(tmp / f"run{r}")]
        result = measure(train, env)
        stores = sum(p.stat().st_size for p in (cache / "streams").glob("*.ids"))
        arrow = sum(p.stat().st_size for p in (cache / "arrow").rglob("*.arrow"))
        _add(rows, {**base, "what": f"train --max-steps {steps}, empty cache", "store_mb": stores / 1e6,
                    "arrow_mb": arrow / 1e6, **result})
        _add(rows, {**base, "what": "prepare(), cache filled", **measure([python, "-c", _PREP, str(corpus)], env)})
        if r in streamed:  # the cache is filled: what --streaming changes is how the text is read
            _add(rows, {**base, "what": f"train --max-steps {steps} --streaming, cache filled",
                        **measure([*train, "--streaming"], env)})
        # Evaluation scores the whole test split (5 % of the text): with the 32 119-word softmax that
        # is hours at 100x on 2 cores, so its memory is measured with a small char model.
        tiny = [python, "-c", _CLI, "train", "--corpus", str(corpus), "--tokenizer", "char", "--max-steps", "1",
                "--hidden-size", "32", "--embedding-dim", "32", "--num-layers", "1", "--eval-interval", str(10**9),
                "--eval-tokens", "2000", "--quiet", "--overwrite", "--out", str(tmp / f"tiny{r}")]
        measure(tiny, env)
        result = measure([python, "-c", _CLI, "evaluate", str(tmp / f"tiny{r}"), "--split", "test", "--json"], env)
        _add(rows, {**base, "what": "evaluate --split test (char, 1 x 32 model)", **result})
        shutil.rmtree(corpus)
        shutil.rmtree(cache)


def section_onefile(rows: list, megabytes: float, grow: int, tokenizers: list[str], tmp: Path,
                    source: str | None = None) -> None:
    """Peak RSS of a short run on one file and on one file `grow` times as long, per tokenizer.

    A text with characters beyond Latin-1 (curly quotes, dashes: most ebooks) costs Python
    two bytes a character where the plays cost one, so `source` lets such a text be measured."""
    from wordgen.corpora import list_shakespeare_plays, play_text, read_text_file

    if source:
        text = read_text_file(source)
    else:
        text = "\n\n".join(play_text(slug) for slug in list_shakespeare_plays())
    text = (text * -(-int(megabytes * 1e6) // len(text)))[:int(megabytes * 1e6)]
    files = {1: tmp / "one.txt", grow: tmp / f"one-x{grow}.txt"}
    files[1].write_text(text, encoding="utf-8")
    with files[grow].open("w", encoding="utf-8") as f:
        for _ in range(grow):
            f.write(text + "\n\n")
    for tokenizer in tokenizers:
        peaks = {}
        for times, path in files.items():
            cache = tmp / f"cache-{tokenizer}-{times}"
            run = [sys.executable, "-c", _CLI, "train", "--corpus", str(path), "--tokenizer", tokenizer,
                   "--max-steps", "3", "--eval-interval", str(10**9), "--eval-tokens", "2000", "--quiet",
                   "--overwrite", "--out", str(tmp / f"run-{tokenizer}-{times}")]
            result = measure(run, {"WORDGEN_CACHE": str(cache), "HF_DATASETS_CACHE": str(tmp / "hf")})
            peaks[times] = result["hwm_mb"]
            _add(rows, {"section": "onefile", "tokenizer": tokenizer, "text_mb": path.stat().st_size / 1e6,
                        "what": "train --max-steps 3, one file, empty cache", **result})
            shutil.rmtree(cache)
        _add(rows, {"section": "onefile", "tokenizer": tokenizer, "what": f"peak RSS x{grow} text / x1 text",
                    "ratio": peaks[grow] / peaks[1]})


def _add(rows: list, row: dict) -> None:
    rows.append(row)
    print(json.dumps(row), flush=True)


def section_ddp(rows: list, rounds: int, steps: int, tmp: Path) -> None:
    from wordgen.config import TrainConfig

    config = TrainConfig(corpus="shakespeare", tokenizer="word", out=str(tmp / "ddp"), max_steps=steps,
                         eval_interval=10**9, eval_tokens=4096).to_dict()
    env = {"WORDGEN_CACHE": str(tmp / "cache-ddp")}
    single = [sys.executable, "-c", _WORKER, json.dumps(config)]
    double = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
              "-m", "benchmarks.scale", "--worker", json.dumps(config)]
    measure(single, {**env, "OMP_NUM_THREADS": "2"})  # fills the cache; not timed
    got: dict[str, list[dict]] = {"1 process x 2 threads": [], "2 processes x 1 thread": []}
    for _ in range(rounds):  # interleaved, so a change in the machine's load hits both alike
        got["1 process x 2 threads"].append(measure(single, {**env, "OMP_NUM_THREADS": "2"}))
        got["2 processes x 1 thread"].append(measure(double, {**env, "OMP_NUM_THREADS": "1"}))
    for what, runs in got.items():
        # Tokens per CPU second of train() (all processes' together) is what a busy machine cannot
        # inflate by giving one side more time slices than the other; tokens/s it can.
        rows.append({"section": "ddp", "what": what,
                     "tokens_per_s": statistics.median(r["tokens_per_s"] for r in runs),
                     "tokens_per_cpu_s": statistics.median(r["tokens"] / r["train_cpu_s"] for r in runs),
                     "runs": runs})
    rows.append({"section": "ddp", "what": "2 processes / 1 process", "steps": steps, "rounds": rounds,
                 "ratio_tokens_per_s": rows[-1]["tokens_per_s"] / rows[-2]["tokens_per_s"],
                 "ratio_tokens_per_cpu_s": rows[-1]["tokens_per_cpu_s"] / rows[-2]["tokens_per_cpu_s"],
                 "load_average": load_average()})
    _add(rows, rows.pop())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.split("\n")[0])
    p.add_argument("--only", default="memory,onefile,ddp")
    p.add_argument("--repeats", default="1,10,100", help="corpus repeats for the memory section")
    p.add_argument("--streamed", default="1,100", help="repeat counts also trained with --streaming ('' for none)")
    p.add_argument("--steps", type=int, default=20, help="training steps per run (default: 20)")
    p.add_argument("--onefile-mb", type=float, default=2.6, help="onefile section: the small file's MB (2.6)")
    p.add_argument("--grow", type=int, default=10, help="onefile section: the big file holds the text this often")
    p.add_argument("--tokenizers", default="char,word,bpe", help="onefile section's tokenizers")
    p.add_argument("--text", help="onefile section: a text file to measure instead of the built-in plays")
    p.add_argument("--rounds", type=int, default=2, help="ddp section: interleaved rounds (default: 2)")
    p.add_argument("--worker", help=argparse.SUPPRESS)  # one torchrun process of the ddp section
    args = p.parse_args(argv)
    if args.worker:
        sys.argv = ["worker", args.worker]
        exec(compile(_WORKER, "<worker>", "exec"), {"__name__": "__main__"})
        return 0
    rows: list = []
    info = machine_info()
    with tempfile.TemporaryDirectory() as tmp:
        sections = args.only.split(",")
        if "memory" in sections:
            repeats = [int(r) for r in args.repeats.split(",")]
            streamed = [int(r) for r in args.streamed.split(",") if r.strip()]
            section_memory(rows, repeats, streamed, args.steps, Path(tmp))
        if "onefile" in sections:
            section_onefile(rows, args.onefile_mb, args.grow, args.tokenizers.split(","), Path(tmp), args.text)
        if "ddp" in sections:
            section_ddp(rows, args.rounds, args.steps, Path(tmp))
    info["load_average_after"] = load_average()
    doc = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": info,
           "command": " ".join(["python -m benchmarks.scale", *sys.argv[1:]]), "rows": rows}
    print(f"wrote {write_new(doc, 'scale-' + '-'.join(sections))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
