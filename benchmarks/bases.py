"""Make the shipped base models: train each with `wordgen train` on a folder of books, then ship it.

    python -m benchmarks.bases train BOOKS [--only word]   # each base into runs/base-NAME; a run there is resumed
    python -m benchmarks.bases ship BOOKS                   # half-precision copies into wordgen/bases/NAME, scored

`train` runs the commands in BASES one after the other (start it with nohup: hours); a
run cut short by the end of a session is resumed by the same command. `ship` writes each
finished run's best weights in float16 (half the size; loading widens them to float32)
beside its config.json and tokenizer.json, copies BOOKS/MANIFEST.tsv (the ebook ids) to
wordgen/bases/, scores the shipped file on the held-out splits of BOOKS and writes the
model card (wordgen/bases/NAME/README.md) from those figures: size, ebook ids, command,
tokens read, training time and machine, what ran beside it (`--beside`).

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


def ship(books: Path, names: list[str], beside: str, history: str = "") -> None:
    import csv

    from wordgen.data import default_cache_dir
    from wordgen.device import machine_info
    from wordgen.evaluate import evaluate_split
    from wordgen.training import checkpoint as ckpt
    from wordgen.training.prepare import corpus_for

    shutil.copyfile(books / "MANIFEST.tsv", SHIPPED / "MANIFEST.tsv")
    with open(books / "MANIFEST.tsv", encoding="utf-8", newline="") as f:
        ebooks = [row["ebook"] for row in csv.DictReader(f, delimiter="\t")]
    for name in names:
        run, target = run_folder(name), SHIPPED / name
        target.mkdir(parents=True, exist_ok=True)
        for file in (ckpt.CONFIG_FILE, ckpt.TOKENIZER_FILE):
            shutil.copyfile(run / file, target / file)
        ckpt.save_weights(target, ckpt.Bundle.load(run, device="cpu").model.half())
        shipped = ckpt.Bundle.load(target, device="cpu")  # scored as users get it: from the float16 file
        dataset = corpus_for(shipped.config)
        held_out = {split: evaluate_split(shipped.model, shipped.tokenizer, dataset[split], cache_dir=default_cache_dir())
                    for split in ("validation", "test")}
        rows = ckpt.read_metrics(run)
        figures = {"base": name, "parameters": shipped.model.num_parameters(),
                   "weights_mb": round((target / ckpt.WEIGHTS_FILE).stat().st_size / 1e6, 1),
                   "vocabulary": shipped.tokenizer.vocab_size, "steps": rows[-1]["step"],
                   "tokens_read": rows[-1]["tokens"], "passes": round(rows[-1]["epoch"], 2),
                   "train_seconds": round(rows[-1]["elapsed"]), "machine": machine_info(),
                   **{f"{split}_bpc": round(m.bits_per_char, 3) for split, m in held_out.items()},
                   **{f"{split}_ppl_word": round(m.ppl_word, 1) for split, m in held_out.items()}}
        print(json.dumps(figures), flush=True)
        (target / "README.md").write_text(card(name, shipped, figures, held_out, ebooks, beside, history), encoding="utf-8")


def card(name: str, bundle, figures: dict, held_out: dict, ebooks: list[str], beside: str, history: str) -> str:
    """The model card: what the base is, what it read, how it was made and what it scores."""
    model, config = bundle.config.model, bundle.config
    machine = figures["machine"]
    rows = "\n".join(f"| {split} | {m.num_chars:,} | {m.bits_per_char:.3f} | {m.ppl_word:.1f} | {m.unk_rate:.2%} |"
                     for split, m in held_out.items())
    return f"""# base:{name}

A wordgen base model to fine-tune on a book: `wordgen train --corpus BOOK --init base:{name} --out DIR`
(docs/guides/fine-tuning.md).

- **Network**: {model.num_layers} x {model.hidden_size} {model.rnn_type.upper()}, embedding {model.embedding_dim}, \
{model.output_layer()} softmax; {figures['parameters']:,} parameters, stored in float16 ({figures['weights_mb']} MB).
- **Tokenizer**: `{config.tokenizer}`, {figures['vocabulary']:,} tokens.
- **Read**: the {len(ebooks)} public-domain English ebooks of MANIFEST.tsv (beside this folder), as Project Gutenberg
  publishes them, headers and licences stripped; dealt into train / validation / test by whole books
  (seed {config.seed}), so the held-out figures below are on books it never read.
  Ebook ids (Project Gutenberg): {", ".join(ebooks)}.
  Not among them, on purpose: the quality suite's books (Frankenstein 84, The Picture of Dorian Gray 174,
  Moby-Dick 2701) and Shakespeare (the built-in corpus), so that fine-tuning is measured on unseen text.
- **Made by**: `python -m benchmarks.bases train BOOKS --only {name}`, that is
  `wordgen train --corpus BOOKS {" ".join(BASES[name])} {" ".join(COMMON)} --out runs/base-{name}`,
  then `python -m benchmarks.bases ship BOOKS`.{" " + history if history else ""}
- **Cost**: {figures['steps']:,} steps, {figures['tokens_read']:,} tokens ({figures['passes']} passes over the
  training books) in {figures['train_seconds']:,} s of training on {machine['cpu']} ({machine['cores']} cores),
  torch {machine['torch']}, {config.precision}. Beside it ran: {beside}.

## Held out

Scored from the float16 file, whole splits, wordgen.evaluate (`<unk>` costs what the model gives it):

| split | characters | bits per character | perplexity per word | `<unk>` |
|:--|--:|--:|--:|--:|
{rows}

Its figures on the quality suite's books, as it is and fine-tuned, are in docs/development/log.md
("Base models") and `python -m benchmarks.quality --bases`.
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bases", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("train", "ship"))
    parser.add_argument("books", type=Path, help="the folder of books (with MANIFEST.tsv: file, ebook id)")
    parser.add_argument("--only", choices=sorted(BASES), action="append", help="this base only (repeatable)")
    parser.add_argument("--beside", default="nothing else",
                        help="ship: what ran on the machine beside the training, for the card")
    parser.add_argument("--history", default="", help="ship: how the run went if not in one go, for the card")
    args = parser.parse_args(argv)
    names = args.only or list(BASES)
    if args.action == "train":
        train(args.books, names)
    else:
        ship(args.books, names, args.beside, args.history)


if __name__ == "__main__":
    main()
