# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Comparing tokenizers fairly
#
# Characters, words, or something in between? **Byte-pair encoding (BPE)** starts from single
# bytes and repeatedly merges the most frequent neighbouring pair into a new token, so a BPE
# vocabulary of a few hundred tokens holds frequent letter pairs and short words, and one of
# several thousand holds most whole words -- while every word stays spellable.
#
# This notebook trains the same LSTM on the same book once per tokenizer, with the same
# budget, and compares them with `wordgen.compare`. The rules of a fair comparison:
#
# * **bits per character**, not loss per token: the model's total surprise on the same test text
#   divided by the same number of characters, whatever a token is;
# * the word model's `<unk>` hides every unknown word behind one token, which makes its numbers
#   look better than they are, so here each `<unk>` is also charged the cost of spelling the word
#   it hides with the character model (`unk_penalty=True`).

# %%
import os

import matplotlib.pyplot as plt
from IPython.display import Image, Markdown, display

from wordgen import ModelConfig, TrainConfig, lab
from wordgen.compare import CompareSettings, compare, summary, table_rows

# The test suite runs this notebook with WORDGEN_FAST=1 (a small play, tiny models, a few steps).
FAST = os.environ.get("WORDGEN_FAST") == "1"
BOOK = "shakespeare:macbeth" if FAST else lab.LAB_CORPUS  # or your own book: "pg11.txt"

if FAST:
    # Test-only: smaller BPE vocabularies for a small play, and a tiny model for 20 steps.
    TOKENIZERS = ["char", "bpe:300", "bpe:1000", lab.WORD_TOKENIZER]
    base = TrainConfig(corpus=BOOK, model=ModelConfig(embedding_dim=32, hidden_size=32, num_layers=1, dropout=0.0),
                       batch_size=8, seq_len=16, max_steps=20, eval_interval=10)
else:
    TOKENIZERS = ["char", "bpe:500", "bpe:2000", "bpe:8000", lab.WORD_TOKENIZER]  # the lab's word tokenizer
    # `wordgen compare`'s model and schedule (TrainConfig's defaults), 60 s per tokenizer.
    base = TrainConfig(corpus=BOOK, time_budget=60, eval_interval=50)

# %% [markdown]
# ## Run the comparison
#
# One model per tokenizer: the same network size, the same batches, the same stopping rule and
# seed. Each run writes an ordinary checkpoint folder (under `runs/compare_tokenizers/runs/`),
# so any of the models can be loaded afterwards with `Bundle.load` or `wordgen generate`.

# %%
settings = CompareSettings(base=base, tokenizers=TOKENIZERS, out="runs/compare_tokenizers",
                           unk_penalty=True, overwrite=True)
comparison = compare(settings, progress=True, log=print)

# %% [markdown]
# ## The table
#
# `bits/char` is the column to compare. `tokens/char` shows how much text one token covers:
# about 1 for characters, about 0.25 for words. `ppl/token` is shown only to make the point that
# it cannot be compared across rows: a word model's per-token perplexity is in the hundreds
# because guessing a word is harder than guessing a letter.

# %%
display(Markdown(summary(comparison)))

# %% [markdown]
# ## The plots
#
# Left: test bits per character per tokenizer (the hatched part is the `<unk>` spelling
# penalty). Right: validation bits per character against seconds of training -- the learning
# curves show whether a tokenizer is better, or only faster to train.

# %%
display(Image(filename=comparison.files["comparison.png"]))

# %% [markdown]
# And the trade-off behind it: larger vocabularies cover more text per token (left on the x-axis)
# -- fewer steps per sentence, more context in each window -- but each token is seen less often
# in one book.

# %%
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

# %% [markdown]
# ## Samples
#
# The same prompt and temperature for every tokenizer, cut to the same number of characters.

# %%
for row in comparison.rows:
    print(f"--- {row.tokenizer}")
    print(row.sample.strip(), "\n")

# %% [markdown]
# ## What to take away
#
# * Compare tokenizations in bits per character (or perplexity per word), never per token.
# * Characters can spell anything but spend the model's capacity on spelling; words give the most
#   text per step but need a large vocabulary and hide rare words behind `<unk>`; BPE sits in
#   between, and the best vocabulary size depends on how much text you have.
# * `python -m wordgen.tasks.tokenizer_sweep` sweeps BPE sizes on one book and plots both curves;
#   `wordgen compare` runs this comparison from the command line.
