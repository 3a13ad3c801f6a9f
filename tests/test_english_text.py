import itertools
import json

import pytest

from asr.cli import main
from asr.text import CharTokenizer, normalize_text
from data_prep import english_text
from data_prep.english_text import SOURCES, EnglishTextConfig, SourceMissing, split_sentences, write_lm_text

TOKENIZER = CharTokenizer()
BY_NAME = {s.name: s for s in SOURCES}
# A sentence each source must yield (normalised), showing its markup, headwords or numbers were cleaned away.
EXPECTED = {
    "chatterbot": "how are you doing",
    "austen": "the family of dashwood had long been settled in sussex",
    "fortunes": "a critic is a man who creates nothing and thereby feels qualified to judge the work of creative men",
    "devil": "persons of little worth found cumbering the soil of a newly discovered country",
    "wordnet": "the team is a unit",
    "gcide": "abashed the devil stood and felt how awful goodness is",
    "bible": "in the beginning god created the heaven and the earth",
}


def _normalised(name: str, limit: int) -> list[str]:
    try:
        raw = list(itertools.islice(BY_NAME[name].read(), limit))
    except SourceMissing as missing:
        pytest.skip(f"{name}: its package is absent (install {missing})")
    return [t for t in map(normalize_text, raw) if t]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_source_yields_clean_normalised_sentences(name):
    sentences = _normalised(name, 5000)
    assert len(sentences) > 500
    assert EXPECTED[name] in sentences
    for sentence in sentences:
        assert not TOKENIZER.unknown_symbols(sentence), sentence  # only characters the tokenizer encodes
        assert sentence == " ".join(sentence.split())
    words = [w for s in sentences for w in s.split()]
    # Markup and attributions are gone: no GCIDE source tags, no "--Milton", no bare verse numbers leading.
    assert "webster" not in words or name != "gcide"
    if name == "bible":
        assert not any(s.split()[0] in ("one", "two", "three") for s in sentences[:3])
    if name == "devil":
        assert not any(s.startswith(("abnormal adj", "aborigines n")) for s in sentences)


def test_split_sentences_keeps_abbreviations_and_initials():
    text = ('"I believe it is very true, my dear," said Mr. Woodhouse, with a sigh. "I am afraid." '
            "J. Smith came at noon, e.g. Tom. Then he left! Why? 3 cats came.")
    assert split_sentences(text) == [
        '"I believe it is very true, my dear," said Mr. Woodhouse, with a sigh.', '"I am afraid."',
        "J. Smith came at noon, e.g. Tom.", "Then he left!", "Why?", "3 cats came."]


@pytest.mark.slow
def test_lm_text_is_deterministic_weighted_and_leaves_out_synthetic_held_out(tmp_path, monkeypatch):
    from data_prep.english_text import synthetic_held_out

    held_out = synthetic_held_out(0)
    assert len(held_out) > 2000  # dev + test sentences of the default synthetic corpus
    sources = ("wordnet", "chatterbot")
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    try:
        summary = write_lm_text(first, EnglishTextConfig(sources=sources, weights={"chatterbot": 3}))
    except Exception as err:  # pragma: no cover - depends on installed packages
        pytest.skip(f"sources unavailable: {err}")
    if summary["skipped"]:
        pytest.skip(f"sources unavailable: {summary['skipped']}")
    write_lm_text(second, EnglishTextConfig(sources=sources, weights={"chatterbot": 3}))
    assert first.read_bytes() == second.read_bytes()
    lines = first.read_text().splitlines()
    assert not held_out & set(lines)  # no synthetic dev/test sentence is in the LM text
    assert summary["sources"]["wordnet"]["held_out_dropped"] >= 2000
    # Weight 3: each conversational sentence is written three times.
    assert lines.count("how are you doing") == 3 * summary_count(first, "chatterbot", "how are you doing")
    meta = json.loads((tmp_path / "a.txt.json").read_text())
    assert meta == summary and set(meta["sources"]) == set(sources)
    total_words = sum(len(line.split()) for line in lines)
    assert meta["total"]["words"] == total_words
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "a.txt.json", "b.txt", "b.txt.json"]


def summary_count(path, source, sentence):
    """How often ``source`` itself yields ``sentence`` (before weighting)."""
    return sum(1 for raw in BY_NAME[source].read() if normalize_text(raw) == sentence)


def test_missing_package_is_skipped_with_its_name_and_all_missing_is_an_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(english_text, "DICTD", tmp_path / "no-dictd")
    out = tmp_path / "t.txt"
    assert main(["prep", "lm-text", str(out), "--sources", "devil", "wordnet",
                 "--keep-synthetic-held-out"]) == 0
    err = capsys.readouterr().err
    assert out.is_file() and json.loads((tmp_path / "t.txt.json").read_text())["skipped"] == {
        "devil": "install Debian dict-devil"}
    assert "devil: skipped, its package is absent (install Debian dict-devil)" in err
    assert main(["prep", "lm-text", str(tmp_path / "u.txt"), "--sources", "devil", "gcide",
                 "--keep-synthetic-held-out"]) == 2
    err = capsys.readouterr().err
    assert "no English text source is installed" in err and "dict-gcide" in err and "Traceback" not in err
    assert not (tmp_path / "u.txt").exists() and not list(tmp_path.glob(".u.txt*"))
