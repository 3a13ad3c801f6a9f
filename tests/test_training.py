"""Training: schedule, clipping, overfitting, exact resume, checkpoints and averaging, every cell and direction."""

import json
import math

import pytest
import torch
from conftest import die_while_writing, temp_files, train_overrides

from asr.cli import main as asr_main
from asr.decoding import greedy_decode
from asr.errors import InputError
from asr.package import load_packaged_model
from asr.train import compose
from asr.training.checkpoint import average_state_dicts, load_checkpoint
from asr.training.trainer import TrainConfig, lr_factor, optimizer_step, train


def run(corpus, run_dir, **extra):
    return train(compose(train_overrides(corpus, run_dir, **extra)))


def last_state(run_dir):
    return load_checkpoint(run_dir / "checkpoints" / "last.pt")


def test_schedule_warms_up_then_decays():
    config = TrainConfig(warmup_steps=10, schedule="cosine", min_lr_ratio=0.1)
    factors = [lr_factor(s, config, 110) for s in range(111)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[9:], factors[10:]))
    assert factors[110] == pytest.approx(0.1)
    assert lr_factor(60, TrainConfig(warmup_steps=10, schedule="linear", min_lr_ratio=0.0), 110) == pytest.approx(0.5)


def test_clipping_bounds_the_applied_gradient_norm():
    torch.manual_seed(0)
    model = torch.nn.Linear(50, 50)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    (1000 * model(torch.randn(8, 50)).pow(2).sum()).backward()
    raw = torch.nn.utils.get_total_norm([p.grad for p in model.parameters()])
    before = [p.detach().clone() for p in model.parameters()]
    norm, stepped = optimizer_step(model, optimizer, scaler, clip=2.0)
    assert stepped and norm == pytest.approx(float(raw), rel=1e-5) and norm > 100
    applied = torch.sqrt(sum((b - p.detach()).pow(2).sum() for b, p in zip(before, model.parameters())))
    assert float(applied) == pytest.approx(2.0, rel=1e-4)  # SGD with lr 1 applies exactly the clipped gradient


def test_non_finite_gradient_skips_the_step():
    model = torch.nn.Linear(4, 4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1.0)
    before = [p.detach().clone() for p in model.parameters()]
    model(torch.full((2, 4), float("nan"))).sum().backward()
    norm, stepped = optimizer_step(model, optimizer, torch.amp.GradScaler("cuda", enabled=False), clip=1.0)
    assert not stepped and not math.isfinite(norm)
    assert all(torch.equal(b, p) for b, p in zip(before, model.parameters()))


@pytest.mark.slow
def test_tiny_model_overfits_until_transcripts_are_exact(tiny_corpus, tmp_path):
    four = tmp_path / "four.jsonl"
    four.write_text("".join(tiny_corpus.train.read_text().splitlines(keepends=True)[:4]))
    run_dir = run(tiny_corpus, tmp_path / "run", **{
        "data.train_manifest": four, "data.dev_manifest": four, "train.epochs": 100, "train.max_frames": 500,
        "train.lr": 5e-3, "train.schedule": "constant", "train.warmup_steps": 20, "train.patience": 0})
    history = last_state(run_dir)["history"]
    assert history[0]["wer"] > 0.9
    assert history[-1]["wer"] == 0.0 and history[-1]["cer"] == 0.0
    assert history[-1]["loss"] < 0.1 * history[0]["loss"]
    # the packaged model transcribes its training utterances exactly
    package = load_packaged_model(run_dir / "model.pt")
    from asr.data import FeatureStore, SpeechDataset, collate
    from asr.data.manifest import read_manifest

    dataset = SpeechDataset(read_manifest(four), FeatureStore(tiny_corpus.store), package.tokenizer)
    batch = collate([dataset[i] for i in range(len(dataset))])
    with torch.no_grad():
        log_probs, lengths = package.model(batch.features, batch.feature_lengths)
    assert [r.text for r in greedy_decode(log_probs, lengths, package.tokenizer, 0.02)] == batch.texts


@pytest.mark.slow
@pytest.mark.parametrize("stop_after", [3, 8])
def test_interrupted_then_resumed_equals_uninterrupted(tiny_corpus, tmp_path, stop_after):
    settings = {"train.epochs": 3, "augment": "specaugment", "model.dropout": 0.2, "train.accumulate": 2,
                "train.max_frames": 400}
    whole = run(tiny_corpus, tmp_path / "whole", **settings)
    parted = tmp_path / "parted"
    run(tiny_corpus, parted, **settings, **{"train.stop_after_steps": stop_after})
    interrupted = last_state(parted)
    assert interrupted["step"] == stop_after
    run(tiny_corpus, parted, **settings)
    a, b = last_state(whole), last_state(parted)
    assert a["step"] == b["step"] > stop_after
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert [h["wer"] for h in a["history"]] == [h["wer"] for h in b["history"]]


