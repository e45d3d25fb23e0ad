"""Property-based tests (hypothesis): the tokenizers, streaming and the text converters on arbitrary input.

Example counts are set per property (EXAMPLES below, printed in the README's "What
survives what"); they are modest so the suite stays fast, and hypothesis keeps any
failing example in .hypothesis/ to try first next time.
"""

import pytest
import torch
from helpers import VERSE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wordgen.config import ModelConfig, SampleConfig
from wordgen.corpora.gutenberg import strip_gutenberg
from wordgen.corpora.shakespeare import shakespeare_markdown_to_text
from wordgen.generation.decode import encode_prompt, generate, sample_ids, stream
from wordgen.model import LSTMLanguageModel
from wordgen.tokenization import BPETokenizer, CharTokenizer, WordTokenizer

EXAMPLES = {"round trip": 200, "batch": 60, "stream": 50, "converters": 200}
# Any Unicode text but lone surrogates (which no file or terminal can hold).
ANY_CHAR = st.characters(blacklist_categories=("Cs",))
ANY_TEXT = st.text(ANY_CHAR, max_size=120)
# Emoji (with skin tones and ZWJ sequences), combining marks, CJK, RTL and the verse's own letters.
HARD_PIECES = ["👩‍👩‍👧", "👍🏽", "🇫🇷", "e\u0301", "n\u0303o", "ñ", "漢字", "שלום", "\u200b", "\t", "\n", "\r\n", " ", "'tis",
               "o'er", "\"", "«", "…", "<unk>", "ROMEO:", "wherefore", "!", ",", "—"]
HARD_TEXT = st.lists(st.one_of(st.sampled_from(HARD_PIECES), ANY_TEXT), max_size=12).map("".join)
TRAINING = VERSE * 4 + "Café 👍🏽 naïve e\u0301 漢字 — «quoted» 🇫🇷\n"

BPE = BPETokenizer.train_from_texts([TRAINING], vocab_size=300)
CHAR = CharTokenizer.train_from_texts([TRAINING])
WORD = WordTokenizer.train_from_texts([TRAINING])
TOKENIZERS = {"bpe": BPE, "char": CHAR, "word": WORD}


def examples(kind: str):
    return settings(max_examples=EXAMPLES[kind], deadline=None, suppress_health_check=[HealthCheck.too_slow])


@examples("round trip")
@given(HARD_TEXT)
def test_bpe_decode_encode_is_the_identity_on_any_text(text):
    assert BPE.decode(BPE.encode(text)) == text


@examples("round trip")
@given(st.lists(st.one_of(st.sampled_from(sorted(set(TRAINING))), ANY_CHAR), max_size=80))
def test_char_round_trips_its_alphabet_and_maps_the_rest_to_unk(chars):
    text = "".join(chars)
    known = set(CHAR.to_dict()["vocab"][1:])
    ids = CHAR.encode(text)
    assert len(ids) == len(text)
    assert [i == CHAR.unk_id for i in ids] == [c not in known for c in text]
    assert CHAR.decode(ids) == "".join(c if c in known else CharTokenizer.UNK_TEXT for c in text)


@examples("round trip")
@given(HARD_TEXT)
def test_word_encoding_is_idempotent_through_decode(text):
    ids = WORD.encode(text)
    assert WORD.encode(WORD.decode(ids)) == ids


@examples("batch")
@given(st.lists(HARD_TEXT, max_size=6))
@pytest.mark.parametrize("name", TOKENIZERS)
def test_encode_batch_equals_encoding_one_by_one(name, texts):
    tokenizer = TOKENIZERS[name]
    assert tokenizer.encode_batch(texts) == [tokenizer.encode(t) for t in texts]


def untrained_model(tokenizer) -> LSTMLanguageModel:
    # Untrained on purpose: its samples are arbitrary tokens, which for byte-level BPE means
    # arbitrary bytes -- half characters, stray continuation bytes -- the hard case for streaming.
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=tokenizer.vocab_size, embedding_dim=16, hidden_size=16, num_layers=1, dropout=0.0)
    return LSTMLanguageModel(config).eval()


MODELS = {name: untrained_model(tokenizer) for name, tokenizer in TOKENIZERS.items()}


@examples("stream")
@given(prompt=HARD_TEXT.filter(lambda t: t.strip()), seed=st.integers(0, 2**16), temperature=st.sampled_from([0.5, 1.0, 3.0]))
@pytest.mark.parametrize("name", TOKENIZERS)
@pytest.mark.filterwarnings("ignore:prompt words not in the vocabulary")
def test_streamed_pieces_add_up_to_the_decoded_sample(name, prompt, seed, temperature):
    tokenizer, model = TOKENIZERS[name], MODELS[name]
    sample = SampleConfig(temperature=temperature)
    pieces = ["".join(p) for p in stream(model, tokenizer, prompt, max_tokens=16, sample=sample, seed=seed)]
    # The ids drawn again, independently of stream(), and decoded in one go.
    prompt_ids = encode_prompt(tokenizer, prompt)
    banned = [tokenizer.unk_id] if tokenizer.unk_id is not None else None
    drawn = [int(i) for i in sample_ids(model, prompt_ids, 16, sample, 1, seed, banned)]
    whole = tokenizer.decode(prompt_ids + drawn)[len(tokenizer.decode(prompt_ids)):]
    assert "".join(pieces) == whole
    assert generate(model, tokenizer, prompt, max_tokens=16, sample=sample, seed=seed) == [prompt + whole]
    # Half a character is held back until its next byte comes: only the final flush may end in one.
    assert not any(p.endswith("\ufffd") for p in pieces[:-1])


MARKERS = ["*** START OF THE PROJECT GUTENBERG EBOOK ALICE ***", "*** END OF THE PROJECT GUTENBERG EBOOK ALICE ***",
           "***START OF THIS PROJECT GUTENBERG EBOOK X", "End of the Project Gutenberg EBook of X", "***", ""]
MARKDOWN = ["**ROMEO**", "**JULIET**", "# Act 1", "## Scene 2", "_[Exit]_", "_Enter ROMEO_", "*\\[Aside]*",
            "_", "*", "[Within]_", "\\[x", "No, no; he'll __\\[ ]_", "text _\\[aside]_ more", "\\--", "   ", ""]


def alnum(text: str) -> int:
    return sum(c.isalnum() for c in text)


@examples("converters")
@given(st.lists(st.one_of(st.sampled_from(MARKERS), ANY_TEXT), max_size=12).map("\n".join))
def test_the_gutenberg_stripper_only_ever_cuts(text):
    assert strip_gutenberg(text) in text


@examples("converters")
@given(st.lists(st.one_of(st.sampled_from(MARKDOWN), ANY_TEXT), max_size=14).map("\n".join), st.booleans())
def test_the_play_converter_never_invents_text(markdown, keep_directions):
    text = shakespeare_markdown_to_text(markdown, stage_directions=keep_directions)
    assert alnum(text) <= alnum(markdown)
    # Never longer but for the final newline it promises, and for the brackets it puts
    # around a kept stage direction ("*Exit" -> "[Exit]").
    assert len(text.replace("[", "").replace("]", "") if keep_directions else text) <= len(markdown) + 1
