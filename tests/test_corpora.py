"""Tests for wordgen.corpora: every corpus form, the Shakespeare conversion, Gutenberg
clean-up, deterministic splits, and one test per user error (one-line CorpusError)."""

import os

import datasets
import pytest
from helpers import one_line_message

from wordgen import corpora
from wordgen.corpora import (
    is_gutenberg,
    list_builtin_corpora,
    list_shakespeare_plays,
    load_corpus,
    read_text_file,
    shakespeare_markdown_to_text,
    split_text_contiguous,
    strip_gutenberg,
)
from wordgen.corpora.shakespeare import _play_text
from wordgen.errors import CorpusError, WordgenError

SPLITS = ["train", "validation", "test"]


def assert_corpus_error(excinfo, *needles):
    """The message is one line and names what the user got wrong."""
    message = one_line_message(excinfo)
    assert isinstance(excinfo.value, WordgenError)
    for needle in needles:
        assert needle in message, message


def texts(dd):
    # list(): in datasets 5 a column is a lazy Column object, not a list.
    return {split: list(dd[split]["text"]) for split in SPLITS}


def titles(dd):
    return {split: list(dd[split]["title"]) for split in SPLITS}


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def lines_text(prefix, n):
    return "".join(f"{prefix} line {i} of the story goes here.\n" for i in range(n))


# --------------------------------------------------------------------------- listing


def test_list_builtin_corpora_has_shakespeare():
    rows = list_builtin_corpora()
    assert ("shakespeare", corpora.BUILTIN_CORPORA["shakespeare"]) in rows
    assert all(isinstance(desc, str) and "\n" not in desc for _, desc in rows)


def test_list_shakespeare_plays():
    plays = list_shakespeare_plays()
    assert len(plays) == 38
    assert plays == sorted(plays)
    assert {"macbeth", "hamlet", "a-midsummer-night-s-dream", "edward-iii"} <= set(plays)


# --------------------------------------------------------------------------- built-in Shakespeare


def test_builtin_split_is_by_whole_plays_34_2_2():
    dd = load_corpus("shakespeare", seed=0)
    assert [len(dd[s]) for s in SPLITS] == [34, 2, 2]
    per_split = [set(titles(dd)[s]) for s in SPLITS]
    assert sum(len(t) for t in per_split) == 38
    assert set().union(*per_split) == set(list_shakespeare_plays())
    for split in SPLITS:
        assert dd[split].column_names == ["title", "text"]
        assert all(text.strip() for text in texts(dd)[split])


def test_builtin_split_is_deterministic_per_seed():
    first, again, other = (load_corpus("shakespeare", seed=s) for s in (0, 0, 1))
    assert titles(first) == titles(again)
    assert titles(first)["train"] != titles(other)["train"]
    assert titles(first)["validation"] + titles(first)["test"] != titles(other)["validation"] + titles(other)["test"]


def test_single_play_is_contiguous_90_5_5():
    dd = load_corpus("shakespeare:macbeth")
    parts = texts(dd)
    assert all(len(parts[s]) == 1 for s in SPLITS)
    train, validation, test = (parts[s][0] for s in SPLITS)
    whole = _play_text("macbeth", False)
    assert "\n".join([train, validation, test]) == whole
    assert train.startswith("First Witch:\nWhen shall we three meet again\n")
    assert abs(len(train) / len(whole) - 0.90) < 0.01
    assert abs(len(validation) / len(whole) - 0.05) < 0.01


def test_single_play_name_is_case_insensitive_and_keeps_directions_on_request():
    dd = load_corpus("shakespeare:Macbeth", stage_directions=True)
    assert texts(dd)["train"][0].startswith("[Thunder and lightning. Enter three Witches]\n\nFirst Witch:\n")


def test_no_markdown_left_in_any_play():
    for slug in list_shakespeare_plays():
        text = _play_text(slug, False)
        for char in "_*\\#":
            assert char not in text, f"{char!r} left in {slug}"
        assert text.endswith("\n") and not text.endswith("\n\n")
        assert "\n\n\n" not in text, slug


def test_plays_are_cached():
    assert _play_text("hamlet", False) is _play_text("hamlet", False)


