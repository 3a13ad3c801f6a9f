"""asr prep uqm-lines: The Ur-Quan Masters' voiced lines as training manifests, from packs built here."""

import json
import zipfile

import pytest
from conftest import tone, write_audio

from asr.cli import main
from data_prep import uqm_lines

CONVERSATION = """\
#(HELLO_1)\tzoqfotpik-000.ogg
Greetings, friendly
travellers!

#(YOUR_NAME)\tzoqfotpik-001.ogg
Your ship is called

#(YOUR_NAME_2)
<ship name>

#(COUNT)\tzoqfotpik-002.ogg
We have 3 ships.

#(SHORT)\tzoqfotpik-003.ogg
Hi.

#(REVIEWED)\tzoqfotpik-004.ogg
Someone already listened to this one.

#(BROKEN)\tzoqfotpik-005.ogg
This recording is damaged.

#(AGAIN)\tzoqfotpik-000.ogg
Greetings, friendly travellers!

#(GONE)\tzoqfotpik-009.ogg
The pack has no such file.
"""


@pytest.fixture
def packs(tmp_path):
    """A voice pack and a content pack shaped like uqm-voice's and uqm-content's, and a review naming one file."""
    good = write_audio(tmp_path / "good.ogg", tone(2.0, 22050), 22050, "ogg").read_bytes()
    short = write_audio(tmp_path / "short.ogg", tone(0.3, 22050), 22050, "ogg").read_bytes()
    voice, content = tmp_path / "voice.uqm", tmp_path / "content.uqm"
    with zipfile.ZipFile(voice, "w", zipfile.ZIP_STORED) as zf:
        for k in (0, 1, 2, 4):
            zf.writestr(f"3dovoice/zoqfotpik/zoqfotpik-00{k}.ogg", good)
        zf.writestr("3dovoice/zoqfotpik/zoqfotpik-003.ogg", short)
        zf.writestr("3dovoice/zoqfotpik/zoqfotpik-005.ogg", b"OggS" + b"\x00" * 200)
    with zipfile.ZipFile(content, "w") as zf:
        zf.writestr("base/comm/zoqfotpik/zoqfotpik.txt", CONVERSATION)
    review = tmp_path / "review.tsv"
    review.write_text(f"uqm\tuqm-voice\t{voice}/3dovoice/zoqfotpik/zoqfotpik-004.ogg\tuqm:zoqfotpik\n")
    return voice, content, review, good


def test_whole_spoken_lines_are_kept_and_the_rest_left_out(packs, tmp_path):
    voice, content, review, good = packs
    config = uqm_lines.UQMLinesConfig(races=("zoqfotpik",), voice_pack=voice, content=content, review=review)
    prepared = uqm_lines.prepare(config, tmp_path / "out")
    # Kept: the multi-line subtitle, once although two entries name its recording. Left out: the line spliced
    # with the ship's name, the one with a digit, the 0.3 s one, the reviewed one; the damaged one is a failure.
    (row,) = prepared.rows
    assert row["text"] == "greetings friendly travellers" and row["speaker"] == "uqm:zoqfotpik"
    assert row["duration"] == pytest.approx(2.0, abs=0.01) and row["origin"].endswith("zoqfotpik-000.ogg")
    assert (tmp_path / "out" / "audio" / "3dovoice" / "zoqfotpik" / "zoqfotpik-000.ogg").read_bytes() == good
    assert prepared.skipped == {"shorter than 0.8 s or longer than 16 s": 1, "in real-dev's review": 1}
    (failure,) = prepared.failures
    assert "zoqfotpik-005.ogg" in failure and "cannot read" in failure


def test_command_writes_manifests_reports_failures_and_exits_1(packs, tmp_path, capsys):
    voice, content, _, _ = packs
    out = tmp_path / "lines"
    code = main(["prep", "uqm-lines", str(out), "--races", "zoqfotpik", "--dev-lines", "0",
                 "--voice-pack", str(voice), "--content", str(content)])
    assert code == 1 and "zoqfotpik-005.ogg" in capsys.readouterr().err
    train = [json.loads(x) for x in (out / "train.jsonl").read_text().splitlines()]
    assert [r["id"] for r in train] == ["uqm-zoqfotpik-000", "uqm-zoqfotpik-004"]  # (the real review is not this one)
    assert (out / "dev.jsonl").read_text() == ""
    corpus = json.loads((out / "corpus.json").read_text())
    assert corpus["races"]["zoqfotpik"]["lines"] == 2 and corpus["real_dev_actors_included"] == []


def test_real_dev_actors_are_announced_and_unknown_races_refused(packs, tmp_path, capsys):
    voice, content, _, _ = packs
    args = ["--voice-pack", str(voice), "--content", str(content)]
    assert main(["prep", "uqm-lines", str(tmp_path / "a"), "--races", "zoqfotpik", "klingon", *args]) == 2
    assert "unknown races ['klingon']" in capsys.readouterr().err and not (tmp_path / "a").exists()
    main(["prep", "uqm-lines", str(tmp_path / "b"), "--races", "all", *args])
    assert "real-dev's actors are in this corpus" in capsys.readouterr().err
    assert main(["prep", "uqm-lines", str(tmp_path / "c"), "--voice-pack", str(tmp_path / "none.uqm")]) == 2
    assert "apt-get install uqm-voice" in capsys.readouterr().err


def test_default_races_share_no_actor_with_real_dev():
    from data_prep.real_dev import read_table

    real_dev_races = {e.speaker.split(":", 1)[1] for e in read_table(uqm_lines.REVIEW.with_name(
        "real_dev_transcripts.tsv")) if e.source == "uqm"}
    assert real_dev_races and real_dev_races <= set(uqm_lines.REAL_DEV_ACTORS)
    assert not real_dev_races & set(uqm_lines.OTHER_RACES)
