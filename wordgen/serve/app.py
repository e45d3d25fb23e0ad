"""The playground's HTTP face: JSON endpoints, one server-sent event stream, the static page.

    GET  /               the page (static/index.html, with app.js and style.css beside it)
    GET  /api/info       the checkpoints and the limits
    GET  /api/stats      model calls running now, generations started and stopped, tokens generated
    POST /api/generate   server-sent events as tokens are drawn: sample, token, end (the sample's loop and
                         what it copies from the training text), then done or error
    POST /api/next       "pick the next word": the candidates after the prompt and the tokens chosen so far
    POST /api/tokenize   the tokens of a text with their ids, tokens per character, <unk> marked
    POST /api/score      per-token surprisal, bits per character and perplexity per word of a text

Every error is one JSON line, `{"error": "..."}`: 400 for a bad value (temperature
< 0, top-p outside (0, 1], malformed JSON...), 404 for an unknown checkpoint, 413
for a prompt or text over the limit, 422 for a field of the wrong type, 503 with
Retry-After when every generation slot is taken. The server goes on serving.

Server-sent events over a POST (read by `fetch`, not `EventSource`, which can
only GET) rather than a websocket: one request per generation, plain HTTP,
and a client that stops reading -- the Stop button aborts the fetch -- is a
disconnect the server sees. Model work runs in the playground's worker threads
(playground.py); this module never touches a model.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from wordgen.config import SampleConfig
from wordgen.errors import ConfigError, WordgenError
from wordgen.serve.playground import Busy, Playground, TooLarge, UnknownCheckpoint

STATIC = Path(__file__).parent / "static"
STATUS = {UnknownCheckpoint: 404, TooLarge: 413, Busy: 503}  # any other WordgenError: 400
MAX_SEED = 2**63 - 1


# ---------------------------------------------------------------- request bodies


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not a silent default


class _Sampler(_Body):
    greedy: bool = False
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int = 0

    def sample_config(self) -> SampleConfig:
        """The sampler, checked by the library itself (its messages are the CLI's)."""
        sample = SampleConfig(greedy=self.greedy, temperature=self.temperature, top_k=self.top_k, top_p=self.top_p)
        sample.validate()
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed must be in 0 .. 2**63 - 1, got {self.seed}")
        return sample


class GenerateBody(_Sampler):
    checkpoint: str
    prompt: str = ""
    max_tokens: int = 100
    num_samples: int = 1
    forced: list[int] = Field(default_factory=list)  # token ids taken before sampling starts


class NextBody(_Sampler):
    checkpoint: str
    prompt: str = ""
    forced: list[int] = Field(default_factory=list)
    top: int = 10


class TextBody(_Body):
    checkpoint: str
    text: str


# ---------------------------------------------------------------- responses


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.splitlines())}, status_code=status, headers=headers)


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


