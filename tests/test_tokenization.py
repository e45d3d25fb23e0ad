"""Tests for wordgen.tokenization: every tokenizer through the same cases, then each one's specifics.

The tokenizers are trained on a small corpus built here (a few hundred lines, with
unicode, verse-like newlines, dialogue and punctuation); the "hf" case is a WordPiece
tokenizer.json built with the `tokenizers` library into a temporary folder, "user"
is a tiny byte tokenizer registered the way a student would plug in their own class, and
"letters" is a plugin that implements the whole contract by hand without subclassing
`Tokenizer` (defined in test_plugins.py, where it also trains and generates end to end).
"""

from __future__ import annotations

import json
import os

import pytest
import tokenizers
from helpers import one_line_message
from test_plugins import Letters
from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

from wordgen.errors import TokenizerError
from wordgen.tokenization import (
    BPETokenizer,
    CharTokenizer,
    HFTokenizer,
    Tokenizer,
    WordTokenizer,
    available_tokenizers,
    load_tokenizer,
    parse_tokenizer_spec,
    register_tokenizer,
    registry,
    tokenizer_from_dict,
    train_tokenizer,
)

# ---------------------------------------------------------------------------------------
# A small corpus: a few hundred lines of varied text.
# ---------------------------------------------------------------------------------------

_VERSE = """\
To be, or not to be: that is the question.
Whether 'tis nobler in the mind to suffer
The slings and arrows of outrageous fortune,
Or to take arms against a sea of troubles?
When the hurlyburly's done, when the battle's lost and won.
O'er the well-known hills (and far away) [they said]; no more!
"Hello," she said, "the café is naïve — and cold ☃."
KING: Go, and tell the kings' crowns to come.
QUEEN: Why? 3.14 is not 42 -- nor is it 1984!
Emoji are words too 😀 or are they... — perhaps; perhaps not."""

_SUBJECTS = ["The king", "A fool", "My lady", "The ghost", "Our café", "This naïve boy", "Horatio"]
_VERBS = ["speaks", "walks", "dreams", "weeps", "laughs"]
_OBJECTS = ["of death", "in the rain", "(softly)", "to the sea", "with joy!", "at night?", "— alone ☃",
            "in 'the' garden", "for 1000 days", "under stars; slowly", "as \"friends\" do"]


def _corpus() -> list[str]:
    texts = [_VERSE] * 3
    for i in range(330):
        line = f"{_SUBJECTS[i % 7]} {_VERBS[i % 5]} {_OBJECTS[i % 11]}, line {i}."
        # Every fifth text is a little dialogue with a speaker line and a blank line.
        texts.append(f"SPEAKER {i % 4}:\n{line}\n\n" if i % 5 == 0 else line + "\n")
    return texts


CORPUS = _corpus()

# Edge cases every tokenizer must handle; all of their characters occur in CORPUS, so
# the char tokenizer can promise an exact round trip on them.
EDGE_TEXTS = {
    "empty": "",
    "unicode": "café — naïve ☃ 😀",
    "newlines": "KING:\nGo.\n\nQUEEN:\n  Why?\n",
    "punctuation": 'He said, "to be (or not) [to be]; that is: the question!" ... -- \'tis',
    "spaces": "   leading and trailing   ",
    "corpus": CORPUS[0],
}

# ---------------------------------------------------------------------------------------
# Fixtures: one trained tokenizer per kind, shared by the module (training is quick).
# ---------------------------------------------------------------------------------------


class ByteTokenizer(Tokenizer):
    """A student's tokenizer: the UTF-8 bytes of the text, 256 ids, nothing unknown."""

    @classmethod
    def train_from_texts(cls, texts, **options):
        return cls()

    def encode(self, text):
        return list(text.encode("utf-8"))

    def decode(self, ids):
        return bytes(self._check_ids(ids)).decode("utf-8", errors="replace")

    @property
    def vocab_size(self):
        return 256

    def id_to_token(self, i):
        return bytes([self._check_ids([i])[0]]).decode("latin-1")

    def token_to_id(self, token):
        return ord(token) if len(token) == 1 and ord(token) < 256 else None

    def to_dict(self):
        return {"wordgen_tokenizer": self.kind, "version": 1}

    @classmethod
    def from_dict(cls, d):
        return cls()


USER_NAME = "test_bytes"


@pytest.fixture(scope="module")
def user_registered():
    register_tokenizer(USER_NAME, ByteTokenizer)
    yield USER_NAME
    # No public unregister (students never need one); keep the registry clean for the
    # other test modules that list available tokenizers.
    registry._REGISTRY.pop(USER_NAME, None)