# --------------------------------------------------------------------------- Markdown conversion

SNIPPET = """# Macbeth

## ACT I

### SCENE I. A desert place.

_Alarum within. Enter DUNCAN,
meeting a bleeding Sergeant_

**DUNCAN**  
What bloody man is that?  
_\\[Aside]_  
He can report\\-- as seemeth\u2014by his plight.  
No, no; he'll __\\[ ]_  
*[He draws his sword.]*

Yet speaks he on, after the sword.

**PAGE**  
[Within]_  
Who's there?

### SCENE II. Another place.

*Exit.*

**ALL**  
_Exeunt_
"""

EXPECTED_WITHOUT = """DUNCAN:
What bloody man is that?
He can report-- as seemeth\u2014by his plight.
No, no; he'll

Yet speaks he on, after the sword.

PAGE:
Who's there?
"""

EXPECTED_WITH = """[Alarum within. Enter DUNCAN, meeting a bleeding Sergeant]

DUNCAN:
What bloody man is that?
[Aside]
He can report-- as seemeth\u2014by his plight.
No, no; he'll
[He draws his sword.]

Yet speaks he on, after the sword.

PAGE:
[Within]
Who's there?

[Exit.]

ALL:
[Exeunt]
"""


def test_markdown_to_text_drops_stage_directions():
    assert shakespeare_markdown_to_text(SNIPPET) == EXPECTED_WITHOUT


def test_markdown_to_text_keeps_stage_directions_in_brackets():
    assert shakespeare_markdown_to_text(SNIPPET, stage_directions=True) == EXPECTED_WITH


def test_markdown_speaker_without_blank_line_starts_new_speech():
    markdown = "**A**  \nHello.  \n_\\[To B]_  \n**B**  \nHi.\n"
    assert shakespeare_markdown_to_text(markdown) == "A:\nHello.\n\nB:\nHi.\n"


def test_markdown_to_text_of_nothing_is_empty():
    assert shakespeare_markdown_to_text("# Title\n\n## ACT I\n") == ""


# --------------------------------------------------------------------------- Gutenberg

GUTENBERG = """The Project Gutenberg eBook of Frankenstein

This eBook is for the use of anyone anywhere.

*** START OF THE PROJECT GUTENBERG EBOOK FRANKENSTEIN ***


Letter 1

You will rejoice to hear that no disaster has accompanied
the commencement of an enterprise.

*** END OF THE PROJECT GUTENBERG EBOOK FRANKENSTEIN ***

Section 1. General Terms of Use and Redistributing Project Gutenberg-tm
1.A. By reading or using any part of this Project Gutenberg-tm electronic work...
"""

BOOK = """Letter 1

You will rejoice to hear that no disaster has accompanied
the commencement of an enterprise."""


def test_strip_gutenberg_keeps_only_the_book():
    assert is_gutenberg(GUTENBERG)
    assert strip_gutenberg(GUTENBERG) == BOOK


@pytest.mark.parametrize(
    "start, end",
    [
        ("*** START OF THIS PROJECT GUTENBERG EBOOK ALICE'S ADVENTURES ***", "End of the Project Gutenberg EBook of Alice"),
        ("***START OF THE PROJECT GUTENBERG EBOOK ALICE***", "End of Project Gutenberg's Alice's Adventures"),
        ("*** START OF THE PROJECT GUTENBERG EBOOK FRANKENSTEIN; OR, THE\nMODERN PROMETHEUS ***", "*** END OF THIS PROJECT GUTENBERG EBOOK X ***"),
    ],
)
def test_strip_gutenberg_older_marker_variants(start, end):
    text = f"header\n{start}\n\n{BOOK}\n\n{end}\nlicence\n"
    assert strip_gutenberg(text) == BOOK


def test_strip_gutenberg_without_end_keeps_everything_after_start():
    text = "header\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\n" + BOOK + "\n\n"
    assert strip_gutenberg(text) == BOOK


def test_text_without_markers_is_unchanged():
    text = "\n\nJust a story.\nNothing else.\n\n"
    assert not is_gutenberg(text)
    assert strip_gutenberg(text) == text


