import numpy as np
import pytest
import soundfile
import torch
from conftest import die_while_writing, temp_files, tone, write_audio

from asr.cli import main
from asr.data.augment import SpecAugment, SpecAugmentConfig
from asr.data.manifest import Utterance, read_manifest, write_manifest
from asr.data.speed import perturb


def padded_batch(lengths, bins=40):
    torch.manual_seed(0)
    feats = torch.zeros(len(lengths), max(lengths), bins)
    for k, n in enumerate(lengths):
        feats[k, :n] = torch.randn(n, bins) + 3.0  # never exactly zero inside the valid length
    return feats, torch.tensor(lengths)


@pytest.mark.parametrize("warp", [0, 5])
def test_specaugment_masks_only_inside_valid_lengths(warp):
    feats, lengths = padded_batch([200, 120, 37, 200])
    aug = SpecAugment(SpecAugmentConfig(freq_masks=2, freq_width=10, time_masks=3, time_width=0.1, time_warp=warp))
    aug.train()
    torch.manual_seed(1)
    out = aug(feats, lengths)
    assert out.shape == feats.shape and out is not feats
    masked_somewhere = False
    for k, n in enumerate(lengths.tolist()):
        assert not out[k, n:].any()  # padding stays zero
        zero = out[k, :n] == 0
        masked_somewhere |= bool(zero.any())
        # a time mask zeroes whole frames, a frequency mask whole bins, each within the 10% / 10-bin limits
        full_frames = zero.all(dim=1)
        assert full_frames.sum() <= 3 * int(0.1 * n)
        full_bins = zero.all(dim=0)
        assert full_bins.sum() <= 2 * 10
        if warp == 0:
            kept = ~zero
            assert torch.equal(out[k, :n][kept], feats[k, :n][kept])  # untouched elsewhere
    assert masked_somewhere
    torch.manual_seed(1)
    assert torch.equal(aug(feats, lengths), out)  # torch's RNG decides: reproducible


def test_specaugment_is_identity_in_eval_mode():
    feats, lengths = padded_batch([50, 20])
    aug = SpecAugment(SpecAugmentConfig(time_warp=3)).eval()
    assert torch.equal(aug(feats, lengths), feats)


def test_time_mask_width_in_frames():
    feats, lengths = padded_batch([300])
    aug = SpecAugment(SpecAugmentConfig(freq_masks=0, time_masks=1, time_width=7))
    for seed in range(20):
        torch.manual_seed(seed)
        out = aug(feats, lengths)
        assert (out[0] == 0).all(dim=1).sum() <= 7


def test_speed_perturbation_lengths():
    samples = tone(1.0, 16000)
    assert len(perturb(samples, 16000, 1.1)) == round(16000 / 1.1)
    assert len(perturb(samples, 16000, 0.9)) == round(16000 / 0.9)
    slow = perturb(samples, 16000, 0.9)  # slower playback lowers a 440 Hz tone to 396 Hz
    peak = np.argmax(np.abs(np.fft.rfft(slow))) * 16000 / len(slow)
    assert abs(peak - 396) < 2


def test_speed_perturb_command(tmp_path, capsys):
    a = write_audio(tmp_path / "a.wav", tone(1.0, 16000), 16000)
    b = write_audio(tmp_path / "b.flac", tone(2.0, 22050), 22050, "flac")
    manifest = write_manifest(tmp_path / "train.jsonl", [
        Utterance("a", str(a), 1.0, "first", "s1"), Utterance("b/2", str(b), 1.5, "second", "s2", offset=0.25),
        Utterance("gone", str(tmp_path / "gone.wav"), 1.0, "missing")])
    out = tmp_path / "sp"
    assert main(["prep", "speed-perturb", str(manifest), "--factors", "0.9", "1.1", "--out", str(out),
                 "--workers", "2"]) == 1
    captured = capsys.readouterr()
    assert "gone" in captured.err and "file not found" in captured.err
    utts = {u.id: u for u in read_manifest(out / "train.jsonl")}
    assert set(utts) == {"a", "b/2", "gone", "a-sp0.9", "a-sp1.1", "b/2-sp0.9", "b/2-sp1.1"}
    assert utts["a-sp0.9"].duration == pytest.approx(1.0 / 0.9, abs=1e-4)
    assert utts["b/2-sp1.1"].duration == pytest.approx(1.5 / 1.1, abs=1e-4)
    assert utts["b/2-sp1.1"].offset is None and utts["b/2-sp1.1"].speaker == "s2"
    assert soundfile.info(utts["b/2-sp0.9"].audio).samplerate == 16000
    assert utts["a"].audio == str(a)
    # a rerun makes nothing again (the files are already there) and gives the same manifest
    before = (out / "train.jsonl").read_text()
    mtime = (out / "audio" / "a-sp0.9.flac").stat().st_mtime_ns
    main(["prep", "speed-perturb", str(manifest), "--factors", "0.9", "1.1", "--out", str(out), "--workers", "1"])
    assert (out / "train.jsonl").read_text() == before
    assert (out / "audio" / "a-sp0.9.flac").stat().st_mtime_ns == mtime


def test_a_perturbed_file_killed_midway_leaves_no_orphan_once_resumed(tmp_path):
    a = write_audio(tmp_path / "a.wav", tone(1.0, 16000), 16000)
    manifest = write_manifest(tmp_path / "train.jsonl", [Utterance("a", str(a), 1.0, "first")])
    out = tmp_path / "sp"
    die_while_writing("soundfile.write", "from asr.data.speed import SpeedPerturbConfig, speed_perturb; "
                                         f"speed_perturb({str(manifest)!r}, {str(out)!r}, "
                                         "SpeedPerturbConfig([0.9], workers=1), progress=False)")
    assert temp_files(out)
    assert main(["prep", "speed-perturb", str(manifest), "--factors", "0.9", "--out", str(out), "--workers", "1"]) == 0
    assert temp_files(out) == [] and (out / "audio" / "a-sp0.9.flac").is_file()