@pytest.fixture(scope="module")
def letters_registered():
    register_tokenizer("letters", Letters)  # the name test_plugins uses: register sets Letters.kind
    yield "letters"
    registry._REGISTRY.pop("letters", None)


def _build_wordpiece(path) -> str:
    hf = tokenizers.Tokenizer(models.WordPiece(unk_token="[UNK]"))
    hf.normalizer = normalizers.BertNormalizer(lowercase=True)
    hf.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    hf.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=["[UNK]"], show_progress=False)
    hf.train_from_iterator(CORPUS, trainer=trainer)
    hf.save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def wordpiece_path(tmp_path_factory):
    return _build_wordpiece(tmp_path_factory.mktemp("hf") / "tokenizer.json")


# kind -> whether decode(encode(s)) == s is promised on EDGE_TEXTS
EXACT = {"char": True, "word": False, "bpe": True, "hf": False, "user": True, "letters": False}


@pytest.fixture(scope="module", params=list(EXACT))
def tok(request, wordpiece_path, user_registered, letters_registered) -> Tokenizer:
    spec = {
        "char": "char",
        "word": "word",
        "bpe": "bpe:300",
        "hf": f"hf:{wordpiece_path}",
        "user": user_registered,
        "letters": letters_registered,
    }[request.param]
    return train_tokenizer(spec, CORPUS)


# ---------------------------------------------------------------------------------------
# The same cases for every tokenizer
# ---------------------------------------------------------------------------------------


def test_empty_string(tok):
    assert tok.encode("") == []
    assert tok.decode([]) == ""
    assert tok.encode_batch([""]) == [[]]


@pytest.mark.parametrize("case", list(EDGE_TEXTS))
def test_round_trip(tok, case):
    text = EDGE_TEXTS[case]
    ids = tok.encode(text)
    assert all(type(i) is int and 0 <= i < tok.vocab_size for i in ids)
    decoded = tok.decode(ids)
    if EXACT[_kind_of(tok)]:
        assert decoded == text
    else:
        # Not exact (spacing, case, <unk>), but a fixed point: re-encoding gives the same ids.
        assert tok.encode(decoded) == ids


def _kind_of(tok) -> str:
    return "user" if isinstance(tok, ByteTokenizer) else tok.kind


def test_encode_batch_matches_encode(tok):
    texts = list(EDGE_TEXTS.values())
    assert tok.encode_batch(texts) == [tok.encode(t) for t in texts]


def test_save_load_identical(tok, tmp_path):
    path = tmp_path / "tokenizer.json"
    tok.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["tokenizer.json"]  # no temp file left
    json.loads(path.read_text(encoding="utf-8"))  # one plain JSON file
    loaded = load_tokenizer(path)
    assert type(loaded) is type(tok)
    assert loaded.kind == tok.kind
    assert loaded.vocab_size == tok.vocab_size
    assert loaded.special_tokens == tok.special_tokens
    assert loaded.unk_id == tok.unk_id
    for text in EDGE_TEXTS.values():
        ids = tok.encode(text)
        assert loaded.encode(text) == ids
        assert loaded.decode(ids) == tok.decode(ids)
    assert loaded.to_dict() == tok.to_dict()
    # to_dict / tokenizer_from_dict is the same round trip without a file (checkpoints).
    assert type(tokenizer_from_dict(tok.to_dict())) is type(tok)


def test_vocabulary_consistent(tok):
    n = tok.vocab_size
    assert isinstance(n, int) and n > 0
    for i in range(n):
        token = tok.id_to_token(i)
        assert isinstance(token, str)
        assert tok.token_to_id(token) == i
    for special in tok.special_tokens:
        assert tok.id_to_token(tok.token_to_id(special)) == special
    if tok.unk_id is not None:
        assert tok.id_to_token(tok.unk_id) in tok.special_tokens
    assert tok.token_to_id("no such token, surely") is None


def test_ids_in_range_and_count_unk(tok):
    ids = [i for ids in tok.encode_batch(CORPUS[:50]) for i in ids]
    assert ids and all(0 <= i < tok.vocab_size for i in ids)
    unknown = tok.encode("zebra xylophone")  # never seen in training
    expected = 0 if tok.unk_id is None else unknown.count(tok.unk_id)
    assert tok.count_unk(unknown) == expected


def test_provides_the_whole_contract(tok):
    missing = [m for m in Tokenizer.CONTRACT if not hasattr(tok, m)]
    assert not missing


