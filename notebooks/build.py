"""Write the lab notebooks (without outputs) from the cells below: `python notebooks/build.py`.

The notebooks are generated rather than edited by hand so that their JSON
stays clean (no outputs, no execution counts, no editor metadata) and a
change to a cell is a readable change to this file. Edit here, run it, and
commit both this file and the .ipynb files. tests/test_notebooks.py executes
the notebooks top to bottom with WORDGEN_FAST=1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent


def md(text: str):
    return new_markdown_cell(text.strip("\n"))


def code(text: str):
    return new_code_cell(text.strip("\n"))


# ---------------------------------------------------------------- the lab

LAB = [
    md("""
# The lab: a word-level text generator from any book

In the lesson you trained a **character-level** LSTM on news headlines and saw two things:
greedy decoding soon repeats itself in a loop, and sampling with a *temperature* gives livelier
text that turns into nonsense when the temperature is too high. The lab asks you to
*take any book and use it as a dataset to train a word-level text generator*.

This notebook does that with `wordgen`, one step per section:

1. load a book,
2. choose a tokenizer (characters or words),
3. train, with a live progress bar,
4. plot the learning curve,
5. generate with each sampler -- greedy, temperature, top-k, top-p,
6. compare with the character-level model of the lesson.

Each step is a few lines; the work happens in the `wordgen` package, whose source you can
read when you want to know how something is done.
"""),
    code("""
import os

import matplotlib.pyplot as plt

from wordgen import ModelConfig, SampleConfig, TrainConfig, evaluate_split, generate, load_corpus, train, train_tokenizer
from wordgen.textstats import NgramIndex, describe_ngram, distinct_n, find_text_loop, text_tokens

# The test suite runs this notebook with WORDGEN_FAST=1: a small play and a tiny model, so
# that it finishes in seconds. Leave it unset for the real thing (about 5 minutes on a laptop).
FAST = os.environ.get("WORDGEN_FAST") == "1"
BOOK = "shakespeare:macbeth" if FAST else "shakespeare"  # or your own book: "pg11.txt"
"""),
    md("""
## 1. Load a book

`load_corpus` takes a built-in corpus (`shakespeare`, or a single play such as
`shakespeare:macbeth`), the path of a `.txt` file, or a Hugging Face dataset. A book
downloaded from Project Gutenberg works as it is: its licence header and footer are removed.

It returns three **splits**. The model learns from `train`; `validation` is text it never
sees, which tells us whether it learned the language or only memorised the book; `test` is
kept for a final, untouched measurement.

To use your own book, download for example *Alice's Adventures in Wonderland* from
Project Gutenberg as "Plain Text UTF-8" and set `BOOK = "pg11.txt"` above.
"""),
    code("""
dataset = load_corpus(BOOK)
for split in ("train", "validation", "test"):
    chars = sum(len(t) for t in dataset[split]["text"])
    print(f"{split:>10}: {chars:>9,} characters")
print()
print(dataset["train"]["text"][0][:400])
"""),
    md("""
## 2. Characters or words?

The lesson's model reads one character at a time: about 70 different symbols, and every word
has to be spelled out letter by letter. A **word tokenizer** makes each word and each
punctuation mark one token, so a single prediction produces a whole word. The price: the
vocabulary is large (we keep the 10,000 most frequent words), and every word outside it
becomes the one token `<unk>` ("unknown").
"""),
    code("""
train_texts = dataset["train"]["text"]
char_tokenizer = train_tokenizer("char", train_texts)
word_tokenizer = train_tokenizer("word:max_vocab=10000", train_texts)

line = next(l for l in train_texts[0].splitlines() if len(l.split()) > 5)
for name, tok in (("characters", char_tokenizer), ("words", word_tokenizer)):
    ids = tok.encode(line)
    print(f"{name}: {tok.vocab_size:,} tokens in the vocabulary; the line becomes {len(ids)} tokens")
    print("   ", [tok.id_to_token(i) for i in ids][:20])

validation_ids = word_tokenizer.encode("\\n".join(dataset["validation"]["text"]))
print(f"\\nshare of validation words that are <unk>: {word_tokenizer.count_unk(validation_ids) / len(validation_ids):.1%}")
"""),
    md("""
