"""Training sections of benchmarks.run: train, adaptive, quality.

wordgen's train() against benchmarks.reference's plain loop on the same token
table and shapes, interleaved, medians; the roof-relative rows wait for the
probe after the section (benchmarks.table.Table.add_roofed).
"""

from __future__ import annotations

import copy
import statistics
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.reference import ReferenceLM, reference_train
from benchmarks.table import Table
from wordgen.model import estimated_adaptive_flops, forward_flops_per_token


def adaptive_head_flops(model, ids: torch.Tensor) -> float:
    """Expected FLOPs per token of an adaptive output layer on a token stream's targets.

    wordgen.model.estimated_adaptive_flops with each tail cluster's share of the
    targets measured on `ids` instead of assumed.
    """
    cutoffs = model.head.cutoffs  # [c1, ..., V]
    shares = [((ids >= low) & (ids < high)).float().mean().item() for low, high in zip(cutoffs, cutoffs[1:])]
    return estimated_adaptive_flops(model.config, shares)


# ----------------------------------------------------------------- training


_PREPARED: dict = {}


def _prepared(corpus: str, tokenizer: str):
    from wordgen.config import TrainConfig
    from wordgen.training.prepare import prepare

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
    from wordgen.training.loop import train

    dataset, tok, _, _ = _prepared(corpus, tokenizer)
    config = TrainConfig(corpus=corpus, tokenizer=tokenizer, out=str(out_dir), model=model_config,
                         batch_size=sizes["batch"], seq_len=sizes["seq_len"], max_steps=steps,
                         eval_interval=10**9, eval_tokens=sizes["eval_tokens"], precision=precision, **extra)
    return train(config, tokenizer=tok, dataset=dataset, overwrite=True)


def _train_pair(label, corpus, tokenizer, model_config, sizes, tmp, ref_tie=True) -> dict:
    """Interleaved repeats of wordgen's train() and the reference loop on the same shapes; medians."""
    from wordgen.data import batchify

    _, tok, train_stream, _ = _prepared(corpus, tokenizer)
    model_config.vocab_size = tok.vocab_size
    c = model_config
    steps, repeats = sizes["train_steps"], sizes["repeats"]
    data = batchify(train_stream.tensor(), sizes["batch"])  # (B, L) int64 in memory, as the reference expects
    ours, with_eval, ref, last = [], [], [], None
    for r in range(repeats):
        last = _wordgen_train(corpus, tokenizer, copy.deepcopy(c), sizes, steps, Path(tmp) / label)
        ours.append(last.loop_tokens_per_second)
        with_eval.append(last.tokens_per_second)
        torch.manual_seed(r)
        reference = ReferenceLM(c.vocab_size, c.embedding_dim, c.hidden_size, c.num_layers, c.rate("dropout"), ref_tie)
        run = reference_train(reference, data, sizes["seq_len"], steps)
        ref.append(run["tokens"] / run["seconds"])
    shape = f"V={c.vocab_size} E={c.embedding_dim} H={c.hidden_size} L={c.num_layers} B={sizes['batch']} T={sizes['seq_len']}"
    return {"ours": statistics.median(ours), "with_eval": statistics.median(with_eval), "ref": statistics.median(ref),
            "result": last, "shape": shape}


def train_configs() -> list:
    """(label, tokenizer, ModelConfig, steps factor) of the training section; the tests swap in a tiny one.

    The factor multiplies --train-steps so that each timed run lasts a few seconds:
    a char step is much cheaper than a word step, and runs of only a second left
    the ratios to the machine's noise (benchmarks/README.md has the measurements).
    """
    from wordgen.config import ModelConfig

    return [
        # The size rule's width for texts of 50 000+ tokens (wordgen.training.sizerule.WIDE).
        ("word H384 (default)", "word", ModelConfig(embedding_dim=384, hidden_size=384), 1),
        ("char H256", "char", ModelConfig(embedding_dim=256, hidden_size=256), 8),
        ("char H512", "char", ModelConfig(embedding_dim=512, hidden_size=512), 3),
    ]


