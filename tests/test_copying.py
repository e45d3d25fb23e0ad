"""Is it copying the book? analysis/copying.py on worked examples, a model that learnt its text by
heart against one that learnt nothing, the lab's samples and `wordgen generate --copies`.

The playground's side is in test_serve_copying.py.
"""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest
from helpers import VERSE, one_line_error, run_cli, tiny_model_config, tiny_train_config

from wordgen.analysis.copying import EXPLAIN, CopyIndex, shorten, suffix_array
from wordgen.config import SampleConfig
from wordgen.errors import CorpusError

REFERENCE = "It is the east, and Juliet is the sun.\nArise, fair sun, and kill the envious moon,\n"
# Its words:  0 it  1 is  2 the  3 east  4 and  5 juliet  6 is  7 the  8 sun  9 arise  10 fair
#            11 sun  12 and  13 kill  14 the  15 envious  16 moon
SAMPLE = "Lo, JULIET is the SUN; and kill the moon."
# Its words:  0 lo  1 juliet  2 is  3 the  4 sun  5 and  6 kill  7 the  8 moon


# ---------------------------------------------------------------- worked examples


def test_the_longest_run_from_each_word_and_where_the_text_has_it():
    index = CopyIndex.from_texts([REFERENCE])
    sample_words = ["lo", "juliet", "is", "the", "sun", "and", "kill", "the", "moon"]
    found = index.matches(index.word_ids(sample_words))
    assert [length for length, _ in found] == [0, 4, 3, 2, 4, 3, 2, 1, 1]
    # "lo" is nowhere; "juliet is the sun" starts at word 5, "is the sun" at 6, "the sun" at 7,
    # "sun and kill the" at 11 (not the "sun" at 8, which "arise" follows), "moon" at 16.
    assert [found[i][1] for i in (0, 1, 2, 3, 4, 5, 6, 8)] == [-1, 5, 6, 7, 11, 12, 13, 16]
    assert found[7][1] in (2, 7, 14)  # "the" alone: any of its three places


def test_the_sample_s_longest_stretch_and_its_long_stretches_with_their_characters():
    copies = CopyIndex.from_texts([REFERENCE]).copies(SAMPLE, min_words=4)
    assert copies.num_words == 9 and copies.longest_words == 4
    first = copies.longest  # two stretches of 4: the earlier one, whatever the case of its letters
    assert (first.start, first.length, first.source_start) == (1, 4, 5)
    assert (first.char_start, first.char_end) == (4, 4 + len("JULIET is the SUN"))
    assert first.text == "JULIET is the SUN"
    # The second overlaps the first at "SUN" and is listed too; the runs inside the first are not.
    assert [(s.start, s.length, s.source_start, s.text) for s in copies.stretches] == [
        (1, 4, 5, "JULIET is the SUN"), (4, 4, 11, "SUN; and kill the")]
    assert SAMPLE[copies.stretches[1].char_start:copies.stretches[1].char_end] == "SUN; and kill the"
    assert CopyIndex.from_texts([REFERENCE]).copies(SAMPLE, min_words=5).stretches == ()
    assert copies.describe() == 'longest stretch copied from the training text: 4 words ("JULIET is the SUN")'
    assert copies.to_dict()["longest"] == {"words": 4, "start_word": 1, "start": 4, "end": 21, "source_word": 5,
                                           "text": "JULIET is the SUN"}


def test_punctuation_line_breaks_and_case_do_not_cut_a_stretch():
    index = CopyIndex.from_texts([REFERENCE])
    assert index.copies("the SUN arise FAIR sun").longest_words == 5  # across the book's ".\n"
    assert index.copies("the sun.\n\nArise, fair!").longest.text == "the sun.\n\nArise, fair"


def test_nothing_shared_an_empty_sample_and_an_empty_text():
    index = CopyIndex.from_texts([REFERENCE])
    nothing = index.copies("Xylophones <unk> zebras.")
    assert nothing.longest is None and nothing.longest_words == 0 and nothing.num_words == 3
    assert nothing.describe() == "longest stretch copied from the training text: none (no word of it is in the text)"
    assert index.copies("").longest is None and index.copies(" ,.\n").num_words == 0
    assert CopyIndex.from_texts([]).copies(SAMPLE).longest is None
    # A word model's <unk> is in no book: the copy stops there.
    assert index.copies("juliet is <unk> sun").longest_words == 2


