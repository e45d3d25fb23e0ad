"""The lab: its settings over the general defaults, then its steps after training (score, samples).

`wordgen lab`, the tasks (wordgen/tasks/) and the notebooks all start from `LAB_OVERRIDES`,
so the lab a student runs from the command line, a script or a notebook is the same
lab. TrainConfig / ModelConfig keep the general defaults of `wordgen train`; this
module holds only what the lab sets differently, and why (the figures behind each
value: docs/development/log.md, "The lab's settings"). After training, all of them
score with `score_validation` and sample with `draw_samples`; they differ only in
how much they print.

Not here: training (wordgen.training), printing (wordgen.cli, wordgen/tasks/), the size rule
(wordgen.training.sizerule), applying settings and marking their source
(wordgen.training.plan).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from wordgen.analysis.textstats import Loop, distinct_n, find_text_loop, text_tokens
from wordgen.config import SampleConfig, TrainConfig
from wordgen.training.plan import apply_settings

if TYPE_CHECKING:
    from wordgen.analysis.copying import Copies, CopyIndex  # numpy: `wordgen --help` reads this module
    from wordgen.evaluate import Metrics

LAB_CORPUS = "shakespeare"  # the built-in corpus: works offline right after install
# Capped: most of the plays' distinct words occur once or twice; the cap keeps the model
# small and the rest become <unk> (its rate is always reported beside the figures).
WORD_TOKENIZER = "word:max_vocab=10000"
LAB_TIME_BUDGET = 150.0  # seconds of training: the whole lab fits in about three minutes on 2 cores
# The lab fixes its corpus, tokenizer, budget, network (1 x 256), windows, optimizer and every
# regulariser (at the size rule's floor); it leaves the output layer to the rule.
LAB_OVERRIDES = {
    "corpus": LAB_CORPUS,
    "tokenizer": WORD_TOKENIZER,
    "out": "runs/lab",
    "time_budget": LAB_TIME_BUDGET,
    # One LSTM layer of 256: with the adaptive softmax that the rule gives 10 000 words it beat
    # 1 x 128 and 2 x 256 in the lab's 150 s.
    "model.embedding_dim": 256,
    "model.hidden_size": 256,
    "model.num_layers": 1,
    "seq_len": 32,  # shorter windows than the recipes': more updates in the same time
    "batch_size": 32,
    # AdamW at 3e-3, which beat 6e-3 for word models in 150 s, rather than the SGD recipe the
    # rule would pick for 10 000 words (measured on a 2 x 384 model, not on this one).
    "optimizer": "adamw",
    "lr": 3e-3,
    "grad_clip": 1.0,
    # The plays are read about twice in 150 s, where the rule's strength is near 0: its floor,
    # fixed, so that the lab does not depend on the rule's FLOP estimate for this network.
    "model.dropout": 0.1,
    "model.input_dropout": 0.1,
    "model.hidden_dropout": 0.1,
    "model.embedding_dropout": 0.0,
    "model.weight_dropout": 0.0,
    "weight_decay": 0.01,
    # Validation during training only picks the best weights, so a slice of the split is
    # enough; the lab then scores the best checkpoint on the whole validation split.
    "eval_tokens": 20_000,
}
# A task given a book other than the plays leaves these to the size rule (read far more
# often, a book needs more than the floor); the output dropout stays the lab's.
OTHER_BOOK_TO_RULE = ("model.input_dropout", "model.hidden_dropout", "model.embedding_dropout",
                      "model.weight_dropout", "weight_decay")
LAB_PROMPT = "ROMEO:\n"
LAB_MAX_TOKENS = 60
# The lesson's point in five settings: greedy loops, low temperature is safe and dull,
# around 1 it reads most like the book, high temperature falls apart.
LAB_TEMPERATURES = (0.3, 0.8, 1.0, 1.3, 1.8)
LAB_TOP_K = 40
LAB_TOP_P = 0.9
# Scoring columns: wider than evaluate's default 16, so long texts run in fewer,
# larger steps; 64 restarts of context in a long text do not show in the figures.
EVAL_COLUMNS = 64


def lab_config() -> tuple[TrainConfig, dict[str, str]]:
    """The lab's TrainConfig (the general defaults with LAB_OVERRIDES), each override marked "lab"."""
    return apply_settings(TrainConfig(), LAB_OVERRIDES, "lab")