def section_train(table: Table, sizes: dict, corpus: str, tmp: str) -> None:
    base_sizes = sizes
    for label, tokenizer, mc, factor in train_configs():
        sizes = {**base_sizes, "train_steps": base_sizes["train_steps"] * factor}
        pair = _train_pair(label.split()[0] + label.split()[1], corpus, tokenizer, mc, sizes, tmp)
        ours, ref = pair["ours"], pair["ref"]
        fwd = forward_flops_per_token(mc)  # its vocabulary size now filled in by _train_pair
        achieved = ours * 3 * fwd
        table.add("train", f"{label}: wordgen loop tokens/s", ours, "tok/s", pair["shape"])
        table.add("train", f"{label}: FLOPs/token (fwd+bwd = 3x fwd)", 3 * fwd, "FLOP")
        table.add("train", f"{label}: achieved FLOP/s", achieved / 1e9, "GFLOP/s")
        target = "; target >= 0.70 at H512" if "512" in label else ""
        table.add_roofed("train", f"{label}: fraction of peak",
                         lambda roofs, a=achieved, t=target: (a / roofs.peak, f"of {roofs.peak / 1e9:.1f} GFLOP/s{t}"))
        table.add("train", f"{label}: wordgen / reference", ours / ref, "x",
                  f"reference {ref:,.0f} tok/s, {sizes['train_steps']} steps per run; target >= 1.0")
        table.add("train", f"{label}: wordgen tokens/s incl. final validation", pair["with_eval"], "tok/s",
                  f"median of {sizes['repeats']}; {sizes['train_steps']} steps + one validation of "
                  f"{sizes['eval_tokens']} tokens")
        # bfloat16 autocast (--precision bf16, what "auto" picks on a CPU with avx512_bf16):
        # timed against float32 wordgen runs interleaved with it, not against the first ones.
        from wordgen.device import cpu_runs_bf16_rnns

        if not cpu_runs_bf16_rnns():
            table.add("train", f"{label}: bf16 autocast / float32 wordgen", None, "x",
                      "not run: this CPU's oneDNN has no bf16 LSTM (wordgen refuses --precision bf16 here)")
            continue
        fp32, bf16 = [], []
        for _ in range(sizes["repeats"]):
            for precision, runs in (("fp32", fp32), ("bf16", bf16)):
                run = _wordgen_train(corpus, tokenizer, copy.deepcopy(mc), sizes, sizes["train_steps"],
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
    pair = _train_pair("adaptive", corpus, "word", mc, sizes, tmp)
    ours, ref = pair["ours"], pair["ref"]
    head = adaptive_head_flops(pair["result"].bundle.model, train_stream.tensor())
    fwd = forward_flops_per_token(mc, head)
    table.add("adaptive", "word adaptive: wordgen loop tokens/s", ours, "tok/s", pair["shape"])
    table.add("adaptive", "word adaptive: FLOPs/token (fwd+bwd)", 3 * fwd, "FLOP",
              f"full softmax: {3 * forward_flops_per_token(mc):,.0f}")
    table.add("adaptive", "word adaptive / full-softmax reference", ours / ref, "x",
              f"reference {ref:,.0f} tok/s; vocab {mc.vocab_size}; target >= 2.0 at V >= 20000")
    steps = sizes["quality_steps"]
    if steps:
        bpc = {}
        full = ModelConfig(embedding_dim=256, hidden_size=256)
        for name, model_config in (("full", full), ("adaptive", replace(full, softmax="adaptive", tie_weights=False))):
            res = _wordgen_train(corpus, "word", model_config, {**sizes, "eval_tokens": 0}, steps,
                                 Path(tmp) / f"q-{name}", warmup_steps=min(50, steps // 3))
            bpc[name] = res.history[-1]["val_bpc"]
            table.add("adaptive", f"val bits/char, {name} softmax, {steps} steps", bpc[name], "bpc",
                      f"{res.tokens_seen:,} training tokens, whole validation split; one run")
        table.add("adaptive", "adaptive bpc / full bpc", bpc["adaptive"] / bpc["full"], "x", "target <= 1.03")


def section_quality(table: Table, sizes: dict, corpus: str, tmp: str) -> None:
    from wordgen.config import ModelConfig, TrainConfig
    from wordgen.training.loop import train

    for seconds in sizes["quality_seconds"]:
        # eval_tokens=0: train()'s one validation, after the budget, covers the whole split.
        config = TrainConfig(corpus=corpus, tokenizer="char", out=str(Path(tmp) / f"quality{seconds}"),
                             model=ModelConfig(), time_budget=seconds, eval_interval=10**9, eval_tokens=0)
        result = train(config, overwrite=True)
        bpc = result.history[-1]["val_bpc"]
        table.add("quality", f"char, {seconds:g} s of training: val bits/char", bpc, "bpc",
                  f"{result.tokens_seen:,} tokens, {result.steps} steps, whole validation split; one run")
