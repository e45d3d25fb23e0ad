"""Scoring a model on a text, and the `<unk>` penalty: what a hidden word costs to spell.

`score_split` / `score_text` give the plain figures of `wordgen.evaluate` (one NLL
total, divided per token, per character and per word) and, with a `Speller`, add
to the total the nats it takes to spell the text behind every `<unk>`: with the
comparison's own character model (`spelling_costs`), or -- when none was trained,
and always for the character model's own `<unk>` -- uniformly over the C
characters seen in training (`uniform_spelling_cost`). The text behind each
`<unk>` comes from the tokenizer itself (`Tokenizer.unk_pieces`).

Not here: training, sizing, tables or files.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from wordgen.compare.records import CompareError, CompareSettings, Row
from wordgen.data import default_cache_dir, row_text
from wordgen.errors import ConfigError
from wordgen.evaluate import IGNORE, Metrics, evaluate_split, evaluate_text
from wordgen.model import LSTMLanguageModel
from wordgen.tokenization import CharTokenizer, Tokenizer


def hidden_pieces(tokenizer: Tokenizer, text: str) -> list[str]:
    """`tokenizer.unk_pieces(text)`, refused when it disagrees with the `<unk>` count.

    A plug-in tokenizer whose pieces and `<unk>` tokens differ in number would
    make the penalty silently wrong; better to stop before training.
    """
    pieces = list(tokenizer.unk_pieces(text))
    if not pieces and tokenizer.unk_id is None:  # nothing can be unknown: no second encode
        return pieces
    expected = tokenizer.count_unk(tokenizer.encode(text))
    if len(pieces) != expected:
        raise CompareError(
            f"the {tokenizer.kind!r} tokenizer produced {expected} <unk> tokens but {len(pieces)} unknown "
            "pieces were found; CompareSettings.unk_penalty cannot be charged exactly"
        )
    return pieces


def uniform_spelling_cost(word: str, num_symbols: int) -> float:
    """Nats to spell `word` one character at a time, each of `num_symbols` equally likely."""
    if num_symbols < 1:
        raise ConfigError(f"a uniform spelling needs at least 1 symbol, got {num_symbols}")
    return len(word) * math.log(num_symbols)


@torch.inference_mode()
def spelling_costs(
    model: LSTMLanguageModel, tokenizer: Tokenizer, words: Sequence[str], *, context: str = " ", batch_size: int = 256
) -> list[float]:
    """Nats to spell each word with a character model: -sum log p(char | context + chars before).

    Every word starts from a fresh (zero) state after `context` -- a single
    space, the usual left neighbour of a word -- and nothing else is charged:
    not the context itself, not what follows the word. A character the model
    never saw costs its p(<unk>). Words are scored in padded batches (N, L);
    padding sits after each word, so it cannot change the word's own cost.
    """
    if not isinstance(tokenizer, CharTokenizer):
        raise CompareError(f"spelling costs need a character-level model, not a {tokenizer.kind!r} one")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    start = tokenizer.encode(context)
    costs: list[float] = []
    for first in range(0, len(words), batch_size):
        seqs = [start + tokenizer.encode(w) for w in words[first : first + batch_size]]
        width = max(len(s) for s in seqs) - 1
        if width < 1:  # only empty words (or no context): nothing to predict
            costs.extend(0.0 for _ in seqs)
            continue
        inputs = torch.zeros(len(seqs), width, dtype=torch.long)  # (N, L)
        targets = torch.full((len(seqs), width), IGNORE, dtype=torch.long)  # (N, L)
        for i, s in enumerate(seqs):
            inputs[i, : len(s) - 1] = torch.tensor(s[:-1])
            targets[i, : len(s) - 1] = torch.tensor(s[1:])
        logits, _ = model(inputs.to(device))  # (N, L, V), zero initial state per row
        nll = F.cross_entropy(
            logits.float().transpose(1, 2), targets.to(device), ignore_index=IGNORE, reduction="none"
        )  # (N, L)
        costs.extend(nll.sum(dim=1).tolist())
    model.train(was_training)
    return costs


@dataclass
class Speller:
    """What an `<unk>` costs: a character model, or a uniform choice among `num_symbols`."""

    num_symbols: int  # C: distinct training characters + 1 (the unseen-character symbol)
    model: LSTMLanguageModel | None = None
    tokenizer: Tokenizer | None = None
    source: str = "uniform"  # the char spec whose model spells, or "uniform"
    _cache: dict[str, float] = field(default_factory=dict, repr=False)

    def describe(self) -> str:
        if self.model is None:
            return f"uniform over C = {self.num_symbols} characters: len(word) * ln C"
        return f"spelled by the `{self.source}` model, from a fresh state after one space"

    def cost(self, pieces: Iterable[str]) -> float:
        """Total nats for all `pieces` (repeated words are scored once)."""
        pieces = list(pieces)
        new = sorted(set(pieces) - set(self._cache))
        if self.model is None:
            self._cache.update((w, uniform_spelling_cost(w, self.num_symbols)) for w in new)
        elif new:
            self._cache.update(zip(new, spelling_costs(self.model, self.tokenizer, new)))
        return math.fsum(self._cache[p] for p in pieces)


@dataclass
class Score:
    """One model on one text: the plain metrics, and what `<unk>` spelling adds."""

    raw: Metrics  # exactly what `wordgen evaluate` reports
    penalty: float = 0.0  # nats added by the <unk> penalty (0 when it is off)
    penalty_by: str | None = None  # Speller.describe(), or None when the penalty is off

    @property
    def metrics(self) -> Metrics:
        """The figures a report shows: per token, per char and per word from one total."""
        return dataclasses.replace(self.raw, nll=self.raw.nll + self.penalty)

    def to_dict(self) -> dict:
        m = self.metrics
        return {
            **m.to_dict(),
            "tokens_per_char": m.num_tokens / max(1, m.num_chars),
            "raw_nll": self.raw.nll,
            "raw_bits_per_char": self.raw.bits_per_char,
            "unk_penalty_nats": self.penalty,
            "unk_penalty_bits_per_char": self.penalty / math.log(2) / max(1, m.num_chars),
            "unk_penalty_by": self.penalty_by,
        }


def score_split(model, tokenizer: Tokenizer, split, speller: Speller | None = None) -> Score:
    """Score a corpus split (rows joined as `wordgen.data` joins them)."""
    # Through the token store: the split is encoded once per tokenizer and scored from the map.
    raw = evaluate_split(model, tokenizer, split, cache_dir=default_cache_dir())
    if speller is None:
        return Score(raw)
    pieces = [p for text in split["text"] for p in hidden_pieces(tokenizer, row_text(text))]
    return Score(raw, speller.cost(pieces), speller.describe())


def score_text(model, tokenizer: Tokenizer, text: str, speller: Speller | None = None) -> Score:
    """Score one string, counted exactly as given."""
    raw = evaluate_text(model, tokenizer, text)
    if speller is None:
        return Score(raw)
    return Score(raw, speller.cost(hidden_pieces(tokenizer, text)), speller.describe())


def score_rows(rows: list[Row], bundles: dict, dataset, eval_text: str | None, settings: CompareSettings) -> str | None:
    """Charge the `<unk>` penalty on each row's test score and score the extra text.

    `bundles` maps (spec, seed) to the trained bundle of that run.

    Runs after every model is trained, because the character model that spells
    may sit anywhere in the list. Returns how `<unk>` was charged, in words (None
    when the penalty is off).
    """
    note, uniform = None, None
    if settings.unk_penalty:
        uniform = Speller(CharTokenizer.train_from_texts(dataset["train"]["text"]).vocab_size)
        char_spec = next((r.tokenizer for r in rows
                          if isinstance(bundles[r.tokenizer, r.seed].tokenizer, CharTokenizer)), None)
        # One speller per seed: each run's <unk> is spelled by the char model trained with its seed.
        spellers = {r.seed: Speller(uniform.num_symbols, bundles[char_spec, r.seed].model,
                                    bundles[char_spec, r.seed].tokenizer, char_spec) if char_spec else uniform
                    for r in rows}
        note = (f"each <unk> is charged the cost of spelling the text it hides: {spellers[rows[0].seed].describe()}"
                + (" (the char model of the same seed)" if char_spec and settings.seeds > 1 else "")
                + (f"; the `{char_spec}` model's own <unk> characters: {uniform.describe()}" if char_spec else ""))
    for row in rows:
        bundle = bundles[row.tokenizer, row.seed]
        here = None
        if settings.unk_penalty:
            # A character model cannot spell its own unseen characters: those go uniform.
            here = uniform if isinstance(bundle.tokenizer, CharTokenizer) else spellers[row.seed]
            pieces = [p for text in dataset["test"]["text"] for p in hidden_pieces(bundle.tokenizer, row_text(text))]
            row.test = Score(row.test.raw, here.cost(pieces), here.describe())
        if eval_text is not None:
            row.eval_text = score_text(bundle.model, bundle.tokenizer, eval_text, here)
    return note
