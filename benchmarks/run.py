"""python -m benchmarks.run: how close wordgen trains and generates to what the machine allows.

Every figure is a ratio measured in the same run: against the machine's own
float32 matrix-product peak and copy bandwidth (benchmarks/probes.py, probed
before and after every section, both printed; a section is divided by the
higher of the two), or against a plain-PyTorch reference
(benchmarks/reference.py) calling the same kind of API on the same data and
shapes, interleaved with wordgen's runs. Every timed figure is a median of
--repeats; a probe is a best-of (a roof is a best case).

Sections (pick with --only, comma-separated):

  probes      peak float32 FLOP/s and copy bandwidth at sizes beyond the last-level cache
  train       training tokens/s, FLOPs per token, fraction of peak; wordgen / reference
  adaptive    --softmax adaptive at a 20 000+ word vocabulary / full-softmax reference,
              and validation bits per character of both at equal training tokens
  generate    tokens/s at batch 1 and 32 against min(compute roof, bandwidth roof);
              / naive nn.LSTM loop, with torch.multinomial and with wordgen's sampler
  tokenizers  encode MB/s and vocabulary training time; BPE / raw HF, both encode_batch_fast
  dataprep    seconds from corpus spec to token tensors, cold and warm cache (fresh processes)
  memory      RSS after data preparation and peak RSS of training, built-in corpus
              and 10x repeated, each in a fresh process
  quality     validation bits per character after N seconds of char training

wordgen's thread policy (wordgen.cpu) is pinned to torch's thread count here
(WORDGEN_THREADS), so wordgen and the references always run on the same
threads. It prints one table and writes benchmarks/results/run-<time>.json, a
new file every run (benchmarks/results_file.py). It asserts no targets (the
table states them); tests/test_benchmarks.py runs it at tiny sizes.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
from pathlib import Path

import torch

from benchmarks.probes import Roofs, bandwidth_sizes, higher, last_level_cache_bytes, probe_roofs
from benchmarks.results_file import RESULTS, write_new
from benchmarks.sections_other import section_dataprep, section_generate, section_memory, section_tokenizers
from benchmarks.sections_train import (
    adaptive_head_flops,
    section_adaptive,
    section_quality,
    section_train,
    train_configs,
)
from benchmarks.table import Table, median_time
from wordgen.config import TrainConfig
from wordgen.device import load_average, machine_info
from wordgen.options import add_settings

SECTIONS = ["probes", "train", "adaptive", "generate", "tokenizers", "dataprep", "memory", "quality"]

# Sizes of a full run and of --quick (which must finish in under 2 minutes on 2 cores).
# copy_mb: bandwidth probe sizes in MB (None: copy_count sizes doubling from 2x the last-level cache).
FULL = dict(matmul=2048, copy_mb=None, copy_count=3, repeats=3, train_steps=12, eval_tokens=4096, gen_tokens=64,
            quality_steps=150, quality_seconds=[60, 300, 600], mem_steps=5, batch=32, seq_len=64)
QUICK = dict(matmul=1024, copy_mb=None, copy_count=2, repeats=1, train_steps=2, eval_tokens=512, gen_tokens=16,
             quality_steps=0, quality_seconds=[10], mem_steps=2, batch=16, seq_len=32)
__all__ = ["FULL", "QUICK", "SECTIONS", "Table", "adaptive_head_flops", "main", "median_time", "run", "train_configs"]


def _probe(table: Table, sizes: dict, when: str) -> Roofs:
    copy_mb = sizes["copy_mb"] or bandwidth_sizes(last_level_cache_bytes(), sizes["copy_count"])
    roofs = probe_roofs(sizes["matmul"], copy_mb, sizes["repeats"])
    print(f"  probes     {when}: {roofs.describe()}", flush=True)
    return roofs


def run(sections: list[str], sizes: dict, corpus: str = "shakespeare", out: Path | None = RESULTS,
        stem: str = "run") -> dict:
    os.environ.setdefault("WORDGEN_THREADS", str(torch.get_num_threads()))  # wordgen and references alike
    table = Table()
    info = machine_info()
    info["last_level_cache_bytes"] = last_level_cache_bytes()
    print(f"machine: {info}", flush=True)
    probes = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("WORDGEN_CACHE", str(Path(tmp) / "cache"))
        for name in sections:
            before = _probe(table, sizes, f"before {name}")
            if name == "train":
                section_train(table, sizes, corpus, tmp)
            elif name == "adaptive":
                section_adaptive(table, sizes, corpus, tmp)
            elif name == "generate":
                section_generate(table, sizes)
            elif name == "tokenizers":
                section_tokenizers(table, sizes, corpus)
            elif name == "dataprep":
                section_dataprep(table, sizes, corpus, tmp)
            elif name == "memory":
                section_memory(table, sizes, corpus, tmp)
            elif name == "quality":
                section_quality(table, sizes, corpus, tmp)
            after = _probe(table, sizes, f"after {name}")
            probes.append({"section": name, "before": before.to_dict(), "after": after.to_dict()})
            _add_probe_rows(table, name, before, after)
            table.resolve(higher(before, after))
    info["load_average_after"] = load_average()
    table.print()
    doc = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": info,
           "command": " ".join(["python -m benchmarks.run", *sys.argv[1:]]), "sizes": sizes, "probes": probes,
           "rows": table.rows}
    if out is not None:
        print(f"\nwrote {write_new(doc, stem, out)}")
    return doc


def _add_probe_rows(table: Table, section: str, before: Roofs, after: Roofs) -> None:
    table.add("probes", f"{section}: peak float32 matmul before / after", f"{before.peak / 1e9:.1f} / "
              f"{after.peak / 1e9:.1f}", "GFLOP/s", "the section's roofs use the higher")
    table.add("probes", f"{section}: copy bandwidth before / after", f"{before.bandwidth / 1e9:.1f} / "
              f"{after.bandwidth / 1e9:.1f}", "GB/s", f"at {before.bandwidth_size:g} / {after.bandwidth_size:g} MB "
              f"(highest of {', '.join(f'{mb:g}' for mb in before.by_size)} MB)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument("--only", default=",".join(s for s in SECTIONS if s != "quality"),
                   help=f"comma-separated sections of {','.join(SECTIONS)} (default: all but quality)")
    p.add_argument("--quick", action="store_true", help="small sizes: under 2 minutes")
    add_settings(p, TrainConfig(), ["corpus"])
    p.add_argument("--train-steps", type=int, help="optimizer steps per timed training run")
    p.add_argument("--repeats", type=int, help="interleaved repeats per figure (medians)")
    p.add_argument("--quality-steps", type=int, help="steps of the adaptive-vs-full quality runs (0: skip)")
    p.add_argument("--quality-seconds", help="comma-separated training budgets of the quality section")
    p.add_argument("--gen-tokens", type=int, help="tokens per generation run")
    p.add_argument("--no-save", action="store_true", help="print only; write no results file")
    args = p.parse_args(argv)
    sizes = dict(QUICK if args.quick else FULL)
    for key in ("train_steps", "repeats", "quality_steps", "gen_tokens"):
        if getattr(args, key) is not None:
            sizes[key] = getattr(args, key)
    if args.quality_seconds:
        sizes["quality_seconds"] = [float(s) for s in args.quality_seconds.split(",")]
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        p.error(f"unknown section(s) {unknown}; choose from {SECTIONS}")
    run(sections, sizes, args.corpus, out=None if args.no_save else RESULTS,
        stem="run-quick" if args.quick else "run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
