"""Score a model on held-out text in units that compare across tokenizations.

One number is measured -- the total negative log-likelihood (NLL, in nats) of
the text under the model -- and three are derived from it:

* perplexity per token  = exp(NLL / tokens)     only comparable within one tokenizer;
* bits per character    = NLL / ln 2 / characters of the original text;
* perplexity per word   = exp(NLL / whitespace-separated words of the original text).

Per-token perplexity of a 65-symbol character model and of a 10 000-word model
measure different things; the per-character and per-word figures divide the
same total by a count that does not depend on the tokenizer (nanochat reports
bits per byte for the same reason). A word tokenizer maps every unseen word to
one `<unk>` token whose probability covers all of them at once, which makes its
figures optimistic: the `<unk>` rate is reported beside them.

Every token except the first is predicted from all the tokens before it in its
column; the first token of the text has no context and is charged a uniform
ln(V), so the total covers every token of the text.

`continuation_log_likelihood` is the model's own surprise at a continuation it
wrote: its mean log-probability per token at temperature 1. `score_tokens`
splits the total of one text into its tokens (the surprisal of each, for a
heat map) with the same three figures beside it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from wordgen.data import TokenStream, encode_split
from wordgen.generation.cache import Cache, Memory, block_nll
from wordgen.model import IGNORE, LSTMLanguageModel
from wordgen.tokenization import START_TEXT, Tokenizer

CORPUS_SPLITS = ("train", "validation", "test")  # the order a corpus's text is joined back in


@dataclass
class Metrics:
    nll: float  # total negative log-likelihood in nats
    num_tokens: int
    num_chars: int
    num_words: int
    num_unk: int = 0

    @property
    def loss(self) -> float:
        """Mean NLL per token in nats (the training loss)."""
        return self.nll / max(1, self.num_tokens)

    @property
    def ppl_token(self) -> float:
        return math.exp(min(self.loss, 700.0))

    @property
    def bits_per_char(self) -> float:
        return self.nll / math.log(2) / max(1, self.num_chars)

    @property
    def ppl_word(self) -> float:
        return math.exp(min(self.nll / max(1, self.num_words), 700.0))

    @property
    def unk_rate(self) -> float:
        return self.num_unk / max(1, self.num_tokens)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(
            loss=self.loss,
            ppl_token=self.ppl_token,
            bits_per_char=self.bits_per_char,
            ppl_word=self.ppl_word,
            unk_rate=self.unk_rate,
        )
        return d


@torch.inference_mode()
def total_nll(
    model: LSTMLanguageModel, ids, batch_size: int = 16, seq_len: int = 256, *, rank: int = 0, world_size: int = 1,
    cache: Cache | None = None,
) -> float:
    """Sum of -log p(token | previous tokens) in nats over a stream ids (N,).

    `ids` is a tensor or a numpy array (a memory-mapped token store). The N - 1
    predictions are cut into `batch_size` contiguous columns that run in parallel
    (each with its own carried state); the last column is padded with ignored
    targets. The first token is charged ln(V). Only the (B, T) window being
    scored is ever copied out of `ids`.

    rank / world_size share the columns between processes (column c goes to
    rank c % world_size, the ln(V) to rank 0): the sum of every rank's result is
    the total, whatever the number of processes.

    With a neural `cache` (wordgen.generation.cache) each column keeps its own, and the
    columns are made at least four cache windows long (fewer of them), so most
    tokens see a full window.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    n = len(ids) - 1
    nll = math.log(model.config.vocab_size) if len(ids) and rank == 0 else 0.0
    if cache is not None:
        batch_size = min(batch_size, n // (4 * cache.window))
    batch_size = max(1, min(batch_size, n))
    length = -(-n // batch_size)  # ceil(n / B): column c predicts from positions c*L .. c*L + L - 1
    starts = np.arange(rank, batch_size, world_size) * length  # (b,) this rank's columns
    if n <= 0 or not len(starts):
        model.train(was_training)
        return nll
    state, memory = None, (Memory(cache) if cache is not None else None)
    for pos in range(0, length, seq_len):
        t = min(seq_len, length - pos)
        where = starts[:, None] + pos + np.arange(t + 1)  # (b, T + 1) stream positions
        block = _gather(ids, np.minimum(where, n)).to(device)  # (b, T + 1)
        targets = block[:, 1:].clone()  # (b, T)
        targets[torch.from_numpy(where[:, :t] >= n).to(device)] = IGNORE  # past the end: padding
        # block_nll, not model(...): the adaptive softmax never builds (B, T, V) scores there.
        token_nll, state = block_nll(model, block[:, :t], targets, state, memory)  # (b, T)
        nll += token_nll.double().sum().item()
    model.train(was_training)
    return nll


def _gather(ids, where: np.ndarray) -> torch.Tensor:
    """ids[where] as an int64 tensor, for a tensor or a numpy (memory-mapped) stream."""
    if isinstance(ids, torch.Tensor):
        return ids[torch.from_numpy(where)].long()
    return torch.from_numpy(np.asarray(ids[where], dtype=np.int64))


def evaluate_stream(model: LSTMLanguageModel, stream: TokenStream, **kwargs) -> Metrics:
    """Metrics over a whole encoded split (see `wordgen.data.encode_split`)."""
    return Metrics(
        nll=total_nll(model, stream.ids, **kwargs),
        num_tokens=len(stream),
        num_chars=stream.num_chars,
        num_words=stream.num_words,
        num_unk=stream.num_unk,
    )


def evaluate_prefix(model: LSTMLanguageModel, stream: TokenStream, max_tokens: int | None, *, rank: int = 0,
                    world_size: int = 1) -> Metrics:
    """Metrics of the first `max_tokens` tokens of a stream (all of it when None or shorter): training's quick checks.

    A capped check converts with the whole split's characters (and words) per token,
    scaled by the share of tokens read; evaluate_stream on the whole split needs no
    such estimate. rank / world_size: this process's share of the columns (see
    `total_nll`); its `nll` is then a part, which the caller adds up over the ranks.
    """
    capped = max_tokens is not None and len(stream) > max_tokens
    ids = stream.ids[:max_tokens] if capped else stream.ids  # (N',)
    nll = total_nll(model, ids, rank=rank, world_size=world_size)
    if not capped:
        return Metrics(nll=nll, num_tokens=len(stream), num_chars=stream.num_chars, num_words=stream.num_words,
                       num_unk=stream.num_unk)
    share = len(ids) / len(stream)
    return Metrics(nll=nll, num_tokens=len(ids), num_chars=round(stream.num_chars * share),
                   num_words=round(stream.num_words * share), num_unk=round(stream.num_unk * share))


def evaluate_split(model: LSTMLanguageModel, tokenizer: Tokenizer, split, *, cache_dir=None, **kwargs) -> Metrics:
    """Metrics over a split (`datasets.Dataset` or `IterableDataset`) with a `text` column.

    With `cache_dir` the split is encoded into (or read from) a token store there,
    so a large split is scored from a memory map instead of from memory.
    """
    return evaluate_stream(model, encode_split(split, tokenizer, cache_dir), **kwargs)


def evaluate_corpus(model: LSTMLanguageModel, tokenizer: Tokenizer, dataset, **kwargs) -> Metrics:
    """Metrics over all of a corpus: its train, validation and test splits joined, in that order, as one stream.

    For a text that is not the model's own corpus the user means the whole text,
    not the last 5 % of it; a single file cut 90 / 5 / 5 joins back to itself.
    """
    streams = [encode_split(dataset[name], tokenizer) for name in CORPUS_SPLITS if name in dataset]
    ids = np.concatenate([s.ids for s in streams])  # (N,) uint16/uint32: 2-4 bytes a token
    return Metrics(
        nll=total_nll(model, ids, **kwargs),
        num_tokens=len(ids),
        num_chars=sum(s.num_chars for s in streams),
        num_words=sum(s.num_words for s in streams),
        num_unk=sum(s.num_unk for s in streams),
    )


def evaluate_text(model: LSTMLanguageModel, tokenizer: Tokenizer, text: str, **kwargs) -> Metrics:
    """Metrics over one string, counted exactly as given (no newline added)."""
    ids = tokenizer.encode(text)
    return Metrics(
        nll=total_nll(model, torch.tensor(ids, dtype=torch.long), **kwargs),
        num_tokens=len(ids),
        num_chars=len(text),
        num_words=len(text.split()),
        num_unk=tokenizer.count_unk(ids),
    )


def continuation_log_likelihood(model: LSTMLanguageModel, tokenizer: Tokenizer, prompt: str, text: str) -> float:
    """Mean log-probability (nats per token) that `model` gives the continuation of `prompt` in `text`.

    `text` is what `wordgen.generation.decode.generate` returns: the prompt followed by
    the continuation. The continuation is re-encoded after the prompt's own ids
    and scored at temperature 1 (the model's real distribution, whatever
    temperature drew it), each token given everything before it. An empty
    prompt stands for a new line, as in generation. nan when there is no
    continuation.
    """
    if not text.startswith(prompt):
        raise ValueError("text must start with the prompt (pass what generate() returned)")
    prompt_ids = tokenizer.encode(prompt if prompt else START_TEXT)
    continuation_ids = tokenizer.encode(text[len(prompt) :])
    if not continuation_ids:
        return math.nan
    full = torch.tensor(prompt_ids + continuation_ids, dtype=torch.long)  # (P + C,)
    # batch_size=1: one column, so every token is scored with its whole history;
    # the prompt's own share is the same in both sums and cancels.
    nll = total_nll(model, full, batch_size=1) - total_nll(model, full[: len(prompt_ids)], batch_size=1)
    return -nll / len(continuation_ids)


@dataclass
class TokenScores:
    """One text scored token by token: `nll[i]` is -ln p(ids[i] | ids[:i]) in nats."""

    ids: list[int]
    nll: list[float] = field(repr=False)  # the first token is charged ln(V), as in `total_nll`
    metrics: Metrics  # over the whole text: nll is sum(self.nll)


@torch.inference_mode()
def score_tokens(model: LSTMLanguageModel, tokenizer: Tokenizer, text: str, seq_len: int = 256,
                 cache: Cache | None = None) -> TokenScores:
    """The surprisal of every token of `text`, each given all the tokens before it.

    One column (batch 1), so every token sees its whole history and the sum is
    `total_nll(..., batch_size=1)`; `metrics` counts the text exactly as given,
    as `evaluate_text` does. The scores come `seq_len` tokens at a time with the
    state carried, so a long text never builds one (T, V) block.
    """
    ids = tokenizer.encode(text)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    nll = [math.log(model.config.vocab_size)] if ids else []
    stream = torch.tensor(ids, dtype=torch.long, device=device)  # (N,)
    state, memory = None, (Memory(cache) if cache is not None else None)
    for pos in range(0, max(0, len(ids) - 1), seq_len):
        inputs = stream[pos : pos + seq_len].unsqueeze(0)  # (1, T)
        targets = stream[pos + 1 : pos + 1 + seq_len].unsqueeze(0)  # (1, T)
        inputs = inputs[:, : targets.size(1)]
        token_nll, state = block_nll(model, inputs, targets, state, memory)  # (1, T)
        nll.extend(token_nll[0].tolist())
    model.train(was_training)
    metrics = Metrics(nll=math.fsum(nll), num_tokens=len(ids), num_chars=len(text), num_words=len(text.split()),
                      num_unk=tokenizer.count_unk(ids))
    return TokenScores(ids=ids, nll=nll, metrics=metrics)
