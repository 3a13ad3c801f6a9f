import math

import numpy as np
import pytest
import torch
from decoding_helpers import LM_SENTENCES, ctc_log_probs, noisy_log_probs, position_of

from asr.decoding import (
    BeamSearchConfig,
    BeamSearchDecoder,
    LogProbCache,
    decode_all,
    fingerprint,
    greedy_decode,
    tune_alpha_beta,
)
from asr.decoding.kenlm_tools import kenlm_tools
from asr.decoding.lm import LMBuildConfig, build_lm
from asr.errors import InputError
from asr.text import BPETokenizer, CharTokenizer

SHIFT = 0.04


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    kenlm_tools(build=False)
    text = tmp_path_factory.mktemp("text") / "lm.txt"
    text.write_text("\n".join(LM_SENTENCES) + "\n")
    out = tmp_path_factory.mktemp("lm") / "lm"
    build_lm([text], out, LMBuildConfig(order=3), progress=False)
    return out


@pytest.fixture(scope="module")
def chars():
    return CharTokenizer()


def beam(tokenizer, lm_dir, **settings):
    return BeamSearchDecoder(BeamSearchConfig(**settings), tokenizer, lm_dir)


def test_greedy_is_batched_ignores_padding_and_times_words(chars):
    a = ctc_log_probs("the cat sat", chars)
    b = ctc_log_probs("a dog", chars)
    batch = torch.full((2, len(a), chars.vocab_size), -30.0)
    batch[:, :, 0] = 0.0  # padding frames say blank...
    batch[1, len(b):, chars.encode("x")[0]] = 0.0  # ...or garbage, which the length must hide
    batch[0] = torch.from_numpy(a)
    batch[1, : len(b)] = torch.from_numpy(b)
    one, two = greedy_decode(batch, torch.tensor([len(a), len(b)]), chars, SHIFT)
    assert one.text == "the cat sat" and two.text == "a dog"
    assert [w.word for w in one.words] == ["the", "cat", "sat"]
    # "the" starts after 3 lead blank frames, its 3 characters take 2 frames each with 2 blanks between.
    assert one.words[0].start == pytest.approx(3 * SHIFT) and one.words[0].end == pytest.approx((3 + 10) * SHIFT)
    assert one.score == pytest.approx(float(torch.from_numpy(a).max(dim=1).values.sum()), rel=1e-5)


def test_lm_beam_corrects_a_word_greedy_gets_wrong(chars, lm_dir):
    text = "the cat sat on the mat"
    log_probs = ctc_log_probs(text, chars, {position_of(text, 5): ("h", 0.6)})  # "mat" heard as "hat" (60/40)
    assert greedy_decode(torch.from_numpy(log_probs), None, chars, SHIFT)[0].text == "the cat sat on the hat"
    assert beam(chars, lm_dir, alpha=1.0, beta=1.0).decode(log_probs, SHIFT).text == text
    # Without the LM the beam agrees with greedy: the LM made the difference.
    assert BeamSearchDecoder(BeamSearchConfig(), chars, None).decode(log_probs, SHIFT).text == "the cat sat on the hat"


def test_word_outside_the_lm_vocabulary_is_produced(chars, lm_dir):
    text = "the dog ran to the zorbex"
    log_probs = ctc_log_probs(text, chars, token_frames=1, confidence=0.999)  # clearly spelled, one frame a letter
    assert beam(chars, lm_dir, unk_score=-4.0).decode(log_probs, SHIFT).text == text
    # A closed vocabulary (unk_score = -inf) cannot spell it: the out-of-vocabulary path is what produced it.
    assert "zorbex" not in beam(chars, lm_dir, unk_score=-math.inf).decode(log_probs, SHIFT).text
    # Given as an extra lexicon word it is produced even with free spelling off (scored as the LM's <unk>).
    closed = BeamSearchDecoder(BeamSearchConfig(unk_score=-math.inf), chars, lm_dir, extra_words=["zorbex"])
    assert closed.decode(log_probs, SHIFT).text == text
    # A plural the LM never saw: "hats" is kept by a mild penalty, a harsh one turns it into "hat".
    hats = ctc_log_probs("she wore the hats", chars, token_frames=1, confidence=0.999)
    assert beam(chars, lm_dir, unk_score=-1.0).decode(hats, SHIFT).text == "she wore the hats"
    assert beam(chars, lm_dir, unk_score=-12.0).decode(hats, SHIFT).text == "she wore the hat"


