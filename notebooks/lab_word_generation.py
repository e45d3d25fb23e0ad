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
# # The lab: a word-level text generator from any book
#
# In the lesson you trained a **character-level** LSTM on news headlines and saw two things:
# greedy decoding soon repeats itself in a loop, and sampling with a *temperature* gives livelier
# text that turns into nonsense when the temperature is too high. The lab asks you to
# *take any book and use it as a dataset to train a word-level text generator*.
#
# This notebook does that with `wordgen`, one step per section:
#
# 1. load a book,
# 2. choose a tokenizer (characters or words),
# 3. train, with a live progress bar,
# 4. plot the learning curve,
# 5. generate with each sampler -- greedy, temperature, top-k, top-p,
# 6. compare with the character-level model of the lesson,
# 7. start from a base model that has read many books, and compare.
#
# Each step is a few lines; the work happens in the `wordgen` package, whose source you can
# read when you want to know how something is done.

# %%
import os

import matplotlib.pyplot as plt

from wordgen import SampleConfig, generate, lab, load_corpus, train, train_tokenizer
from wordgen.analysis.textstats import NgramIndex, describe_ngram
from wordgen.lab import draw_samples, score_validation
from wordgen.tasks import book_settings, default_prompt

# The lab's settings (book, tokenizer, network, samplers, prompt) come from wordgen.lab and
# wordgen.tasks, the same ones `wordgen lab --corpus BOOK` and
# `python -m wordgen.tasks.word_level_book --book BOOK` use. The test suite runs this notebook
# with WORDGEN_FAST=1: a small play and a tiny model, so that it finishes in seconds. Leave it
# unset for the real thing (three models of the lab's 150 s each: about 9 minutes on a laptop).
FAST = os.environ.get("WORDGEN_FAST") == "1"
BOOK = "shakespeare:macbeth" if FAST else lab.LAB_CORPUS  # or your own book: "pg11.txt"

# %% [markdown]
# ## 1. Load a book
#
# `load_corpus` takes a built-in corpus (`shakespeare`, or a single play such as
# `shakespeare:macbeth`), the path of a `.txt` file, or a Hugging Face dataset. A book
# downloaded from Project Gutenberg works as it is: its licence header and footer are removed.
#
# It returns three **splits**. The model learns from `train`; `validation` is text it never
# sees, which tells us whether it learned the language or only memorised the book; `test` is
# kept for a final, untouched measurement.
#
# To use your own book, download for example *Alice's Adventures in Wonderland* from
# Project Gutenberg as "Plain Text UTF-8" and set `BOOK = "pg11.txt"` above.

# %%
dataset = load_corpus(BOOK)
for split in ("train", "validation", "test"):
    chars = sum(len(t) for t in dataset[split]["text"])
    print(f"{split:>10}: {chars:>9,} characters")
print()
print(dataset["train"]["text"][0][:400])

# %% [markdown]
# ## 2. Characters or words?
#
# The lesson's model reads one character at a time: about 70 different symbols, and every word
# has to be spelled out letter by letter. A **word tokenizer** makes each word and each
# punctuation mark one token, so a single prediction produces a whole word. The price: the
# vocabulary is large (we keep the 10,000 most frequent words), and every word outside it
# becomes the one token `<unk>` ("unknown").

# %%
train_texts = dataset["train"]["text"]
char_tokenizer = train_tokenizer("char", train_texts)
word_tokenizer = train_tokenizer(lab.WORD_TOKENIZER, train_texts)

line = next(l for l in train_texts[0].splitlines() if len(l.split()) > 5)
for name, tok in (("characters", char_tokenizer), ("words", word_tokenizer)):
    ids = tok.encode(line)
    print(f"{name}: {tok.vocab_size:,} tokens in the vocabulary; the line becomes {len(ids)} tokens")
    print("   ", [tok.id_to_token(i) for i in ids][:20])

validation_ids = word_tokenizer.encode("\n".join(dataset["validation"]["text"]))
print(f"\nshare of validation words that are <unk>: {word_tokenizer.count_unk(validation_ids) / len(validation_ids):.1%}")


# %% [markdown]
# ## 3. Train
#
# The network is the lesson's: embedding -> LSTM -> a linear layer that scores every token of
# the vocabulary. Training reads the book as `batch_size` long streams side by side, `seq_len`
# tokens at a time, carrying the LSTM's memory from one window to the next (truncated
# back-propagation through time). We stop after a time budget. The progress bar shows the
# training loss and the bits per character as training goes.

