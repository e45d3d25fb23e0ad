"""The lab's defaults, in one place: corpus, tokenizer, network, schedule, prompt and samplers.

`wordgen lab`, the tasks (tasks/) and the notebooks all read these, so the lab a
student runs from the command line, from a script or from a notebook is the same
lab. TrainConfig / ModelConfig keep the general defaults of `wordgen train`; this
module holds only what the lab sets differently, and why.

Not here: anything that trains or prints (lab.py runs the lab, cli.py prints it).
"""

from __future__ import annotations

from wordgen.config import ModelConfig, SampleConfig, TrainConfig

LAB_CORPUS = "shakespeare"  # the built-in corpus: works offline right after install
# A word vocabulary capped at the 10 000 most frequent words: the plays use ~32 000
# distinct words, most of them once or twice; a cap keeps the model small, and the rest
# become <unk> (its rate is always reported beside the figures).
WORD_TOKENIZER = "word:max_vocab=10000"
LAB_TIME_BUDGET = 150.0  # seconds of training: the lab fits in about three minutes on 2 cores
# The lab's network: one LSTM layer of 256. Its output layer is left to the size rule, which
# gives the 10 000-word vocabulary the adaptive softmax (Grave et al. 2017; the embedding then
# has its own matrix) and a character vocabulary the full one, tied. A full 10 000-way output
# layer is most of each step on 2 CPU cores; the adaptive one computes the rare-word clusters
# only for the tokens in them, so the same 150 s read about twice the text. `wordgen lab` on
# 2 cores, validation bits per character (seeds 0 / 1, one run each, the same quiet hour):
#   1 x 128, full softmax, tied (the lab before)      1.715 / 1.723
#   1 x 128, adaptive                                 1.587
#   1 x 256, adaptive (this)                          1.565 / 1.568
#   2 x 256, adaptive                                 2.171 (seed 0: it trained badly; not explored)
LAB_EMBEDDING = 256
LAB_HIDDEN = 256
LAB_LAYERS = 1
LAB_SOFTMAX = None  # the size rule: adaptive from 10 000 tokens (wordgen.training.sizerule.ADAPTIVE_VOCAB)
LAB_SEQ_LEN = 32  # tokens per window: shorter windows, more updates in the same time
LAB_BATCH = 32
# The lab's schedule, fixed rather than left to the size rule (which would pick SGD at lr 20
# for a 10 000-word vocabulary, measured on a 2 x 384 model, not on this one): AdamW at 3e-3,
# which beat 6e-3 for word models in 150 s (benchmarks/README.md, "the search behind the
# defaults"), clip 1.
LAB_OPTIMIZER = "adamw"
LAB_LR = 3e-3
LAB_CLIP = 1.0
# Regularisation: the plays are read about 2.4 times in 150 s (2.66 M tokens of 1.12 M in the
# README's run), where the size rule's strength is still low (0.13); its floor values are
# fixed here so that the lab does not depend on the rule's FLOP estimate for this network.
# A task given another --book leaves all but `dropout` to the rule (tasks/__init__.py).
LAB_DROPOUT = 0.1
LAB_REGULARISERS = dict(dropout=LAB_DROPOUT, input_dropout=0.1, hidden_dropout=0.1, embedding_dropout=0.0,
                        weight_dropout=0.0)
LAB_WEIGHT_DECAY = 0.01
# Validation during training only picks the best weights, so a slice of the split is
# enough; the lab then scores the best checkpoint on the whole validation split.
LAB_EVAL_TOKENS = 20_000

LAB_PROMPT = "ROMEO:\n"
LAB_MAX_TOKENS = 60
# The lesson's point in five settings: greedy loops, low temperature is safe and dull,
# around 1 it reads most like the book, high temperature falls apart.
LAB_TEMPERATURES = (0.3, 0.8, 1.0, 1.3, 1.8)
LAB_TOP_K = 40
LAB_TOP_P = 0.9


def lab_model() -> ModelConfig:
    """A fresh ModelConfig of the lab's network (train() fills in the vocabulary size)."""
    return ModelConfig(embedding_dim=LAB_EMBEDDING, hidden_size=LAB_HIDDEN, num_layers=LAB_LAYERS,
                       softmax=LAB_SOFTMAX, **LAB_REGULARISERS)


def lab_train_config(**overrides) -> TrainConfig:
    """The lab's TrainConfig; keyword arguments override any field (e.g. `time_budget=30`)."""
    settings = dict(corpus=LAB_CORPUS, tokenizer=WORD_TOKENIZER, out="runs/lab", model=lab_model(),
                    seq_len=LAB_SEQ_LEN, batch_size=LAB_BATCH, optimizer=LAB_OPTIMIZER, lr=LAB_LR, grad_clip=LAB_CLIP,
                    weight_decay=LAB_WEIGHT_DECAY, time_budget=LAB_TIME_BUDGET, eval_tokens=LAB_EVAL_TOKENS)
    settings.update(overrides)
    return TrainConfig(**settings)


def lab_samplers(top_k: int = LAB_TOP_K, top_p: float = LAB_TOP_P,
                 temperatures: tuple[float, ...] = LAB_TEMPERATURES) -> list[SampleConfig]:
    """Greedy, each temperature, then top-k and top-p at temperature 1: the lab's samplers in order."""
    samplers = [SampleConfig(greedy=True)]
    samplers += [SampleConfig(temperature=t) for t in temperatures]
    samplers += [SampleConfig(top_k=top_k), SampleConfig(top_p=top_p)]
    for sampler in samplers:
        sampler.validate()  # bad settings fail before minutes of training
    return samplers