## 3. Train

The network is the lesson's: embedding -> LSTM -> a linear layer that scores every token of
the vocabulary. Training reads the book as `batch_size` long streams side by side, `seq_len`
tokens at a time, carrying the LSTM's memory from one window to the next (truncated
back-propagation through time). We stop after a time budget. The progress bar shows the
training loss and the bits per character as training goes.
"""),
    code("""
if FAST:
    sizes = dict(embedding_dim=32, hidden_size=32, num_layers=1, dropout=0.0)
    schedule = dict(batch_size=8, seq_len=16, max_steps=30, eval_interval=10)
else:
    # Small on purpose: on a laptop CPU a 128-wide, one-layer LSTM takes about four times as
    # many steps in two minutes as a 256-wide, 2-layer one, and ends up better. lr 3e-3: the
    # default 6e-3 was tuned for character models and did worse for words in short runs.
    sizes = dict(embedding_dim=128, hidden_size=128, num_layers=1, dropout=0.1)
    schedule = dict(batch_size=32, seq_len=32, lr=3e-3, time_budget=120, eval_interval=100)

# A fresh ModelConfig per run: train() fills in its vocab_size from the tokenizer.
word_config = TrainConfig(corpus=BOOK, tokenizer="word:max_vocab=10000", out="runs/notebook/word",
                          model=ModelConfig(**sizes), **schedule)
word_run = train(word_config, overwrite=True, progress=True)
word_model, word_tok = word_run.bundle.model, word_run.bundle.tokenizer
print(f"{word_run.steps} steps, {word_run.tokens_seen:,} tokens in {word_run.seconds:.0f} s; "
      f"{word_model.num_parameters():,} parameters")
"""),
    md("""
## 4. The learning curve

The loss per token cannot be compared between a character model and a word model (a word is
harder to guess than a letter, but there are fewer of them), so we plot **bits per
character**: the model's total surprise on a text, divided by the number of characters in it.
Training bits per character are measured on the batches just trained on; validation bits per
character on text the model never sees. While both fall, the model is learning; when only the
training curve still falls, it has started to memorise the book.
"""),
    code("""
history = word_run.history
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot([r["step"] for r in history], [r["train_bpc"] for r in history], "o-", label="training")
ax.plot([r["step"] for r in history], [r["val_bpc"] for r in history], "o-", label="validation")
ax.set_xlabel("optimizer step")
ax.set_ylabel("bits per character")
ax.set_title(f"Word model on {BOOK}")
ax.grid(alpha=0.3)
ax.legend()
plt.show()

metrics = evaluate_split(word_model, word_tok, word_run.dataset["validation"])
print(f"validation: {metrics.bits_per_char:.3f} bits per character, perplexity per word {metrics.ppl_word:.1f}, "
      f"<unk> rate {metrics.unk_rate:.1%}")
"""),
    md("""
The `<unk>` rate matters: all unknown words share one token, and guessing "some word I don't
know" is much easier than guessing *which* one, so a word model's figures are a little
optimistic by about that share.

## 5. Generate

### Greedy decoding

Greedy decoding always takes the most likely next word. The model's memory then tends to come
back to a state it was already in, and from there the same words follow again: a loop.
`find_text_loop` finds the longest stretch of the sample that repeats one n-gram at least three
times, and where it starts (marked below).
"""),
    code("""
PROMPT = ""  # empty: start at a new line. Try a phrase from your book.

(greedy,) = generate(word_model, word_tok, PROMPT, max_tokens=80, sample=SampleConfig(greedy=True))
loop = find_text_loop(greedy[len(PROMPT):])
if loop is None:
    print(greedy)
    print("\\n-> no loop within 80 tokens")
else:
    cut = len(PROMPT) + loop.char_start
    print(greedy[:cut] + " [LOOP STARTS HERE] " + greedy[cut:])
    print(f"\\n-> from token {loop.start + 1} on, '{describe_ngram(loop.ngram)}' repeats {loop.repeats:.1f} times")
"""),
    md("""
### Temperature

