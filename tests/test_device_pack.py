"""recipes/synthetic/device_pack.py: a corpus as long Ogg/Opus files, utterances addressed by offset, within a budget."""

import importlib.util
from pathlib import Path

import numpy as np

from asr.data.manifest import read_manifest, read_utterance_audio

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("device_pack", REPO / "recipes" / "synthetic" / "device_pack.py")
device_pack = importlib.util.module_from_spec(spec)
spec.loader.exec_module(device_pack)


def test_packed_utterances_read_back_aligned_and_the_budget_caps_train(tiny_corpus, tmp_path):
    originals = read_manifest(tiny_corpus.train)
    packed, used = device_pack.pack_split(originals, tmp_path, "train", level=0.985, per_file=5, budget=None)
    assert [u.id for u in packed] == [u.id for u in originals] and len(list((tmp_path / "audio").iterdir())) == 3
    assert used == sum(p.stat().st_size for p in (tmp_path / "audio").iterdir())
    for original, copy in zip(originals, packed):
        a = read_utterance_audio(original, 16000)
        b = read_utterance_audio(copy, 16000)
        assert copy.offset is not None and abs(len(a) - len(b)) <= 1 and copy.text == original.text
        n = min(len(a), len(b))
        # lossy, but the same waveform at the same place: best aligned at lag 0, and closely so
        lags = {lag: np.corrcoef(a[max(lag, 0): n + min(lag, 0)], b[max(-lag, 0): n - max(lag, 0)])[0, 1]
                for lag in (-2, -1, 0, 1, 2)}
        assert max(lags, key=lags.get) == 0 and lags[0] > 0.8, (copy.id, lags)
    # a budget smaller than one file still packs one file, then stops
    capped, _ = device_pack.pack_split(originals, tmp_path / "capped", "train", level=0.985, per_file=5, budget=1)
    assert [u.id for u in capped] == [u.id for u in originals[:5]]