def test_gutenberg_file_is_stripped_on_load(tmp_path):
    body = lines_text("Frankenstein", 40)
    path = write(tmp_path / "frank.txt", GUTENBERG.replace(BOOK, body.rstrip("\n")))
    joined = "\n".join(t[0] for t in texts(load_corpus(str(path))).values())
    assert joined == body.rstrip("\n")


def test_read_text_file_strips_gutenberg(tmp_path):
    assert read_text_file(write(tmp_path / "frank.txt", GUTENBERG)) == BOOK


def test_read_text_file_refuses_a_folder(tmp_path):
    with pytest.raises(CorpusError) as excinfo:
        read_text_file(tmp_path)
    assert_corpus_error(excinfo, str(tmp_path), "folder")


# --------------------------------------------------------------------------- contiguous split


@pytest.mark.parametrize(
    "text",
    [
        "a\nb\nc",
        "\n\nfirst\n\n\nsecond\nthird\n\n",
        "x" * 10_000 + "\nshort\nend\n",
        "one\ntwo\n" + "y" * 10_000,
        lines_text("many", 500),
    ],
)
def test_split_text_contiguous_never_returns_an_empty_split(text):
    dd = split_text_contiguous(text)
    parts = [texts(dd)[s][0] for s in SPLITS]
    assert all(part.strip() for part in parts)
    assert "\n".join(parts) == text


def test_split_text_contiguous_respects_fractions():
    text = lines_text("story", 1000)
    dd = split_text_contiguous(text, fractions=(0.8, 0.1, 0.1))
    assert abs(len(texts(dd)["train"][0]) / len(text) - 0.8) < 0.01


def test_split_text_contiguous_too_short():
    with pytest.raises(CorpusError) as excinfo:
        split_text_contiguous("only one line\n\n   \nand two")
    assert_corpus_error(excinfo, "too short", "2 non-empty line")


def test_split_text_contiguous_bad_fractions():
    with pytest.raises(CorpusError) as excinfo:
        split_text_contiguous(lines_text("x", 10), fractions=(0.9, 0.2, 0.1))
    assert_corpus_error(excinfo, "fractions")


def test_a_long_split_is_several_rows_whose_stream_is_the_split_exactly(monkeypatch):
    from wordgen.corpora import splits
    from wordgen.data import row_text

    text = lines_text("long", 400)
    whole = {name: rows[0] for name, rows in texts(split_text_contiguous(text)).items()}
    monkeypatch.setattr(splits, "ROW_CHARS", 64)
    cut = texts(split_text_contiguous(text))
    assert len(cut["train"]) > 10
    for name in SPLITS:
        assert "".join(row_text(row) for row in cut[name]) == row_text(whole[name])
        # each row but the last ends in a newline between two non-space characters
        assert all(row[-1] == "\n" and not row[-2].isspace() and not following[0].isspace()
                   for row, following in zip(cut[name], cut[name][1:]))


def test_a_big_file_is_cut_on_disk_into_the_same_splits(tmp_path, monkeypatch):
    from wordgen.corpora import local, splits
    from wordgen.data import split_text

    path = tmp_path / "big.txt"
    path.write_text("*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\n" + lines_text("big", 600)
                    + "\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\nlicence\n", encoding="utf-8")
    in_memory = load_corpus(str(path))
    monkeypatch.setattr(local, "BIG_FILE_BYTES", 1_000)
    monkeypatch.setattr(splits, "ROW_CHARS", 500)
    on_disk = load_corpus(str(path))
    assert len(on_disk["train"]) > 1 and on_disk["train"].cache_files  # rows, in an arrow file under the cache
    for name in SPLITS:
        assert split_text(on_disk[name]) == split_text(in_memory[name])


# --------------------------------------------------------------------------- local files


def test_single_file_bom_and_crlf(tmp_path):
    path = tmp_path / "book.txt"
    path.write_bytes(b"\xef\xbb\xbf" + lines_text("crlf", 50).replace("\n", "\r\n").encode())
    dd = load_corpus(str(path))
    joined = "\n".join(rows[0] for rows in texts(dd).values())
    assert joined == lines_text("crlf", 50)


