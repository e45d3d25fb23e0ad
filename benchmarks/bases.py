"""Make the shipped base models: train each with `wordgen train` on a folder of books, then ship it.

    python -m benchmarks.bases train BOOKS [--only word]   # each base into runs/base-NAME; a run there is resumed
    python -m benchmarks.bases ship BOOKS                   # half-precision copies into wordgen/bases/NAME, scored

`train` runs the commands in BASES one after the other (start it with nohup: hours); a
run cut short by the end of a session is resumed by the same command. `ship` writes each
finished run's best weights in float16 (half the size; loading widens them to float32)
beside its config.json and tokenizer.json, copies BOOKS/MANIFEST.tsv (the ebook ids) to
wordgen/bases/, and prints the figures the model card gives: size, tokens read, wall
time, and bits per character on the held-out splits of BOOKS scored from the shipped
file. The cards themselves (wordgen/bases/NAME/README.md) are written by hand from them.

Not here: fine-tuning (wordgen.training.finetune), the quality suite's rows (benchmarks.quality).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "wordgen" / "bases"
# Each base's own options; the vocabulary and width were chosen from the measured rate and the
# 25 MB cap (docs/development/log.md, "Base models").
BASES = {"word": ["--tokenizer", "word:max_vocab=32000"], "bpe": ["--tokenizer", "bpe:4000"]}
# A text of 10-14 M tokens read about once: early stopping on a slice of the validation text stops
# such a run on noise, and a check every 500 steps keeps the checks cheap.
COMMON = ["--time-budget", "5100", "--patience", "0", "--eval-interval", "500", "--quiet"]


def run_folder(name: str) -> Path:
    return ROOT / "runs" / f"base-{name}"


def train(books: Path, names: list[str]) -> None:
    for name in names:
        out = run_folder(name)
        if (out / "trainer_state.pt").is_file():
            command = ["wordgen", "train", "--resume", str(out)]
        else:
            command = ["wordgen", "train", "--corpus", str(books), *BASES[name], *COMMON, "--out", str(out)]
        print("$", " ".join(command), flush=True)
        subprocess.run([sys.executable, "-m", *command], check=True, cwd=ROOT)


def ship(books: Path, names: list[str]) -> None:
    from wordgen.training import checkpoint as ckpt

    shutil.copyfile(books / "MANIFEST.tsv", SHIPPED / "MANIFEST.tsv")
    for name in names:
        run, target = run_folder(name), SHIPPED / name
        target.mkdir(parents=True, exist_ok=True)
        bundle = ckpt.Bundle.load(run, device="cpu")
        for file in (ckpt.CONFIG_FILE, ckpt.TOKENIZER_FILE):
            shutil.copyfile(run / file, target / file)
        ckpt.save_weights(target, bundle.model.half())
        last = ckpt.read_metrics(run)[-1]
        size = (target / ckpt.WEIGHTS_FILE).stat().st_size
        print(json.dumps({"base": name, "parameters": bundle.model.num_parameters(), "weights_mb": size / 1e6,
                          "vocabulary": bundle.tokenizer.vocab_size, "steps": last["step"],
                          "tokens_read": last["tokens"], "train_seconds": round(last["elapsed"])}), flush=True)
        for split in ("validation", "test"):
            subprocess.run([sys.executable, "-m", "wordgen", "evaluate", str(target), "--corpus", str(books),
                            "--split", split], check=True, cwd=ROOT)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bases", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("train", "ship"))
    parser.add_argument("books", type=Path, help="the folder of books (with MANIFEST.tsv: file, ebook id)")
    parser.add_argument("--only", choices=sorted(BASES), action="append", help="this base only (repeatable)")
    args = parser.parse_args(argv)
    names = args.only or list(BASES)
    (train if args.action == "train" else ship)(args.books, names)


if __name__ == "__main__":
    main()
