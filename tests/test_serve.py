"""The playground's API against a real uvicorn server on a loopback port (no TestClient).

The session's two tiny checkpoints (conftest.tiny_checkpoints: a word model and a
char model, a few training steps each) are served by one server for the whole module; every request goes over a real
socket, so streaming, disconnects and the busy answer are the real thing. A second server holds the shipped
base:word beside a checkpoint fine-tuned from it (2 steps).
"""

from __future__ import annotations

import http.client
import json
import math
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import VERSE, one_line_error, readline_within, write_book

from wordgen.cli import main
from wordgen.serve.app import create_app
from wordgen.serve.playground import Limits, Playground, checkpoint_names
from wordgen.serve.server import BackgroundServer
from wordgen.training.finetune import BASES

LONG = 100_000  # tokens: a generation that would run for minutes unless something stops it


@pytest.fixture(scope="module")
def server(tiny_checkpoints):
    playground = Playground.load([str(tiny_checkpoints["word"]), str(tiny_checkpoints["char"])], device="cpu",
                                 limits=Limits(max_concurrent=2, max_tokens=LONG))
    with BackgroundServer(create_app(playground)) as running:
        running.playground = playground
        yield running
    playground.close()


class Events:
    """One POST /api/generate read as server-sent events, over its own connection."""

    def __init__(self, server, body: dict):
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self.conn.request("POST", "/api/generate", body=json.dumps(body), headers={"Content-Type": "application/json"})
        self.response = self.conn.getresponse()

    def __iter__(self):
        event = None
        while True:
            line = self.response.readline()  # bounded: the connection's socket times out after 30 s
            if not line:
                return
            line = line.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                yield event, json.loads(line[6:])

    def close(self) -> None:
        self.conn.close()  # the socket goes: the server sees a disconnect


def call(server, method: str, path: str, body=None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    data = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    status, payload = response.status, response.read()
    conn.close()
    return status, json.loads(payload)


def wait_idle(server, timeout: float = 60.0) -> dict:
    """The stats once no generation runs any more; fails after `timeout` seconds, here, rather than
    leaving a generation running into the next test. (A stopped generation ends within a token; the
    bound is for a machine busy with other work.)"""
    deadline = time.monotonic() + timeout
    while True:
        status, stats = call(server, "GET", "/api/stats")
        if stats["active"] == 0:
            return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"a generation still runs after {timeout} s: {stats}")
        time.sleep(0.02)  # polls the server's own count; nothing is assumed of the timing


def test_tokens_arrive_one_event_at_a_time_before_the_end(server):
    events = Events(server, {"checkpoint": "word", "prompt": "ROMEO:", "max_tokens": LONG, "seed": 1})
    assert events.response.status == 200
    assert events.response.getheader("Content-Type").startswith("text/event-stream")
    tokens = []
    for event, data in events:
        if event == "token":
            tokens.append(data)
            if len(tokens) == 5:
                break
    # Five separate events, one token each, while the generation is still far from its end.
    _, stats = call(server, "GET", "/api/stats")
    assert stats["active"] == 1 and stats["tokens_generated"] < LONG
    assert all(len(t["top"]) == 10 and 0 < t["p"] <= 1 and 0 < t["q"] <= 1 for t in tokens)
    events.close()
    wait_idle(server)


def test_a_client_that_disconnects_stops_its_generation(server):
    before = wait_idle(server)
    events = Events(server, {"checkpoint": "char", "prompt": "JULIET:", "max_tokens": LONG})
    for event, _ in events:
        if event == "token":
            break
    events.close()
    after = wait_idle(server)
    assert after["active"] == 0, "the generation kept running after its client left"
    assert after["stopped"] == before["stopped"] + 1
    assert after["tokens_generated"] - before["tokens_generated"] < LONG


@pytest.mark.parametrize("flags, sampler", [
    (["--temperature", "1.2", "--top-k", "20"], {"temperature": 1.2, "top_k": 20}),
    (["--top-p", "0.8"], {"top_p": 0.8}),
    (["--greedy"], {"greedy": True}),
])
def test_the_stream_equals_wordgen_generate(server, tiny_checkpoints, capsys, flags, sampler):
    prompt, seed, n = "ROMEO:\nBut, soft!", 3, 2
    assert main(["generate", str(tiny_checkpoints["word"]), "--prompt", prompt, "--max-tokens", "40",
                 "--seed", str(seed), "--num-samples", str(n), "--device", "cpu", *flags]) == 0
    expected = capsys.readouterr().out
    pieces: dict[int, list[str]] = {i: [] for i in range(n)}
    ends = {}
    for event, data in Events(server, {"checkpoint": "word", "prompt": prompt, "max_tokens": 40, "seed": seed,
                                       "num_samples": n, **sampler}):
        if event == "token":
            pieces[data["sample"]].append(data["text"])
        elif event == "end":
            ends[data["sample"]] = data
        assert event != "error", data
    assert all(len(p) == 40 for p in pieces.values())  # one event per token
    streamed = "".join(f"--- sample {i + 1} ---\n{prompt}{''.join(pieces[i])}\n" for i in range(n))
    assert streamed == expected
    assert all(ends[i]["text"] == "".join(pieces[i]) for i in range(n))