def test_folder_of_five_files_is_split_by_files(tmp_path):
    for i in range(4):
        write(tmp_path / "books" / f"book{i}.txt", lines_text(f"book{i}", 5))
    write(tmp_path / "books" / "more" / "book4.txt", lines_text("book4", 5))
    write(tmp_path / "books" / "notes.md", "not a corpus file")
    dd = load_corpus(str(tmp_path / "books"), seed=3)
    assert [len(dd[s]) for s in SPLITS] == [3, 1, 1]
    names = sum(titles(dd).values(), [])
    assert sorted(os.path.basename(t) for t in names) == [f"book{i}.txt" for i in range(5)]
    again = load_corpus(str(tmp_path / "books"), seed=3)
    assert texts(dd) == texts(again)


def test_glob_pattern(tmp_path):
    for i in range(3):
        write(tmp_path / f"part{i}.txt", lines_text(f"part{i}", 5))
    write(tmp_path / "other.txt", lines_text("other", 5))
    dd = load_corpus(str(tmp_path / "part?.txt"))
    assert [len(dd[s]) for s in SPLITS] == [1, 1, 1]
    assert all("other" not in text for rows in texts(dd).values() for text in rows)


def test_two_files_are_concatenated_and_cut(tmp_path):
    write(tmp_path / "a.txt", lines_text("a", 30))
    write(tmp_path / "b.txt", lines_text("b", 30))
    dd = load_corpus(str(tmp_path))
    joined = "\n".join(rows[0] for rows in texts(dd).values())
    assert joined == lines_text("a", 30) + "\n" + lines_text("b", 30)


# --------------------------------------------------------------------------- Hugging Face


def test_hf_parquet_folder_with_all_splits(tmp_path, hf_cache):
    folder = tmp_path / "pq"
    folder.mkdir()
    for split in SPLITS:
        rows = {"text": [f"{split} row {i}" for i in range(4)], "label": list(range(4))}
        datasets.Dataset.from_dict(rows).to_parquet(str(folder / f"{split}-00000.parquet"))
    dd = load_corpus(f"hf:{folder}")
    assert texts(dd)["validation"] == [f"validation row {i}" for i in range(4)]
    assert all(dd[s].column_names == ["text"] for s in SPLITS)


def test_hf_train_only_gets_validation_and_test_carved_out(tmp_path, hf_cache):
    (tmp_path / "pq" / "data").mkdir(parents=True)
    rows = [f"sentence {i}" for i in range(100)]
    datasets.Dataset.from_dict({"text": rows}).to_parquet(str(tmp_path / "pq" / "data" / "train.parquet"))
    dd = load_corpus(f"hf:{tmp_path / 'pq'}", seed=1)
    assert [len(dd[s]) for s in SPLITS] == [90, 5, 5]
    assert sorted(sum(texts(dd).values(), [])) == sorted(rows)
    assert texts(dd) == texts(load_corpus(f"hf:{tmp_path / 'pq'}", seed=1))


def test_hf_save_to_disk_with_dev_split_and_other_column(tmp_path):
    dd = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict({"content": ["a", "b", "c"], "id": [1, 2, 3]}),
            "dev": datasets.Dataset.from_dict({"content": ["d"], "id": [4]}),
            "test": datasets.Dataset.from_dict({"content": ["e"], "id": [5]}),
        }
    )
    dd.save_to_disk(str(tmp_path / "saved"))
    loaded = load_corpus(f"hf:{tmp_path / 'saved'}", text_column="content")
    assert texts(loaded) == {"train": ["a", "b", "c"], "validation": ["d"], "test": ["e"]}


def test_hf_save_to_disk_single_dataset(tmp_path):
    datasets.Dataset.from_dict({"text": [f"t{i}" for i in range(20)]}).save_to_disk(str(tmp_path / "one"))
    dd = load_corpus(f"hf:{tmp_path / 'one'}")
    assert [len(dd[s]) for s in SPLITS] == [18, 1, 1]


