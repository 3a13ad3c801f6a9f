import io

import pytest
import torch

from asr.text import BPETokenizer, CharTokenizer, TokenizerError, normalize_text, tokenizer_from_dict


@pytest.mark.parametrize("written, spoken", [
    ("Hello, World!", "hello world"),
    ("Dr. Smith met Mr. Jones on St. Patrick's day.", "doctor smith met mister jones on saint patrick's day"),
    ("I don't know; it's O'Brien's.", "i don't know it's o'brien's"),
    ("He paid $3.50 for 2 apples.", "he paid three dollars fifty cents for two apples"),
    ("It cost £1, not €20.", "it cost one pound not twenty euros"),
    ("The 21st of May, 1990.", "the twenty first of may nineteen ninety"),
    ("In 2005 we saw 1,234 birds.", "in two thousand and five we saw one thousand two hundred and thirty four birds"),
    ("Pi is 3.14 and 50% of 10 is 5.", "pi is three point one four and fifty percent of ten is five"),
    ("Meet at 7:30 or 10:00, e.g. after work.", "meet at seven thirty or ten o'clock for example after work"),
    ("Agent 007 & the boys' club.", "agent zero zero seven and the boys' club"),
    ("Café naïve — résumé…", "cafe naive resume"),
    ("\u2018Quoted\u2019 and \u201cdouble\u201d", "quoted and double"),
    ("well-known  state-of-the-art", "well known state of the art"),
    ("", ""),
    # decades and plural numbers: the plural is spoken on the number itself
    ("The 1990s, the 1800s and the '80s.", "the nineteen nineties the eighteen hundreds and the eighties"),
    ("In his 30s, in the 1960's, two 6s.", "in his thirties in the nineteen sixties two sixes"),
])
def test_normalize(written, spoken):
    assert normalize_text(written) == spoken


def test_normalized_text_uses_the_char_alphabet():
    tok = CharTokenizer()
    text = normalize_text("Mr. O'Neil's 3rd car, 1999 — £4.99!")
    assert not tok.unknown_symbols(text)


def test_char_round_trip_and_blank():
    tok = CharTokenizer()
    assert tok.blank_id == 0 and tok.tokens[0] == "<blank>"
    text = "the cat's hat"
    ids = tok.encode(text)
    assert 0 not in ids and len(ids) == len(text)
    assert tok.decode(ids) == text
    assert tok.decode([0, *ids[:3], 0]) == "the"
    assert tok.vocab_size == 29


def test_char_unknown_characters_are_named():
    with pytest.raises(TokenizerError, match=r"\['!', '7'\]"):
        CharTokenizer().encode("hi 7!")


def test_char_from_texts():
    tok = CharTokenizer.from_texts(["abc cab", "zz"])
    assert tok.tokens == ["<blank>", " ", "a", "b", "c", "z"]


def _through_model_file(d: dict) -> dict:
    buf = io.BytesIO()
    torch.save({"tokenizer": d}, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)["tokenizer"]


CORPUS = [normalize_text(s) for s in [
    "the quick brown fox jumps over the lazy dog",
    "speech recognition with connectionist temporal classification",
    "a stacked bidirectional long short term memory network",
    "the language model rescores the beam of hypotheses",
    "she sells sea shells by the sea shore",
    "peter piper picked a peck of pickled peppers",
    "how much wood would a woodchuck chuck if a woodchuck could chuck wood",
] * 20]


def test_bpe_round_trip():
    tok = BPETokenizer.train(CORPUS, vocab_size=60)
    assert tok.blank_id == 0 and tok.tokens[0] == "<blank>"
    for text in CORPUS[:7] + ["the pickled fox could chuck the shells"]:
        ids = tok.encode(text)
        assert 0 not in ids
        assert tok.decode(ids) == text
    # pieces are shorter than characters for frequent words
    assert len(tok.encode("the woodchuck")) < len("the woodchuck")
    assert "".join(tok.spell("woodchuck")).replace(tok.word_boundary, "") == "woodchuck"


def test_bpe_rejects_unseen_characters():
    tok = BPETokenizer.train(CORPUS, vocab_size=60)
    with pytest.raises(TokenizerError):
        tok.encode("the fox's den")  # no apostrophe occurs in CORPUS


@pytest.mark.parametrize("make", [lambda: CharTokenizer(), lambda: BPETokenizer.train(CORPUS, vocab_size=50)],
                         ids=["char", "bpe"])
def test_tokenizers_travel_in_a_weights_only_model_file(make):
    tok = make()
    loaded = tokenizer_from_dict(_through_model_file(tok.to_dict()))
    assert type(loaded) is type(tok)
    assert loaded.tokens == tok.tokens
    text = "peter picked the sea shells"
    assert loaded.encode(text) == tok.encode(text)


def test_unknown_tokenizer_type():
    with pytest.raises(ValueError, match="unknown tokenizer type"):
        tokenizer_from_dict({"type": "wordpiece"})