@pytest.mark.parametrize("text", [*EDGE_TEXTS.values(), "zebra xylophone", "a <unk> day", "Ωmega 漢 42%\n"])
def test_unk_pieces_one_per_unk(tok, text):
    pieces = tok.unk_pieces(text)
    assert all(isinstance(p, str) and p for p in pieces)
    assert len(pieces) == tok.count_unk(tok.encode(text))
    if tok.unk_id is None:
        assert pieces == []


@pytest.mark.parametrize("bad", [[-1], ["VOCAB"], [0.5]])
def test_decode_rejects_bad_ids(tok, bad):
    ids = [tok.vocab_size if b == "VOCAB" else b for b in bad]
    with pytest.raises(TokenizerError) as excinfo:
        tok.decode(ids)
    one_line_message(excinfo)


# ---------------------------------------------------------------------------------------
# Exact worked examples
# ---------------------------------------------------------------------------------------

TINY = "to be, or not to be\n"


def test_char_worked_example():
    tok = CharTokenizer.train_from_texts([TINY])
    # <unk> first, then the seen characters sorted by code point.
    assert [tok.id_to_token(i) for i in range(tok.vocab_size)] == [
        "<unk>", "\n", " ", ",", "b", "e", "n", "o", "r", "t"
    ]
    ids = tok.encode(TINY)
    assert ids == [9, 7, 2, 4, 5, 3, 2, 7, 8, 2, 6, 7, 9, 2, 9, 7, 2, 4, 5, 1]
    assert tok.decode(ids) == TINY
    # Unseen characters -> <unk> (id 0), which decodes to one U+FFFD each.
    assert tok.encode("tax") == [9, 0, 0]
    assert tok.decode([9, 0, 0]) == "t\ufffd\ufffd"
    assert tok.count_unk([9, 0, 0]) == 2
    assert tok.special_tokens == ["<unk>"] and tok.unk_id == 0


def test_word_worked_example():
    tok = WordTokenizer.train_from_texts([TINY])
    # <unk>, newline, then by frequency (to, be: 2 each; ",", not, or: 1 each),
    # ties broken alphabetically by code point.
    assert [tok.id_to_token(i) for i in range(tok.vocab_size)] == [
        "<unk>", "\n", "be", "to", ",", "not", "or"
    ]
    ids = tok.encode(TINY)
    assert ids == [3, 2, 4, 6, 5, 3, 2, 1]
    assert tok.decode(ids) == TINY
    unknown = tok.encode("to be or not, to see!")
    assert unknown == [3, 2, 6, 5, 4, 3, 0, 0]
    assert tok.count_unk(unknown) == 2
    assert tok.decode(unknown) == "to be or not, to <unk> <unk>"
    assert tok.encode("<unk>") == [0]  # so decoded text re-encodes to the same ids


def test_word_min_freq_and_max_vocab():
    text = "a a a b b c\n"
    assert WordTokenizer.train_from_texts([text]).to_dict()["vocab"] == ["<unk>", "\n", "a", "b", "c"]
    assert WordTokenizer.train_from_texts([text], min_freq=2).to_dict()["vocab"] == ["<unk>", "\n", "a", "b"]
    # max_vocab counts <unk> and the newline.
    capped = train_tokenizer("word:max_vocab=3", [text])
    assert capped.to_dict()["vocab"] == ["<unk>", "\n", "a"]
    assert capped.encode("a b c") == [2, 0, 0]
    both = train_tokenizer("word:min_freq=2,max_vocab=100", [text])
    assert both.vocab_size == 4
    with pytest.raises(TokenizerError) as excinfo:
        WordTokenizer.train_from_texts([text], min_freq=4)
    one_line_message(excinfo)


def test_word_splitting_keeps_inner_apostrophes_and_hyphens():
    # A leading apostrophe belongs to its word ('tis); a trailing one (kings') stands alone.
    assert WordTokenizer.split("O'er the hurlyburly's well-known 'tis kings' don’t\n_x_ 3.14") == [
        "O'er", "the", "hurlyburly's", "well-known", "'tis", "kings", "'", "don’t", "\n",
        "_", "x", "_", "3", ".", "14",
    ]


