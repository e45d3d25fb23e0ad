"""Prompt in, text out: run the prompt once, then draw one token at a time.

The prompt passes through the model a single time to build the recurrent
state; after that each step feeds only the token just drawn and carries the
state, so a step costs the same however long the text already is (the text is
never re-fed). Several samples are drawn together as one batch. An LSTM
steps through `stepper.LSTMStepper` (one matrix-vector product per weight
matrix, state updated in place, no allocation per token); a GRU goes through
the module itself.

`<unk>` is never drawn: it stands for "some word the model never learned",
and printing it only adds noise (the greedy path of a word model otherwise
often settles on it). Everything else is left to the sampler.

`sample_steps` is the engine: an iterator of `Step` records (the tokens taken
and, on request, the probability the model gave each, the probability in the
distribution it was drawn from, and the top candidates), with optional forced
tokens first. `stream_steps` adds the text each step wrote, `stream` is that
text alone (what the CLI prints as it comes) and `generate` collects it into
strings; the browser playground (`wordgen serve`) reads `stream_steps` (its
"pick the next word" forces the chosen tokens, then reads the candidates of one
more step). All of them draw the same tokens for the same seed.

Randomness comes from one `torch.Generator` seeded by `seed`, so a checkpoint
folder copied to another machine gives the same text for the same seed on the
same kind of device.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from wordgen.config import SampleConfig
from wordgen.cpu import GENERATION_FIRST_CHECK_SECONDS, ThreadPolicy
from wordgen.errors import ConfigError
from wordgen.generation.cache import Cache, Memory
from wordgen.generation.sampling import next_token, sampler_probs
from wordgen.generation.stepper import LSTMStepper
from wordgen.model import LSTMLanguageModel
from wordgen.tokenization import START_TEXT, Tokenizer


def encode_prompt(tokenizer: Tokenizer, prompt: str) -> list[int]:
    """Prompt -> ids, warning about words the tokenizer does not know."""
    ids = tokenizer.encode(prompt if prompt else START_TEXT)
    if not ids:
        raise ConfigError(f"the prompt {prompt!r} encodes to no tokens; give a prompt with text in it")
    if tokenizer.count_unk(ids):
        unknown = [w for w in prompt.split() if tokenizer.count_unk(tokenizer.encode(w))]
        warnings.warn(
            f"prompt words not in the vocabulary became <unk>: {', '.join(unknown[:10])}",
            stacklevel=2,
        )
    return ids


@dataclass
class Step:
    """One generation step of every sample: N rows, one per sample.

    `ids` is always set. `pieces` is set by `stream_steps`: the text each token
    added. The probabilities are set when `sample_steps(..., top=K)` asks for
    them (None otherwise, which keeps the plain path as fast as before):

    * `prob` -- what the model gave the token taken: its softmax at
      temperature 1, nothing filtered (the number a heat map shades by);
    * `sampler_prob` -- the token's probability in the distribution it was
      actually drawn from (temperature, top-k, top-p, `<unk>` never drawn);
    * `top_ids` / `top_probs` / `top_sampler_probs` -- the model's K most
      likely tokens, most likely first, with both probabilities; a candidate
      the sampler filtered out has sampler probability 0.
    """

    ids: torch.Tensor  # (N,) the tokens taken
    forced: bool = False  # taken from `forced`, not drawn
    pieces: list[str] | None = None  # new text of each sample
    prob: torch.Tensor | None = None  # (N,)
    sampler_prob: torch.Tensor | None = None  # (N,)
    top_ids: torch.Tensor | None = None  # (N, K)
    top_probs: torch.Tensor | None = None  # (N, K)
    top_sampler_probs: torch.Tensor | None = None  # (N, K)


def _check_forced(forced: Sequence[int], vocab_size: int) -> list[int]:
    forced = [int(i) for i in forced]
    bad = [i for i in forced if not 0 <= i < vocab_size]
    if bad:
        raise ConfigError(f"forced token id {bad[0]} is not in the vocabulary (0 .. {vocab_size - 1})")
    return forced


@torch.inference_mode()
def sample_steps(
    model: LSTMLanguageModel,
    prompt_ids: list[int],
    max_tokens: int,
    sample: SampleConfig,
    num_samples: int = 1,
    seed: int | None = 0,
    banned: list[int] | None = None,
    *,
    top: int = 0,
    forced: Sequence[int] = (),
    cache: Cache | None = None,
) -> Iterator[Step]:
    """The generation engine: one `Step` per token, `len(forced) + max_tokens` of them.

    The first steps take the `forced` ids in order (every sample the same; no
    random number is used), then `max_tokens` tokens are drawn. `banned` ids
    are never drawn. `top` > 0 fills the step's probabilities and its `top`
    most likely candidates. A neural `cache` (wordgen.generation.cache) is filled with the
    prompt and every token taken, and mixed into each step's distribution (the
    probabilities reported are then the mixture's). The tokens drawn do not depend on `top`: the same
    seed gives the same tokens as `sample_ids` and `generate`.
    """
    _check_request(sample, max_tokens, num_samples, top)
    vocab_size = model.config.vocab_size
    forced = _check_forced(forced, vocab_size)
    top = min(top, vocab_size)
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device)
    if seed is not None:
        generator.manual_seed(seed)
    memory = Memory(cache) if cache is not None else None
    total = len(forced) + max_tokens
    # On a CPU, as many threads as other processes leave cores free (wordgen.cpu): a step's
    # blocks meet at a barrier, which a core taken by someone else turns into a wait. Remembered
    # from one generation to the next: a short sample is over before the first look.
    with ThreadPolicy(enabled=device.type == "cpu", first_check=GENERATION_FIRST_CHECK_SECONDS,
                      remember="generation") as threads:
        output, logits, state = _read_prompt(model, prompt_ids, num_samples, memory)
        step = LSTMStepper(model, state) if model.config.rnn_type == "lstm" else None
        for t in range(total):
            if memory is not None:
                logits = memory.mix(logits, output)  # (N, V) log-probabilities of the model and its cache
            # The model's own distribution, before <unk> is banned (softmax also turns the
            # adaptive softmax's log-probabilities into probabilities).
            model_probs = torch.softmax(logits.float(), dim=-1) if top else None  # (N, V)
            if banned:
                logits[:, banned] = float("-inf")
            is_forced = t < len(forced)
            if is_forced:
                ids = torch.full((num_samples,), forced[t], dtype=torch.long, device=device)  # (N,)
            else:
                ids = next_token(logits, sample, generator)  # (N,)
            record = Step(ids=ids, forced=is_forced)
            if top:
                _add_probabilities(record, model_probs, logits, sample, top)
            yield record
            if t + 1 == total:
                break  # no step for a token nobody asks for
            if memory is not None:
                memory.add(output[:, None], ids[:, None])
            output, logits, state = _advance(model, step, ids, state)
            threads.check()


def _check_request(sample: SampleConfig, max_tokens: int, num_samples: int, top: int) -> None:
    sample.validate()
    if max_tokens < 0:
        raise ConfigError(f"max tokens must be >= 0, got {max_tokens}")
    if num_samples < 1:
        raise ConfigError(f"number of samples must be at least 1, got {num_samples}")
    if top < 0:
        raise ConfigError(f"the number of candidates must be >= 0, got {top}")


def _read_prompt(model: LSTMLanguageModel, prompt_ids: list[int], num_samples: int, memory: Memory | None):
    """The prompt through the model once, for every sample: (output (N, H), logits (N, V), state).

    The output is the top layer's at the prompt's last position, the one that predicts
    the first new token; `memory` keeps the positions before it with the tokens after them.
    """
    device = next(model.parameters()).device
    prompt = torch.tensor(prompt_ids, dtype=torch.long, device=device)
    prompt = prompt.unsqueeze(0).expand(num_samples, -1)  # (N, P)
    hidden, state = model.features(prompt)  # (N, P, H)
    output = hidden[:, -1]  # (N, H)
    logits = model.scores(output)  # (N, V)
    if memory is not None and prompt.size(1) > 1:
        memory.add(hidden[:, :-1], prompt[:, 1:])
    return output, logits, state


def _add_probabilities(record: Step, model_probs: torch.Tensor, logits: torch.Tensor, sample: SampleConfig,
                       top: int) -> None:
    """Fill `record`'s probabilities from the model's distribution (N, V) and the sampler's logits (N, V)."""
    drawn_from = sampler_probs(logits, sample)  # (N, V)
    ids = record.ids[:, None]  # (N, 1)
    record.prob = model_probs.gather(1, ids).squeeze(1)
    record.sampler_prob = drawn_from.gather(1, ids).squeeze(1)
    record.top_probs, record.top_ids = torch.topk(model_probs, top, dim=-1)  # (N, K) each
    record.top_sampler_probs = drawn_from.gather(1, record.top_ids)


