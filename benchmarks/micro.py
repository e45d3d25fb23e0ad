"""python -m benchmarks.micro: the small measurements behind design choices the READMEs cite.

Sections (pick with --only, comma-separated; all by default):

  sampler   microseconds per draw from 10 000 probabilities: torch.multinomial
            against wordgen.generation.sampling.draw (inverse CDF), batch 1
  gemv      GB/s of a batch-1 matrix-vector product with an 80 MB weight
            (40 000 x 512, float32): through the transposed view x @ W.t(), with
            a contiguous (K, M) copy, and split into one block per thread as
            wordgen.generation.stepper does (baddbmm)
  compile   training tokens/s of torch.compile(model.loss) against the eager
            loss, 2 x 256, batch 32 x 64, float32 (compilation not timed; it
            needs a C++ compiler and takes minutes on 2 cores)

Every figure is the median of --repeats timed blocks after a warm-up. Results go
to benchmarks/results/micro-<time>.json (a new file every run).
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time

import torch

from benchmarks.results_file import RESULTS, write_new
from wordgen.device import load_average, machine_info

SECTIONS = ["sampler", "gemv", "compile"]


def _median_seconds(fn, repeats: int, calls: int = 1) -> float:
    """Median over `repeats` blocks of `calls` calls, per call, after one warm-up block."""
    for _ in range(calls):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def section_sampler(rows: list, repeats: int) -> None:
    from wordgen.generation.sampling import draw

    generator = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(1, 10_000), dim=-1)  # (1, V)
    multinomial = _median_seconds(lambda: torch.multinomial(probs, 1, generator=generator), repeats, 200)
    inverse = _median_seconds(lambda: draw(probs, generator), repeats, 200)
    rows.append(("sampler", "torch.multinomial, V = 10 000, batch 1", multinomial * 1e6, "us/draw"))
    rows.append(("sampler", "wordgen.generation.sampling.draw (inverse CDF), same", inverse * 1e6, "us/draw"))
    rows.append(("sampler", "multinomial / inverse CDF", multinomial / inverse, "x"))


def column_blocks(weight: torch.Tensor, parts: int):
    """x (1, K) -> x W^T (1, M), with W (M, K) cut into `parts` contiguous (K, M/P) blocks.

    The layout wordgen.generation.stepper packs its weights in (zero bias, the last
    block zero-padded), written out here so that this section measures the layout
    itself: one block per thread through `torch.baddbmm`, into a preallocated buffer.
    """
    out_features, in_features = weight.shape  # (M, K)
    width = -(-out_features // parts)  # W
    padded = weight.new_zeros(parts * width, in_features)  # (P*W, K)
    padded[:out_features] = weight
    blocks = padded.view(parts, width, in_features).transpose(1, 2).contiguous()  # (P, K, W)
    bias = weight.new_zeros(parts, 1, width)  # (P, 1, W)
    out = weight.new_empty(parts, 1, width)  # (P, 1, W)

    def product(x: torch.Tensor) -> torch.Tensor:
        torch.baddbmm(bias, x.expand(parts, *x.shape), blocks, out=out)  # (P, 1, W)
        return out.transpose(0, 1).reshape(1, -1)[:, :out_features]  # (1, M), a view

    return product


def section_gemv(rows: list, repeats: int) -> None:
    torch.manual_seed(0)
    weight = torch.randn(40_000, 512)  # (M, K): 80 MB
    x = torch.randn(1, 512)  # (1, K)
    copy_t = weight.t().contiguous()  # (K, M)
    split = column_blocks(weight, torch.get_num_threads())
    nbytes = weight.numel() * 4
    for label, fn in (("x @ W.t() (transposed view)", lambda: x @ weight.t()),
                      ("x @ W^T as a contiguous (K, M) copy", lambda: x @ copy_t),
                      (f"{torch.get_num_threads()} column blocks, baddbmm (wordgen.generation.stepper)", lambda: split(x))):
        seconds = _median_seconds(fn, repeats, 20)
        rows.append(("gemv", label, nbytes / seconds / 1e9, "GB/s"))


def section_compile(rows: list, repeats: int) -> None:
    from wordgen.config import ModelConfig
    from wordgen.model import LSTMLanguageModel

    torch.manual_seed(0)
    config = ModelConfig(vocab_size=77, embedding_dim=256, hidden_size=256, num_layers=2, dropout=0.2)
    x, y = torch.randint(0, 77, (32, 64)), torch.randint(0, 77, (32, 64))  # (B, T)
    speeds = {}
    for name in ("eager", "compiled"):
        model = LSTMLanguageModel(config)
        optimizer = torch.optim.AdamW(model.parameters(), lr=6e-3)
        loss_fn = torch.compile(model.loss) if name == "compiled" else model.loss

        def step():
            loss, _ = loss_fn(x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        step()  # compiles (not timed)
        speeds[name] = x.numel() / _median_seconds(step, repeats, 10)
        rows.append(("compile", f"{name} training step, 2 x 256, B 32, T 64, fp32", speeds[name], "tok/s"))
    rows.append(("compile", "torch.compile / eager", speeds["compiled"] / speeds["eager"], "x"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.micro", description=__doc__.split("\n")[0])
    p.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {','.join(SECTIONS)}")
    p.add_argument("--repeats", type=int, default=7, help="timed blocks per figure (median; default 7)")
    p.add_argument("--no-save", action="store_true", help="print only; write no results file")
    args = p.parse_args(argv)
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    if not sections or set(sections) - set(SECTIONS):
        p.error(f"--only must name some of {SECTIONS}")
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['torch_threads']} torch threads; "
          f"load average {info['load_average']}", flush=True)
    rows: list = []
    for name in sections:
        {"sampler": section_sampler, "gemv": section_gemv, "compile": section_compile}[name](rows, args.repeats)
    after = load_average()
    for section, figure, value, unit in rows:
        print(f"{section:8} {figure:62} {value:12,.2f} {unit}")
    print(f"load average after: {after}")
    doc = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": {**info, "load_average_after": after},
           "command": " ".join(["python -m benchmarks.micro", *(argv if argv is not None else sys.argv[1:])]),
           "repeats": args.repeats, "rows": [dict(zip(("section", "figure", "value", "unit"), r)) for r in rows]}
    if not args.no_save:
        print(f"wrote {write_new(doc, 'micro', RESULTS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
