"""python -m benchmarks.run: how close wordgen trains and generates to what the machine allows.

Every figure is a ratio measured in the same run: against the machine's own
float32 matrix-product peak and copy bandwidth (probed at the start), or
against a plain-PyTorch reference (benchmarks/reference.py) run on the same
data and shapes, interleaved with wordgen's runs and summarised by medians.

Sections (pick with --only, comma-separated):

  probes      peak float32 FLOP/s (a large matmul) and copy bandwidth (a large copy)
  train       training tokens/s, FLOPs per token, fraction of peak; wordgen / reference
  adaptive    --softmax adaptive at a 20 000+ word vocabulary / full-softmax reference,
              and validation bits per character of both at equal training tokens
  generate    tokens/s at batch 1 and 32, memory-bandwidth bound, / naive nn.LSTM loop
  tokenizers  encode MB/s and vocabulary training time; BPE / raw HF encode_batch
  dataprep    seconds from corpus spec to token tensors, cold and warm cache
  memory      peak RSS of a training run, built-in corpus and 10x repeated
  quality     validation bits per character after N seconds of char training

It prints one table and writes benchmarks/results/<date>.json. It asserts no
targets (the table states them); tests/test_benchmarks.py runs it at tiny sizes.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.reference import ReferenceLM, naive_generate, reference_train
from wordgen import _io
from wordgen.device import load_average, machine_info
from wordgen.model import forward_flops_per_token


SECTIONS = ["probes", "train", "adaptive", "generate", "tokenizers", "dataprep", "memory", "quality"]
RESULTS = Path(__file__).parent / "results"

# Sizes of a full run and of --quick (which must finish in under 2 minutes on 2 cores).
FULL = dict(matmul=2048, copy_mb=256, repeats=3, train_steps=12, eval_tokens=4096, gen_tokens=64,
            quality_steps=150, quality_seconds=[60, 300, 600], mem_steps=5, batch=32, seq_len=64)
QUICK = dict(matmul=1024, copy_mb=64, repeats=1, train_steps=2, eval_tokens=512, gen_tokens=16,
             quality_steps=0, quality_seconds=[10], mem_steps=2, batch=16, seq_len=32)


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up: allocations, oneDNN primitives
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class Table:
    def __init__(self):
        self.rows: list[dict] = []

    def add(self, section: str, figure: str, value: float, unit: str = "", note: str = "") -> None:
        self.rows.append(dict(section=section, figure=figure, value=value, unit=unit, note=note))
        print(f"  {section:10} {figure:52} {_fmt(value):>12} {unit:10} {note}", flush=True)

    def print(self) -> None:
        print(f"\n{'section':10} {'figure':52} {'value':>12} {'unit':10} note")
        print("-" * 110)
        for r in self.rows:
            print(f"{r['section']:10} {r['figure']:52} {_fmt(r['value']):>12} {r['unit']:10} {r['note']}")


def _fmt(v) -> str:
    if isinstance(v, str):
        return v
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3f}"


# ----------------------------------------------------------------- probes


def _best_time(fn, repeats: int) -> float:
    """Fastest of `repeats` timed calls after one warm-up call.

    A peak is the best the machine does, so the probes take the minimum: on a
    shared VM a median probe can land on a slow moment and put the figures
    measured against it above 1.
    """
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def probe_peak_flops(n: int, repeats: int) -> float:
    """float32 FLOP/s of an n x n by n x n matrix product (2 n^3 FLOPs), best of 10+ calls."""
    a, b = torch.randn(n, n), torch.randn(n, n)  # (n, n)
    out = torch.empty(n, n)
    return 2 * n**3 / _best_time(lambda: torch.mm(a, b, out=out), max(10, repeats))


def probe_copy_bandwidth(megabytes: int, repeats: int) -> float:
    """Bytes moved per second (read + write, the STREAM "copy" convention) by a large copy, best of 10+."""
    src = torch.randn(megabytes * 2**20 // 4)
    dst = torch.empty_like(src)
    return 2 * src.numel() * 4 / _best_time(lambda: dst.copy_(src), max(10, repeats))


# ----------------------------------------------------------------- model arithmetic


def adaptive_head_flops(model, ids: torch.Tensor) -> float:
    """Expected FLOPs per token of an adaptive output layer on a token stream's targets.

    The head (shortlist + one logit per cluster) runs for every token; cluster
    i's projection and output only for the tokens whose target lies in it.
    """
    head = model.head
    hidden = model.config.hidden_size
    flops = 2 * hidden * head.head_size
    cutoffs = head.cutoffs  # [c1, ..., V]
    for i, proj in enumerate(head.tail):
        low, high = cutoffs[i], cutoffs[i + 1]
        share = ((ids >= low) & (ids < high)).float().mean().item()
        width = proj[0].out_features
        flops += share * (2 * hidden * width + 2 * width * (high - low))
    return flops


# ----------------------------------------------------------------- sections


_PREPARED: dict = {}


def _prepared(corpus: str, tokenizer: str):
    from wordgen.config import TrainConfig
    from wordgen.train import prepare

    key = (corpus, tokenizer)
    if key not in _PREPARED:
        _PREPARED[key] = prepare(TrainConfig(corpus=corpus, tokenizer=tokenizer, max_steps=1))
    return _PREPARED[key]


def _wordgen_train(corpus, tokenizer, model_config, sizes, steps, out_dir, precision="fp32", **extra):
    """wordgen's train() for `steps` steps; float32 unless asked, like the references.

    The corpus and tokenizer prepared once per suite are handed to train(), so a
    timed run does not load and encode them again (train() times only its loop anyway).
    """
    from wordgen.config import TrainConfig
    from wordgen.train import train

    dataset, tok, _, _ = _prepared(corpus, tokenizer)
    config = TrainConfig(corpus=corpus, tokenizer=tokenizer, out=str(out_dir), model=model_config,
                         batch_size=sizes["batch"], seq_len=sizes["seq_len"], max_steps=steps,
                         eval_interval=10**9, eval_tokens=sizes["eval_tokens"], precision=precision, **extra)
    return train(config, tokenizer=tok, dataset=dataset, overwrite=True)


def _train_pair(label, corpus, tokenizer, model_config, sizes, tmp, ref_tie=True):
    """Interleaved repeats of wordgen's train() and the reference loop on the same shapes."""
    from wordgen.data import batchify

    _, tok, train_stream, _ = _prepared(corpus, tokenizer)
    model_config.vocab_size = tok.vocab_size
    c = model_config
    steps, repeats = sizes["train_steps"], sizes["repeats"]
    data = batchify(train_stream.ids, sizes["batch"])  # (B, L)
    ours, ref, last = [], [], None
    for r in range(repeats):
        last = _wordgen_train(corpus, tokenizer, copy.deepcopy(c), sizes, steps, Path(tmp) / label)
        ours.append(last.loop_tokens_per_second)
        torch.manual_seed(r)
        reference = ReferenceLM(c.vocab_size, c.embedding_dim, c.hidden_size, c.num_layers, c.dropout, ref_tie)
        run = reference_train(reference, data, sizes["seq_len"], steps)
        ref.append(run["tokens"] / run["seconds"])
    ours_tps, ref_tps = statistics.median(ours), statistics.median(ref)
    shape = f"V={c.vocab_size} E={c.embedding_dim} H={c.hidden_size} L={c.num_layers} B={sizes['batch']} T={sizes['seq_len']}"
    return ours_tps, ref_tps, last, shape


