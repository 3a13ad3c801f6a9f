"""asr evaluate, asr tune, and transcription with a language model, on the tiny model."""

import json

import pytest
from conftest import TINY_SENTENCES

from asr.cli import main as asr_main
from asr.package import load_packaged_model


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_lm")
    text = folder / "text.txt"
    text.write_text("\n".join(TINY_SENTENCES * 3 + ["the dog sat on the mat", "my cat is red"]) + "\n")
    assert asr_main(["lm", "build", "--text", str(text), "--order", "3", "--out", str(folder / "lm")]) == 0
    return folder / "lm"


def test_evaluate_greedy_and_lm_then_from_cache(tiny_model, tiny_corpus, tiny_lm, tmp_path, capsys):
    args = ["evaluate", "--model", str(tiny_model), "--manifest", str(tiny_corpus.train), "--lm", str(tiny_lm),
            "--cache-dir", str(tmp_path / "cache"), "--report", str(tmp_path / "report.txt"),
            "--json", str(tmp_path / "eval.json"), "--workers", "2"]
    assert asr_main(args) == 0
    first = capsys.readouterr().out
    assert "model real-time factor" in first and "cache" not in first.splitlines()[0]
    figures = json.loads((tmp_path / "eval.json").read_text())
    assert figures["utterances"] == 12 and figures["model_rtf"] > 0
    assert figures["decoders"]["greedy"]["wer"] == 0.0 and figures["decoders"]["beam + LM"]["wer"] == 0.0
    assert (tmp_path / "report.txt").read_text().startswith("WER 0.00%")
    assert list((tmp_path / "cache").glob("*.pt"))
    assert asr_main(args) == 0  # the second time the model does not run
    assert "(log-probs from cache)" in capsys.readouterr().out


def test_tune_writes_grid_and_heat_map(tiny_model, tiny_corpus, tiny_lm, tmp_path, capsys):
    assert asr_main(["tune", "--model", str(tiny_model), "--manifest", str(tiny_corpus.dev), "--lm", str(tiny_lm),
                     "--alphas", "0", "0.5", "--betas", "0", "1", "--cache-dir", str(tmp_path / "cache"),
                     "--plot", str(tmp_path / "grid.png"), "--json", str(tmp_path / "tune.json")]) == 0
    assert "best: alpha" in capsys.readouterr().out
    result = json.loads((tmp_path / "tune.json").read_text())
    assert len(result["table"]) == 4 and result["best_wer"] == 0.0 and result["best_unk_score"] == -6.0
    assert (tmp_path / "grid.png").stat().st_size > 5000


def test_tune_searches_the_unknown_word_score_too(tiny_model, tiny_corpus, tiny_lm, tmp_path, capsys):
    # A (nearly) closed vocabulary cannot spell the dev words this LM lacks; a mild unknown-word score can.
    lm_without = tmp_path / "lm"
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat\nthe sun is bright today\n")
    assert asr_main(["lm", "build", "--text", str(text), "--order", "2", "--out", str(lm_without), "--quiet"]) == 0
    assert asr_main(["tune", "--model", str(tiny_model), "--manifest", str(tiny_corpus.dev), "--lm", str(lm_without),
                     "--alphas", "0.3", "--betas", "0", "1", "--unk-scores", "-30", "-3", "--cache-dir",
                     str(tmp_path / "cache"), "--json", str(tmp_path / "tune.json")]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "tune.png").stat().st_size > 5000  # no --plot: the heat map goes beside the JSON
    assert "unknown-word score -30:" in out and "unknown-word score -3:" in out
    result = json.loads((tmp_path / "tune.json").read_text())
    assert len(result["table"]) == 4 and result["best_unk_score"] == -3.0
    closed = min(r["wer"] for r in result["table"] if r["unk_score"] == -30.0)
    assert result["best_wer"] < closed


def test_model_file_can_name_its_lm_and_weights(tiny_model, tiny_corpus, tiny_lm, tmp_path, capsys):
    shipped = tmp_path / "models" / "tiny.pt"
    assert asr_main(["export", "--model", str(tiny_model), "--out", str(shipped), "--lm", str(tiny_lm),
                     "--alpha", "0.7", "--beta", "0.5", "--fp16"]) == 0
    decoder = load_packaged_model(shipped).provenance["decoder"]
    assert decoder["alpha"] == 0.7 and (shipped.parent / decoder["lm"]).resolve() == tiny_lm.resolve()
    wav = str(tiny_corpus.root / "wav" / "utt05.wav")
    capsys.readouterr()
    assert asr_main(["transcribe", str(shipped), wav, "--hotwords", "bright"]) == 0  # LM found: hotwords allowed
    assert capsys.readouterr().out.strip() == TINY_SENTENCES[5]
    assert asr_main(["transcribe", str(shipped), wav, "--no-lm", "--hotwords", "bright"]) == 2
    assert "hotwords need a language model" in capsys.readouterr().err


