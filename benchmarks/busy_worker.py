"""One measured job of benchmarks.busy, in a fresh process: python -m benchmarks.busy_worker JOB SECONDS CORPUS WORK.

The environment (the thread policy) is set by benchmarks.busy before this process
starts; WORDGEN_THREADS=torch stands for torch's own thread count, fixed, and
WORDGEN_BENCH_TORCH_FIRST=1 imports torch before wordgen (plain PyTorch's waiting).
JOB is train-TOK, generate-TOK or prepare-TOK (TOK: char, word, bpe); prepare
trains the model that generate-TOK loads into WORK (for SECONDS, at most
PREPARE_SECONDS) and fills the token cache.
Prints one JSON line: tokens/s, steps or tokens, and the thread changes.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

TOKENIZERS = {"char": "char", "word": "word", "bpe": "bpe:2000"}
JOBS = [f"{kind}-{tok}" for kind in ("train", "generate") for tok in TOKENIZERS]
PREPARE_SECONDS = 5.0  # the model generate-TOK samples from: a few seconds of training, enough to be a real model


def _train(tokenizer: str, seconds: float, corpus: str, out: str) -> dict:
    from wordgen.config import TrainConfig
    from wordgen.training.loop import train

    r = train(TrainConfig(corpus=corpus, tokenizer=tokenizer, out=out, time_budget=seconds, eval_interval=10**9,
                          eval_tokens=2048), overwrite=True)
    return {"tokens_per_s": r.loop_tokens_per_second, "steps": r.steps, "threads": r.thread_changes}


def _generate(folder: str, seconds: float) -> dict:
    import torch

    from wordgen.config import SampleConfig
    from wordgen.generation.decode import encode_prompt, sample_ids
    from wordgen.training.checkpoint import Bundle

    bundle = Bundle.load(folder, device="cpu")
    prompt = encode_prompt(bundle.tokenizer, "The ")
    tokens, began = 0, time.perf_counter()
    with torch.inference_mode():
        while time.perf_counter() - began < seconds:
            for _ in sample_ids(bundle.model, prompt, 200, SampleConfig(temperature=1.0), seed=tokens):
                tokens += 1
    return {"tokens_per_s": tokens / (time.perf_counter() - began), "tokens": tokens,
            "threads": [(0.0, torch.get_num_threads())]}


def main(job: str, seconds: float, corpus: str, work: str) -> dict:
    if os.environ.get("WORDGEN_BENCH_TORCH_FIRST"):
        import torch  # noqa: F401  before wordgen: libgomp starts with its own default waiting
    import wordgen  # noqa: F401  wordgen's own start-up (wordgen.cpu) runs here, as in `wordgen train`

    if os.environ.get("WORDGEN_THREADS") == "torch":
        import torch

        os.environ["WORDGEN_THREADS"] = str(torch.get_num_threads())  # fixed at torch's own count
    kind, tok = job.split("-")
    model = os.path.join(work, f"model-{tok}")
    if kind == "prepare":
        return _train(TOKENIZERS[tok], min(seconds, PREPARE_SECONDS), corpus, model)
    if kind == "train":
        with tempfile.TemporaryDirectory() as out:
            return _train(TOKENIZERS[tok], seconds, corpus, out + "/run")
    return _generate(model, seconds)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4])))