def train_configs() -> list:
    """(label, tokenizer, ModelConfig, steps factor) of the training section; the tests swap in a tiny one.

    The factor multiplies --train-steps so that each timed run lasts a few seconds:
    a char step is much cheaper than a word step, and runs of only a second left
    the ratios to the machine's noise (benchmarks/README.md has the measurements).
    """
    from wordgen.config import ModelConfig

    return [
        (f"word H{ModelConfig().hidden_size} (default)", "word", ModelConfig(), 1),
        ("char H256", "char", ModelConfig(embedding_dim=256, hidden_size=256), 8),
        ("char H512", "char", ModelConfig(embedding_dim=512, hidden_size=512), 3),
    ]


def section_train(table: Table, sizes: dict, corpus: str, tmp: str, peak: float) -> None:
    base_sizes = sizes
    for label, tokenizer, mc, factor in train_configs():
        sizes = {**base_sizes, "train_steps": base_sizes["train_steps"] * factor}
        ours, ref, result, shape = _train_pair(label.split()[0] + label.split()[1], corpus, tokenizer, mc, sizes, tmp)
        c = mc  # its vocabulary size now filled in by _train_pair
        fwd = forward_flops_per_token(c)
        achieved = ours * 3 * fwd
        table.add("train", f"{label}: wordgen loop tokens/s", ours, "tok/s", shape)
        table.add("train", f"{label}: FLOPs/token (fwd+bwd = 3x fwd)", 3 * fwd, "FLOP")
        table.add("train", f"{label}: achieved FLOP/s", achieved / 1e9, "GFLOP/s")
        table.add("train", f"{label}: fraction of peak", achieved / peak, "",
                  "target >= 0.70 at H512" if "512" in label else "")
        table.add("train", f"{label}: wordgen / reference", ours / ref, "x",
                  f"reference {ref:,.0f} tok/s, {sizes['train_steps']} steps per run; target >= 1.0")
        with_eval = result.tokens_per_second
        table.add("train", f"{label}: wordgen tokens/s incl. final validation", with_eval, "tok/s",
                  f"{sizes['train_steps']} steps + one validation of {sizes['eval_tokens']} tokens")
        # bfloat16 autocast (--precision bf16, what "auto" picks on a CPU with avx512_bf16):
        # timed against float32 wordgen runs interleaved with it, not against the first ones.
        fp32, bf16 = [], []
        for _ in range(sizes["repeats"]):
            for precision, runs in (("fp32", fp32), ("bf16", bf16)):
                run = _wordgen_train(corpus, tokenizer, copy.deepcopy(c), sizes, sizes["train_steps"],
                                     Path(tmp) / f"{precision}-{tokenizer}", precision=precision)
                runs.append(run.loop_tokens_per_second)
        table.add("train", f"{label}: bf16 autocast / float32 wordgen", statistics.median(bf16) / statistics.median(fp32),
                  "x", f"bf16 {statistics.median(bf16):,.0f} tok/s")