def task_config(book: str) -> tuple[TrainConfig, dict[str, str]]:
    """A task's config on `book`: the lab's; on a book other than the plays, OTHER_BOOK_TO_RULE left to the rule."""
    config, sources = lab_config()
    released = dict.fromkeys(() if book == LAB_CORPUS else OTHER_BOOK_TO_RULE)  # None: the rule fills them
    config, _ = apply_settings(config, {"corpus": book, **released}, "task")
    return config, {**{name: s for name, s in sources.items() if name not in released}, "corpus": "task"}


def lab_train_config(**fields) -> TrainConfig:
    """The lab's TrainConfig; keyword arguments replace whole fields (e.g. `time_budget=30`, `model=...`)."""
    return replace(lab_config()[0], **fields)


def lab_samplers(top_k: int = LAB_TOP_K, top_p: float = LAB_TOP_P,
                 temperatures: tuple[float, ...] = LAB_TEMPERATURES) -> list[SampleConfig]:
    """Greedy, each temperature, then top-k and top-p at temperature 1: the lab's samplers in order."""
    samplers = [SampleConfig(greedy=True)]
    samplers += [SampleConfig(temperature=t) for t in temperatures]
    samplers += [SampleConfig(top_k=top_k), SampleConfig(top_p=top_p)]
    for sampler in samplers:
        sampler.validate()  # bad settings fail before minutes of training
    return samplers


@dataclass
class Sample:
    """One sampler's continuation of the prompt, with what textstats sees in it."""

    sampler: SampleConfig
    prompt: str
    text: str  # the prompt followed by the continuation, as generate() returns it
    loop: Loop | None  # the repeating stretch of the continuation, if any
    distinct_2: float  # share of distinct word bigrams in the continuation
    copies: Copies | None = None  # what the continuation shares with the training text, when asked

    @property
    def continuation(self) -> str:
        return self.text[len(self.prompt):]

    def to_dict(self) -> dict:
        loop = None if self.loop is None else {
            "ngram": list(self.loop.ngram), "start_token": self.loop.start, "start_char": self.loop.char_start,
            "repeats": self.loop.repeats,
        }
        return {"sampler": self.sampler.describe(), "text": self.text, "distinct_2": self.distinct_2, "loop": loop,
                "copies": None if self.copies is None else self.copies.to_dict()}


def validation_text(dataset, max_chars: int | None = None) -> str:
    """The validation split as one text, cut to `max_chars` at a line end (None or <= 0: all of it)."""
    from wordgen.data import split_text  # torch: the settings above are read by `wordgen --help`

    text = split_text(dataset["validation"])
    if max_chars is None or max_chars <= 0 or len(text) <= max_chars:
        return text
    end = text.rfind("\n", 0, max_chars)
    return text[: end + 1] if end > 0 else text[:max_chars]


def score_validation(bundle, dataset, max_chars: int | None = None) -> Metrics:
    """Metrics of `bundle` on the validation text (all of it, or its first `max_chars`), any tokenizer."""
    from wordgen.evaluate import evaluate_text

    text = validation_text(dataset, max_chars)
    return evaluate_text(bundle.model, bundle.tokenizer, text, batch_size=EVAL_COLUMNS)


def draw_samples(bundle, prompt: str, samplers: list[SampleConfig], *, max_tokens: int, seed: int,
                 copies_of: CopyIndex | None = None) -> list[Sample]:
    """One continuation of `prompt` per sampler, all with the same seed: where they differ, the sampler did it.

    With `copies_of` (the training text's index) each sample says what its continuation copies from it.
    """
    from wordgen.generation.decode import generate

    samples = []
    for sampler in samplers:
        (text,) = generate(bundle.model, bundle.tokenizer, prompt, max_tokens=max_tokens, sample=sampler, seed=seed)
        continuation = text[len(prompt):]
        samples.append(Sample(sampler=sampler, prompt=prompt, text=text, loop=find_text_loop(continuation),
                              distinct_2=distinct_n(text_tokens(continuation), 2),
                              copies=None if copies_of is None else copies_of.copies(continuation)))
    return samples