class EventStream(StreamingResponse):
    """A server-sent event stream that calls `on_close` however it ends: finished, failed or disconnected."""

    media_type = "text/event-stream"

    def __init__(self, content, on_close):
        super().__init__(content, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.on_close = on_close

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.on_close()


# ---------------------------------------------------------------- the app


def create_app(playground: Playground) -> FastAPI:
    """The web app over one `Playground` (its checkpoints already loaded)."""
    # No /docs or /redoc: their pages load scripts from a CDN, and the playground fetches nothing.
    app = FastAPI(title="wordgen playground", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.playground = playground
    app.add_exception_handler(WordgenError, _wordgen_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    _add_page_routes(app, playground)
    _add_generate_route(app, playground)
    _add_model_routes(app, playground)
    return app


# ---------------------------------------------------------------- errors: one JSON line each


async def _wordgen_error(request: Request, err: WordgenError):
    status = STATUS.get(type(err), 400)
    # The library names sampler settings as SampleConfig fields; the request's JSON fields have the same names.
    message = str(err).replace("SampleConfig.", "")
    return _error(status, message, {"Retry-After": "1"} if status == 503 else None)


async def _validation_error(request: Request, err: RequestValidationError):
    first = err.errors()[0]
    if first.get("type") == "json_invalid":
        return _error(400, f"malformed JSON: {first.get('ctx', {}).get('error', first['msg'])}")
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
    return _error(422, f"{where}: {first['msg']}")


async def _http_error(request: Request, err: HTTPException):
    return _error(err.status_code, str(err.detail))


# ---------------------------------------------------------------- the page, info and stats


def _add_page_routes(app: FastAPI, playground: Playground) -> None:
    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/info")
    async def info():
        return playground.info()

    @app.get("/api/stats")
    async def stats():
        return playground.stats()


# ---------------------------------------------------------------- /api/generate: the event stream


def _check_sampling(playground: Playground, body: GenerateBody | NextBody) -> SampleConfig:
    """The body's sampler, after checking its checkpoint, prompt and chosen tokens against the limits."""
    limits = playground.limits
    sample = body.sample_config()
    playground.bundle(body.checkpoint)
    playground.check_length(body.prompt, limits.max_prompt_chars, "prompt")
    if len(body.forced) > limits.max_tokens:
        raise TooLarge(f"{len(body.forced)} chosen tokens; this server accepts at most {limits.max_tokens}")
    return sample


def _add_generate_route(app: FastAPI, playground: Playground) -> None:
    limits = playground.limits

    @app.post("/api/generate")
    async def generate(body: GenerateBody):
        sample = _check_sampling(playground, body)
        if not 0 <= body.max_tokens <= limits.max_tokens:
            raise ConfigError(f"max_tokens must be in 0 .. {limits.max_tokens}, got {body.max_tokens}")
        if not 1 <= body.num_samples <= limits.max_samples:
            raise ConfigError(f"num_samples must be in 1 .. {limits.max_samples}, got {body.num_samples}")
        queue, stop = _start_generation(playground, body, sample)
        # Hold the answer until the first token: a prompt the tokenizer cannot read is a
        # plain 400, not a stream that fails.
        head = []
        while True:
            item = await queue.get()
            head.append(item)
            if item is None or item[0] != "sample":
                break
        if item is not None and item[0] in ("error", "crash"):
            stop.set()
            return _error(400 if item[0] == "error" else 500, item[1]["error"])
        return EventStream(_events(head, queue, stop), on_close=stop.set)


def _start_generation(playground: Playground, body: GenerateBody,
                      sample: SampleConfig) -> tuple[asyncio.Queue, threading.Event]:
    """Take a slot and start `playground.generate` in a worker thread.

    Returns the queue its events arrive on ((event, data) pairs, then None once the
    worker is done) and the event that stops it at its next token.
    """
    playground.acquire()  # Busy -> 503; playground.generate gives the slot back
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()

    def emit(event: str, data: dict) -> None:  # called from the worker thread
        if not stop.is_set():
            loop.call_soon_threadsafe(queue.put_nowait, (event, data))

    run = functools.partial(
        playground.generate, body.checkpoint, body.prompt, sample, seed=body.seed, max_tokens=body.max_tokens,
        num_samples=body.num_samples, forced=body.forced, emit=emit, stop=stop,
    )
    try:
        future = loop.run_in_executor(playground.pool, run)
    except RuntimeError:  # the pool is shut down: the server is stopping
        playground.release()
        raise

    def finished(f: asyncio.Future) -> None:  # runs on the event loop
        if f.cancelled():  # never ran (the server is stopping): its slot was never given back
            playground.release()
            queue.put_nowait(("crash", {"error": "the server is stopping"}))
        elif f.exception() is not None:  # a bug, not bad input: say so rather than hang
            queue.put_nowait(("crash", {"error": f"internal error: {f.exception()!r}"}))
        queue.put_nowait(None)

    future.add_done_callback(finished)
    return queue, stop


async def _events(head: list, queue: asyncio.Queue, stop: threading.Event):
    """The stream's text: the events already read (`head`), then the rest as they come."""
    try:
        for item in head:
            if item is not None:
                yield _sse(*item)
        while item is not None:
            item = await queue.get()
            if item is not None:
                yield _sse("error" if item[0] == "crash" else item[0], item[1])
    finally:
        stop.set()  # the client left, or the stream ended: the worker stops at its next token


# ---------------------------------------------------------------- /api/next, /api/tokenize, /api/score


async def _model_call(playground: Playground, function, *args, **kwargs):
    """Run a short model call in the worker pool while holding a slot."""
    with playground.slot():
        return await asyncio.get_running_loop().run_in_executor(
            playground.pool, functools.partial(function, *args, **kwargs))


def _add_model_routes(app: FastAPI, playground: Playground) -> None:
    limits = playground.limits

    @app.post("/api/next")
    async def next_token(body: NextBody):
        sample = _check_sampling(playground, body)
        if not 1 <= body.top <= limits.max_top:
            raise ConfigError(f"top must be in 1 .. {limits.max_top}, got {body.top}")
        return await _model_call(playground, playground.next_candidates, body.checkpoint, body.prompt, body.forced,
                                 sample, seed=body.seed, top=body.top)

    @app.post("/api/tokenize")
    async def tokenize(body: TextBody):
        playground.bundle(body.checkpoint)
        playground.check_length(body.text, limits.max_text_chars, "text")
        return await run_in_threadpool(playground.tokenize, body.checkpoint, body.text)  # no model: no slot

    @app.post("/api/score")
    async def score(body: TextBody):
        playground.bundle(body.checkpoint)
        playground.check_length(body.text, limits.max_text_chars, "text")
        if not body.text.strip():
            raise ConfigError("give a text to score")
        return await _model_call(playground, playground.score, body.checkpoint, body.text)
