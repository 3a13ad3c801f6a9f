import json
import random

import pytest
from decoding_helpers import LM_SENTENCES

from asr.cli import main
from asr.decoding.kenlm_tools import kenlm_tools
from asr.decoding.lm import LMBuildConfig, build_lm, import_arpa, load_lm
from asr.errors import ASRError, InputError


@pytest.fixture(scope="module")
def tools():
    return kenlm_tools(build=False)  # `make install` builds and caches them


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory, tools):
    text = tmp_path_factory.mktemp("text") / "lm.txt"
    # Written form on purpose: the build must normalise it ("Dr." → "doctor", "3" → "three").
    text.write_text("\n".join(s.capitalize() + "." for s in LM_SENTENCES) + "\nDr. Smith has 3 cats!\n")
    out = tmp_path_factory.mktemp("lm") / "lm"
    build_lm([text], out, LMBuildConfig(order=3), progress=False)
    return out


def test_lm_directory_layout_and_metadata(lm_dir):
    for name in ("lm.arpa", "lm.bin", "words.txt", "lm.json"):
        assert (lm_dir / name).is_file()
    meta = json.loads((lm_dir / "lm.json").read_text())
    assert meta["order"] == 3 and meta["sentences"] == len(LM_SENTENCES) + 1
    words = (lm_dir / "words.txt").read_text().split()
    assert "doctor" in words and "three" in words and "Dr." not in words and "<s>" not in words
    assert words[0] == "the"  # most frequent first
    assert "ngram 3=" in (lm_dir / "lm.arpa").read_text()
    assert not [p for p in lm_dir.parent.iterdir() if p.name.startswith(".")]  # no temporary leftovers


def test_in_domain_sentences_have_lower_perplexity_than_shuffled(lm_dir):
    lm = load_lm(lm_dir)
    held_out = ["the dog looked at the old tree", "my friend ran to the red car", "a bird slept near the wall"]
    rng = random.Random(0)
    shuffled = []
    for sentence in held_out:
        words = sentence.split()
        while " ".join(words) == sentence:
            rng.shuffle(words)
        shuffled.append(" ".join(words))
    assert lm.perplexity(held_out) * 3 < lm.perplexity(shuffled)