def test_word_cuts_an_unknown_compound_into_its_known_parts_only():
    tok = WordTokenizer.train_from_texts(["the sea - life buoy well-known\n"])
    ids = {t: tok.token_to_id(t) for t in ("sea", "-", "life", "buoy", "well-known")}
    assert tok.encode("life-buoy") == [ids["life"], ids["-"], ids["buoy"]]
    assert tok.encode("sea-life-buoy") == [ids["sea"], ids["-"], ids["life"], ids["-"], ids["buoy"]]
    assert tok.encode("well-known") == [ids["well-known"]]  # a compound it knows stays one token
    assert tok.encode("sea-horse life-buoy") == [0, ids["life"], ids["-"], ids["buoy"]]  # "horse" unknown
    assert tok.unk_pieces("sea-horse life-buoy") == ["sea-horse"]
    assert tok.decode(tok.encode("life-buoy")) == "life - buoy"
    assert tok.encode(tok.decode(tok.encode("life-buoy"))) == tok.encode("life-buoy")
    # Off, or with no hyphen token to cut with, every unknown compound is one <unk>.
    assert WordTokenizer.train_from_texts(["the sea - life buoy\n"], split_compounds=False).encode("life-buoy") == [0]
    assert WordTokenizer.train_from_texts(["life buoy\n"]).encode("life-buoy") == [0]


def test_word_split_compounds_in_the_file_and_the_spec(tmp_path):
    tok = WordTokenizer.train_from_texts(["the sea - life buoy\n"])
    assert tok.to_dict()["split_compounds"] is True
    assert WordTokenizer.from_dict(tok.to_dict()).encode("life-buoy") == tok.encode("life-buoy")
    # A file written before the option encodes as it did then: the compound is <unk>.
    old = {k: v for k, v in tok.to_dict().items() if k != "split_compounds"}
    assert WordTokenizer.from_dict(old).encode("life-buoy") == [0]
    off = train_tokenizer("word:split_compounds=false", ["the sea - life buoy\n"])
    assert off.split_compounds is False and off.encode("life-buoy") == [0]
    with pytest.raises(TokenizerError, match="split_compounds must be true or false, got 2") as excinfo:
        train_tokenizer("word:split_compounds=2", ["the sea\n"])
    one_line_message(excinfo)
    with pytest.raises(TokenizerError, match="'split_compounds' must be true or false"):
        WordTokenizer.from_dict({**tok.to_dict(), "split_compounds": "yes"})


def test_word_encode_equals_the_regex_on_every_kind_of_whitespace():
    # encode cuts at whitespace before running the regex; that must never change a token.
    texts = [
        "Lord, lord.\n\nLORD! lord;\r\n\tthe\x0bend\x0c \u00a0non\u2028breaking\u3000wide\x1cfs",
        "\n", "", "   ", "<unk><unk> <un k> x\n", "don’t-stop’s 'tis\u2029日本語 ½ café\n\n",
    ]
    tok = WordTokenizer.train_from_texts(["lord the end 'tis x café\n"])
    for text in texts:
        expected = [tok.token_to_id(t) or 0 for t in WordTokenizer.split(text)]
        assert tok.encode(text) == expected, repr(text)
    assert tok.encode_batch(texts) == [tok.encode(t) for t in texts]


def test_word_decode_keeps_elisions_and_quotes_readable():
    text = "Whether 'tis nobler, 'gainst the kings' crowns. He said 'Oh dear' and left.\n"
    tok = WordTokenizer.train_from_texts([text])
    assert tok.decode(tok.encode(text)) == text


def test_word_decode_spacing_rules():
    messy = 'He  said ,"hello ( there )[friend]"  ;the kings \' crowns:yes !\n   KING:Go. \n'
    tok = WordTokenizer.train_from_texts([messy])
    assert tok.decode(tok.encode(messy)) == (
        'He said, "hello (there) [friend]"; the kings\' crowns: yes!\nKING: Go.\n'
    )
    # Case is kept; the words, punctuation and newlines all survive.
    clean = tok.decode(tok.encode(messy))
    assert WordTokenizer.split(clean) == WordTokenizer.split(messy)


@pytest.mark.parametrize("kind", ["char", "word"])
def test_decode_is_prefix_consistent(kind):
    text = 'KING: "Go (now)," he said; \'tis done.\n\nQUEEN: [aside] Why? café — ☃\n' * 2
    tok = train_tokenizer(kind, [text])
    ids = tok.encode(text)
    full = tok.decode(ids)
    for k in range(len(ids) + 1):
        assert full.startswith(tok.decode(ids[:k])), k


# ---------------------------------------------------------------------------------------
# BPE and Hugging Face specifics
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return train_tokenizer("bpe:300", CORPUS)