def test_a_loop_is_reported_with_its_characters(server):
    end = [d for e, d in Events(server, {"checkpoint": "word", "prompt": "ROMEO:", "max_tokens": 120, "greedy": True})
           if e == "end"][0]
    # An untrained-looking tiny model under greedy decoding repeats itself.
    loop = end["loop"]
    assert loop is not None and loop["repeats"] >= 3
    assert 0 <= loop["start"] < loop["end"] <= len(end["text"])


BAD = [
    ({"checkpoint": "nope", "prompt": "a"}, 404, "no checkpoint named"),
    ({"checkpoint": "word", "temperature": -1}, 400, "temperature"),
    ({"checkpoint": "word", "top_p": 0}, 400, "top_p must be in (0, 1]"),
    ({"checkpoint": "word", "top_p": 1.5}, 400, "top_p must be in (0, 1], got 1.5"),
    ({"checkpoint": "word", "top_k": 0}, 400, "top_k must be at least 1"),
    ({"checkpoint": "word", "prompt": "x" * 2001}, 413, "at most 2,000"),
    ({"checkpoint": "word", "max_tokens": LONG + 1}, 400, "max_tokens"),
    ({"checkpoint": "word", "num_samples": 9}, 400, "num_samples"),
    ({"checkpoint": "word", "forced": [10**6]}, 400, "not in the vocabulary"),
    ({"checkpoint": "word", "prompt": "   "}, 400, "encodes to no tokens"),
    ({"checkpoint": "word", "temperature": "hot"}, 422, "temperature"),
    ({"checkpoint": "word", "temprature": 1}, 422, "temprature"),
    ('{"checkpoint": "word", ', 400, "malformed JSON"),
]


@pytest.mark.parametrize("body, status, words", BAD, ids=[b[2] for b in BAD])
def test_a_bad_request_gets_a_one_line_error_and_the_server_goes_on(server, body, status, words):
    got, payload = call(server, "POST", "/api/generate", body)
    assert got == status
    assert set(payload) == {"error"} and words in payload["error"] and "\n" not in payload["error"]
    good = [e for e, _ in Events(server, {"checkpoint": "word", "prompt": "ROMEO:", "max_tokens": 3})]
    assert good.count("token") == 3 and good[-1] == "done"


def test_past_the_limit_the_server_answers_busy(server):
    wait_idle(server)
    running = [Events(server, {"checkpoint": "word", "prompt": "ROMEO:", "max_tokens": LONG}) for _ in range(2)]
    for events in running:
        next(iter(events))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", "/api/generate", body=json.dumps({"checkpoint": "word"}),
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 503 and response.getheader("Retry-After") == "1"
    assert "busy" in json.loads(response.read())["error"]
    assert call(server, "POST", "/api/score", {"checkpoint": "word", "text": "ROMEO:"})[0] == 503
    for events in running:
        events.close()
    assert wait_idle(server)["active"] == 0
    assert call(server, "POST", "/api/score", {"checkpoint": "word", "text": "ROMEO:"})[0] == 200


def test_forced_tokens_then_sampling(server, tiny_checkpoints):
    from wordgen.tokenization import load_tokenizer

    tokenizer = load_tokenizer(tiny_checkpoints["word"] / "tokenizer.json")
    forced = tokenizer.encode("fair sun")
    steps = [d for e, d in Events(server, {"checkpoint": "word", "prompt": "ROMEO:", "forced": forced,
                                           "max_tokens": 4}) if e == "token"]
    assert [s["forced"] for s in steps] == [True] * len(forced) + [False] * 4
    assert "".join(s["text"] for s in steps).startswith(" fair sun")