def test_unknown_word_penalty_keeps_weak_evidence_in_vocabulary(chars, lm_dir):
    # "wall" with its "w" heard 55/45 as "q": a harsh penalty keeps the in-vocabulary word.
    text = "the cat jumped over the wall"
    log_probs = ctc_log_probs(text, chars, {position_of(text, 5): ("q", 0.55)})
    assert beam(chars, lm_dir, unk_score=-12.0).decode(log_probs, SHIFT).text == text


def test_hotword_boost_flips_a_decision(chars, lm_dir):
    text = "the cat sat on the mat"
    log_probs = ctc_log_probs(text, chars, {position_of(text, 5): ("h", 0.45)})
    assert beam(chars, lm_dir).decode(log_probs, SHIFT).text == text
    boosted = beam(chars, lm_dir, hotwords=("hat",), hotword_boost=6.0).decode(log_probs, SHIFT)
    assert boosted.text == "the cat sat on the hat"


def test_hotword_phrase_needs_all_its_words(chars, lm_dir):
    text = "the cat sat on the mat"
    log_probs = ctc_log_probs(text, chars, {position_of(text, 5): ("h", 0.45)})
    # "the hat" completes a phrase here: boosted. "hat trick" would need a "trick" that never comes: its boost on
    # "hat" is taken back at the end of the utterance, so the decision stays.
    assert beam(chars, lm_dir, hotwords=("the hat",), hotword_boost=4.0).decode(log_probs, SHIFT).text.endswith("hat")
    assert beam(chars, lm_dir, hotwords=("hat trick",), hotword_boost=4.0).decode(log_probs, SHIFT).text == text


def test_hotword_adapter_scores_like_the_plain_lm(chars, lm_dir):
    texts = ["the dog looked at the old tree", "her brother slept near the red car"]
    plain = beam(chars, lm_dir, alpha=0.8, beta=1.0)
    adapted = beam(chars, lm_dir, alpha=0.8, beta=1.0, hotwords=("weather",))  # a hotword that never occurs
    for log_probs in noisy_log_probs(texts, chars, seed=3):
        a, b = plain.decode(log_probs, SHIFT), adapted.decode(log_probs, SHIFT)
        assert a.text == b.text and a.score == pytest.approx(b.score, abs=1e-3)


def test_word_times_are_increasing_and_inside_the_audio(chars, lm_dir):
    text = "my friend jumped over the old tree"
    log_probs = noisy_log_probs([text], chars, seed=1)[0]
    duration = len(log_probs) * SHIFT
    for result in (beam(chars, lm_dir).decode(log_probs, SHIFT),
                   greedy_decode(torch.from_numpy(log_probs), None, chars, SHIFT)[0]):
        assert len(result.words) >= 5
        previous_end = 0.0
        for word in result.words:
            assert previous_end <= word.start < word.end <= duration + 1e-9
            previous_end = word.end


def test_parallel_decoding_equals_sequential(chars, lm_dir):
    texts = [LM_SENTENCES[i] for i in range(0, 150, 13)]
    log_probs = noisy_log_probs(texts, chars, seed=7)
    config = BeamSearchConfig(beam_width=16)
    sequential = decode_all(log_probs, config, lm_dir, chars, SHIFT, workers=1)
    parallel = decode_all([torch.from_numpy(lp) for lp in log_probs], config, lm_dir, chars, SHIFT, workers=2)
    assert parallel == sequential
    assert sum(r.text == t for r, t in zip(sequential, texts)) >= len(texts) - 2