def test_hf_missing_text_column_names_the_columns(tmp_path):
    datasets.Dataset.from_dict({"body": ["a", "b", "c"], "id": [1, 2, 3]}).save_to_disk(str(tmp_path / "d"))
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(f"hf:{tmp_path / 'd'}")
    assert_corpus_error(excinfo, "'text'", "body", "id", str(tmp_path / "d"))


def test_hf_non_text_column(tmp_path):
    datasets.Dataset.from_dict({"id": [1, 2, 3]}).save_to_disk(str(tmp_path / "d"))
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(f"hf:{tmp_path / 'd'}", text_column="id")
    assert_corpus_error(excinfo, "'id'", "not text")


def test_hf_too_few_rows_to_carve(tmp_path):
    datasets.Dataset.from_dict({"text": ["a", "b"]}).save_to_disk(str(tmp_path / "d"))
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(f"hf:{tmp_path / 'd'}")
    assert_corpus_error(excinfo, "2 train row")


def test_hf_load_failure_is_a_one_line_corpus_error(tmp_path, hf_cache):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(f"hf:{tmp_path / 'empty'}")
    assert_corpus_error(excinfo, "could not load Hugging Face dataset", str(tmp_path / "empty"), "HF_HUB_OFFLINE")


def test_hf_without_name():
    with pytest.raises(CorpusError) as excinfo:
        load_corpus("hf:")
    assert_corpus_error(excinfo, "hf:")


# --------------------------------------------------------------------------- user errors


def test_missing_path(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(str(missing))
    assert_corpus_error(excinfo, str(missing), "does not exist")


def test_unknown_corpus_name():
    with pytest.raises(CorpusError) as excinfo:
        load_corpus("tinystories")
    assert_corpus_error(excinfo, "unknown corpus 'tinystories'", "wordgen corpora", "hf:")


def test_unknown_play_suggests_close_matches():
    with pytest.raises(CorpusError) as excinfo:
        load_corpus("shakespeare:macbet")
    assert_corpus_error(excinfo, "'macbet'", "macbeth", "wordgen corpora")


def test_play_name_missing():
    with pytest.raises(CorpusError) as excinfo:
        load_corpus("shakespeare:")
    assert_corpus_error(excinfo, "shakespeare:macbeth")


def test_special_file_is_refused(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(str(fifo))
    assert_corpus_error(excinfo, str(fifo), "not a regular file")


def test_folder_without_txt_files(tmp_path):
    write(tmp_path / "notes.md", "# notes")
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(str(tmp_path))
    assert_corpus_error(excinfo, "no .txt files in folder", str(tmp_path))


def test_glob_matching_nothing(tmp_path):
    pattern = str(tmp_path / "*.txt")
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(pattern)
    assert_corpus_error(excinfo, pattern, "matches no files")


@pytest.mark.parametrize("content", ["", "  \n\t\n\n"])
def test_empty_file(tmp_path, content):
    path = write(tmp_path / "empty.txt", content)
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(str(path))
    assert_corpus_error(excinfo, str(path), "empty")


def test_empty_file_among_several(tmp_path):
    for i in range(3):
        write(tmp_path / f"f{i}.txt", lines_text("f", 5))
    write(tmp_path / "f3.txt", "")
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(str(tmp_path))
    assert_corpus_error(excinfo, "f3.txt", "empty")


def test_gutenberg_file_without_book_text(tmp_path):
    path = write(tmp_path / "g.txt", "*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\nlicence\n")
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(str(path))
    assert_corpus_error(excinfo, str(path), "Project Gutenberg")


def test_binary_file(tmp_path):
    path = tmp_path / "archive.txt"
    path.write_bytes(b"PK\x03\x04\x00\x00binary" * 10)
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(str(path))
    assert_corpus_error(excinfo, str(path), "not UTF-8 text")


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\u00e9 au lait\nline two\nline three\n".encode("latin-1"))
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(str(path))
    assert_corpus_error(excinfo, str(path), "not UTF-8 text")


def test_file_too_short_to_split(tmp_path):
    path = write(tmp_path / "tiny.txt", "Hello there.\nGoodbye.\n")
    with pytest.raises(CorpusError) as excinfo:
        load_corpus(str(path))
    assert_corpus_error(excinfo, str(path), "too short", "2 non-empty line")