Sampling draws the next word at random from the model's probabilities instead. Dividing the
scores by a **temperature** T before the softmax reshapes those probabilities: T < 1 sharpens
them towards the greedy choice, T > 1 flattens them so that rare words become likely. The
share of distinct bigrams measures repetition: near 0 for a loop, near 1 when nothing repeats.
"""),
    code("""
for t in (0.3, 0.8, 1.0, 1.3, 1.8):
    (text,) = generate(word_model, word_tok, PROMPT, max_tokens=50, sample=SampleConfig(temperature=t), seed=1)
    print(f"--- temperature {t}  (distinct bigrams {distinct_n(text_tokens(text), 2):.0%})")
    print(text.strip(), "\\n")
"""),
    md("""
### Top-k and top-p

Two ways to keep the variety of sampling without its worst draws: **top-k** samples only among
the k most likely words; **top-p** (nucleus sampling) among the smallest set of words whose
probabilities add up to p, so the set is small when the model is sure and large when it is not.
"""),
    code("""
for name, sample in (("top-k 40", SampleConfig(top_k=40)), ("top-p 0.9", SampleConfig(top_p=0.9))):
    (text,) = generate(word_model, word_tok, PROMPT, max_tokens=50, sample=sample, seed=1)
    print(f"--- {name}\\n{text.strip()}\\n")
"""),
    md("""
## 6. Compare with the character model

Now the lesson's model on the same book: the same network and the same budget, only the
tokenizer changes. Bits per character compare the two directly. For the samples, we count the
share of their words that occur anywhere in the book: a character model can invent words, a
word model cannot.
"""),
    code("""
char_config = TrainConfig(corpus=BOOK, tokenizer="char", out="runs/notebook/char", model=ModelConfig(**sizes), **schedule)
char_run = train(char_config, overwrite=True, progress=True)
char_model, char_tok = char_run.bundle.model, char_run.bundle.tokenizer
char_metrics = evaluate_split(char_model, char_tok, char_run.dataset["validation"])

book_words = NgramIndex.from_texts(train_texts)
print(f"{'':12}{'bits/char':>10}{'words in book':>15}")
for name, model, tok, m, length in (("characters", char_model, char_tok, char_metrics, 300),
                                    ("words", word_model, word_tok, metrics, 70)):
    (text,) = generate(model, tok, PROMPT, max_tokens=length, sample=SampleConfig(temperature=0.8), seed=1)
    print(f"{name:12}{m.bits_per_char:>10.3f}{book_words.seen_share(text):>15.0%}")
    print(text.strip()[:300], "\\n")
"""),
    md("""
## What to take away

* **Greedy decoding loops**; sampling with a temperature around 0.8-1.0 gives varied text;
  high temperatures give word salad (for a word model) or invented words (for a character model).
* A word model writes only real words and sees more context per step, but needs a large
  vocabulary and hides rare words behind `<unk>`; a character model can write anything and must
  first learn to spell.
* Compare models across tokenizers in **bits per character** (or perplexity per *word*), never in
  loss per token.

Next: the scripts in `tasks/` measure each of these at a larger scale
(`python -m tasks.temperature_study`, `python -m tasks.char_vs_word`, ...), and
`compare_tokenizers.ipynb` compares character, word and BPE tokenizers side by side.
"""),
]


# ---------------------------------------------------------------- tokenizer comparison

COMPARE = [
    md("""
# Comparing tokenizers fairly

Characters, words, or something in between? **Byte-pair encoding (BPE)** starts from single
bytes and repeatedly merges the most frequent neighbouring pair into a new token, so a BPE
vocabulary of a few hundred tokens holds frequent letter pairs and short words, and one of
several thousand holds most whole words -- while every word stays spellable.

This notebook trains the same LSTM on the same book once per tokenizer, with the same
budget, and compares them with `wordgen.compare`. The rules of a fair comparison:

* **bits per character**, not loss per token: the model's total surprise on the same test text
  divided by the same number of characters, whatever a token is;
* the word model's `<unk>` hides every unknown word behind one token, which makes its numbers
  look better than they are, so here each `<unk>` is also charged the cost of spelling the word
  it hides with the character model (`unk_penalty=True`).
"""),
    code("""
import os

