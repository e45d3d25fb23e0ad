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

`stream` is the iterator form (what a CLI or a browser playground prints as it
comes); `generate` collects it into strings. Randomness comes from one
`torch.Generator` seeded by `seed`, so a checkpoint folder copied to another
machine gives the same text for the same seed on the same kind of device.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import torch

from wordgen.config import SampleConfig
from wordgen.errors import ConfigError
from wordgen.model import LSTMLanguageModel
from wordgen.stepper import LSTMStepper
from wordgen.sampling import next_token
from wordgen.tokenization import Tokenizer

START_TEXT = "\n"  # context used when the prompt is empty: "a new line begins"


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


@torch.inference_mode()
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
    sample.validate()
    if max_tokens < 0:
        raise ConfigError(f"max tokens must be >= 0, got {max_tokens}")
    if num_samples < 1:
        raise ConfigError(f"number of samples must be at least 1, got {num_samples}")
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device=device)
    if seed is not None:
        generator.manual_seed(seed)
    prompt = torch.tensor(prompt_ids, dtype=torch.long, device=device)
    prompt = prompt.unsqueeze(0).expand(num_samples, -1)  # (N, P)
    hidden, state = model.features(prompt)  # (N, P, H): the prompt, once
    logits = model.scores(hidden[:, -1])  # (N, V)
    step = LSTMStepper(model, state) if model.config.rnn_type == "lstm" else None
    for _ in range(max_tokens):
        if banned:
            logits[:, banned] = float("-inf")
        ids = next_token(logits, sample, generator)  # (N,)
        yield ids
        if step is not None:
            logits = step(ids)  # (N, V), a buffer the stepper reuses
        else:
            logits, state = model(ids.unsqueeze(1), state)  # (N, 1, V)
            logits = logits[:, -1]  # (N, V)


def stream(
    model: LSTMLanguageModel,
    tokenizer: Tokenizer,
    prompt: str,
    *,
    max_tokens: int = 100,
    sample: SampleConfig | None = None,
    num_samples: int = 1,
    seed: int | None = 0,
) -> Iterator[list[str]]:
    """Yield, per step, the new text of each sample (a list of num_samples strings).

    Text is decoded from the whole sequence so far and the new suffix is
    returned, which keeps word spacing right and never splits a multi-byte
    character of a byte-level BPE (an incomplete one is held back a step).
    """
    sample = sample or SampleConfig()
    prompt_ids = encode_prompt(tokenizer, prompt)
    context_text = tokenizer.decode(prompt_ids)
    generated: list[list[int]] = [[] for _ in range(num_samples)]
    emitted = [0] * num_samples  # characters of continuation already yielded
    banned = [tokenizer.unk_id] if tokenizer.unk_id is not None else None
    for ids in sample_ids(model, prompt_ids, max_tokens, sample, num_samples, seed, banned):
        pieces = []
        for i, token in enumerate(ids.tolist()):
            generated[i].append(token)
            text = tokenizer.decode(prompt_ids + generated[i])[len(context_text) :]
            if text.endswith("\ufffd"):  # half of a UTF-8 character: wait for the rest
                pieces.append("")
                continue
            pieces.append(text[emitted[i] :])
            emitted[i] = len(text)
        yield pieces
    # Flush anything held back at the very end.
    tail = [tokenizer.decode(prompt_ids + g)[len(context_text) :][e:] for g, e in zip(generated, emitted)]
    if any(tail):
        yield tail


def generate(
    model: LSTMLanguageModel,
    tokenizer: Tokenizer,
    prompt: str,
    *,
    max_tokens: int = 100,
    sample: SampleConfig | None = None,
    num_samples: int = 1,
    seed: int | None = 0,
) -> list[str]:
    """Prompt + continuation, one string per sample."""
    texts = [prompt] * num_samples
    for pieces in stream(
        model, tokenizer, prompt, max_tokens=max_tokens, sample=sample, num_samples=num_samples, seed=seed
    ):
        texts = [t + p for t, p in zip(texts, pieces)]
    return texts
