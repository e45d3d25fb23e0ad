"""The playground's state: loaded checkpoints, limits, worker threads, counters.

Everything a request does with a model is one call into the library
(`generation.decode.stream_steps` / `token_pieces`, `evaluate.score_tokens`,
`analysis.textstats.find_text_loop`, `analysis.copying.CopyIndex.copies`); this module only
turns the results into plain JSON-ready dicts and decides who may run now. The index of a
checkpoint's training text (what a sample copies from it) is built on the first generation
that needs it, once per text, and kept; a shipped base's (`base:NAME`) does not ship with
wordgen and is not looked for: its copies are "unavailable", with the reason. Each checkpoint is loaded once
and shared by every request (generation keeps its state in the stepper it makes,
never on the model). Model work runs in a bounded pool of worker threads, never
on the web server's event loop; past `Limits.max_concurrent` a request is told
the server is busy (`Busy`) instead of queueing. A generation checks its stop
flag between tokens, so a client that goes away stops it within one token.

A checkpoint is a folder (`Bundle.load`) or a base spec (`base:NAME`, `hf:ORG/NAME`), read by
`training.finetune.Base.open`, as `wordgen train --init` reads it; a spec is its own name.

Not here: HTTP, JSON parsing, server-sent events (app.py); no fastapi import, so
this module is tested and used without the `serve` extra.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from wordgen.analysis.copying import EXPLAIN, MARK_WORDS, CopyIndex
from wordgen.analysis.textstats import describe_ngram, find_text_loop
from wordgen.config import SampleConfig
from wordgen.device import resolve_device
from wordgen.errors import ConfigError, WordgenError
from wordgen.evaluate import score_tokens
from wordgen.generation.decode import stream_steps, token_pieces
from wordgen.training.checkpoint import Bundle


class Busy(WordgenError):
    """Every generation slot is taken: try again in a moment."""


class UnknownCheckpoint(WordgenError):
    """The request names a checkpoint this server did not load."""


class TooLarge(WordgenError):
    """A prompt or text longer than the server accepts."""


@dataclass(frozen=True)
class Limits:
    """What one server accepts; past these a request gets a 4xx (or 503 when busy)."""

    max_concurrent: int = 4  # model calls (generations, scorings, candidates) running at once
    max_prompt_chars: int = 2000  # prompt and typed words
    max_tokens: int = 500  # tokens per sample
    max_samples: int = 4  # samples per request
    max_text_chars: int = 2000  # text of the tokenization and scoring views (their pieces cost O(n^2) decoding)
    max_top: int = 50  # candidates asked for in "pick the next word"
    top: int = 10  # candidates sent with every generated token


def is_base_spec(checkpoint: str) -> bool:
    """Whether a checkpoint argument names a base (`base:NAME`, `hf:ORG/NAME`) rather than a folder."""
    return checkpoint.startswith(("base:", "hf:"))


def checkpoint_names(paths: list[str]) -> list[str]:
    """A short, unique name per checkpoint: a folder's name or a base's spec, numbered when two clash."""
    names = [p if is_base_spec(p) else Path(p).resolve().name or str(p) for p in paths]
    return [n if names.count(n) == 1 else f"{n}-{i + 1}" for i, n in enumerate(names)]


def load_checkpoint(checkpoint: str, device: str = "auto") -> Bundle:
    """A checkpoint folder, or the base a spec names (`Base.open`, then moved to `device`)."""
    if not is_base_spec(checkpoint):
        return Bundle.load(checkpoint, device=device)
    from wordgen.training.finetune import Base, shipped_bases  # imports datasets: only when a base is served

    if checkpoint.startswith("base:") and checkpoint[len("base:"):] not in shipped_bases():
        names = ", ".join(f"base:{n}" for n in shipped_bases()) or "none in this install"
        raise ConfigError(f"no shipped base model {checkpoint!r} to serve (shipped: {names})")
    bundle = Base.open(checkpoint).bundle
    bundle.model.to(resolve_device(device))
    return bundle


def pretraining_note(spec: str) -> str:
    """Why a shipped base's copies cannot be looked up: the ebooks it read do not ship with it."""
    from wordgen.training.finetune import BASES

    books = len((BASES / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()) - 1  # less the header
    return (f"{spec} was pretrained on {books} Project Gutenberg ebooks (listed in wordgen/bases/MANIFEST.tsv), "
            "which do not ship with wordgen")


class Playground:
    """Loaded checkpoints (by name), the worker pool and the counters the tests watch."""

    def __init__(self, bundles: dict[str, Bundle], limits: Limits | None = None,
                 unindexed: dict[str, str] | None = None):
        """unindexed: checkpoints whose training text is not looked at for copies, each with the reason."""
        if not bundles:
            raise ConfigError("give at least one checkpoint to serve")
        self.bundles = bundles
        self.limits = limits or Limits()
        self.pool = ThreadPoolExecutor(max_workers=self.limits.max_concurrent, thread_name_prefix="wordgen-serve")
        self._lock = threading.Lock()
        self.active = 0  # model calls running now
        self.tokens_generated = 0  # every token any generation produced
        self.generations = 0  # generations started
        self.stopped = 0  # generations stopped before the end (client gone or Stop pressed)
        self._texts: dict[str, dict[int, str]] = {name: {} for name in bundles}
        # One index per training text (corpus, seed, stage directions): two checkpoints of one book share it.
        # A text that cannot be indexed (moved, offline, too large) is remembered as the reason.
        self._copy_indexes: dict[tuple, CopyIndex | str] = {}
        self._copy_lock = threading.Lock()
        self._unindexed = dict(unindexed or {})

    @classmethod
    def load(cls, paths: list[str], device: str = "auto", limits: Limits | None = None) -> Playground:
        """Load every checkpoint (folder or base spec) once; a bad one fails here, before the server starts."""
        names = checkpoint_names(paths)
        bundles = {name: load_checkpoint(p, device=device) for name, p in zip(names, paths)}
        unindexed = {name: pretraining_note(p) for name, p in zip(names, paths) if p.startswith("base:")}
        return cls(bundles, limits, unindexed)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------ bookkeeping

    def bundle(self, name: str) -> Bundle:
        try:
            return self.bundles[name]
        except KeyError:
            raise UnknownCheckpoint(
                f"no checkpoint named {name!r}; this server has {', '.join(map(repr, self.bundles))}"
            ) from None

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the `max_concurrent` slots for a model call, or raise `Busy` at once."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def acquire(self) -> None:
        with self._lock:
            if self.active >= self.limits.max_concurrent:
                raise Busy(f"busy: {self.active} generations are running (the limit is "
                           f"{self.limits.max_concurrent}); try again in a moment")
            self.active += 1

    def release(self) -> None:
        with self._lock:
            self.active -= 1

    def stats(self) -> dict:
        with self._lock:
            return {"active": self.active, "limit": self.limits.max_concurrent, "generations": self.generations,
                    "stopped": self.stopped, "tokens_generated": self.tokens_generated}

    def info(self) -> dict:
        """What the page needs to draw its menus: the checkpoints (each with its base, `init`) and the limits."""
        checkpoints = []
        for name, b in self.bundles.items():
            checkpoints.append({
                "name": name, "tokenizer": b.config.tokenizer, "vocab_size": b.tokenizer.vocab_size,
                "corpus": b.config.corpus, "parameters": b.model.num_parameters(),
                "layers": b.config.model.num_layers, "hidden_size": b.config.model.hidden_size,
                "init": b.config.init,  # the base it was fine-tuned from (its spec or folder), or None
            })
        return {"checkpoints": checkpoints, "limits": dataclasses.asdict(self.limits),
                "copies": {"min_words": MARK_WORDS, "explain": EXPLAIN}}

    def check_length(self, text: str, limit: int, what: str) -> None:
        if len(text) > limit:
            raise TooLarge(f"the {what} has {len(text):,} characters; this server accepts at most {limit:,}")

    def token_text(self, name: str, token: int) -> str:
        """How one token reads on its own (cached: every step shows ten of them)."""
        cache = self._texts[name]
        text = cache.get(token)
        if text is None:
            text = cache[token] = self.bundles[name].tokenizer.decode([token])
        return text

    def copy_index(self, name: str) -> CopyIndex:
        """The index of the checkpoint's training text, built on first use; WordgenError when it cannot be read."""
        config = self.bundle(name).config
        if name in self._unindexed:
            raise WordgenError(self._unindexed[name])
        key = (config.corpus, config.seed, config.stage_directions)
        with self._copy_lock:  # one build per text, however many generations ask at once
            if key not in self._copy_indexes:
                try:
                    self._copy_indexes[key] = CopyIndex.from_training_corpus(config)
                except WordgenError as err:
                    self._copy_indexes[key] = str(err)
            index = self._copy_indexes[key]
        if isinstance(index, str):
            raise WordgenError(index)
        return index

    def copies(self, name: str, text: str) -> dict:
        """What `text` copies from the checkpoint's training text (`Copies.to_dict`), or why that is unknown."""
        try:
            index = self.copy_index(name)
        except WordgenError as err:
            return {"unavailable": f"the training text cannot be read to look for copies: {err}"}
        return index.copies(text).to_dict()

    def _candidates(self, name: str, step, row: int = 0) -> list[dict]:
        unk = self.bundles[name].tokenizer.unk_id
        return [
            {"id": i, "text": self.token_text(name, i), "p": _short(p), "q": _short(q), "unk": i == unk}
            for i, p, q in zip(step.top_ids[row].tolist(), step.top_probs[row].tolist(),
                               step.top_sampler_probs[row].tolist())
        ]

    # ------------------------------------------------------------ model calls (worker threads)

    def generate(
        self, name: str, prompt: str, sample: SampleConfig, *, seed: int, max_tokens: int, num_samples: int,
        forced: list[int], emit: Callable[[str, dict], None], stop: threading.Event,
    ) -> None:
        """Run one generation request, calling emit(event, data) as tokens are drawn.

        Blocking: call it in `self.pool` while holding a slot (it gives the slot
        back when it ends). Samples run one after another with seeds seed,
        seed + 1, ... exactly as `wordgen generate --num-samples` does, so
        sample i equals `wordgen generate --seed (seed + i)`. Events: "sample"
        (one starts), "token", "end" (a sample's whole continuation and its
        loop and what it copies from the training text), then "done" or "error";
        nothing after `stop` is set.
        """
        bundle = self.bundle(name)
        start = time.perf_counter()
        tokens = 0
        with self._lock:
            self.generations += 1
        try:
            for i in range(num_samples):
                emit("sample", {"checkpoint": name, "sample": i, "seed": seed + i, "prompt": prompt})
                continuation = []
                steps = stream_steps(bundle.model, bundle.tokenizer, prompt, max_tokens=max_tokens, sample=sample,
                                     seed=seed + i, top=self.limits.top, forced=forced)
                for step in steps:
                    if stop.is_set():
                        steps.close()
                        with self._lock:
                            self.stopped += 1
                        return
                    token = step.ids[0].item()
                    continuation.append(step.pieces[0])
                    tokens += 1
                    with self._lock:
                        self.tokens_generated += 1
                    emit("token", {
                        "checkpoint": name, "sample": i, "text": step.pieces[0], "id": token,
                        "token": self.token_text(name, token), "p": _short(step.prob[0].item()),
                        "q": _short(step.sampler_prob[0].item()), "forced": step.forced,
                        "top": self._candidates(name, step),
                    })
                text = "".join(continuation)
                emit("end", {"checkpoint": name, "sample": i, "text": text, "loop": loop_span(text),
                             "copies": self.copies(name, text)})
            emit("done", {"checkpoint": name, "tokens": tokens, "seconds": time.perf_counter() - start})
        except WordgenError as err:
            emit("error", {"checkpoint": name, "error": str(err)})
        finally:
            self.release()

    def next_candidates(self, name: str, prompt: str, forced: list[int], sample: SampleConfig, *,
                        seed: int, top: int) -> dict:
        """The "pick the next word" view: the prompt with the chosen tokens, and the `top` tokens that may follow.

        One pass of the generation engine: the chosen tokens are forced, then
        one token is drawn, whose step holds the candidates (and the token
        the sampler would have taken with this seed).
        """
        bundle = self.bundle(name)
        steps = list(stream_steps(bundle.model, bundle.tokenizer, prompt, max_tokens=1, sample=sample, seed=seed,
                                  top=top, forced=forced))
        last = steps[-1]
        return {"checkpoint": name, "context": prompt + "".join(s.pieces[0] for s in steps[:-1]),
                "forced": forced, "candidates": self._candidates(name, last),
                "sampler_choice": last.ids[0].item()}

    def tokenize(self, name: str, text: str) -> dict:
        """The tokenization view: every token of `text` with its id, its text, and for `<unk>` the text it hides."""
        tokenizer = self.bundle(name).tokenizer
        ids = tokenizer.encode(text)
        unk = tokenizer.unk_id
        num_unk = tokenizer.count_unk(ids)
        try:  # the text each <unk> hides ("xylophone"), where the tokenizer can tell
            hidden = tokenizer.unk_pieces(text) if num_unk else []
        except WordgenError:  # a plug-in tokenizer that cannot say
            hidden = []
        hidden = iter(hidden if len(hidden) == num_unk else [None] * num_unk)
        tokens = [{"id": i, "text": t, "unk": i == unk, "hides": next(hidden) if i == unk else None}
                  for i, t in zip(ids, token_pieces(tokenizer, ids))]
        return {"checkpoint": name, "tokenizer": self.bundles[name].config.tokenizer,
                "vocab_size": tokenizer.vocab_size, "tokens": tokens, "num_tokens": len(ids),
                "num_chars": len(text), "tokens_per_char": len(ids) / len(text) if text else 0.0,
                "num_unk": num_unk}

    def score(self, name: str, text: str) -> dict:
        """The scoring view: each token's surprisal in bits, and the text's bits per character and perplexities."""
        bundle = self.bundle(name)
        scores = score_tokens(bundle.model, bundle.tokenizer, text)
        unk = bundle.tokenizer.unk_id
        tokens = [{"id": i, "text": t, "bits": nll / math.log(2), "unk": i == unk}
                  for i, t, nll in zip(scores.ids, token_pieces(bundle.tokenizer, scores.ids), scores.nll)]
        return {"checkpoint": name, "tokens": tokens, "metrics": scores.metrics.to_dict()}


def _short(p: float) -> float:
    """A probability to 4 significant digits: what the page shows, in a quarter of the bytes."""
    return float(f"{p:.4g}")


def loop_span(text: str) -> dict | None:
    """Where `analysis.textstats.find_text_loop` finds a loop in `text`, as characters the page can highlight."""
    loop = find_text_loop(text)
    if loop is None:
        return None
    return {"start": loop.char_start, "end": loop.char_end, "ngram": describe_ngram(loop.ngram),
            "period": loop.period, "repeats": round(loop.repeats, 1)}
