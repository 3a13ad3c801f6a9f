"""asr prep tokenizer: a recipe's tokenizer in a file that training and every later stage read back."""

import json

import pytest

from asr.cli import main
from asr.data.manifest import Utterance, write_manifest
from asr.data.tokenizer_file import load_tokenizer
from asr.training.trainer import DataConfig, build_tokenizer

SENTENCES = ["the cat sat on the mat", "a dog ran in the park", "she sells sea shells", "naïve café owners"] * 5


@pytest.fixture
def manifest(tmp_path):
    return write_manifest(tmp_path / "train.jsonl", [Utterance(f"u{i}", "x.wav", 1.0, s)
                                                     for i, s in enumerate(SENTENCES)])


def test_char_tokenizer_file_is_what_training_reads(manifest, tmp_path, capsys):
    out = tmp_path / "tok.json"
    assert main(["prep", "tokenizer", str(manifest), "--out", str(out)]) == 0
    assert "char tokenizer of 29 tokens" in capsys.readouterr().out
    tokenizer = load_tokenizer(out)
    assert tokenizer.decode(tokenizer.encode("naive cafe")) == "naive cafe"
    from_training = build_tokenizer(DataConfig(tokenizer=str(out)), [])
    assert from_training.to_dict() == tokenizer.to_dict()


def test_bpe_tokenizer_file_round_trips(manifest, tmp_path):
    out = tmp_path / "bpe.json"
    assert main(["prep", "tokenizer", str(manifest), "--kind", "bpe", "--vocab-size", "40", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["type"] == "bpe"  # plain JSON: the model is base64 text
    tokenizer = load_tokenizer(out)
    ids = tokenizer.encode("the dog sat")
    assert tokenizer.decode(ids) == "the dog sat" and 0 not in ids


def test_a_file_that_is_not_a_tokenizer_is_one_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(Exception, match="not a tokenizer file"):
        load_tokenizer(bad)
