"""asr prep fotaq-lines: Flight of the Amazon Queen's voiced lines as training manifests."""

import io
import json
import struct

import numpy as np
import pytest
import soundfile

from asr.cli import main
from data_prep import fotaq_lines, queen_archive
from data_prep.queen_archive import VoicedLine


def test_a_line_is_cut_into_its_spoken_parts():
    assert queen_archive.spoken_parts("You couldn't pilot your way out of a paper bag.") == [
        (1, "You couldn't pilot your way out of a paper bag.")]
    # "*GM" ends a part that is not spoken; "*XY" carries 11 characters of coordinates
    assert queen_archive.spoken_parts("Hmm...*GM Joe is here.*XY00(100,200) Hello!*JE") == [
        (2, "Joe is here."), (3, "Hello!")]
    # a command counts a part even where the part is empty
    assert queen_archive.spoken_parts("Hello there...*16*03*WTI don't think so*24") == [
        (1, "Hello there..."), (4, "I don't think so")]
    assert queen_archive.spoken_parts("0") == []


def _string(text: str, align: int) -> bytes:
    raw = bytes([len(text)]) + text.encode("latin-1")
    return raw + b"\0" * (-len(raw) % align if text else 0)


def _conversation(talk_key: int, joe: list[tuple[int, str]], person: list[tuple[int, str]],
                  greetings: tuple[str, str]) -> bytes:
    """A .DOG conversation laid out as the game's: one level, Joe's lines after it, then the other person's and
    the two greetings of a second meeting."""
    def lines(entries):
        return b"".join(b"\0\0" + struct.pack(">h", i) + _string(t, 4) for i, t in entries)

    joe_at = 32 + 96
    person_at = joe_at + len(lines(joe))
    greetings_at = person_at + len(lines(person))
    fields = [1, 0, talk_key, len(joe), len(person)] + [0] * 6 + [person_at, 0, greetings_at, 0]
    body = struct.pack(">15h", *fields).ljust(joe_at, b"\0") + lines(joe) + lines(person)
    body += _string(greetings[0], 2) + _string(greetings[1], 2)
    return b"\0" * 20 + body


def _clip(seconds: float) -> bytes:
    encoded = io.BytesIO()
    tone = 0.1 * np.sin(np.arange(int(11025 * seconds)) * 0.3).astype(np.float32)
    soundfile.write(encoded, tone, 11025, format="OGG", subtype="VORBIS")
    return encoded.getvalue()


def _archive(path, members: dict[str, bytes], codec: int = 2):
    """A queen.1c-shaped archive: QTBL, version, codec byte, count and 21-byte entries, then the members."""
    table_size = 15 + 21 * len(members)
    table, blobs, offset = b"", b"", table_size
    for name, data in members.items():
        table += struct.pack(">12sBII", name.encode("ascii"), 1, offset, len(data))
        blobs += data
        offset += len(data)
    path.write_bytes(b"QTBL" + b"CEM10\0" + b"\0\0" + bytes([codec]) + struct.pack(">H", len(members))
                     + table + blobs)
    return path


class _Tables:
    """Stands in for the game's tables: object 5 is a person, played by Anderson."""
    responses = ["I can't open it.", "It won't budge.*14"]
    descriptions = ["A rusty key.*03 Useful.", "C18A.CUT"]

    def is_person(self, number):
        return number == 5

    def speaker(self, number):
        return "ANDERSON"


def _cut(records: list[tuple[int, int, int, list[int]]], sentences: list[str]) -> bytes:
    """A .CUT scene: records (object, animation list, execute, frames) and the entry string and one sentence each."""
    body = b""
    for obj, animation_list, execute, frames in records:
        fields = [obj, 0, 0, 0, animation_list, execute] + [0] * 11
        body += struct.pack(">17h", *fields) + struct.pack(">h", 0)
        if obj not in (-2, -3, -4) and execute and not (animation_list == 0 and obj in (0, 5)):
            body += b"".join(struct.pack(">10h", frame, *[0] * 9) for frame in frames) + struct.pack(">h", -2)
    body += b"\0\0"
    sentences_at = 12 + len(body)
    header = struct.pack(">HhhHHH", 0, -len(records), 0, sentences_at - 2, sentences_at, 0)
    return b"\0" * 20 + header + body + b"".join(_string(t, 2) for t in sentences)


def test_a_cutaway_names_the_recordings_of_its_spoken_records():
    scene = _cut([(0, 0, 1, []), (5, 0, 1, []), (7, 0, 1, [1, 2]), (-2, 0, 0, []), (5, 0, 0, []), (-4, 0, 0, [])],
                 ["*FL", "I've just been cooped up.*14 In a dungeon!", "*", "an animation's text",
                  "Oot! Oot!", "Hello there.", "shown, not said"])
    assert queen_archive.cutaway("C18A.CUT", scene, _Tables()) == [
        ("C18A_011.SB", VoicedLine("JOE", "I've just been cooped up.", "cutaway")),
        ("C18A_012.SB", VoicedLine("JOE", "In a dungeon!", "cutaway")),
        ("C18A_041.SB", VoicedLine("UNKNOWN", "Oot! Oot!", "cutaway")),
        ("C18A_051.SB", VoicedLine("ANDERSON", "Hello there.", "cutaway"))]


