import json
import random
from collections import Counter

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


def test_import_quantised_records_what_it_did_and_refuses_estimation_options(lm_dir, tmp_path, capsys):
    arpa = lm_dir / "lm.arpa"
    lm = import_arpa(arpa, tmp_path / "q", binary_type="trie", progress=False, quantize=8)
    meta, header = lm.meta, arpa.read_text().split("\\1-grams:")[0]
    assert meta["imported_arpa"] == str(arpa) and meta["quantize"] == 8 and meta["binary_type"] == "trie"
    assert meta["bytes"]["lm.bin"] == lm.binary.stat().st_size
    assert all(f"ngram {n}={c['kept']}\n" in header for n, c in meta["ngrams"].items()) and len(meta["ngrams"]) == 3
    sentences = [" ".join(s.split()[:6]) for s in LM_SENTENCES[:20]]
    assert lm.perplexity(sentences) == pytest.approx(load_lm(lm_dir).perplexity(sentences), rel=0.05)
    # --vocab-size, --min-count, --word-list and --prune shape an estimate: with --arpa they are an error.
    assert main(["lm", "build", "--arpa", str(arpa), "--out", str(tmp_path / "x"), "--vocab-size", "5",
                 "--min-count", "2"]) == 2
    assert "--vocab-size, --min-count: not for --arpa" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q"]


def test_import_of_a_unigram_arpa_scores_like_the_built_unigram_lm(tmp_path, tools):
    text = tmp_path / "t.txt"
    text.write_text("\n".join(LM_SENTENCES) + "\n")
    built = build_lm([text], tmp_path / "lm", LMBuildConfig(order=1), progress=False)
    imported = import_arpa(tmp_path / "lm" / "lm.arpa", tmp_path / "imported", progress=False)
    assert imported.order == 1 and sorted(imported.vocabulary) == sorted(built.vocabulary)
    sentences = [" ".join(s.split()[:6]) for s in LM_SENTENCES[:20]]
    assert imported.log10_prob(sentences)[0] == pytest.approx(built.log10_prob(sentences)[0], abs=1e-4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imported", "lm", "t.txt"]


def _zipf_text(path, sentences=4000, words=400):
    """A text of pseudo-words with Zipf-like frequencies: many n-grams seen once, some seen often."""
    rng = random.Random(0)
    vocabulary = ["".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(3))
                  for _ in range(words)]
    weights = [1.0 / (rank + 1) for rank in range(words)]
    path.write_text("\n".join(" ".join(rng.choices(vocabulary, weights, k=rng.randint(5, 10)))
                               for _ in range(sentences)) + "\n")
    return path


def test_pruning_and_quantisation_shrink_the_binary_and_are_recorded(tmp_path, tools):
    text = _zipf_text(tmp_path / "lm.txt")
    full = build_lm([text], tmp_path / "full", LMBuildConfig(order=3, binary_type="trie"), progress=False)
    pruned = build_lm([text], tmp_path / "pruned", LMBuildConfig(order=3, prune=(0, 1, 1), binary_type="trie"),
                      progress=False)
    small = build_lm([text], tmp_path / "small",
                     LMBuildConfig(order=3, prune=(0, 1, 1), binary_type="trie", quantize=8), progress=False)
    assert small.binary.stat().st_size < pruned.binary.stat().st_size < full.binary.stat().st_size
    meta = small.meta
    assert meta["prune"] == [0, 1, 1] and meta["quantize"] == 8 and meta["binary_type"] == "trie"
    assert meta["bytes"]["lm.bin"] == small.binary.stat().st_size
    # Unigrams are never pruned; higher orders keep fewer than lmplz saw, and the ARPA header agrees.
    assert meta["ngrams"]["1"]["kept"] == meta["ngrams"]["1"]["seen"] == len(small.vocabulary) + 3
    for order in ("2", "3"):
        assert meta["ngrams"][order]["kept"] < meta["ngrams"][order]["seen"]
        assert meta["ngrams"][order]["seen"] == full.meta["ngrams"][order]["kept"]
        assert f"ngram {order}={meta['ngrams'][order]['kept']}\n" in (tmp_path / "small" / "lm.arpa").read_text()
    # 8-bit quantisation changes the probabilities only a little.
    held_out = [line for line in text.read_text().splitlines()[:50]]
    assert small.perplexity(held_out) == pytest.approx(pruned.perplexity(held_out), rel=0.05)