def first_train_loss(run_dir):
    records = map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
    return next(r["loss"] for r in records if r["kind"] == "train")


def test_fine_tuning_starts_from_a_packaged_model_and_keeps_its_architecture(tiny_corpus, tmp_path):
    base = run(tiny_corpus, tmp_path / "base", **{"train.epochs": 2})
    package = load_packaged_model(base / "model.pt")
    # lr 0: the fine-tuning run must hold exactly the packaged weights, and score on dev exactly what they score;
    # model.* settings that disagree with the package are not used
    tuned = run(tiny_corpus, tmp_path / "tuned", **{"train.epochs": 1, "train.lr": 0.0, "model.hidden_size": 48,
                                                     "data.cmvn": "utterance", "train.init_from": base / "model.pt"})
    state = last_state(tuned)
    assert state["model_config"] == package.model.config.to_dict()
    assert state["cmvn"] == package.cmvn.to_dict()  # the package's statistics and mode, not data.cmvn's
    assert state["provenance"]["init_from"] == str(base / "model.pt")
    for key, value in package.model.state_dict().items():
        torch.testing.assert_close(state["model"][key], value, msg=key)
    assert state["history"][0]["wer"] == last_state(base)["history"][-1]["wer"]
    assert state["history"][0]["loss"] == pytest.approx(last_state(base)["history"][-1]["loss"], rel=1e-5)
    # with a learning rate it trains on from there: its first logged loss is that of a trained model
    fresh = run(tiny_corpus, tmp_path / "fresh", **{"train.epochs": 1, "log.every_steps": 1})
    onward = run(tiny_corpus, tmp_path / "onward", **{"train.epochs": 1, "log.every_steps": 1,
                                                      "train.init_from": base / "model.pt"})
    assert first_train_loss(onward) < 0.8 * first_train_loss(fresh)


def test_a_time_budget_stops_at_a_logged_step_and_the_run_resumes(tiny_corpus, tmp_path, capsys):
    settings = {"train.epochs": 2, "log.every_steps": 2}
    run_dir = run(tiny_corpus, tmp_path / "run", **settings, **{"train.stop_after_minutes": 1e-6})
    # over budget from the first step, but the check is made where metrics are logged (the same step on all ranks)
    assert last_state(run_dir)["step"] == 2 and not (run_dir / "model.pt").exists()
    assert "stopped after 2 steps" in capsys.readouterr().out
    run(tiny_corpus, run_dir, **settings)
    state = last_state(run_dir)
    assert len(state["history"]) == 2 and state["step"] > 2 and (run_dir / "model.pt").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_every_cell_and_direction_trains(tiny_corpus, tmp_path, cell, bidirectional):
    run_dir = run(tiny_corpus, tmp_path / "run", **{"model.cell": cell, "model.bidirectional": bidirectional,
                                                    "train.epochs": 3, "train.lr": 5e-3})
    state = last_state(run_dir)
    assert state["model_config"]["cell"] == cell and state["model_config"]["bidirectional"] == bidirectional
    losses = [h["loss"] for h in state["history"]]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    load_packaged_model(run_dir / "model.pt")


@pytest.mark.slow
def test_run_folder_logs_checkpoints_and_average(tiny_corpus, tmp_path, capsys):
    run_dir = run(tiny_corpus, tmp_path / "run", **{"train.epochs": 4, "train.keep_best": 2,
                                                    "log.tensorboard": True, "log.wandb": "offline",
                                                    "log.every_steps": 1})
    assert "max_frames: 600" in (run_dir / "config.yaml").read_text()
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train_records = [r for r in records if r["kind"] == "train"]
    assert {"loss", "lr", "grad_norm", "audio_s_per_s", "data_wait_frac"} <= set(train_records[0])
    assert len([r for r in records if r["kind"] == "dev"]) == 4
    assert (run_dir / "curves.png").stat().st_size > 10_000
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert list((run_dir / "wandb").glob("offline-run-*"))

    state = last_state(run_dir)
    kept = sorted((run_dir / "checkpoints").glob("epoch-*.pt"))
    assert len(kept) == 2 and [e["path"] for e in state["best"]] == sorted(
        [e["path"] for e in state["best"]], key=lambda p: [e["wer"] for e in state["best"] if e["path"] == p][0])
    best_wer = min(h["wer"] for h in state["history"])
    assert state["best"][0]["wer"] == best_wer
    package = load_packaged_model(run_dir / "model.pt")
    assert package.provenance["dev_wer"] == best_wer and package.provenance["steps"] > 0

    assert asr_main(["average", str(run_dir), "--best", "2", "--out", str(tmp_path / "avg.pt")]) == 0
    averaged = torch.load(tmp_path / "avg.pt", weights_only=True)["state_dict"]
    expected = average_state_dicts([load_checkpoint(p)["model"] for p in kept])
    for key, value in expected.items():
        torch.testing.assert_close(averaged[key], value)
    assert "averaged 2 checkpoints" in capsys.readouterr().out