def test_joe_remarks_are_named_by_their_number_and_a_scene_is_not_a_remark():
    assert queen_archive.remarks(_Tables()) == [
        ("JOE00011.SB", VoicedLine("JOE", "I can't open it.", "remark")),
        ("JOE00021.SB", VoicedLine("JOE", "It won't budge.", "remark")),
        ("JOE00411.SB", VoicedLine("JOE", "A rusty key.", "remark")),
        ("JOE00412.SB", VoicedLine("JOE", "Useful.", "remark"))]


def test_lines_are_paired_with_their_recordings_and_filtered(tmp_path):
    dog = _conversation(2, joe=[(0, "Hello there, old friend."), (6, "At least I don't look like I need one.")],
                        person=[(6, "You're asking for trouble King.*JE I'm going to run you out of town."),
                                (7, "Ha ha ha ha ha ha ha ha ha ha!")],
                        greetings=("You again, 2 times?", "Nice to see you too."))
    members = {"AND1.DOG": dog, "02SSSSJ1.SB": _clip(1.6), "020006J1.SB": _clip(2.9),
               "020006P1.SB": _clip(2.1), "020006P2.SB": _clip(2.3),
               "020007P1.SB": _clip(0.5),          # shorter than 0.8 s
               "02XXXXP1.SB": _clip(1.5),          # a digit in its text
               "02XXXXJ1.SB": _clip(12.0)}         # 1.7 characters a second
    archive = _archive(tmp_path / "queen.1c", members)
    config = fotaq_lines.FotaqLinesConfig(archive=archive, kinds=("conversation",))
    prepared = fotaq_lines.prepare(config, tmp_path / "out")
    texts = {r["id"]: (r["text"], r["speaker"]) for r in prepared.rows}
    assert texts == {"fotaq-02ssssj1": ("hello there old friend", "fotaq:joe"),
                     "fotaq-020006j1": ("at least i don't look like i need one", "fotaq:joe"),
                     "fotaq-020006p1": ("you're asking for trouble king", "fotaq:and"),
                     "fotaq-020006p2": ("i'm going to run you out of town", "fotaq:and")}
    assert sum(prepared.skipped.values()) == 3 and not prepared.failures
    row = next(r for r in prepared.rows if r["id"] == "fotaq-020006p2")
    # the clip's samples at the rate the voices were recorded at, not the 11,025 Hz its header says
    written = soundfile.info(row["audio"])
    assert written.samplerate == 11840 and written.frames == int(11025 * 2.3)
    assert row["duration"] == pytest.approx(2.3 * 11025 / 11840, abs=1e-3)

    out = tmp_path / "cli"
    assert main(["prep", "fotaq-lines", str(out), "--archive", str(archive), "--dev-lines", "1"]) == 2  # no tables
    assert main(["prep", "fotaq-lines", str(out), "--archive", str(archive), "--dev-lines", "1",
                 "--kinds", "conversation"]) == 0
    train = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    dev = [json.loads(line) for line in (out / "dev.jsonl").read_text().splitlines()]
    assert len(train) == 3 and len(dev) == 1
    assert json.loads((out / "corpus.json").read_text())["characters"]["joe"]["lines"] == 2


def test_a_file_that_is_not_the_archive_is_refused_by_name(tmp_path, capsys):
    bad = tmp_path / "queen.1c"
    bad.write_bytes(b"not an archive")
    assert main(["prep", "fotaq-lines", str(tmp_path / "out"), "--archive", str(bad)]) == 2
    assert f"{bad}" in capsys.readouterr().err
    raw = _archive(tmp_path / "raw.1c", {"AND1.DOG": b"\0" * 200}, codec=0)  # uncompressed .SB clips
    assert main(["prep", "fotaq-lines", str(tmp_path / "out"), "--archive", str(raw)]) == 2
    assert "speech codec is not one soundfile reads" in capsys.readouterr().err


def test_the_installed_game_gives_hours_of_lines_each_with_its_own_recording(tmp_path):
    if not fotaq_lines.ARCHIVE.is_file():
        pytest.skip(f"{fotaq_lines.ARCHIVE} is absent: Debian's flight-of-the-amazon-queen (contrib) is not "
                    "installed (`make install` installs it)")
    prepared = fotaq_lines.prepare(fotaq_lines.FotaqLinesConfig(), tmp_path)
    assert not prepared.failures
    hours = sum(r["duration"] for r in prepared.rows) / 3600
    assert len(prepared.rows) > 5500 and hours > 3.5
    by_id = {r["id"]: r for r in prepared.rows}
    assert by_id["fotaq-020001p2"]["text"] == "you couldn't pilot your way out of a paper bag"
    assert (by_id["fotaq-c18a_011"]["text"], by_id["fotaq-c18a_011"]["speaker"]) == (
        "i've just been cooped up in some smelly dungeon", "fotaq:joe")
    assert by_id["fotaq-joe00471"]["text"] == "there's a label that reads"
    # A line's length follows its recording's duration, in each place lines come from; one line off, it would not
    for kind in queen_archive.KINDS:
        rows = sorted((r for r in prepared.rows if r["kind"] == kind), key=lambda r: r["id"])
        durations = np.array([r["duration"] for r in rows])
        lengths = np.array([len(r["text"]) for r in rows])
        assert len(rows) > 400 and np.corrcoef(durations, lengths)[0, 1] > 0.7, kind
        assert abs(np.corrcoef(durations[1:], lengths[:-1])[0, 1]) < 0.4, kind