# %%
def lab_config(tokenizer: str, out: str, init: str | None = None):
    """The lab's TrainConfig for BOOK with one tokenizer, and where each setting came from.

    `book_settings` is what `wordgen lab --corpus BOOK` runs; a fresh config per run (train()
    fills in the vocabulary size). wordgen/lab.py says why its network is smaller than
    `wordgen train`'s defaults. With `init` (section 7) the run starts from that base model,
    which brings its own network: the sizes below are then the base's.
    """
    task = {"tokenizer": tokenizer, "out": out, **({"init": init} if init else {})}
    if FAST:
        # Test-only tiny model: 30 steps of a 32-wide LSTM, just enough to run every cell.
        task.update({"model.embedding_dim": 32, "model.hidden_size": 32, "model.num_layers": 1,
                     "model.dropout": 0.0, "batch_size": 8, "seq_len": 16, "max_steps": 30, "eval_interval": 10})
    return book_settings(BOOK, task=task)


word_config, word_sources = lab_config(lab.WORD_TOKENIZER, "runs/notebook/word")
net = word_config.model
print(f"embedding {net.embedding_dim}, hidden {net.hidden_size}, {net.num_layers} layer(s); "
      f"{word_config.seq_len}-token windows, learning rate {word_config.lr:g}")
word_run = train(word_config, sources=word_sources, overwrite=True, progress=True)
word_model, word_tok = word_run.bundle.model, word_run.bundle.tokenizer
print(f"{word_run.steps} steps, {word_run.tokens_seen:,} tokens in {word_run.seconds:.0f} s; "
      f"{word_model.num_parameters():,} parameters")

# %% [markdown]
# ## 4. The learning curve
#
# The loss per token cannot be compared between a character model and a word model (a word is
# harder to guess than a letter, but there are fewer of them), so we plot **bits per
# character**: the model's total surprise on a text, divided by the number of characters in it.
# Training bits per character are measured on the batches just trained on; validation bits per
# character on text the model never sees. While both fall, the model is learning; when only the
# training curve still falls, it has started to memorise the book.

# %%
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

metrics = score_validation(word_run.bundle, word_run.dataset)  # the whole validation split
print(f"validation: {metrics.bits_per_char:.3f} bits per character, perplexity per word {metrics.ppl_word:.1f}, "
      f"<unk> rate {metrics.unk_rate:.1%}")

# %% [markdown]
# The `<unk>` rate matters: all unknown words share one token, and guessing "some word I don't
# know" is much easier than guessing *which* one, so a word model's figures are a little
# optimistic by about that share.
#
# ## 5. Generate
#
# ### Greedy decoding
#
# Greedy decoding always takes the most likely next word. The model's memory then tends to come
# back to a state it was already in, and from there the same words follow again: a loop.
# `draw_samples` looks for one in each sample it draws (with `wordgen.analysis.textstats.find_text_loop`):
# the longest stretch that repeats one n-gram at least three times, and where it starts (marked
# below).

# %%
# The prompt of `wordgen lab`: "ROMEO:\n" on the plays, else the opening lines of the book's
# validation text. "" starts at a new line; with your own book, try a phrase from it.
PROMPT = default_prompt(BOOK, dataset)
SEED = word_config.seed  # the lab's: every sampler draws with the same seed
LENGTH = lab.LAB_MAX_TOKENS  # tokens per sample

(greedy,) = draw_samples(word_run.bundle, PROMPT, [SampleConfig(greedy=True)], max_tokens=LENGTH, seed=SEED)
loop = greedy.loop
if loop is None:
    print(greedy.text)
    print(f"\n-> no loop within {LENGTH} tokens")
else:
    cut = len(PROMPT) + loop.char_start
    print(greedy.text[:cut] + " [LOOP STARTS HERE] " + greedy.text[cut:])
    print(f"\n-> from token {loop.start + 1} on, '{describe_ngram(loop.ngram)}' repeats {loop.repeats:.1f} times")

# %% [markdown]
# ### Temperature
#
# Sampling draws the next word at random from the model's probabilities instead. Dividing the
# scores by a **temperature** T before the softmax reshapes those probabilities: T < 1 sharpens
# them towards the greedy choice, T > 1 flattens them so that rare words become likely. The
# share of distinct bigrams measures repetition: near 0 for a loop, near 1 when nothing repeats.

# %%
samplers = [SampleConfig(temperature=t) for t in lab.LAB_TEMPERATURES]
for sample in draw_samples(word_run.bundle, PROMPT, samplers, max_tokens=LENGTH, seed=SEED):
    print(f"--- {sample.sampler.describe()}  (distinct bigrams {sample.distinct_2:.0%})")
    print(sample.text.strip(), "\n")