@pytest.mark.slow
def test_early_stopping(tiny_corpus, tmp_path):
    run_dir = run(tiny_corpus, tmp_path / "run", **{"train.epochs": 10, "train.lr": 0.0, "train.patience": 2})
    history = last_state(run_dir)["history"]
    assert len(history) == 3  # epoch 1 sets the best, epochs 2 and 3 do not improve on it


def test_features_must_match_the_experiment(tiny_corpus, tmp_path):
    from asr.errors import InputError

    with pytest.raises(InputError, match="features were extracted with"):
        run(tiny_corpus, tmp_path / "run", **{"features.n_mels": 40})


def test_a_save_killed_midway_leaves_no_orphan_once_the_run_restarts(tiny_corpus, tmp_path):
    checkpoints = tmp_path / "run" / "checkpoints"
    die_while_writing("torch.save", "from asr.training.checkpoint import save_checkpoint; "
                                    f"save_checkpoint({{'step': 1}}, {str(checkpoints / 'last.pt')!r})")
    assert temp_files(checkpoints) and not (checkpoints / "last.pt").exists()
    run(tiny_corpus, tmp_path / "run", **{"train.stop_after_steps": 1})
    assert temp_files(checkpoints) == []
    assert last_state(tmp_path / "run")["step"] == 1


@pytest.mark.slow
def test_a_resubmitted_run_that_stopped_early_stays_stopped(tiny_corpus, tmp_path, capsys):
    settings = {"train.epochs": 10, "train.lr": 0.0, "train.patience": 1}
    run_dir = run(tiny_corpus, tmp_path / "run", **settings)
    state = last_state(run_dir)
    assert len(state["history"]) == 2  # epoch 1 sets the best, epoch 2 does not improve on it
    model = (run_dir / "model.pt").read_bytes(), (run_dir / "model.pt").stat().st_mtime_ns
    capsys.readouterr()
    run(tiny_corpus, run_dir, **settings)  # what resubmitting the same job does
    again = last_state(run_dir)
    assert len(again["history"]) == 2 and again["step"] == state["step"]
    assert ((run_dir / "model.pt").read_bytes(), (run_dir / "model.pt").stat().st_mtime_ns) == model
    assert "stopped early" in capsys.readouterr().out
    assert again["stopped_early"] is True
    # a larger patience lets the same run continue
    run(tiny_corpus, run_dir, **{**settings, "train.patience": 2})
    assert len(last_state(run_dir)["history"]) == 3


def test_resume_false_refuses_a_folder_that_holds_an_earlier_run(tiny_corpus, tmp_path):
    run_dir = run(tiny_corpus, tmp_path / "run", **{"train.stop_after_steps": 2})
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    with pytest.raises(InputError, match=f"{run_dir}.*earlier run.*train.resume=false"):
        run(tiny_corpus, run_dir, **{"train.resume": False, "train.stop_after_steps": 2})
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before
    assert last_state(run_dir)["step"] == 2


@pytest.mark.slow
def test_average_last_k_takes_the_k_newest_epochs(tiny_corpus, tmp_path, capsys):
    run_dir = run(tiny_corpus, tmp_path / "run", **{"train.epochs": 4, "train.lr": 0.0, "train.keep_best": 1,
                                                    "train.keep_last": 2})
    # with nothing learnt no epoch beats the first: kept are the best (epoch 1) and the two newest
    kept = sorted(p.name for p in (run_dir / "checkpoints").glob("epoch-*.pt"))
    assert kept == ["epoch-001.pt", "epoch-003.pt", "epoch-004.pt"]
    capsys.readouterr()
    assert asr_main(["average", str(run_dir), "--last", "2", "--out", str(tmp_path / "avg.pt")]) == 0
    assert "(epoch-003.pt, epoch-004.pt)" in capsys.readouterr().out
    assert asr_main(["average", str(run_dir), "--best", "1", "--out", str(tmp_path / "best.pt")]) == 0
    assert "(epoch-001.pt)" in capsys.readouterr().out
    assert asr_main(["average", str(run_dir), "--last", "3", "--out", str(tmp_path / "avg3.pt")]) == 2
    err = capsys.readouterr().err
    assert "epoch-002.pt" in err and "train.keep_last" in err and not (tmp_path / "avg3.pt").exists()