import matplotlib.pyplot as plt
from IPython.display import Image, Markdown, display

from wordgen import ModelConfig, TrainConfig
from wordgen.compare import CompareSettings, compare, summary, table_rows

# The test suite runs this notebook with WORDGEN_FAST=1 (a small play, tiny models, a few steps).
FAST = os.environ.get("WORDGEN_FAST") == "1"
BOOK = "shakespeare:macbeth" if FAST else "shakespeare"  # or your own book: "pg11.txt"

if FAST:
    TOKENIZERS = ["char", "bpe:300", "bpe:1000", "word:max_vocab=10000"]
    base = TrainConfig(corpus=BOOK, model=ModelConfig(embedding_dim=32, hidden_size=32, num_layers=1, dropout=0.0),
                       batch_size=8, seq_len=16, max_steps=20, eval_interval=10)
else:
    TOKENIZERS = ["char", "bpe:500", "bpe:2000", "bpe:8000", "word:max_vocab=10000"]
    base = TrainConfig(corpus=BOOK, time_budget=60, eval_interval=50)  # 60 s per tokenizer
"""),
    md("""
## Run the comparison

One model per tokenizer: the same network size, the same batches, the same stopping rule and
seed. Each run writes an ordinary checkpoint folder (under `runs/compare_tokenizers/runs/`),
so any of the models can be loaded afterwards with `Bundle.load` or `wordgen generate`.
"""),
    code("""
settings = CompareSettings(base=base, tokenizers=TOKENIZERS, out="runs/compare_tokenizers",
                           unk_penalty=True, overwrite=True)
comparison = compare(settings, progress=True, log=print)
"""),
    md("""
## The table

`bits/char` is the column to compare. `tokens/char` shows how much text one token covers:
about 1 for characters, about 0.25 for words. `ppl/token` is shown only to make the point that
it cannot be compared across rows: a word model's per-token perplexity is in the hundreds
because guessing a word is harder than guessing a letter.
"""),
    code("""
display(Markdown(summary(comparison)))
"""),
    md("""
## The plots

Left: test bits per character per tokenizer (the hatched part is the `<unk>` spelling
penalty). Right: validation bits per character against seconds of training -- the learning
curves show whether a tokenizer is better, or only faster to train.
"""),
    code("""
display(Image(filename=comparison.files["comparison.png"]))
"""),
    md("""
And the trade-off behind it: larger vocabularies cover more text per token (left on the x-axis)
-- fewer steps per sentence, more context in each window -- but each token is seen less often
in one book.
"""),
    code("""
rows = table_rows(comparison)
fig, ax = plt.subplots(figsize=(6, 4))
ax.scatter([r["tokens_per_char"] for r in rows], [r["bits_per_char"] for r in rows])
for r in rows:
    ax.annotate(f"{r['tokenizer']} ({r['vocab_size']:,})", (r["tokens_per_char"], r["bits_per_char"]),
                xytext=(4, 4), textcoords="offset points", fontsize=8)
ax.set_xlabel("tokens per character (test text)")
ax.set_ylabel("bits per character (lower is better)")
ax.grid(alpha=0.3)
plt.show()
"""),
    md("""
## Samples

The same prompt and temperature for every tokenizer, cut to the same number of characters.
"""),
    code("""
for row in comparison.rows:
    print(f"--- {row.tokenizer}")
    print(row.sample.strip(), "\\n")
"""),
    md("""
## What to take away

* Compare tokenizations in bits per character (or perplexity per word), never per token.
* Characters can spell anything but spend the model's capacity on spelling; words give the most
  text per step but need a large vocabulary and hide rare words behind `<unk>`; BPE sits in
  between, and the best vocabulary size depends on how much text you have.
* `python -m tasks.tokenizer_sweep` sweeps BPE sizes on one book and plots both curves;
  `wordgen compare` runs this comparison from the command line.
"""),
]


NOTEBOOKS = {"lab_word_generation.ipynb": LAB, "compare_tokenizers.ipynb": COMPARE}


def build(cells) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"  # fixed ids: rebuilding an unchanged notebook changes nothing
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(nb)
    return nb


def main() -> int:
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(cells), HERE / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