def section_adaptive(table: Table, sizes: dict, corpus: str, tmp: str) -> None:
    from wordgen.config import ModelConfig

    _, tok, train_stream, _ = _prepared(corpus, "word")
    # At the lab's size (2 x 256), not the default: the full-softmax reference over a
    # whole-corpus word vocabulary is the slow part of the suite.
    mc = ModelConfig(embedding_dim=256, hidden_size=256, softmax="adaptive", tie_weights=False)
    ours, ref, result, shape = _train_pair("adaptive", corpus, "word", mc, sizes, tmp)
    head = adaptive_head_flops(result.bundle.model, train_stream.ids)
    fwd = forward_flops_per_token(mc, head)
    table.add("adaptive", "word adaptive: wordgen loop tokens/s", ours, "tok/s", shape)
    table.add("adaptive", "word adaptive: FLOPs/token (fwd+bwd)", 3 * fwd, "FLOP",
              f"full softmax: {3 * forward_flops_per_token(mc):,.0f}")
    table.add("adaptive", "word adaptive / full-softmax reference", ours / ref, "x",
              f"reference {ref:,.0f} tok/s; vocab {mc.vocab_size}; target >= 2.0 at V >= 20000")
    steps = sizes["quality_steps"]
    if steps:
        bpc = {}
        full = ModelConfig(embedding_dim=256, hidden_size=256)
        for name, model_config in (("full", full), ("adaptive", replace(full, softmax="adaptive", tie_weights=False))):
            res = _wordgen_train(corpus, "word", model_config, {**sizes, "eval_tokens": None}, steps,
                                 Path(tmp) / f"q-{name}", warmup_steps=min(50, steps // 3))
            bpc[name] = res.history[-1]["val_bpc"]
            table.add("adaptive", f"val bits/char, {name} softmax, {steps} steps", bpc[name], "bpc",
                      f"{res.tokens_seen:,} training tokens, whole validation split")
        table.add("adaptive", "adaptive bpc / full bpc", bpc["adaptive"] / bpc["full"], "x", "target <= 1.03")


def section_generate(table: Table, sizes: dict, bandwidth: float) -> None:
    from wordgen.config import ModelConfig, SampleConfig
    from wordgen.generate import sample_ids
    from wordgen.model import LSTMLanguageModel

    torch.manual_seed(0)
    config = ModelConfig(vocab_size=10_000, embedding_dim=512, hidden_size=512, num_layers=2, dropout=0.0)
    model = LSTMLanguageModel(config).eval()
    reference = ReferenceLM.like(model).eval()
    rnn_bytes = sum(p.numel() for p in model.rnn.parameters()) * 4
    head_bytes = (model.head.weight.numel() + model.head.bias.numel()) * 4
    step_bytes = rnn_bytes + head_bytes  # every weight read once per step; one embedding row is noise
    n = sizes["gen_tokens"]
    prompt = [1, 2, 3, 4]
    for batch in (1, 32):
        sample = SampleConfig(temperature=1.0)

        def ours():
            for _ in sample_ids(model, prompt, n, sample, num_samples=batch, seed=0):
                pass

        def naive():
            naive_generate(reference, torch.tensor([prompt] * batch), n)

        t_ours, t_naive = [], []
        for _ in range(max(3, sizes["repeats"])):  # interleaved, medians
            t_ours.append(median_time(ours, 1))
            t_naive.append(median_time(naive, 1))
        ours_tps = batch * n / statistics.median(t_ours)
        naive_tps = batch * n / statistics.median(t_naive)
        bound = batch * bandwidth / step_bytes  # tokens/s if a step only had to read the weights once
        table.add("generate", f"batch {batch}: wordgen tokens/s", ours_tps, "tok/s",
                  f"H=512 L=2 V=10000, {n} tokens after a 4-token prompt, temperature 1")
        table.add("generate", f"batch {batch}: bandwidth bound", bound, "tok/s",
                  f"{step_bytes / 1e6:.1f} MB of weights per step / copy bandwidth")
        table.add("generate", f"batch {batch}: fraction of bandwidth bound", ours_tps / bound, "",
                  "target >= 0.5" if batch == 1 else "")
        table.add("generate", f"batch {batch}: wordgen / naive nn.LSTM loop", ours_tps / naive_tps, "x",
                  f"naive {naive_tps:,.0f} tok/s" + ("; target >= 4" if batch == 1 else ""))


def section_tokenizers(table: Table, sizes: dict, corpus: str) -> None:
    from wordgen.corpora import load_corpus
    from wordgen.data import row_text
    from wordgen.tokenization import train_tokenizer

    dataset = load_corpus(corpus)
    texts = [row_text(t) for t in dataset["train"]["text"]]
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    for spec in ("char", "word", "bpe:2000"):
        start = time.perf_counter()
        tok = train_tokenizer(spec, dataset["train"]["text"])
        train_s = time.perf_counter() - start
        t = median_time(lambda: tok.encode_batch(texts), sizes["repeats"])
        target = {"word": "target >= 10"}.get(spec, "")
        table.add("tokenizers", f"{spec}: encode_batch throughput", megabytes / t, "MB/s",
                  f"{megabytes:.1f} MB, vocab {tok.vocab_size}; {target}")
        table.add("tokenizers", f"{spec}: vocabulary training", train_s, "s")
        if spec.startswith("bpe"):
            hf = tok.hf_tokenizer
            raw = median_time(lambda: hf.encode_batch(texts, add_special_tokens=False), sizes["repeats"])
            table.add("tokenizers", "bpe: wordgen / raw HF encode_batch", raw / t, "x", "target >= 0.8")


_PREP_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
from wordgen.config import TrainConfig
from wordgen.train import prepare
t1 = time.perf_counter()
_, tok, tr, va = prepare(TrainConfig(corpus=sys.argv[1], tokenizer=sys.argv[2], max_steps=1))
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "prepare_s": t2 - t1, "tokens": len(tr) + len(va)}))
"""

_MEM_SCRIPT = """
import json, resource, sys
from wordgen.config import TrainConfig
from wordgen.train import train
r = train(TrainConfig(corpus=sys.argv[1], tokenizer="word", out=sys.argv[2], max_steps=int(sys.argv[3]),
                      eval_interval=10**9, eval_tokens=4096), overwrite=True)