# %% [markdown]
# ### Top-k and top-p
#
# Two ways to keep the variety of sampling without its worst draws: **top-k** samples only among
# the k most likely words; **top-p** (nucleus sampling) among the smallest set of words whose
# probabilities add up to p, so the set is small when the model is sure and large when it is not.

# %%
samplers = [SampleConfig(top_k=lab.LAB_TOP_K), SampleConfig(top_p=lab.LAB_TOP_P)]
for sample in draw_samples(word_run.bundle, PROMPT, samplers, max_tokens=LENGTH, seed=SEED):
    print(f"--- {sample.sampler.describe()}\n{sample.text.strip()}\n")

# %% [markdown]
# ## 6. Compare with the character model
#
# Now the lesson's model on the same book: the same network and the same budget, only the
# tokenizer changes. Bits per character compare the two directly. For the samples, we count the
# share of their words that occur anywhere in the book: a character model can invent words, a
# word model cannot.

# %%
char_config, char_sources = lab_config("char", "runs/notebook/char")
char_run = train(char_config, sources=char_sources, overwrite=True, progress=True)
char_model, char_tok = char_run.bundle.model, char_run.bundle.tokenizer
char_metrics = score_validation(char_run.bundle, char_run.dataset)

book_words = NgramIndex.from_texts(train_texts)
print(f"{'':12}{'bits/char':>10}{'words in book':>15}")
for name, model, tok, m, length in (("characters", char_model, char_tok, char_metrics, 300),
                                    ("words", word_model, word_tok, metrics, 70)):
    (text,) = generate(model, tok, PROMPT, max_tokens=length, sample=SampleConfig(temperature=0.8), seed=SEED)
    print(f"{name:12}{m.bits_per_char:>10.3f}{book_words.seen_share(text):>15.0%}")
    print(text.strip()[:300], "\n")

# %% [markdown]
# ## 7. Start from a base model
#
# Everything the models above know of English comes from this one book. wordgen ships **base
# models** that have read 72 Project Gutenberg books (`base:word` with words, `base:bpe` with BPE
# pieces; each folder under `wordgen/bases/` has a model card). **Fine-tuning** starts a run from a
# base's weights instead of random ones: the base keeps its network, and its vocabulary grows by
# the words of your book it lacks, so fewer words are `<unk>`. Below, `base:word` learns the same
# book for the same budget as the word model of section 3, and the two are compared on the same
# validation text and prompt. `python -m wordgen.tasks.word_level_book` runs this comparison
# too, with every sampler.

# %%
BASE = "base:word"
tuned_config, tuned_sources = lab_config(lab.WORD_TOKENIZER, "runs/notebook/finetuned", init=BASE)
tuned_run = train(tuned_config, sources=tuned_sources, dataset=word_run.dataset, overwrite=True, progress=True)
tuned_metrics = score_validation(tuned_run.bundle, tuned_run.dataset)
print(tuned_run.growth.describe())

runs = (("from scratch", word_run, metrics), (f"fine-tuned from {BASE}", tuned_run, tuned_metrics))
print(f"\n{'':28}{'bits/char':>10}{'ppl/word':>10}{'<unk>':>8}")
for name, run, m in runs:
    print(f"{name:28}{m.bits_per_char:>10.3f}{m.ppl_word:>10.1f}{m.unk_rate:>8.1%}")
for name, run, _ in runs:
    (sample,) = draw_samples(run.bundle, PROMPT, [SampleConfig(temperature=0.8)], max_tokens=LENGTH, seed=SEED)
    print(f"\n--- {name}, temperature 0.8\n{sample.text.strip()}")

# %% [markdown]
# ## What to take away
#
# * **Greedy decoding loops**; sampling with a temperature around 0.8-1.0 gives varied text;
#   high temperatures give word salad (for a word model) or invented words (for a character model).
# * A word model writes only real words and sees more context per step, but needs a large
#   vocabulary and hides rare words behind `<unk>`; a character model can write anything and must
#   first learn to spell.
# * Compare models across tokenizers in **bits per character** (or perplexity per *word*), never in
#   loss per token.
# * A **base model** brings what many books taught it. On *Frankenstein*, 150 s of fine-tuning
#   `base:word` gave 1.519 bits per character against 2.138 from scratch, every `<unk>` charged
#   the cost of spelling its word (1.427 against 1.657 with `<unk>` free; docs/development/log.md,
#   "The suite with the bases"); on your book, section 7 tells.
#
# Next: the tasks in `wordgen.tasks` measure each of these at a larger scale
# (`python -m wordgen.tasks.temperature_study`, `python -m wordgen.tasks.char_vs_word`, ...), and
# `compare_tokenizers.ipynb` compares character, word and BPE tokenizers side by side.