def test_a_stretch_may_run_across_the_rows_of_a_split():
    # A split's rows are one text to the model that learnt them, so they are one text here too.
    index = CopyIndex.from_texts(["It is the east,\n", "and Juliet is the sun.\n"])
    assert index.copies("the east and juliet").longest_words == 4


def test_the_suffix_array_sorts_every_suffix_as_python_does():
    rng = random.Random(0)
    for _ in range(200):
        ids = np.array([rng.randrange(4) for _ in range(rng.randrange(40))], dtype=np.uint32)
        assert suffix_array(ids).tolist() == sorted(range(len(ids)), key=lambda i: ids[i:].tolist())
    assert suffix_array(np.zeros(1000, dtype=np.uint32)).tolist() == list(range(999, -1, -1))


def test_matches_agree_with_a_brute_force_search():
    rng = random.Random(1)
    for _ in range(150):
        book = [rng.choice("abcd") for _ in range(rng.randrange(30))]
        sample = [rng.choice("abcde") for _ in range(rng.randrange(15))]
        index = CopyIndex.from_texts([" ".join(book)])
        for i, (length, at) in enumerate(index.matches(index.word_ids(sample))):
            has = lambda n: any(book[j:j + n] == sample[i:i + n] for j in range(len(book) - n + 1))  # noqa: E731
            assert length == max((n for n in range(1, len(sample) - i + 1) if has(n)), default=0)
            assert book[at:at + length] == sample[i:i + length] if length else at == -1


def test_a_text_over_the_limit_is_refused_in_one_line():
    with pytest.raises(CorpusError, match="more than 100 characters") as caught:
        CopyIndex.from_texts([REFERENCE, REFERENCE], max_chars=100)
    assert "\n" not in str(caught.value)


def test_shorten_keeps_short_texts_and_cuts_long_ones_in_the_middle_at_spaces():
    assert shorten("a b\nc", 20) == "a b / c"
    cut = shorten(REFERENCE, 30)
    assert len(cut) <= 30 and cut.startswith("It is the") and cut.endswith("moon,") and " … " in cut


# ---------------------------------------------------------------- a model that learnt its text by heart


@pytest.fixture(scope="module")
def memorised(tmp_path_factory):
    """A word model trained for many steps on the verse repeated ten times: it knows it by heart."""
    from wordgen.training.loop import train

    folder = tmp_path_factory.mktemp("memorised")
    (folder / "book.txt").write_text(VERSE * 10, encoding="utf-8")
    config = tiny_train_config(folder / "book.txt", folder / "ckpt", model=tiny_model_config(embedding_dim=64,
                               hidden_size=64), max_steps=300, eval_interval=1000, optimizer="adamw", lr=1e-2,
                               seq_len=16, warmup_steps=5)
    return train(config)


def _greedy(model, tokenizer, prompt: str = "ROMEO:\n") -> str:
    from wordgen.generation.decode import generate

    (text,) = generate(model, tokenizer, prompt, max_tokens=60, sample=SampleConfig(greedy=True), seed=0)
    return text[len(prompt):]


@pytest.mark.slow
def test_a_memorised_model_recites_and_an_untrained_one_does_not(memorised):
    import torch

    from wordgen.model import LSTMLanguageModel

    index = CopyIndex.from_split(memorised.dataset["train"])
    recited = index.copies(_greedy(memorised.bundle.model, memorised.bundle.tokenizer))
    assert recited.longest_words >= 20, recited.describe()
    assert recited.stretches and recited.stretches[0].length >= 20
    torch.manual_seed(0)
    untrained = LSTMLanguageModel(copy.deepcopy(memorised.bundle.config.model)).eval()  # the same size
    babble = index.copies(_greedy(untrained, memorised.bundle.tokenizer))
    assert babble.longest_words <= 3, babble.describe()


@pytest.mark.slow
def test_the_lab_s_samples_say_what_they_copy(memorised):
    from wordgen.lab import draw_samples

    index = CopyIndex.from_split(memorised.dataset["train"])
    samplers = [SampleConfig(greedy=True), SampleConfig(temperature=1.0)]
    greedy, _ = draw_samples(memorised.bundle, "ROMEO:\n", samplers, max_tokens=60, seed=0, copies_of=index)
    assert greedy.copies == index.copies(greedy.continuation) and greedy.copies.longest_words >= 20
    assert greedy.to_dict()["copies"]["longest_words"] == greedy.copies.longest_words
    (plain,) = draw_samples(memorised.bundle, "ROMEO:\n", samplers[:1], max_tokens=5, seed=0)
    assert plain.copies is None and plain.to_dict()["copies"] is None


