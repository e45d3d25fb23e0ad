"""The playground says what each sample copies from its checkpoint's training text, over a real
loopback server (as test_serve.py starts one), and its page marks those stretches.

Checkpoints: the session's tiny word and char models (conftest.tiny_checkpoints, one book, one seed),
and one trained here to know a short text by heart, whose greedy samples recite it.
"""

from __future__ import annotations

import json
import shutil

import pytest
from helpers import VERSE, tiny_model_config, tiny_train_config
from test_serve import Events, call

from wordgen.analysis.copying import EXPLAIN, MARK_WORDS, CopyIndex
from wordgen.serve.app import create_app
from wordgen.serve.playground import Playground
from wordgen.serve.server import BackgroundServer
from wordgen.training.checkpoint import load_config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def memorised(tmp_path_factory):
    """A checkpoint folder of a word model trained 300 steps on the verse repeated ten times."""
    from wordgen.training.loop import train

    folder = tmp_path_factory.mktemp("memorised-serve")
    (folder / "book.txt").write_text(VERSE * 10, encoding="utf-8")
    train(tiny_train_config(folder / "book.txt", folder / "recites", model=tiny_model_config(
        embedding_dim=64, hidden_size=64), max_steps=300, eval_interval=1000, optimizer="adamw", lr=1e-2,
        seq_len=16, warmup_steps=5))
    return folder / "recites"


@pytest.fixture(scope="module")
def moved(tiny_checkpoints, tmp_path_factory):
    """A copy of the tiny word checkpoint whose training text is no longer where config.json says."""
    folder = tmp_path_factory.mktemp("moved") / "moved"
    shutil.copytree(tiny_checkpoints["word"], folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["corpus"] = str(folder.parent / "gone.txt")
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def server(tiny_checkpoints, memorised, moved):
    playground = Playground.load([str(tiny_checkpoints["word"]), str(tiny_checkpoints["char"]), str(memorised),
                                  str(moved)], device="cpu")
    with BackgroundServer(create_app(playground)) as running:
        running.playground = playground
        yield running
    playground.close()


def _ends(server, body: dict) -> list[dict]:
    events = list(Events(server, body))
    assert all(event != "error" for event, _ in events), events
    return [data for event, data in events if event == "end"]


def test_a_reciting_model_s_sample_carries_its_long_copied_stretches(server, memorised):
    (end,) = _ends(server, {"checkpoint": "recites", "prompt": "ROMEO:\n", "max_tokens": 60, "greedy": True})
    copies = end["copies"]
    assert copies["longest_words"] >= 20 and copies["min_words"] == MARK_WORDS
    # Exactly what the library finds in the training text that config.json names.
    assert copies == CopyIndex.from_training_corpus(load_config(memorised)).copies(end["text"]).to_dict()
    longest = copies["longest"]
    assert end["text"][longest["start"]:longest["end"]] == longest["text"]
    assert copies["stretches"] and all(s["words"] >= MARK_WORDS for s in copies["stretches"])
    assert " ".join(longest["text"].split()) in " ".join((VERSE * 2).split())  # word for word from the book


def test_every_sample_of_a_request_says_what_it_copies(server, tiny_checkpoints):
    ends = _ends(server, {"checkpoint": "word", "prompt": "ROMEO:", "max_tokens": 30, "num_samples": 2, "seed": 4})
    index = CopyIndex.from_training_corpus(load_config(tiny_checkpoints["word"]))
    assert [e["sample"] for e in ends] == [0, 1]
    for end in ends:
        assert end["copies"] == index.copies(end["text"]).to_dict()
        assert end["copies"]["num_words"] > 0


def test_the_index_is_built_once_per_training_text(server):
    playground = server.playground
    _ends(server, {"checkpoint": "char", "prompt": "ROMEO:", "max_tokens": 5})
    word = playground.copy_index("word")
    assert playground.copy_index("word") is word  # kept, not rebuilt per request
    assert playground.copy_index("char") is word  # another checkpoint of the same book and seed shares it
    assert playground.copy_index("recites") is not word


def test_a_training_text_that_cannot_be_read_is_said_and_the_sample_still_comes(server):
    (end,) = _ends(server, {"checkpoint": "moved", "prompt": "ROMEO:", "max_tokens": 8})
    assert set(end["copies"]) == {"unavailable"} and "gone.txt" in end["copies"]["unavailable"]
    assert "does not exist" in end["copies"]["unavailable"] and "\n" not in end["copies"]["unavailable"]
    assert end["text"]


def test_the_page_learns_the_threshold_and_the_explanation(server):
    status, info = call(server, "GET", "/api/info")
    assert status == 200 and info["copies"] == {"min_words": MARK_WORDS, "explain": EXPLAIN}


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH: apt-get install -y chromium (see .ci/run)")
def test_the_page_marks_the_copied_stretches_and_names_them_in_the_card(server):
    sync_api = pytest.importorskip("playwright.sync_api", reason='Playwright for Python is missing')
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(server.url + "/")
            page.wait_for_selector("#ckpt-a option", state="attached")
            page.select_option("#ckpt-a", "recites")
            page.select_option("#ckpt-b", "recites")  # the same as A: one column
            page.check("#mode-greedy")
            page.fill("#prompt", "ROMEO:\n")
            page.fill("#max-tokens", "60")
            page.click("#generate")
            page.wait_for_selector(".note.copied")
            note = page.locator(".note.copied")
            assert note.inner_text().startswith("longest stretch copied from the training text: ")
            assert "long" in note.get_attribute("class") and note.get_attribute("title") == EXPLAIN
            copied = page.locator(".tok.copied")
            assert copied.count() >= 20
            copied.nth(3).hover()
            assert "in a row that the training text has" in page.inner_text("#tip .copied-note")
            assert not errors, errors
        finally:
            browser.close()