def test_bpe_tokenizer_beam_search(lm_dir):
    # (The pangram gives the tokenizer every letter, for the unknown word below.)
    tokenizer = BPETokenizer.train(LM_SENTENCES * 3 + ["the quick brown fox jumps over the lazy dog"], vocab_size=60)
    text = "the teacher looked at the red car"
    ids = tokenizer.encode(text)
    # Confuse the piece that spells the start of "car" with another piece: greedy goes wrong, the LM fixes it.
    car = max(i for i, t in enumerate(ids) if tokenizer.tokens[t].startswith("\u2581"))
    wrong = next(t for t in tokenizer.tokens[1:] if t.startswith("\u2581") and t != tokenizer.tokens[ids[car]]
                 and t.strip("\u2581"))
    log_probs = ctc_log_probs(text, tokenizer, {car: (wrong, 0.6)})
    assert greedy_decode(torch.from_numpy(log_probs), None, tokenizer, SHIFT)[0].text != text
    result = BeamSearchDecoder(BeamSearchConfig(alpha=1.0), tokenizer, lm_dir).decode(log_probs, SHIFT)
    assert result.text == text
    assert [w.word for w in result.words] == text.split()
    # An unknown word spelled in pieces still comes out.
    oov = "the dog ran to the zorbex"
    clear = ctc_log_probs(oov, tokenizer, token_frames=1, confidence=0.999)
    assert BeamSearchDecoder(BeamSearchConfig(), tokenizer, lm_dir).decode(clear, SHIFT).text == oov


def frames_of(tokenizer, *frames: dict[str, float]) -> np.ndarray:
    """Log-probs with the given probabilities per frame ("" is the blank); other tokens share a 1e-6 floor."""
    out = np.full((len(frames), tokenizer.vocab_size), 1e-6)
    for t, probs in enumerate(frames):
        for token, p in probs.items():
            out[t, tokenizer.blank_id if token == "" else tokenizer.encode(token)[0]] = p
    return np.log(out / out.sum(axis=1, keepdims=True)).astype(np.float32)


def test_alignments_of_one_text_add_up(chars):
    # Two frames. "b" has the single best alignment (b, blank: 0.45 x 0.45 = 0.2025 > a, blank: 0.4 x 0.45 = 0.18),
    # but "a" has more probability in all (a a, a -, - a: 0.16 + 0.18 + 0.06 = 0.40 against 0.29 for "b").
    log_probs = frames_of(chars, {"a": 0.4, "b": 0.45, "": 0.15}, {"a": 0.4, "b": 0.15, "": 0.45})
    def decode(**settings):
        return BeamSearchDecoder(BeamSearchConfig(empty_score=0.0, **settings), chars, None).decode(log_probs, SHIFT)
    assert decode().text == "a"  # log_add, the default: a text's probability is the sum over its alignments
    assert decode(log_add=False).text == "b"  # the best single alignment


def test_empty_transcript_pays_the_empty_score(chars, lm_dir):
    # One weakly heard letter (0.2 against 0.8 for the blank), "x", a word the LM does not know: its unknown-word
    # score makes it cost more than saying nothing. With an empty transcript scored alike, the letter wins.
    weak = frames_of(chars, {"": 1.0}, {"x": 0.2, "": 0.8}, {"": 1.0})
    assert beam(chars, lm_dir, empty_score=0.0, unk_score=-4.0).decode(weak, SHIFT).text == ""
    assert beam(chars, lm_dir, empty_score=-10.0, unk_score=-4.0).decode(weak, SHIFT).text == "x"
    # Silence stays empty: no spelled word gets within the empty score of it.
    silence = frames_of(chars, *[{"": 1.0}] * 20)
    assert beam(chars, lm_dir).decode(silence, SHIFT).text == ""
    assert BeamSearchDecoder(BeamSearchConfig(), chars, None).decode(silence, SHIFT).text == ""