def _advance(model: LSTMLanguageModel, step: LSTMStepper | None, ids: torch.Tensor, state):
    """Feed the tokens taken, ids (N,): -> (output (N, H), logits (N, V), state).

    An LSTM goes through its stepper (whose logits are a buffer it reuses, and whose
    state moves on in place), a GRU through the module itself.
    """
    if step is not None:
        logits = step(ids)  # (N, V)
        return step.h[-1], logits, state  # (N, H) the top layer's new state
    out, state = model.features(ids.unsqueeze(1), state)  # (N, 1, H)
    output = out[:, -1]  # (N, H)
    return output, model.scores(output), state


def sample_ids(
    model: LSTMLanguageModel,
    prompt_ids: list[int],
    max_tokens: int,
    sample: SampleConfig,
    num_samples: int = 1,
    seed: int | None = 0,
    banned: list[int] | None = None,
) -> Iterator[torch.Tensor]:
    """Yield the next token ids (num_samples,) for `max_tokens` steps; `banned` ids are never drawn."""
    for record in sample_steps(model, prompt_ids, max_tokens, sample, num_samples, seed, banned):
        yield record.ids


class _Detokenizer:
    """The text each new token adds to a sequence, decoded from the whole sequence so far.

    Decoding the whole sequence keeps word spacing right (a word tokenizer
    decides a space from the tokens around it) and never splits a multi-byte
    character of a byte-level BPE: while the text ends in half a character
    (U+FFFD), the piece is held back until the rest arrives or `last` is set.
    """

    def __init__(self, tokenizer: Tokenizer, context_ids: Sequence[int]):
        self.tokenizer = tokenizer
        self.ids = list(context_ids)
        self.start = len(tokenizer.decode(self.ids)) if self.ids else 0
        self.emitted = 0  # characters after `start` already handed out

    def add(self, token: int, last: bool = False) -> str:
        self.ids.append(token)
        text = self.tokenizer.decode(self.ids)[self.start :]
        if text.endswith("\ufffd") and not last:
            return ""
        piece = text[self.emitted :]
        self.emitted = len(text)
        return piece