def test_bad_settings_are_clear_errors(tmp_path, tools):
    text = tmp_path / "t.txt"
    text.write_text("hello world\n")
    with pytest.raises(ASRError, match="orders 1 to 6"):
        build_lm([text], tmp_path / "a", LMBuildConfig(order=9), progress=False)
    with pytest.raises(ASRError, match="unigram"):
        build_lm([text], tmp_path / "a", LMBuildConfig(order=3, prune=(1, 1)), progress=False)
    empty = tmp_path / "empty.txt"
    empty.write_text("!!! ...\n\n")
    with pytest.raises(InputError, match="no words left"):
        build_lm([empty], tmp_path / "b", LMBuildConfig(order=2), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.txt", "t.txt"]  # nothing half-written
    not_lm = tmp_path / "taken"
    not_lm.mkdir()
    (not_lm / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="holds no LM"):
        build_lm([text], not_lm, LMBuildConfig(order=2), progress=False)
    assert (not_lm / "keep.txt").read_text() == "mine"
    with pytest.raises(InputError, match="not an LM directory"):
        load_lm(not_lm)


def test_cli_builds_from_a_manifest_and_text_and_replaces_an_old_lm(tmp_path, capsys, tools):
    manifest = tmp_path / "train.jsonl"
    manifest.write_text("\n".join(json.dumps({"id": str(i), "audio": "x.wav", "duration": 1.0, "text": s})
                                  for i, s in enumerate(LM_SENTENCES[:40])) + "\n")
    text = tmp_path / "extra.txt"
    text.write_text("completely different words here\n")
    out = tmp_path / "lm"
    assert main(["lm", "build", "--text", str(manifest), str(text), "--order", "2", "--out", str(out),
                 "--prune", "0", "1", "--quiet"]) == 0
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert last_line.startswith(f"asr lm build: wrote {out}/") and "2-gram" in last_line
    meta = json.loads((out / "lm.json").read_text())
    assert meta["prune"] == [0, 1] and len(meta["sources"]) == 2
    assert "completely" in (out / "words.txt").read_text().split()
    # Building again into the same directory replaces the LM.
    assert main(["lm", "build", "--text", str(text), "--order", "2", "--out", str(out), "--quiet"]) == 0
    assert (out / "words.txt").read_text().split() == ["completely", "different", "here", "words"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["extra.txt", "lm", "train.jsonl"]


def test_cli_missing_text_file_is_one_clear_line(tmp_path, capsys):
    missing = tmp_path / "nope.txt"
    assert main(["lm", "build", "--text", str(missing), "--out", str(tmp_path / "lm")]) == 2
    err = capsys.readouterr().err
    assert f"{missing}: text file not found" in err and "Traceback" not in err
    assert not (tmp_path / "lm").exists()


def test_bad_manifest_line_names_file_and_line(tmp_path, capsys, tools):
    manifest = tmp_path / "bad.jsonl"
    manifest.write_text('{"id": "a", "text": "hello"}\n{"id": "b"}\n')
    assert main(["lm", "build", "--text", str(manifest), "--out", str(tmp_path / "lm"), "--quiet"]) == 2
    assert f"{manifest}: line 2" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]


def test_unigram_lm_builds_scores_and_decodes(tmp_path, capsys, tools):
    from decoding_helpers import ctc_log_probs

    from asr.decoding import BeamSearchConfig, BeamSearchDecoder
    from asr.text import CharTokenizer

    text = tmp_path / "t.txt"
    text.write_text("\n".join(LM_SENTENCES) + "\n")
    out = tmp_path / "lm"
    assert main(["lm", "build", "--text", str(text), "--order", "1", "--out", str(out), "--quiet"]) == 0
    assert "1-gram" in capsys.readouterr().out
    arpa = (out / "lm.arpa").read_text()
    assert "ngram 1=" in arpa and "ngram 2=" not in arpa
    lm = load_lm(out)
    assert lm.order == 1
    # a unigram model's sentence score is the sum of its words' and </s>'s log10 probabilities in the ARPA
    unigrams = {}
    for line in arpa.split("\\1-grams:\n")[1].split("\n\n")[0].splitlines():
        prob, word = line.split("\t")[:2]
        unigrams[word] = float(prob)
    sentence = "the dog sat near the red car"
    total, count = lm.log10_prob([sentence])
    assert count == 8 and total == pytest.approx(sum(unigrams[w] for w in sentence.split()) + unigrams["</s>"],
                                                 abs=1e-4)
    # and the beam search decodes with it
    chars = CharTokenizer()
    decoder = BeamSearchDecoder(BeamSearchConfig(alpha=0.5), chars, out)
    assert decoder.decode(ctc_log_probs(sentence, chars), 0.04).text == sentence
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_vocab_size_keeps_the_most_frequent_words(tmp_path, tools):
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat\na dog ran in the park\nthe dog sat\nthe cat ran\n")
    lm = build_lm([text], tmp_path / "lm", LMBuildConfig(order=3, vocab_size=3), progress=False)
    assert lm.vocabulary == ["the", "cat", "dog"]  # by count, ties alphabetical
    arpa = (tmp_path / "lm" / "lm.arpa").read_text()
    unigrams = arpa.split("\\1-grams:\n")[1].split("\n\n")[0].splitlines()
    assert sorted(line.split("\t")[1] for line in unigrams) == ["</s>", "<s>", "<unk>", "cat", "dog", "the"]
    assert "\tsat" not in arpa and " sat" not in arpa  # n-grams with dropped words are gone


def test_import_of_an_upper_case_arpa_without_unk_scores_like_the_original(lm_dir, tmp_path, capsys):
    import gzip

    # An ARPA file spelled as LibriSpeech's official ones are (upper case) and without an <unk> unigram.
    lines = (lm_dir / "lm.arpa").read_text().splitlines()
    unigrams = int(next(line for line in lines if line.startswith("ngram 1=")).split("=")[1])
    kept = [line.upper() if line.startswith("-") or line.startswith("0") else line
            for line in lines if "\t<unk>" not in line]
    kept = [f"ngram 1={unigrams - 1}" if line.startswith("ngram 1=") else line for line in kept]
    official = tmp_path / "4-GRAM.arpa.gz"
    with gzip.open(official, "wt") as f:
        f.write("\n".join(kept) + "\n")
    out = tmp_path / "imported"
    assert main(["lm", "build", "--arpa", str(official), "--out", str(out), "--quiet"]) == 0
    assert "wrote" in capsys.readouterr().out
    original, imported = load_lm(lm_dir), load_lm(out)
    assert imported.order == 3 and imported.meta["imported_arpa"] == str(official)
    assert sorted(imported.vocabulary) == sorted(original.vocabulary)
    assert imported.vocabulary[0] == "the"  # most probable first
    sentences = [" ".join(s.split()[:6]) for s in LM_SENTENCES[:20]]
    assert imported.log10_prob(sentences)[0] == pytest.approx(original.log10_prob(sentences)[0], abs=1e-3)
    bad = tmp_path / "bad.arpa"
    bad.write_text("hello\n")
    assert main(["lm", "build", "--arpa", str(bad), "--out", str(tmp_path / "x")]) == 2
    assert "not an ARPA file" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_import_of_a_unigram_arpa_scores_like_the_built_unigram_lm(tmp_path, tools):
    text = tmp_path / "t.txt"
    text.write_text("\n".join(LM_SENTENCES) + "\n")
    built = build_lm([text], tmp_path / "lm", LMBuildConfig(order=1), progress=False)
    imported = import_arpa(tmp_path / "lm" / "lm.arpa", tmp_path / "imported", progress=False)
    assert imported.order == 1 and sorted(imported.vocabulary) == sorted(built.vocabulary)
    sentences = [" ".join(s.split()[:6]) for s in LM_SENTENCES[:20]]
    assert imported.log10_prob(sentences)[0] == pytest.approx(built.log10_prob(sentences)[0], abs=1e-4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imported", "lm", "t.txt"]