def test_cutoff_prob_keeps_the_likely_tokens(chars):
    from asr.decoding.beam import apply_cutoff_prob

    frame = np.log(np.array([[0.6, 0.25, 0.1, 0.05]], dtype=np.float32))
    kept = apply_cutoff_prob(frame, 0.8) > -1e29
    assert kept.tolist() == [[True, True, False, False]]


def test_tuning_recovers_the_best_pair(chars, lm_dir, tmp_path):
    # Each utterance rules out one side of the grid alpha {0, 1, 3} x beta {-8, 1, 8}:
    # 1. "mat" heard 55/45 as "hat": without the LM (alpha 0) it stays wrong.
    # 2. "she wore the mat" heard clearly: an LM weighted too much (alpha 3) turns it into the LM's "hat".
    # 3. a faint "a" (30%) the speaker did not say: a large word bonus (beta 8) inserts it.
    # 4. a faint "a" (30%) the speaker did say: a negative bonus (beta -8) drops it.
    blank = "<blank>"
    first, second = "the cat sat on the mat", "she wore the mat"
    third_spoken, fourth = "the dog ran to a house", "a bird looked at the wall"
    faint_a = position_of(third_spoken, 4)
    utterances = [
        (first, ctc_log_probs(first, chars, {position_of(first, 5): ("h", 0.55)})),
        (second, ctc_log_probs(second, chars, {position_of(second, 3): ("h", 0.15)})),
        ("the dog ran to house", ctc_log_probs(third_spoken, chars, {faint_a: (blank, 0.7), faint_a + 1: (blank, 0.7)})),
        (fourth, ctc_log_probs(fourth, chars, {0: (blank, 0.7), 1: (blank, 0.7)})),
    ]
    result = tune_alpha_beta([u[1] for u in utterances], [u[0] for u in utterances], chars, lm_dir,
                             BeamSearchConfig(), alphas=[0.0, 1.0, 3.0], betas=[-8.0, 1.0, 8.0], frame_shift_s=SHIFT,
                             workers=2, plot=tmp_path / "wer.png")
    print(result.format_table())
    assert (result.best_alpha, result.best_beta, result.best_wer) == (1.0, 1.0, 0.0)
    assert sorted(w for row in result.wer for w in row)[1] > 0  # the known pair is the only perfect one
    assert len(result.table) == 9
    assert (tmp_path / "wer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_log_prob_cache_round_trip(chars, tmp_path):
    model, manifest = tmp_path / "model.pt", tmp_path / "test.jsonl"
    model.write_bytes(b"weights")
    manifest.write_text('{"id": "a", "audio": "a.wav", "duration": 1.0, "text": "hello"}\n')
    log_probs = [torch.randn(7, chars.vocab_size).log_softmax(-1), torch.randn(3, chars.vocab_size).log_softmax(-1)]
    assert LogProbCache.load_for(model, manifest, tmp_path / "cache") is None
    cache = LogProbCache(fingerprint(model, manifest), ["a", "b"], ["hello", "world"], log_probs, 0.04,
                         chars.to_dict())
    path = cache.save(LogProbCache.path_for(model, manifest, tmp_path / "cache"))
    torch.load(path, weights_only=True)  # plain data only
    loaded = LogProbCache.load_for(model, manifest, tmp_path / "cache")
    assert loaded.ids == ["a", "b"] and loaded.texts == ["hello", "world"] and loaded.frame_shift_s == 0.04
    assert loaded.tokenizer == chars.to_dict() and loaded.log_probs[0].dtype == torch.float16
    assert torch.allclose(loaded.float_log_probs()[1], log_probs[1], atol=1e-2)
    manifest.write_text('{"id": "a", "audio": "a.wav", "duration": 1.0, "text": "changed"}\n')
    assert LogProbCache.load_for(model, manifest, tmp_path / "cache") is None  # another manifest: no hit
    with pytest.raises(InputError, match="another model or manifest"):
        LogProbCache.load(path, expect_fingerprint=fingerprint(model, manifest))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a cache")
    with pytest.raises(InputError, match="junk.pt"):
        LogProbCache.load(junk)