print(json.dumps({"max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "train_tokens": r.tokens_seen}))
"""


def _python(script: str, *args: str, env: dict | None = None) -> dict:
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=Path(__file__).parent.parent)
    if proc.returncode:
        raise RuntimeError(f"benchmark subprocess failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def section_dataprep(table: Table, corpus: str, tmp: str) -> None:
    for spec in ("word", "char", "bpe:2000"):
        env = {"WORDGEN_CACHE": str(Path(tmp) / f"cache-{spec.replace(':', '_')}")}
        cold = _python(_PREP_SCRIPT, corpus, spec, env=env)
        warm = _python(_PREP_SCRIPT, corpus, spec, env=env)
        table.add("dataprep", f"{spec}: cold (empty cache)", cold["prepare_s"], "s",
                  f"{cold['tokens']:,} tokens; imports {cold['import_s']:.1f} s not counted")
        table.add("dataprep", f"{spec}: warm (cache filled)", warm["prepare_s"], "s", "target < 1 s")


def section_memory(table: Table, sizes: dict, corpus: str, tmp: str) -> None:
    from wordgen.corpora import load_corpus
    from wordgen.data import split_text

    base = _python(_MEM_SCRIPT, corpus, str(Path(tmp) / "mem1"), str(sizes["mem_steps"]))
    dataset = load_corpus(corpus)
    text = "".join(split_text(dataset[s]) for s in ("train", "validation", "test"))
    big = Path(tmp) / "corpus_x10.txt"
    big.write_text(text * 10, encoding="utf-8")
    ten = _python(_MEM_SCRIPT, str(big), str(Path(tmp) / "mem10"), str(sizes["mem_steps"]))
    table.add("memory", "peak RSS, word training, built-in corpus", base["max_rss_mb"], "MB",
              f"{sizes['mem_steps']} steps, default model")
    table.add("memory", "peak RSS, same, corpus repeated 10x", ten["max_rss_mb"], "MB",
              f"x{ten['max_rss_mb'] / base['max_rss_mb']:.2f} for 10x the text")


def section_quality(table: Table, sizes: dict, corpus: str, tmp: str) -> None:
    from wordgen.config import ModelConfig, TrainConfig
    from wordgen.train import train

    for seconds in sizes["quality_seconds"]:
        # eval_tokens=None: train()'s one validation, after the budget, covers the whole split.
        config = TrainConfig(corpus=corpus, tokenizer="char", out=str(Path(tmp) / f"quality{seconds}"),
                             model=ModelConfig(), time_budget=seconds, eval_interval=10**9, eval_tokens=None)
        result = train(config, overwrite=True)
        bpc = result.history[-1]["val_bpc"]
        table.add("quality", f"char, {seconds} s of training: val bits/char", bpc, "bpc",
                  f"{result.tokens_seen:,} tokens, {result.steps} steps, whole validation split")


# ----------------------------------------------------------------- driver


def run(sections: list[str], sizes: dict, corpus: str = "shakespeare", out: Path | None = RESULTS) -> dict:
    table = Table()
    info = machine_info()
    print(f"machine: {info}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("WORDGEN_CACHE", str(Path(tmp) / "cache"))
        peak = probe_peak_flops(sizes["matmul"], sizes["repeats"])
        bandwidth = probe_copy_bandwidth(sizes["copy_mb"], sizes["repeats"])
        table.add("probes", f"peak float32 matmul ({sizes['matmul']}^3)", peak / 1e9, "GFLOP/s")
        table.add("probes", f"copy bandwidth ({sizes['copy_mb']} MB, read+write)", bandwidth / 1e9, "GB/s")
        for name in sections:
            if name == "train":
                section_train(table, sizes, corpus, tmp, peak)
            elif name == "adaptive":
                section_adaptive(table, sizes, corpus, tmp)
            elif name == "generate":
                section_generate(table, sizes, bandwidth)
            elif name == "tokenizers":
                section_tokenizers(table, sizes, corpus)
            elif name == "dataprep":
                section_dataprep(table, corpus, tmp)
            elif name == "memory":
                section_memory(table, sizes, corpus, tmp)
            elif name == "quality":
                section_quality(table, sizes, corpus, tmp)
    info["load_average_after"] = load_average()
    table.print()
    doc = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": info,
           "command": " ".join(["python -m benchmarks.run", *sys.argv[1:]]), "sizes": sizes, "rows": table.rows}
    if out is not None:
        path = out / f"{datetime.date.today().isoformat()}.json"
        _io.atomic_write_text(path, json.dumps(doc, indent=1) + "\n")
        print(f"\nwrote {path}")
    return doc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument("--only", default=",".join(s for s in SECTIONS if s != "quality"),
                   help=f"comma-separated sections of {','.join(SECTIONS)} (default: all but quality)")
    p.add_argument("--quick", action="store_true", help="small sizes: under 2 minutes")
    p.add_argument("--corpus", default="shakespeare", help="corpus spec, as for wordgen train")
    p.add_argument("--train-steps", type=int, help="optimizer steps per timed training run")
    p.add_argument("--repeats", type=int, help="interleaved repeats per figure (medians)")
    p.add_argument("--quality-steps", type=int, help="steps of the adaptive-vs-full quality runs (0: skip)")
    p.add_argument("--quality-seconds", help="comma-separated training budgets of the quality section")
    p.add_argument("--gen-tokens", type=int, help="tokens per generation run")
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
    run(sections, sizes, args.corpus)
    return 0


if __name__ == "__main__":
    sys.exit(main())
