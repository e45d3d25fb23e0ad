"""Generation, tokenizer, data-preparation and memory sections of benchmarks.run.

Generation is measured against min(compute roof, bandwidth roof) and against a
naive nn.LSTM loop drawing with either sampler; the tokenizers against raw
Hugging Face calls of the same API; data preparation and memory in fresh
processes.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks.probes import Roofs
from benchmarks.reference import SAMPLERS, ReferenceLM, naive_generate
from benchmarks.table import Table, median_time
from wordgen.model import forward_flops_per_token


def _generation_roof(roofs: Roofs, batch: int, flops: float, step_bytes: float) -> tuple[float, str]:
    """min(compute roof, bandwidth roof) in tokens/s, and which one binds."""
    compute = roofs.peak / flops  # every token costs its forward FLOPs, whatever the batch
    bandwidth = batch * roofs.bandwidth / step_bytes  # one read of every weight per step serves the whole batch
    if compute < bandwidth:
        return compute, f"compute-bound: {flops / 1e6:.1f} MFLOP/token at {roofs.peak / 1e9:.1f} GFLOP/s"
    return bandwidth, (f"bandwidth-bound: {step_bytes / 1e6:.1f} MB of weights per step at "
                       f"{roofs.bandwidth / 1e9:.1f} GB/s ({roofs.bandwidth_size:g} MB copy)")


def section_generate(table: Table, sizes: dict) -> None:
    from wordgen.config import ModelConfig, SampleConfig
    from wordgen.generation.decode import sample_ids
    from wordgen.model import LSTMLanguageModel

    torch.manual_seed(0)
    config = ModelConfig(vocab_size=10_000, embedding_dim=512, hidden_size=512, num_layers=2, dropout=0.0)
    model = LSTMLanguageModel(config).eval()
    reference = ReferenceLM.like(model).eval()
    rnn_bytes = sum(p.numel() for p in model.rnn.parameters()) * 4
    head_bytes = (model.head.weight.numel() + model.head.bias.numel()) * 4
    step_bytes = rnn_bytes + head_bytes  # every weight read once per step; one embedding row is noise
    flops = forward_flops_per_token(config)
    n = sizes["gen_tokens"]
    prompt = [1, 2, 3, 4]
    for batch in (1, 32):
        sample = SampleConfig(temperature=1.0)

        def ours():
            for _ in sample_ids(model, prompt, n, sample, num_samples=batch, seed=0):
                pass

        naive = {s: (lambda s=s: naive_generate(reference, torch.tensor([prompt] * batch), n, sampler=s))
                 for s in SAMPLERS}
        times = {"ours": [], **{s: [] for s in SAMPLERS}}
        for _ in range(max(3, sizes["repeats"])):  # interleaved, medians
            times["ours"].append(median_time(ours, 1))
            for s in SAMPLERS:
                times[s].append(median_time(naive[s], 1))
        tps = {k: batch * n / statistics.median(v) for k, v in times.items()}
        table.add("generate", f"batch {batch}: wordgen tokens/s", tps["ours"], "tok/s",
                  f"H=512 L=2 V=10000, {n} tokens after a 4-token prompt, temperature 1; median")
        table.add_roofed("generate", f"batch {batch}: roof min(compute, bandwidth)",
                         lambda roofs, b=batch: _generation_roof(roofs, b, flops, step_bytes), "tok/s")
        table.add_roofed("generate", f"batch {batch}: fraction of the roof",
                         lambda roofs, b=batch, t=tps["ours"]: (
                             t / _generation_roof(roofs, b, flops, step_bytes)[0],
                             "target >= 0.5" if b == 1 else ""))
        for s, what in (("multinomial", "torch.multinomial"), ("inverse-cdf", "wordgen's inverse-CDF sampler")):
            table.add("generate", f"batch {batch}: wordgen / naive nn.LSTM loop, {s}", tps["ours"] / tps[s], "x",
                      f"naive {tps[s]:,.0f} tok/s drawing with {what}"
                      + ("; target >= 4" if batch == 1 and s == "multinomial" else ""))




def section_tokenizers(table: Table, sizes: dict, corpus: str) -> None:
    from wordgen.corpora import load_corpus
    from wordgen.data import row_text
    from wordgen.tokenization import train_tokenizer

    dataset = load_corpus(corpus)
    texts = [row_text(t) for t in dataset["train"]["text"]]
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    for spec in ("char", "word", "bpe:2000"):
        train_times, tok = [], None
        for _ in range(sizes["repeats"]):
            start = time.perf_counter()
            tok = train_tokenizer(spec, dataset["train"]["text"])
            train_times.append(time.perf_counter() - start)
        t = median_time(lambda: tok.encode_batch(texts), sizes["repeats"])
        target = {"word": "target >= 10"}.get(spec, "")
        table.add("tokenizers", f"{spec}: encode_batch throughput", megabytes / t, "MB/s",
                  f"{megabytes:.1f} MB, vocab {tok.vocab_size}; median; {target}")
        table.add("tokenizers", f"{spec}: vocabulary training", statistics.median(train_times), "s",
                  f"median of {sizes['repeats']}")
        if spec.startswith("bpe"):
            # The same call on both sides: wordgen's BPE calls encode_batch_fast (no offsets).
            hf = tok.hf_tokenizer
            raw = median_time(lambda: hf.encode_batch_fast(texts, add_special_tokens=False), sizes["repeats"])
            table.add("tokenizers", "bpe: wordgen / raw HF, both encode_batch_fast", raw / t, "x",
                      "target >= 0.8 (the wrapper's own cost)")


_PREP_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
from wordgen.config import TrainConfig
from wordgen.training.prepare import prepare
t1 = time.perf_counter()
_, tok, tr, va = prepare(TrainConfig(corpus=sys.argv[1], tokenizer=sys.argv[2], max_steps=1))
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "prepare_s": t2 - t1, "tokens": len(tr) + len(va)}))
"""