def test_decoder_options_override_what_the_model_file_recommends(tiny_model, tiny_lm, tmp_path):
    import argparse

    from asr.decoding import BeamSearchConfig
    from asr.transcribe import add_arguments, decoder_settings

    parser = argparse.ArgumentParser()
    add_arguments(parser)

    shipped = tmp_path / "tiny.pt"
    assert asr_main(["export", "--model", str(tiny_model), "--out", str(shipped), "--lm", str(tiny_lm),
                     "--alpha", "0.7", "--beta", "0.5"]) == 0
    package = load_packaged_model(shipped)
    recommended, lm = decoder_settings(parser.parse_args([str(shipped), "x.wav"]), package, shipped)
    assert (recommended.alpha, recommended.beta, recommended.unk_score) == (0.7, 0.5, BeamSearchConfig.unk_score)
    assert lm is not None
    chosen, _ = decoder_settings(parser.parse_args([str(shipped), "x.wav", "--beta", "2", "--unk-score", "-12"]),
                                 package, shipped)
    assert (chosen.alpha, chosen.beta, chosen.unk_score) == (0.7, 2.0, -12.0)
    assert decoder_settings(parser.parse_args([str(shipped), "x.wav", "--no-lm"]), package, shipped) == (None, None)


@pytest.mark.parametrize("command", ["transcribe", "evaluate", "tune", "export"])
def test_unk_score_minus_infinity_is_accepted(command):
    import argparse
    import importlib
    import math

    from asr.decoding import BeamSearchConfig
    from asr.evaluate import search_options

    parser = argparse.ArgumentParser()
    importlib.import_module(f"asr.{command}").add_arguments(parser)
    given = {"transcribe": ["m.pt", "x.wav"], "evaluate": ["--model", "m.pt", "--manifest", "x.jsonl"],
             "tune": ["--model", "m.pt", "--manifest", "x.jsonl", "--lm", "lm"],
             "export": ["--model", "m.pt", "--out", "o.pt", "--lm", "lm"]}[command]
    for spelling in ("-inf", "-Infinity"):
        args = parser.parse_args([*given, "--unk-score", spelling, "--beam-width", "8"])
        assert args.unk_score == -math.inf and args.beam_width == 8
        assert BeamSearchConfig(**search_options(args)).unk_score == -math.inf
    assert parser.parse_args([*given, "--unk-score", "-7.5"]).unk_score == -7.5
    if command == "tune":  # the grid of unknown-word scores takes it too
        assert parser.parse_args([*given, "--unk-scores", "-inf", "-6"]).unk_scores == [-math.inf, -6.0]
    with pytest.raises(SystemExit):  # an option name in the value's place is still an error
        parser.parse_args([*given, "--unk-score", "--beam-width", "8"])


def test_evaluate_and_tune_read_segments_starting_at_offset_zero(tiny_model, tiny_corpus, tiny_lm, tmp_path, capsys):
    """Two utterances in one file, the first at offset 0.0: each line must be read as its own segment."""
    import numpy as np
    from conftest import write_audio

    from asr.audio import load_audio
    from asr.data import Utterance, read_manifest, write_manifest

    utts = read_manifest(tiny_corpus.train)
    lines = []
    for k, (first, second) in enumerate([(0, 1), (2, 3)]):
        a, b = load_audio(utts[first].audio), load_audio(utts[second].audio)
        pause = np.zeros(8000, dtype=np.float32)
        path = write_audio(tmp_path / f"pair{k}.wav", np.concatenate([a, pause, b]), 16000)
        lines += [Utterance(f"pair{k}-a", str(path), len(a) / 16000, utts[first].text, offset=0.0),
                  Utterance(f"pair{k}-b", str(path), len(b) / 16000, utts[second].text,
                            offset=(len(a) + len(pause)) / 16000)]
    manifest = write_manifest(tmp_path / "segments.jsonl", lines)
    assert '"offset": 0.0' in manifest.read_text()
    cache = ["--cache-dir", str(tmp_path / "cache")]
    assert asr_main(["evaluate", "--model", str(tiny_model), "--manifest", str(manifest), *cache,
                     "--json", str(tmp_path / "eval.json")]) == 0
    figures = json.loads((tmp_path / "eval.json").read_text())
    assert figures["utterances"] == 4
    # no --report: the alignment report goes beside the JSON
    assert figures["decoders"]["greedy"]["wer"] == 0.0, (tmp_path / "eval.report.txt").read_text()
    assert asr_main(["tune", "--model", str(tiny_model), "--manifest", str(manifest), "--lm", str(tiny_lm), *cache,
                     "--alphas", "0.5", "--betas", "0", "--plot", str(tmp_path / "grid.png"),
                     "--json", str(tmp_path / "tune.json")]) == 0
    assert json.loads((tmp_path / "tune.json").read_text())["best_wer"] == 0.0


def test_log_prob_cache_rereads_audio_regenerated_under_the_same_name(tiny_model, tiny_corpus, tmp_path, capsys):
    import shutil

    from asr.data import Utterance, read_manifest, write_manifest

    utts = read_manifest(tiny_corpus.train)[:2]
    copies = [Utterance(u.id, str(shutil.copy(u.audio, tmp_path / f"{u.id}.wav")), u.duration, u.text) for u in utts]
    manifest = write_manifest(tmp_path / "m.jsonl", copies)
    args = ["evaluate", "--model", str(tiny_model), "--manifest", str(manifest), "--cache-dir", str(tmp_path / "c"),
            "--report", str(tmp_path / "r.txt"), "--json", str(tmp_path / "e.json")]
    assert asr_main(args) == 0
    assert json.loads((tmp_path / "e.json").read_text())["decoders"]["greedy"]["wer"] == 0.0
    shutil.copy(read_manifest(tiny_corpus.train)[5].audio, copies[0].audio)  # new audio, same name and manifest
    capsys.readouterr()
    assert asr_main(args) == 0
    assert "(log-probs from cache)" not in capsys.readouterr().out
    assert json.loads((tmp_path / "e.json").read_text())["decoders"]["greedy"]["wer"] > 0.3  # 5 of 12 words