def test_logged_loss_counts_only_the_tokens_it_scores():
    from asr.training.trainer import ctc_loss

    torch.manual_seed(0)
    log_probs = torch.randn(3, 6, 5).log_softmax(-1)
    targets = torch.tensor([[1, 2, 3], [1, 1, 2], [4, 3, 0]])
    target_lengths = torch.tensor([3, 3, 2])
    out_lengths = torch.tensor([6, 3, 2])  # "1 1 2" needs 4 frames (a blank between the repeats): infeasible
    total, tokens, scored = ctc_loss(log_probs, out_lengths, targets, target_lengths)
    feasible = [0, 2]
    expected = torch.nn.functional.ctc_loss(log_probs[feasible].transpose(0, 1), targets[feasible],
                                            out_lengths[feasible], target_lengths[feasible], reduction="sum")
    assert float(total) == pytest.approx(float(expected), rel=1e-6)
    assert int(tokens) == 8 and int(scored) == 5


@pytest.mark.parametrize("mode", ["utterance", "running"])
def test_cmvn_mode_trains_and_travels_to_inference(tiny_corpus, tmp_path, mode):
    from asr.audio import load_audio
    from asr.data import FeatureStore, SpeechDataset, collate
    from asr.data.manifest import read_manifest
    from asr.inference import Transcriber

    run_dir = run(tiny_corpus, tmp_path / "run", **{"data.cmvn": mode, "train.epochs": 3})
    losses = [h["loss"] for h in last_state(run_dir)["history"]]
    assert losses[-1] < losses[0]
    package = load_packaged_model(run_dir / "model.pt")
    assert package.cmvn.mode == mode
    # the Transcriber normalises raw audio the way training normalised the store's features
    utts = read_manifest(tiny_corpus.dev)
    dataset = SpeechDataset(utts, FeatureStore(tiny_corpus.store), package.tokenizer, cmvn=package.cmvn)
    batch = collate([dataset[i] for i in range(len(dataset))])
    with torch.no_grad():
        expected, _ = package.model(batch.features, batch.feature_lengths)
    direct = Transcriber(package).log_probs([load_audio(u.audio) for u in utts])
    for row, lp in enumerate(direct):
        torch.testing.assert_close(torch.from_numpy(lp), expected[row, : lp.shape[0]], atol=2e-2, rtol=0)


def test_unknown_cmvn_mode_is_refused_by_name(tiny_corpus, tmp_path):
    with pytest.raises(Exception, match="data.cmvn must be one of global, utterance, running"):
        run(tiny_corpus, tmp_path / "run", **{"data.cmvn": "speaker"})


def test_extra_training_manifests_are_mixed_in_with_their_weights(tiny_corpus, tmp_path):
    from asr.data.manifest import read_manifest, write_manifest
    from asr.errors import ASRError

    utts = read_manifest(tiny_corpus.train)
    main_part, small_part = tmp_path / "main.jsonl", tmp_path / "small.jsonl"
    write_manifest(main_part, utts[:8])
    write_manifest(small_part, utts[8:])
    overrides = {"data.train_manifest": main_part, "data.extra_train": f"[{small_part}*3]", "train.epochs": 1}
    run(tiny_corpus, tmp_path / "run", **overrides)
    provenance = load_packaged_model(tmp_path / "run" / "model.pt").provenance
    assert provenance["train_utterances"] == 8 + 3 * 4 and provenance["extra_train"] == [f"{small_part}*3"]
    assert provenance["train_hours"] == pytest.approx(
        (sum(u.duration for u in utts[:8]) + 3 * sum(u.duration for u in utts[8:])) / 3600, rel=1e-3)
    # a weight that is not a whole number of at least 1, and an utterance in two manifests, are refused by name
    with pytest.raises(ASRError, match=r"small.jsonl\*0.5.*is not PATH or PATH\*N"):
        run(tiny_corpus, tmp_path / "bad", **{**overrides, "data.extra_train": f"[{small_part}*0.5]"})
    with pytest.raises(InputError, match="utterance id 'utt00' is also in"):
        run(tiny_corpus, tmp_path / "twice", **{**overrides, "data.extra_train": f"[{tiny_corpus.train}]"})
