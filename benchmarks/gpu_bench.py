"""python -m benchmarks.gpu_bench: training and generation speed of wordgen on a GPU (run by gpu_check.sh).

Training: `wordgen.train()` on the built-in corpus, word tokenizer, default model (2 x 384),
for --steps steps at batch 32 (the default) and 256, in float32 and under bfloat16 autocast
where the GPU has it; loop tokens/s (validation and checkpoints left out). Generation: the
batch-1 and batch-32 fast path (`generate.sample_ids`, `stepper.LSTMStepper` on the GPU) and,
for the ratio, a loop that calls nn.LSTM (cuDNN) once per token. Prints a table and writes
a new benchmarks/results/gpu-<time>.json with the machine.

`--device cpu --tiny` runs the same code at toy sizes on a CPU: the test suite does that, so
the script is known to work before a GPU is at hand. No figure here is a target; the
README says the CUDA path is unmeasured until this has run on a GPU.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.results_file import RESULTS, write_new
from wordgen.config import ModelConfig, SampleConfig, TrainConfig
from wordgen.device import machine_info
from wordgen.options import add_settings


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_rows(device: torch.device, steps: int, corpus: str, model: ModelConfig, batches: list[int]) -> list[dict]:
    from wordgen.training.loop import train
    from wordgen.training.prepare import prepare

    dataset, tokenizer, _, _ = prepare(TrainConfig(corpus=corpus, tokenizer="word", max_steps=1))
    from wordgen.device import cpu_runs_bf16_rnns

    bf16 = torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_runs_bf16_rnns()
    precisions = ["fp32"] + (["bf16"] if bf16 else [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for batch in batches:
            for precision in precisions:
                config = TrainConfig(corpus=corpus, tokenizer="word", out=str(Path(tmp) / "run"), model=model,
                                     batch_size=batch, max_steps=steps, eval_interval=10**9, eval_tokens=4096,
                                     device=str(device), precision=precision)
                result = train(config, tokenizer=tokenizer, dataset=dataset, overwrite=True)
                rows.append({"what": "train", "batch": batch, "precision": precision, "steps": result.steps,
                             "tokens_per_s": result.loop_tokens_per_second})
    return rows


def generation_rows(device: torch.device, tokens: int, model_config: ModelConfig) -> list[dict]:
    from wordgen.generation.decode import sample_ids
    from wordgen.model import LSTMLanguageModel

    torch.manual_seed(0)
    model = LSTMLanguageModel(model_config).to(device).eval()
    rows = []
    for batch in (1, 32):
        def fast():
            for _ in sample_ids(model, [1, 2, 3, 4], tokens, SampleConfig(temperature=1.0), num_samples=batch,
                                seed=0):
                pass

        @torch.inference_mode()
        def plain():  # nn.LSTM (cuDNN on a GPU) called once per token, torch.multinomial
            ids = torch.ones(batch, 1, dtype=torch.long, device=device)
            state = None
            for _ in range(tokens):
                logits, state = model(ids, state)
                ids = torch.multinomial(logits[:, -1].softmax(-1), 1)

        for name, fn in (("fast path", fast), ("nn.LSTM per token", plain)):
            fn()  # warm-up: packing, kernels, cuDNN plans
            _sync(device)
            began = time.perf_counter()
            fn()
            _sync(device)
            rows.append({"what": f"generate, {name}", "batch": batch, "tokens_per_s": batch * tokens /
                         (time.perf_counter() - began)})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_bench", description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu with --tiny")
    p.add_argument("--steps", type=int, default=100, help="training steps per timed run (default: 100)")
    p.add_argument("--tokens", type=int, default=256, help="generated tokens per timed run (default: 256)")
    add_settings(p, TrainConfig(), ["corpus"])
    p.add_argument("--tiny", action="store_true", help="toy sizes (what the test suite runs)")
    p.add_argument("--out", default=str(RESULTS), help="folder for the JSON results ('' to write none)")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error("torch sees no CUDA GPU here")
    if args.tiny:
        model, gen_model, batches = ModelConfig(embedding_dim=16, hidden_size=16, num_layers=1), \
            ModelConfig(vocab_size=50, embedding_dim=16, hidden_size=16, num_layers=1), [4]
    else:
        model, gen_model, batches = ModelConfig(), \
            ModelConfig(vocab_size=10_000, embedding_dim=512, hidden_size=512, num_layers=2, dropout=0.0), [32, 256]
    rows = train_rows(device, args.steps, args.corpus, model, batches) + generation_rows(device, args.tokens, gen_model)
    for row in rows:
        extra = f"{row['precision']:>5}" if "precision" in row else ""
        print(f"{row['what']:28} batch {row['batch']:>4} {extra:>5} {row['tokens_per_s']:>14,.0f} tokens/s")
    doc = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine_info(),
           "device": str(device), "command": " ".join(["python -m benchmarks.gpu_bench", *sys.argv[1:]]),
           "rows": rows}
    if args.out:
        print(f"wrote {write_new(doc, 'gpu', Path(args.out))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