@pytest.mark.parametrize("size", [300, 400])
def test_bpe_vocab_size_honoured(size):
    tok = train_tokenizer(f"bpe:vocab_size={size}", CORPUS)
    assert isinstance(tok, BPETokenizer)
    assert tok.vocab_size == size
    assert tok.special_tokens == ["<unk>"] and tok.unk_id == 0


@pytest.mark.parametrize(
    "text",
    ["", " ", "  leading spaces", "trailing  ", "unseen: zebra 😀🎉 漢字 ∀x", "\t\r\n\x00",
     "literal <unk> token", "\n\n\n", "ß" * 40],
)
def test_bpe_round_trip_any_string(bpe, text):
    assert bpe.decode(bpe.encode(text)) == text


def test_saved_bpe_opens_with_hugging_face(bpe, tmp_path):
    path = tmp_path / "tokenizer.json"
    bpe.save(path)
    hf = tokenizers.Tokenizer.from_file(str(path))
    text = EDGE_TEXTS["punctuation"]
    assert hf.encode(text).ids == bpe.encode(text)
    assert hf.decode(bpe.encode(text)) == text


def test_hf_wraps_wordpiece(wordpiece_path):
    tok = HFTokenizer.from_file(wordpiece_path)
    assert tok.kind == "hf" and not isinstance(tok, BPETokenizer)
    assert tok.special_tokens == ["[UNK]"] and tok.unk_id == tok.token_to_id("[UNK]")
    assert tok.vocab_size == tokenizers.Tokenizer.from_file(wordpiece_path).get_vocab_size(True)
    assert tok.decode(tok.encode("To be, OR not")) == "to be, or not"  # WordPiece lower-cases
    assert type(load_tokenizer(wordpiece_path)) is HFTokenizer


def test_decode_accepts_numpy_and_torch_ints(bpe):
    import numpy as np
    import torch

    ids = bpe.encode("to be")
    assert bpe.decode(np.array(ids)) == "to be"
    assert bpe.decode(torch.tensor(ids)) == "to be"
    assert bpe.count_unk(torch.tensor([0, 0, 5])) == 2


# ---------------------------------------------------------------------------------------
# unk_pieces: the text behind each <unk>, exactly
# ---------------------------------------------------------------------------------------

SONNET = """Shall I compare thee to a summer's day?
Thou art more lovely and more temperate:
Rough winds do shake the darling buds of May,
And summer's lease hath all too short a date;
"""


def test_unk_pieces_word_and_char():
    word = train_tokenizer("word", [SONNET])
    assert word.unk_pieces("Thou art a quixotic knave\n") == ["quixotic", "knave"]
    assert word.unk_pieces("Thou art more lovely\n") == []
    assert word.unk_pieces("a <unk> day") == ["<unk>"]  # the literal text encodes to <unk> too
    assert train_tokenizer("char", [SONNET]).unk_pieces("Zounds!") == ["Z", "!"]


def test_unk_pieces_bpe_only_for_the_literal_text():
    bpe = train_tokenizer("bpe:270", [SONNET])  # every byte is known
    assert bpe.unk_pieces("a <unk> day") == ["<unk>"]
    assert bpe.unk_pieces("Zounds! 漢") == []


def test_unk_pieces_hf_cut_from_the_original_text(wordpiece_path):
    tok = HFTokenizer.from_file(wordpiece_path)
    # WordPiece lower-cases, and an unknown character makes its whole word [UNK]; the
    # pieces are the text as written.
    assert tok.unk_pieces("Ωmega and the SEA") == ["Ωmega"]
    assert tok.unk_pieces("the 漢 sea") == ["漢"]
    assert tok.unk_pieces("the sea") == []


class ZeroIsUnk(ByteTokenizer):
    """Byte 0 stands for <unk>, and the class does not say what text it hides."""

    kind = "zero_is_unk"

    def token_to_id(self, token):
        return 0 if token == "<unk>" else super().token_to_id(token)


def test_unk_pieces_default_refuses_to_guess():
    tok = ZeroIsUnk()
    assert tok.unk_pieces("no unknown here") == []
    with pytest.raises(TokenizerError, match="cannot tell which text its <unk> tokens stand for") as excinfo:
        tok.unk_pieces("a\x00b")
    one_line_message(excinfo)


