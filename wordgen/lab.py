"""The lab's steps after training: score on unseen text, then one sample per sampler, loops found.

`wordgen lab` and `python -m tasks.word_level_book` are the same lab: both train
with `presets.lab_train_config`, score with `score_validation` and sample with
`draw_samples`; they differ only in how much they print. The notebooks call the
same functions.

Not here: training (train.py), printing (cli.py, tasks/), the defaults (presets.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from wordgen.analysis.textstats import Loop, distinct_n, find_text_loop, text_tokens
from wordgen.config import SampleConfig
from wordgen.data import split_text
from wordgen.evaluate import Metrics, evaluate_text
from wordgen.generation.decode import generate

# Scoring columns: wider than evaluate's default 16, so long texts run in fewer,
# larger steps; 64 restarts of context in a long text do not show in the figures.
EVAL_COLUMNS = 64


@dataclass
class Sample:
    """One sampler's continuation of the prompt, with what textstats sees in it."""

    sampler: SampleConfig
    prompt: str
    text: str  # the prompt followed by the continuation, as generate() returns it
    loop: Loop | None  # the repeating stretch of the continuation, if any
    distinct_2: float  # share of distinct word bigrams in the continuation

    @property
    def continuation(self) -> str:
        return self.text[len(self.prompt):]

    def to_dict(self) -> dict:
        loop = None if self.loop is None else {
            "ngram": list(self.loop.ngram), "start_token": self.loop.start, "start_char": self.loop.char_start,
            "repeats": self.loop.repeats,
        }
        return {"sampler": self.sampler.describe(), "text": self.text, "distinct_2": self.distinct_2, "loop": loop}


def validation_text(dataset, max_chars: int | None = None) -> str:
    """The validation split as one text, cut to `max_chars` at a line end (None or <= 0: all of it)."""
    text = split_text(dataset["validation"])
    if max_chars is None or max_chars <= 0 or len(text) <= max_chars:
        return text
    end = text.rfind("\n", 0, max_chars)
    return text[: end + 1] if end > 0 else text[:max_chars]


def score_validation(bundle, dataset, max_chars: int | None = None) -> Metrics:
    """Metrics of `bundle` on the validation text (all of it, or its first `max_chars`), any tokenizer."""
    text = validation_text(dataset, max_chars)
    return evaluate_text(bundle.model, bundle.tokenizer, text, batch_size=EVAL_COLUMNS)


def draw_samples(bundle, prompt: str, samplers: list[SampleConfig], *, max_tokens: int, seed: int) -> list[Sample]:
    """One continuation of `prompt` per sampler, all with the same seed: where they differ, the sampler did it."""
    samples = []
    for sampler in samplers:
        (text,) = generate(bundle.model, bundle.tokenizer, prompt, max_tokens=max_tokens, sample=sampler, seed=seed)
        continuation = text[len(prompt):]
        samples.append(Sample(sampler=sampler, prompt=prompt, text=text, loop=find_text_loop(continuation),
                              distinct_2=distinct_n(text_tokens(continuation), 2)))
    return samples
