"""--shard I/N: the shards' outputs merged equal what one process writes (feature store, transcription)."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import tone, write_audio

from asr.audio import load_audio
from asr.cli import main as asr_main
from asr.data import FeatureStore
from asr.data.manifest import Utterance, read_manifest, write_manifest
from asr.errors import InputError
from asr.fileio import FOREIGN_TEMP_STALE_S, temp_path
from asr.sharding import Shard, parse_shard, shard_from_environment


def test_shards_cover_every_item_once_in_order():
    for n in (0, 1, 5, 17):
        for count in (1, 2, 3, 8):
            parts = [Shard(i, count).take(list(range(n))) for i in range(count)]
            assert sum(parts, []) == list(range(n))
            assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert parse_shard("2/8") == Shard(2, 8)
    for bad in ("8/8", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(Exception, match="expected I/N"):
            parse_shard(bad)


def test_shard_from_torchrun_or_slurm_environment():
    assert shard_from_environment({"RANK": "3", "WORLD_SIZE": "4"}) == Shard(3, 4)
    slurm = {"SLURM_ARRAY_TASK_ID": "11", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_COUNT": "4"}
    assert shard_from_environment(slurm) == Shard(1, 4)
    assert shard_from_environment({}) == Shard(0, 1)


def tree_bytes(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def manifests(tmp_path):
    rng = np.random.default_rng(1)
    out = []
    for name, n in (("train", 9), ("dev", 4)):
        utts = []
        for k in range(n):
            samples = tone(0.3 + 0.05 * k, 16000, 180 + 30 * k) + 0.05 * rng.standard_normal(int((0.3 + 0.05 * k) * 16000))
            path = write_audio(tmp_path / f"{name}{k}.flac", samples.astype(np.float32), 16000, "flac")
            utts.append(Utterance(f"{name}{k}", str(path), 0.3 + 0.05 * k, f"{name} number {k}"))
        out.append(write_manifest(tmp_path / f"{name}.jsonl", utts))
    return out


def test_feature_shards_merge_into_the_one_process_store(manifests, tmp_path, capsys):
    paths = [str(m) for m in manifests]
    common = ["--shard-size", "2", "--workers", "1", "--n-mels", "40"]
    assert asr_main(["features", *paths, "--out", str(tmp_path / "one"), *common]) == 0
    sharded = tmp_path / "sharded"
    # four jobs over seven store shards, finishing out of order; the last to finish completes the store
    for index in (2, 0, 3):
        assert asr_main(["features", *paths, "--out", str(sharded), *common, "--shard", f"{index}/4"]) == 0
        assert f"shard {index}/4 done" in capsys.readouterr().out
        with pytest.raises(InputError, match="unfinished feature store"):
            FeatureStore(sharded)
    assert asr_main(["features", *paths, "--out", str(sharded), *common, "--shard", "1/4"]) == 0
    assert "wrote features of 13 utterances" in capsys.readouterr().out
    one = tree_bytes(tmp_path / "one")
    assert "store.json" in one and len([k for k in one if k.endswith(".npy")]) == 7
    assert tree_bytes(sharded) == one
    # more jobs than store shards: the extra jobs have nothing to do and still finish cleanly
    many = tmp_path / "many"
    for index in range(9):
        assert asr_main(["features", *paths, "--out", str(many), *common, "--shard", f"{index}/9"]) == 0
    assert tree_bytes(many) == one


def test_shard_jobs_remove_only_the_temporary_files_of_dead_writers(manifests, tmp_path):
    """Every job clears what killed writers left in the store, never what the other jobs are still writing."""
    paths = [str(m) for m in manifests]
    common = ["--shard-size", "2", "--workers", "1", "--n-mels", "40"]
    assert asr_main(["features", *paths, "--out", str(tmp_path / "one"), *common]) == 0
    sharded = tmp_path / "sharded"
    shards = sharded / "shards"
    shards.mkdir(parents=True)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        def on_this_host(name, pid):  # temp_path names this host and this process: another pid instead
            return shards / f"{temp_path(shards / name).stem.rsplit('-', 1)[0]}-{pid}.npy"

        kept = [on_this_host("00006.npy", live.pid),  # a live job on this host
                shards / ".00005.tmp-otherhost-77.npy",  # another machine's job, writing just now
                sharded / ".plan.tmp-otherhost-77.json"]  # and its plan: the folder still counts as a new store
        gone = [on_this_host("00000.npy", dead.pid),  # a killed job on this host
                shards / ".00001.tmp-otherhost-78.json"]  # another machine's, untouched for over an hour
        for path in kept + gone:
            path.write_bytes(b"partial")
        old = time.time() - FOREIGN_TEMP_STALE_S - 60
        os.utime(gone[1], (old, old))
        for index in (1, 0, 3, 2):
            assert asr_main(["features", *paths, "--out", str(sharded), *common, "--shard", f"{index}/4"]) == 0
        assert all(p.exists() for p in kept) and not any(p.exists() for p in gone)
    finally:
        live.kill()
        live.wait()
    for path in kept:  # what their writers would have renamed into place
        path.unlink()
    assert tree_bytes(sharded) == tree_bytes(tmp_path / "one")


def test_transcription_shards_concatenated_equal_one_process(tiny_model, tiny_corpus, tmp_path, capsys):
    outputs = {}
    for fmt in ("json", "txt"):
        base = ["transcribe", str(tiny_model), str(tiny_corpus.train), "--format", fmt]
        assert asr_main(base) == 0
        one = capsys.readouterr().out
        merged = ""
        for index in range(3):
            assert asr_main([*base, "--shard", f"{index}/3"]) == 0
            captured = capsys.readouterr()
            assert "4 of 4 files" in captured.err and f"(shard {index}/3)" in captured.err
            merged += captured.out
        assert merged == one and len(one.splitlines()) == 12
        outputs[fmt] = one
        (tmp_path / f"hyp.{fmt}").write_text(merged)
        # the output carries the utterance ids, so it scores against the manifest directly
        assert asr_main(["score", str(tiny_corpus.train), str(tmp_path / f"hyp.{fmt}")]) == 0
        assert "WER 0.00%" in capsys.readouterr().out
    assert json.loads(outputs["json"].splitlines()[0]).keys() >= {"id", "source", "text", "words"}
    assert outputs["txt"].splitlines()[0].split(" ", 1)[0] == "utt00"
    # --out: the shards fill one folder with what one process writes there
    assert asr_main(["transcribe", str(tiny_model), str(tiny_corpus.train), "--out", str(tmp_path / "one")]) == 0
    for index in range(2):
        assert asr_main(["transcribe", str(tiny_model), str(tiny_corpus.train), "--out", str(tmp_path / "two"),
                         "--shard", f"{index}/2"]) == 0
    assert tree_bytes(tmp_path / "two") == tree_bytes(tmp_path / "one") and len(tree_bytes(tmp_path / "one")) == 12


def test_transcription_shards_filling_one_folder_check_collisions_over_the_job_and_only_their_own_files(
        tiny_model, tiny_corpus, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["transcribe", str(tiny_model), str(tiny_corpus.train), "--out", str(out)]
    assert asr_main([*base, "--shard", "0/2"]) == 0
    # the second job finds the first one's six outputs in the folder: not its own, so not refused
    assert asr_main([*base, "--shard", "1/2"]) == 0
    assert len(list(out.iterdir())) == 12
    # a rerun of one job refuses exactly its own six existing outputs, unless --overwrite
    (out / "utt11.txt").write_text("stale\n")
    capsys.readouterr()
    assert asr_main([*base, "--shard", "1/2"]) == 2
    err = capsys.readouterr().err
    assert "6 output file(s) exist already" in err and "utt06.txt" in err and "utt00.txt" not in err
    assert (out / "utt11.txt").read_text() == "stale\n"
    assert asr_main([*base, "--shard", "1/2", "--overwrite"]) == 0
    assert (out / "utt11.txt").read_text().strip() == read_manifest(tiny_corpus.train)[11].text
    # two inputs writing the same file from different shards: every job of the array refuses, before any work
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        write_audio(tmp_path / name / "x.wav", load_audio(read_manifest(tiny_corpus.train)[0].audio), 16000)
    clash = tmp_path / "clash"
    for index in range(2):
        assert asr_main(["transcribe", str(tiny_model), str(tmp_path / "a" / "x.wav"), str(tmp_path / "b" / "x.wav"),
                         "--out", str(clash), "--shard", f"{index}/2"]) == 2
        assert "would each be written by several inputs" in capsys.readouterr().err
    assert not clash.exists() or not any(clash.iterdir())