# ---------------------------------------------------------------------------------------
# Registry and specs
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("char", ("char", {})),
        ("  word  ", ("word", {})),
        ("word:min_freq=2,max_vocab=10000", ("word", {"min_freq": 2, "max_vocab": 10000})),
        ("word: min_freq = 2 , max_vocab=none", ("word", {"min_freq": 2, "max_vocab": None})),
        ("bpe", ("bpe", {})),
        ("bpe:8000", ("bpe", {"vocab_size": 8000})),
        ("bpe:vocab_size=8000", ("bpe", {"vocab_size": 8000})),
        ("hf:/path/tokenizer.json", ("hf", {"path": "/path/tokenizer.json"})),
        ("hf:path=/a,b=c/tok.json", ("hf", {"path": "/a,b=c/tok.json"})),
        ("hf:C:\\models\\tok.json", ("hf", {"path": "C:\\models\\tok.json"})),
        ("word:x=1.5,y=true,z=False,w=abc,v=-3", ("word", {"x": 1.5, "y": True, "z": False, "w": "abc", "v": -3})),
    ],
)
def test_parse_tokenizer_spec(spec, expected):
    assert parse_tokenizer_spec(spec) == expected


def test_parse_registered_name(user_registered):
    assert parse_tokenizer_spec(f"{user_registered}:k=v") == (user_registered, {"k": "v"})
    assert user_registered in available_tokenizers()
    assert available_tokenizers()[:4] == ["char", "word", "bpe", "hf"]


class Quacker:
    """Not a Tokenizer subclass, with only train_from_texts, encode, decode, vocab_size, to_dict, from_dict."""

    kind = "quack"

    @classmethod
    def train_from_texts(cls, texts):
        return cls()

    def encode(self, text):
        return [0] * len(text)

    def decode(self, ids):
        return "?" * len(ids)

    vocab_size = 1

    def to_dict(self):
        return {"wordgen_tokenizer": "quack", "version": 1}

    @classmethod
    def from_dict(cls, d):
        return cls()


def test_register_refuses_a_class_with_only_the_old_six_members():
    # Six members were once enough; wordgen calls more, and a missing one would only
    # surface mid-training. The message names what to add.
    with pytest.raises(TokenizerError, match="Quacker lacks save, encode_batch, id_to_token, token_to_id"):
        register_tokenizer("quack", Quacker)
    assert "quack" not in available_tokenizers()


def test_register_sets_kind():
    class Mine(ByteTokenizer):
        pass

    register_tokenizer("mine_kind", Mine)
    try:
        assert Mine.kind == "mine_kind"
        assert isinstance(train_tokenizer("mine_kind", ["x"]), Mine)
    finally:
        registry._REGISTRY.pop("mine_kind", None)


# ---------------------------------------------------------------------------------------
# Every user error is a TokenizerError with a one-line message
# ---------------------------------------------------------------------------------------


class MissingMethods:
    def encode(self, text):
        return []


class WrongKind(ByteTokenizer):
    kind = "something_else"


def _garbled_file(tmp_path):
    path = tmp_path / "garbled.json"
    path.write_text("{not json", encoding="utf-8")
    return path


def _neither_file(tmp_path):
    path = tmp_path / "neither.json"
    path.write_text(json.dumps({"hello": "world"}), encoding="utf-8")
    return path


def _unregistered_kind_file(tmp_path):
    path = tmp_path / "mystery.json"
    path.write_text(json.dumps({"wordgen_tokenizer": "mystery", "version": 1}), encoding="utf-8")
    return path


def _binary_file(tmp_path):
    path = tmp_path / "binary.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    return path


def _damaged_word_file(tmp_path):
    path = tmp_path / "word.json"
    path.write_text(json.dumps({"wordgen_tokenizer": "word", "version": 1, "vocab": ["a"]}), encoding="utf-8")
    return path


def _future_char_file(tmp_path):
    path = tmp_path / "char.json"
    path.write_text(json.dumps({"wordgen_tokenizer": "char", "version": 99, "vocab": ["<unk>"]}), encoding="utf-8")
    return path