def token_pieces(tokenizer: Tokenizer, ids: Sequence[int]) -> list[str]:
    """The text each token of `ids` contributes to `tokenizer.decode(ids)`, in order.

    The pieces join to the decoded text exactly; a BPE token that holds only
    part of a character gets "" and the token that completes it the whole
    character. Decoding costs O(len(ids)^2): meant for a paragraph, not a book.
    """
    decoder = _Detokenizer(tokenizer, [])
    return [decoder.add(i, last=k == len(ids) - 1) for k, i in enumerate(ids)]


def stream_steps(
    model: LSTMLanguageModel,
    tokenizer: Tokenizer,
    prompt: str,
    *,
    max_tokens: int = 100,
    sample: SampleConfig | None = None,
    num_samples: int = 1,
    seed: int | None = 0,
    top: int = 0,
    forced: Sequence[int] = (),
    cache: Cache | None = None,
) -> Iterator[Step]:
    """`sample_steps` from a text prompt, each `Step` with the text its tokens added (`pieces`).

    `<unk>` is never drawn (it may be forced). The pieces of all steps join to
    the continuation that `generate` returns for the same arguments.
    """
    sample = sample or SampleConfig()
    prompt_ids = encode_prompt(tokenizer, prompt)
    decoders = [_Detokenizer(tokenizer, prompt_ids) for _ in range(num_samples)]
    banned = [tokenizer.unk_id] if tokenizer.unk_id is not None else None
    total = len(forced) + max_tokens
    steps = sample_steps(model, prompt_ids, max_tokens, sample, num_samples, seed, banned, top=top, forced=forced,
                         cache=cache)
    for t, record in enumerate(steps):
        last = t + 1 == total  # nothing is held back at the very end
        record.pieces = [d.add(token, last) for d, token in zip(decoders, record.ids.tolist())]
        yield record


def stream(
    model: LSTMLanguageModel,
    tokenizer: Tokenizer,
    prompt: str,
    *,
    max_tokens: int = 100,
    sample: SampleConfig | None = None,
    num_samples: int = 1,
    seed: int | None = 0,
    cache: Cache | None = None,
) -> Iterator[list[str]]:
    """Yield, per step, the new text of each sample (a list of num_samples strings).

    See `stream_steps` (this is its text alone): spacing follows the whole
    sequence, and half of a multi-byte character is held back a step.
    """
    for record in stream_steps(
        model, tokenizer, prompt, max_tokens=max_tokens, sample=sample, num_samples=num_samples, seed=seed,
        cache=cache,
    ):
        yield record.pieces


def generate(
    model: LSTMLanguageModel,
    tokenizer: Tokenizer,
    prompt: str,
    *,
    max_tokens: int = 100,
    sample: SampleConfig | None = None,
    num_samples: int = 1,
    seed: int | None = 0,
    cache: Cache | None = None,
) -> list[str]:
    """Prompt + continuation, one string per sample."""
    texts = [prompt] * num_samples
    for pieces in stream(
        model, tokenizer, prompt, max_tokens=max_tokens, sample=sample, num_samples=num_samples, seed=seed,
        cache=cache,
    ):
        texts = [t + p for t, p in zip(texts, pieces)]
    return texts