def test_quantised_pruned_lm_with_a_word_list_decodes_in_the_beam_search(tmp_path, tools):
    import math

    from decoding_helpers import ctc_log_probs, position_of

    from asr.decoding import BeamSearchConfig, BeamSearchDecoder
    from asr.text import CharTokenizer

    text = tmp_path / "lm.txt"
    text.write_text("\n".join(LM_SENTENCES) + "\n")
    words = tmp_path / "words.txt"
    words.write_text("Zorbex\nthe\n3-D\n")  # "3-D" normalises to two words: left out
    lm = build_lm([text], tmp_path / "lm", LMBuildConfig(order=3, prune=(0, 0, 1), binary_type="trie", quantize=8,
                                                         word_lists=(str(words),)), progress=False)
    assert "zorbex" in lm.vocabulary and "three" not in lm.vocabulary
    assert lm.meta["word_lists"] == [{"path": str(words), "words": 2, "new": 1}]
    chars = CharTokenizer()
    sentence = "the cat sat on the mat"
    heard_hat = ctc_log_probs(sentence, chars, {position_of(sentence, 5): ("h", 0.6)})  # "mat" heard as "hat"
    decoder = BeamSearchDecoder(BeamSearchConfig(alpha=1.0, beta=1.0), chars, lm)
    assert decoder.decode(heard_hat, 0.04).text == sentence
    # The word-list word is in the lexicon: a closed vocabulary (no free spelling) still produces it.
    zorbex = ctc_log_probs("the dog ran to the zorbex", chars, token_frames=1, confidence=0.999)
    closed = BeamSearchDecoder(BeamSearchConfig(unk_score=-math.inf), chars, lm)
    assert closed.decode(zorbex, 0.04).text == "the dog ran to the zorbex"


def test_vocab_size_and_min_count_limit_the_vocabulary(tmp_path, tools):
    text = tmp_path / "lm.txt"
    text.write_text("\n".join(LM_SENTENCES) + "\n")
    counts = Counter(w for s in LM_SENTENCES for w in s.split())
    # 20 words: "the" and the 17 words seen 30 times, then 2 of the 3 seen 26 times (the tie taken alphabetically).
    lm = build_lm([text], tmp_path / "lm", LMBuildConfig(order=2, vocab_size=20), progress=False)
    kept = lm.vocabulary
    tied = sorted(w for w, n in counts.items() if n == 26)
    assert kept[0] == "the" and len(kept) == 20 and len(tied) == 3
    assert kept[18:] == tied[:2] and tied[2] not in kept
    # Every kept word is at least as frequent as every word left out.
    assert min(counts[w] for w in kept) >= max(counts[w] for w in counts if w not in kept)
    assert lm.meta["vocab_size"] == 20 and lm.meta["min_count"] == 1 and lm.meta["vocabulary"] == 20
    assert lm.meta["ngrams"]["1"]["kept"] == len(kept) + 3  # plus <s>, </s>, <unk>
    assert f"ngram 1={len(kept) + 3}\n" in (tmp_path / "lm" / "lm.arpa").read_text()
    # A word list attests words: with --min-count 2, a word of the text seen once stays only if a list names it.
    once = sorted(w for w, n in counts.items() if n == 1)
    words = tmp_path / "words.txt"
    words.write_text(once[0] + "\n")
    lm = build_lm([text], tmp_path / "lm", LMBuildConfig(order=2, min_count=2, word_lists=(str(words),)),
                  progress=False)
    assert once[0] in lm.vocabulary and not set(once[1:]) & set(lm.vocabulary)
    assert set(lm.vocabulary) == {w for w, n in counts.items() if n >= 2} | {once[0]}
    words.unlink()
    with pytest.raises(ASRError, match="needs --binary-type trie"):
        build_lm([text], tmp_path / "q", LMBuildConfig(order=2, quantize=8), progress=False)
    with pytest.raises(InputError, match="word list not found"):
        build_lm([text], tmp_path / "w", LMBuildConfig(order=2, word_lists=(str(tmp_path / "nope"),)),
                 progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lm", "lm.txt"]