ERROR_CASES = {
    "unknown spec name": lambda tmp: train_tokenizer("nosuch", CORPUS),
    "empty spec": lambda tmp: parse_tokenizer_spec(""),
    "blank spec": lambda tmp: parse_tokenizer_spec("   "),
    "garbled spec": lambda tmp: parse_tokenizer_spec(":8000"),
    "garbled name": lambda tmp: parse_tokenizer_spec("b pe:8000"),
    "nothing after colon": lambda tmp: parse_tokenizer_spec("word:"),
    "option without value": lambda tmp: parse_tokenizer_spec("word:min_freq"),
    "empty option": lambda tmp: parse_tokenizer_spec("word:min_freq=2,,"),
    "duplicate option": lambda tmp: parse_tokenizer_spec("word:min_freq=2,min_freq=3"),
    "non-string spec": lambda tmp: parse_tokenizer_spec(None),
    "bpe:0": lambda tmp: train_tokenizer("bpe:0", CORPUS),
    "bpe:257": lambda tmp: train_tokenizer("bpe:257", CORPUS),
    "bpe:abc": lambda tmp: train_tokenizer("bpe:abc", CORPUS),
    "bad word option": lambda tmp: train_tokenizer("word:foo=1", CORPUS),
    "char takes no options": lambda tmp: train_tokenizer("char:x=1", CORPUS),
    "bad bpe option": lambda tmp: train_tokenizer("bpe:size=300", CORPUS),
    "min_freq 0": lambda tmp: train_tokenizer("word:min_freq=0", CORPUS),
    "min_freq text": lambda tmp: train_tokenizer("word:min_freq=two", CORPUS),
    "max_vocab 2": lambda tmp: train_tokenizer("word:max_vocab=2", CORPUS),
    "char empty iterable": lambda tmp: train_tokenizer("char", []),
    "word empty iterable": lambda tmp: train_tokenizer("word", iter([])),
    "bpe empty iterable": lambda tmp: train_tokenizer("bpe:300", []),
    "char whitespace only": lambda tmp: train_tokenizer("char", ["  ", "\n\t"]),
    "word whitespace only": lambda tmp: train_tokenizer("word", ["", " \n\n "]),
    "bpe whitespace only": lambda tmp: train_tokenizer("bpe:300", ["   \n"]),
    "non-string text": lambda tmp: train_tokenizer("word", ["fine", None]),
    "not iterable": lambda tmp: train_tokenizer("char", 42),
    "hf without path": lambda tmp: train_tokenizer("hf", CORPUS),
    "hf missing file": lambda tmp: train_tokenizer(f"hf:{tmp / 'nope.json'}", CORPUS),
    "hf garbled file": lambda tmp: train_tokenizer(f"hf:{_garbled_file(tmp)}", CORPUS),
    "load missing file": lambda tmp: load_tokenizer(tmp / "missing.json"),
    "load folder": lambda tmp: load_tokenizer(tmp),
    "load garbled file": lambda tmp: load_tokenizer(_garbled_file(tmp)),
    "load binary file": lambda tmp: load_tokenizer(_binary_file(tmp)),
    "load neither format": lambda tmp: load_tokenizer(_neither_file(tmp)),
    "load unregistered kind": lambda tmp: load_tokenizer(_unregistered_kind_file(tmp)),
    "load damaged word file": lambda tmp: load_tokenizer(_damaged_word_file(tmp)),
    "load future version": lambda tmp: load_tokenizer(_future_char_file(tmp)),
    "from_dict wrong kind": lambda tmp: CharTokenizer.from_dict(WordTokenizer.train_from_texts(["a"]).to_dict()),
    "register built-in name": lambda tmp: register_tokenizer("word", ByteTokenizer),
    "register bad name": lambda tmp: register_tokenizer("my tok", ByteTokenizer),
    "register missing methods": lambda tmp: register_tokenizer("partial", MissingMethods),
    "register wrong kind": lambda tmp: register_tokenizer("right", WrongKind),
    "encode non-string": lambda tmp: WordTokenizer.train_from_texts(["a"]).encode(None),
}