@pytest.mark.slow
def test_generate_copies_names_the_longest_stretch_after_each_sample(memorised, tmp_path, capsys):
    ckpt = memorised.bundle.config.out
    code, out, err = run_cli(capsys, "generate", ckpt, "--prompt", "ROMEO:\n", "--greedy", "--max-tokens", "60",
                             "--num-samples", "2", "--copies", "--device", "cpu")
    assert code == 0, err
    notes = [line for line in out.splitlines() if line.startswith("[longest stretch copied")]
    assert len(notes) == 2 and out.rstrip().endswith("]")
    # The checkpoint's own training text, read from its config.json as `wordgen evaluate` reads it.
    expected = CopyIndex.from_split(memorised.dataset["train"]).copies(
        _greedy(memorised.bundle.model, memorised.bundle.tokenizer))
    assert expected.longest_words >= 20 and notes[0] == f"[{expected.describe()}]"
    other = tmp_path / "other.txt"
    other.write_text("Arise, fair sun, and kill the envious moon, said nobody.\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "generate", ckpt, "--prompt", "ROMEO:\n", "--greedy", "--max-tokens", "60",
                             "--copies", "--against", other, "--device", "cpu")
    assert code == 0, err
    assert out.splitlines()[-1].startswith("[longest stretch copied from the training text: ")
    assert 0 < int(out.splitlines()[-1].split(": ")[1].split(" ")[0]) <= 9  # the file has 9 words of the verse
    code, plain, err = run_cli(capsys, "generate", ckpt, "--prompt", "ROMEO:\n", "--greedy", "--max-tokens", "60")
    assert code == 0 and "longest stretch" not in plain


@pytest.mark.parametrize("argv, words", [
    (["--against", "{book}"], "--against only applies with --copies"),
    (["--copies", "--against", "{missing}"], "does not exist"),
])
def test_generate_copies_refuses_bad_input_in_one_line(shared_trained, tmp_path, capsys, argv, words):
    ckpt = shared_trained.bundle.config.out
    argv = [a.format(book=shared_trained.bundle.config.corpus, missing=tmp_path / "nope.txt") for a in argv]
    code, out, err = run_cli(capsys, "generate", ckpt, "--max-tokens", "3", *argv)
    assert code == 2 and words in one_line_error(err)


@pytest.mark.slow
def test_the_lab_prints_each_sample_s_longest_copy_and_explains_it_once(tmp_path, capsys):
    from helpers import tiny_flags, write_book

    code, out, err = run_cli(capsys, "lab", "--corpus", write_book(tmp_path), "--out", tmp_path / "lab",
                             "--max-steps", "4", "--max-tokens", "12", *tiny_flags())
    assert code == 0, err
    lines = out.splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith("--- ")]
    assert len(headers) == 8  # greedy, five temperatures, top-k, top-p
    for start, end in zip(headers, headers[1:] + [len(lines)]):
        notes = [line for line in lines[start:end] if line.startswith("[longest stretch copied from the training")]
        assert len(notes) == 1, lines[start:end]
    assert lines.count(f"(copied stretches: {EXPLAIN})") == 1


def test_the_benchmark_runs_at_tiny_sizes(book, capsys):
    from benchmarks import copying as bench  # benchmarks/ is not installed: pyproject's pytest pythonpath finds it

    assert bench.main(["--book", str(book), "--chars", "4000", "--repeats", "1", "--samples", "2", "--no-save"]) == 0
    out = capsys.readouterr().out
    assert "index of 3," in out and "words" in out and "wrote" not in out
    for figure in ("lookup, 60-word sample (2 samples)", "lookup, 300-word sample (2 samples)",
                   "longest stretch shared by chance, 60-word samples: median", "copied from the book (2 samples)"):
        assert figure in out, out
    # The verse repeated: text held out from it is the verse again, which the index has whole.
    rows = bench.measure(*bench.book_texts(str(book), 4000)[:2], repeats=1, samples=2)
    assert dict(((s, f), v) for s, f, v, _ in rows)[("held-out", "longest stretch shared by chance, "
                                                     "60-word samples: largest")] == 60