def test_pick_the_next_word(server, tiny_checkpoints):
    from wordgen.tokenization import load_tokenizer

    tokenizer = load_tokenizer(tiny_checkpoints["word"] / "tokenizer.json")
    forced = tokenizer.encode("fair")
    status, d = call(server, "POST", "/api/next", {"checkpoint": "word", "prompt": "ROMEO:", "forced": forced,
                                                   "top": 7, "greedy": True})
    assert status == 200 and d["context"] == "ROMEO: fair"
    probs = [c["p"] for c in d["candidates"]]
    assert len(probs) == 7 and probs == sorted(probs, reverse=True)
    # Greedy takes the most likely candidate that is not <unk> (never drawn).
    assert d["sampler_choice"] == next(c["id"] for c in d["candidates"] if not c["unk"])
    assert call(server, "POST", "/api/next", {"checkpoint": "word", "top": 0})[0] == 400


def test_tokenization_view(server, tiny_checkpoints):
    from wordgen.tokenization import load_tokenizer

    text = "ROMEO: what light through yonder xylophone?\n"
    for name in ("word", "char"):
        tokenizer = load_tokenizer(tiny_checkpoints[name] / "tokenizer.json")
        status, d = call(server, "POST", "/api/tokenize", {"checkpoint": name, "text": text})
        assert status == 200
        ids = tokenizer.encode(text)
        assert [t["id"] for t in d["tokens"]] == ids
        assert "".join(t["text"] for t in d["tokens"]) == tokenizer.decode(ids)
        assert d["tokens_per_char"] == pytest.approx(len(ids) / len(text))
        assert d["num_unk"] == sum(t["unk"] for t in d["tokens"]) == tokenizer.count_unk(ids)
        if name == "word":
            assert [t["hides"] for t in d["tokens"] if t["unk"]] == ["xylophone"]
    assert d["num_unk"] > 0  # the char model never saw the "x" of "xylophone"
    assert call(server, "POST", "/api/tokenize", {"checkpoint": "word", "text": "y" * 2001})[0] == 413


def test_score_view_uses_the_evaluation_code(server):
    from wordgen.evaluate import evaluate_text

    bundle = server.playground.bundles["word"]
    status, d = call(server, "POST", "/api/score", {"checkpoint": "word", "text": VERSE})
    assert status == 200
    reference = evaluate_text(bundle.model, bundle.tokenizer, VERSE, batch_size=1)
    assert d["metrics"]["bits_per_char"] == pytest.approx(reference.bits_per_char, rel=1e-5)
    assert d["metrics"]["ppl_word"] == pytest.approx(reference.ppl_word, rel=1e-4)
    bits = sum(t["bits"] for t in d["tokens"])
    assert bits * math.log(2) == pytest.approx(reference.nll, rel=1e-5)