# What each refusal must say (TMP stands for the test's folder): the problem, and what was given.
ERROR_MESSAGES = {
    'unknown spec name': "unknown tokenizer 'nosuch'; available: char, word, bpe, hf",
    'empty spec': 'empty tokenizer spec',
    'blank spec': 'empty tokenizer spec',
    'garbled spec': "cannot read tokenizer spec ':8000'",
    'garbled name': "cannot read tokenizer spec 'b pe:8000'",
    'nothing after colon': "'word:' has nothing after ':'",
    'option without value': "'word:min_freq': the word tokenizer takes key=value options",
    'empty option': "cannot read option '' in tokenizer spec 'word:min_freq=2,,'",
    'duplicate option': "option 'min_freq' is given twice",
    'non-string spec': "must be a string like 'word' or 'bpe:8000', got None",
    'bpe:0': 'bpe vocab_size must be a whole number >= 258 (256 bytes + <unk> + at least one merge), got 0',
    'bpe:257': 'bpe vocab_size must be a whole number >= 258 (256 bytes + <unk> + at least one merge), got 257',
    'bpe:abc': "bpe vocab_size must be a whole number >= 258 (256 bytes + <unk> + at least one merge), got 'abc'",
    'bad word option': "unknown option 'foo' for the word tokenizer; it accepts: min_freq, max_vocab",
    'char takes no options': "unknown option 'x' for the char tokenizer; it takes no options",
    'bad bpe option': "unknown option 'size' for the bpe tokenizer; it accepts: vocab_size",
    'min_freq 0': 'word min_freq must be a whole number >= 1, got 0',
    'min_freq text': "word min_freq must be a whole number >= 1, got 'two'",
    'max_vocab 2': 'word max_vocab must be a whole number >= 3 (it counts <unk> and the newline), got 2',
    'char empty iterable': 'cannot train a tokenizer on empty text',
    'word empty iterable': 'cannot train a tokenizer on empty text',
    'bpe empty iterable': 'cannot train a tokenizer on empty text',
    'char whitespace only': 'cannot train a tokenizer on empty text',
    'word whitespace only': 'cannot train a tokenizer on empty text',
    'bpe whitespace only': 'cannot train a tokenizer on empty text',
    'non-string text': 'training texts must be strings, got a NoneType',
    'not iterable': 'training texts must be an iterable of strings, got int',
    'hf without path': "the hf tokenizer needs a file: use 'hf:/path/to/tokenizer.json'",
    'hf missing file': "no tokenizer file at 'TMP/nope.json'",
    'hf garbled file': "'TMP/garbled.json' is not a valid Hugging Face tokenizer.json",
    'load missing file': "no tokenizer file at 'TMP/missing.json'",
    'load folder': "'TMP' is a folder; give the path of the tokenizer.json inside it",
    'load garbled file': "'TMP/garbled.json' is not a valid JSON tokenizer file",
    'load binary file': "'TMP/binary.json' is not a valid JSON tokenizer file",
    'load neither format': "the JSON has neither 'wordgen_tokenizer' (wordgen's format) nor 'model' (Hugging Face's)",
    'load unregistered kind': "registered as 'mystery'; call register_tokenizer('mystery', YourClass)",
    'load damaged word file': "'TMP/word.json': damaged word tokenizer",
    'load future version': 'format version 99; this wordgen reads version 1',
    'from_dict wrong kind': "this is a 'word' tokenizer, not 'char'",
    'register built-in name': "'word' is a built-in tokenizer",
    'register bad name': "tokenizer name 'my tok' must start with a letter",
    'register missing methods': 'MissingMethods lacks train_from_texts, from_dict',
    'register wrong kind': "WrongKind.kind is 'something_else' but you registered it as 'right'",
    'encode non-string': 'can only encode a string, got a NoneType',
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_user_errors(case, tmp_path):
    with pytest.raises(TokenizerError) as excinfo:
        ERROR_CASES[case](tmp_path)
    message = one_line_message(excinfo)
    assert ERROR_MESSAGES[case].replace("TMP", str(tmp_path)) in message, message


def test_registering_an_instance_says_a_class_is_wanted():
    # ByteTokenizer's methods in a class that no test registers, so it has no `kind` in any order.
    members = {k: v for k, v in vars(ByteTokenizer).items() if k not in ("kind", "__dict__", "__weakref__")}
    unregistered = type("Unregistered", (Tokenizer,), members)
    assert not hasattr(unregistered, "kind")
    with pytest.raises(TokenizerError, match="register_tokenizer needs a class, got Unregistered"):
        register_tokenizer("inst", unregistered())


def test_error_messages_help():
    with pytest.raises(TokenizerError, match="available: char, word, bpe, hf"):
        parse_tokenizer_spec("nosuch")
    with pytest.raises(TokenizerError, match="cannot train a tokenizer on empty text"):
        train_tokenizer("word", [])
    with pytest.raises(TokenizerError, match="'foo'.*accepts: min_freq, max_vocab"):
        train_tokenizer("word:foo=1", CORPUS)
    with pytest.raises(TokenizerError, match=r"register_tokenizer\('mystery'"):
        tokenizer_from_dict({"wordgen_tokenizer": "mystery", "version": 1})


def test_save_replaces_existing_file(tmp_path):
    path = tmp_path / "sub" / "tokenizer.json"
    train_tokenizer("char", ["ab"]).save(path)
    train_tokenizer("char", ["abc"]).save(path)
    assert load_tokenizer(path).vocab_size == 4
    assert os.listdir(path.parent) == ["tokenizer.json"]