# RSS right after the data is ready (VmRSS), then the peak after a few training steps of the
# default word model (VmHWM). Both from /proc/self/status, not ru_maxrss: Linux carries the
# maximum RSS across execve (getrusage(2)), and with vfork the "old" memory at exec is the
# parent's, so a child of a 2 GB benchmark process reported 2 GB whatever it did itself --
# which is how two earlier memory rows came out identical to the kilobyte.
_MEM_SCRIPT = """
import json, sys
from wordgen.config import TrainConfig
from wordgen.training.loop import train
from wordgen.training.prepare import prepare

def status_mb(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":")) / 1024

config = TrainConfig(corpus=sys.argv[1], tokenizer="word", out=sys.argv[2], max_steps=int(sys.argv[3]),
                     eval_interval=10**9, eval_tokens=4096)
dataset, tok, tr, va = prepare(config)
data_mb = status_mb("VmRSS")
r = train(config, tokenizer=tok, dataset=dataset, overwrite=True)
print(json.dumps({"data_rss_mb": data_mb, "train_tokens_in_corpus": len(tr), "peak_rss_mb": status_mb("VmHWM")}))
"""


def _python(script: str, *args: str, env: dict | None = None) -> dict:
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=Path(__file__).parent.parent)
    if proc.returncode:
        raise RuntimeError(f"benchmark subprocess failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def section_dataprep(table: Table, sizes: dict, corpus: str, tmp: str) -> None:
    for spec in ("word", "char", "bpe:2000"):
        cold, warm = [], []
        for r in range(sizes["repeats"]):  # each repeat: a new empty cache, then the same one again
            env = {"WORDGEN_CACHE": str(Path(tmp) / f"cache-{spec.replace(':', '_')}-{r}")}
            cold.append(_python(_PREP_SCRIPT, corpus, spec, env=env))
            warm.append(_python(_PREP_SCRIPT, corpus, spec, env=env))
        table.add("dataprep", f"{spec}: cold (empty cache)", statistics.median(c["prepare_s"] for c in cold), "s",
                  f"{cold[0]['tokens']:,} tokens; fresh processes, median of {len(cold)}; imports "
                  f"{statistics.median(c['import_s'] for c in cold):.1f} s not counted")
        table.add("dataprep", f"{spec}: warm (cache filled)", statistics.median(w["prepare_s"] for w in warm), "s",
                  "target < 1 s")


def section_memory(table: Table, sizes: dict, corpus: str, tmp: str) -> None:
    from wordgen.corpora import load_corpus
    from wordgen.data import split_text

    dataset = load_corpus(corpus)
    text = "".join(split_text(dataset[s]) for s in ("train", "validation", "test"))
    big = Path(tmp) / "corpus_x10.txt"
    big.write_text(text * 10, encoding="utf-8")
    env = {"WORDGEN_CACHE": "off"}  # every process encodes its text itself
    found = {}
    for name, spec in (("built-in corpus", corpus), ("corpus repeated 10x", str(big))):
        found[name] = _python(_MEM_SCRIPT, spec, str(Path(tmp) / f"mem-{len(found)}"), str(sizes["mem_steps"]),
                              env=env)
    base, ten = found["built-in corpus"], found["corpus repeated 10x"]
    for name, m in found.items():
        table.add("memory", f"RSS after data preparation, {name}", m["data_rss_mb"], "MB",
                  f"{m['train_tokens_in_corpus']:,} training tokens; fresh process, cache off")
    table.add("memory", "data RSS growth for 10x the text", ten["data_rss_mb"] / base["data_rss_mb"], "x")
    for name, m in found.items():
        table.add("memory", f"peak RSS of training, {name}", m["peak_rss_mb"], "MB",
                  f"{sizes['mem_steps']} steps, default word model; fresh process")