def test_the_page_and_its_assets_are_served_from_the_package(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    for path in ("/", "/static/app.js", "/static/style.css"):
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.status == 200, path
        response.read()
    status, info = call(server, "GET", "/api/info")
    assert [c["name"] for c in info["checkpoints"]] == ["word", "char"]
    assert call(server, "GET", "/no/such/page")[0] == 404
    # Nothing on the page comes from the internet.
    static = Path(create_app.__code__.co_filename).parent / "static"
    for file in static.iterdir():
        assert "http://" not in file.read_text() and "https://" not in file.read_text(), file


def test_checkpoint_names_are_unique():
    assert checkpoint_names(["runs/word", "other/word", "runs/char"]) == ["word-1", "word-2", "char"]
    assert checkpoint_names(["runs/ft", "base:word", "hf:org/name"]) == ["ft", "base:word", "hf:org/name"]


# ---------------------------------------------------------------- a fine-tuned model beside its base


@pytest.fixture(scope="module")
def fine_tuned(tmp_path_factory) -> Path:
    """A checkpoint folder `ft` fine-tuned from the shipped base:word on the verse: 2 steps."""
    from wordgen.config import TrainConfig
    from wordgen.training.loop import train

    folder = tmp_path_factory.mktemp("fine-tuned")
    train(TrainConfig(corpus=str(write_book(folder)), out=str(folder / "ft"), init="base:word", max_steps=2,
                      batch_size=4, seq_len=8, eval_interval=2, warmup_steps=1))
    return folder / "ft"


@pytest.fixture(scope="module")
def beside_base(fine_tuned):
    playground = Playground.load([str(fine_tuned), "base:word"], device="cpu", limits=Limits(max_concurrent=2))
    with BackgroundServer(create_app(playground)) as running:
        running.playground = playground
        yield running
    playground.close()


def test_info_names_a_base_by_its_spec_and_says_what_was_fine_tuned_from_what(beside_base):
    status, info = call(beside_base, "GET", "/api/info")
    assert status == 200
    assert [(c["name"], c["init"]) for c in info["checkpoints"]] == [("ft", "base:word"), ("base:word", None)]
    assert info["checkpoints"][1]["tokenizer"] == "word:max_vocab=32000"


def test_the_base_generates_as_wordgen_generate_does_and_its_copies_are_unavailable(beside_base, capsys):
    prompt = "ROMEO:"
    assert main(["generate", str(BASES / "word"), "--prompt", prompt, "--max-tokens", "8", "--seed", "5",
                 "--device", "cpu"]) == 0
    expected = capsys.readouterr().out
    events = list(Events(beside_base, {"checkpoint": "base:word", "prompt": prompt, "max_tokens": 8, "seed": 5}))
    assert [e for e, _ in events].count("token") == 8 and events[-1][0] == "done", events[-1]
    end = next(d for e, d in events if e == "end")
    assert prompt + end["text"] + "\n" == expected
    # The base read 72 ebooks that do not ship: no lookup, no error, the reason instead.
    assert set(end["copies"]) == {"unavailable"}
    assert "base:word was pretrained on 72 Project Gutenberg ebooks" in end["copies"]["unavailable"]
    assert beside_base.playground.copies("base:word", "It is the east") == end["copies"]
    # The fine-tuned model's own book is here: its copies are looked up as ever.
    assert "stretches" in beside_base.playground.copies("ft", "It is the east, and Juliet is the sun.")


def test_serving_an_unknown_base_fails_before_the_server_starts(capsys):
    assert main(["serve", "base:nope", "--port", "0", "--device", "cpu"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "no shipped base model 'base:nope'" in line and "base:bpe, base:word" in line


def test_a_fine_tuned_checkpoint_alone_gets_a_hint_to_serve_it_beside_its_base(fine_tuned, capsys, monkeypatch):
    import wordgen.serve.server

    monkeypatch.setattr(wordgen.serve.server, "run", lambda app, sock: None)  # start nothing, return at once
    assert main(["serve", str(fine_tuned), "--port", "0", "--device", "cpu"]) == 0
    hints = [line for line in capsys.readouterr().out.splitlines() if "beside its base" in line]
    assert hints == [f"fine-tuned from base:word: `wordgen serve {fine_tuned} base:word` shows it beside its base"]
    assert main(["serve", str(fine_tuned), "base:word", "--port", "0", "--device", "cpu"]) == 0
    assert "beside its base" not in capsys.readouterr().out


# ---------------------------------------------------------------- the command


def test_serve_without_the_extra_says_how_to_install_it(tiny_checkpoints, capsys, monkeypatch):
    for name in ("wordgen.serve.app", "wordgen.serve.server"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if it were not installed
    assert main(["serve", str(tiny_checkpoints["word"])]) == 2
    assert 'pip install -e ".[serve]"' in one_line_error(capsys.readouterr().err)


def test_serve_refuses_a_port_in_use_and_a_bad_checkpoint(tiny_checkpoints, tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", str(tiny_checkpoints["word"]), "--port", str(port)]) == 2
        assert "cannot listen on 127.0.0.1" in capsys.readouterr().err
    assert main(["serve", str(tmp_path / "missing"), "--port", "0"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_wordgen_serve_starts_on_loopback_and_says_so(tiny_checkpoints):
    process = subprocess.Popen(
        [sys.executable, "-m", "wordgen.cli", "serve", str(tiny_checkpoints["word"]), str(tiny_checkpoints["char"]),
         "--port", "0", "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        first = readline_within(process.stdout)
        second = readline_within(process.stdout)
        assert first.startswith("wordgen playground: http://127.0.0.1:"), first
        assert "loopback only" in second
        port = int(first.split(":")[3].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/api/info")
        assert json.loads(conn.getresponse().read())["checkpoints"][1]["name"] == "char"
    finally:
        process.terminate()  # SIGTERM: uvicorn shuts down gracefully
        process.wait(timeout=20)


def test_the_load_benchmark_runs_and_stops_by_itself(tiny_checkpoints, capsys):
    from benchmarks import serve_load

    code = serve_load.main([str(tiny_checkpoints["word"]), "--clients", "3", "--seconds", "1", "--max-tokens", "8",
                            "--max-requests", "12", "--max-concurrent", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    row = json.loads(out.splitlines()[0])
    assert row["errors"] == 0 and 0 < row["requests"] <= 12 and row["completed"] + row["busy_503"] == row["requests"]
    assert "| clients | requests |" in out
