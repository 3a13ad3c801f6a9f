"""asr prep drascula-lines: Drascula's voiced lines as training manifests."""

import json
import struct

import numpy as np
import pytest
import soundfile

from asr.cli import main
from data_prep import drascula_lines


def _table(languages: list[list[str]]) -> bytes:
    """A table of lines: its count, then per language a byte length and the block (2 bytes, then length-prefixed
    records padded to 4 bytes, line 0 empty)."""
    out = struct.pack(">H", len(languages[0]) + 1)
    for lines in languages:
        block = b"\0\0"
        for text in [""] + lines:
            raw = text.encode("cp437") + b"\0"
            raw += b"\0" * (-(len(raw) + 2) % 4 or 4)
            block += struct.pack(">H", 2 + len(raw)) + raw
        out += struct.pack(">H", len(block)) + block
    return out


def _game(folder, tables: dict[str, list[str]], recordings: dict[str, float]):
    """A game folder: drascula.dat with the given English tables (a second language beside them) and recordings
    of the given lengths (headerless unsigned 8-bit at 11,025 Hz)."""
    folder.mkdir()
    data = b"DRASCULA" + bytes([6]) + struct.pack(">H", 1) + b"\0" * 4  # one record in the first fixed table
    data += struct.pack(">H", 0) * (len(drascula_lines.FIXED_TABLES) - 1) + struct.pack(">H", 2)
    for prefix in drascula_lines.LINE_TABLES:
        english = tables.get(prefix, ["x"])
        data += _table([english, [f"otra {k}" for k in range(len(english))]])
    (folder / "drascula.dat").write_bytes(data)
    for name, seconds in recordings.items():
        tone = 128 + 40 * np.sin(np.arange(int(11025 * seconds)) * 0.3)
        (folder / name).write_bytes(tone.astype(np.uint8).tobytes())
    return folder


def test_recordings_are_paired_with_their_characters_lines(tmp_path):
    game = _game(tmp_path / "en", {
        "": ["THAT'S THE SECOND BIGGEST DOOR I'VE SEEN IN MY LIFE", "ROOM 512, UPSTAIRS"] + ["..."] * 5
            + ["A LINE HEARD TO DIFFER"],
        "D": ["GOOD EVENING, I AM DRASCULA"] + ["..."] * 66 + ["YOU LOOK LIKE WOODY ALLEN"],
        "VB": ["ARE YOU JOHN HACKER?"],
    }, {"1.ALS": 2.9, "2.ALS": 1.5, "8.ALS": 2.0, "D1.ALS": 2.0, "D68.ALS": 2.0, "VB1.ALS": 1.6, "S3.ALS": 1.0})
    # 8.ALS is in NOT_THEIR_LINE: the game's recording 8 is another line than its text
    assert "8" in drascula_lines.NOT_THEIR_LINE
    config = drascula_lines.DrasculaLinesConfig(game=game)
    prepared = drascula_lines.prepare(config, tmp_path / "out")
    rows = {r["id"]: (r["text"], r["speaker"]) for r in prepared.rows}
    assert rows == {"drascula-1": ("that's the second biggest door i've seen in my life", "drascula:john"),
                    "drascula-d1": ("good evening i am drascula", "drascula:drascula"),
                    "drascula-d68": ("you look like woody allen", "drascula:blindman"),
                    "drascula-vb1": ("are you john hacker", "drascula:vonbraun")}
    assert prepared.skipped == {"digits, stage directions or no words": 1, "not the line its name gives": 1,
                                "not a line (a sound effect, or a line the game does not use)": 1}
    written = soundfile.info(next(r["audio"] for r in prepared.rows if r["id"] == "drascula-1"))
    assert written.samplerate == 11025 and written.frames == int(11025 * 2.9) - 64  # the game's 32 bytes each end

    out = tmp_path / "cli"
    assert main(["prep", "drascula-lines", str(out), "--game", str(game), "--dev-lines", "1"]) == 0
    train = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert len(train) == 3 and len((out / "dev.jsonl").read_text().splitlines()) == 1
    assert json.loads((out / "corpus.json").read_text())["characters"]["john"]["lines"] == 1


def test_a_missing_or_foreign_text_file_is_refused_by_name(tmp_path, capsys):
    assert main(["prep", "drascula-lines", str(tmp_path / "out"), "--game", str(tmp_path)]) == 2
    assert f"{tmp_path / 'drascula.dat'}" in capsys.readouterr().err
    (tmp_path / "drascula.dat").write_bytes(b"not the game's text")
    assert main(["prep", "drascula-lines", str(tmp_path / "out"), "--game", str(tmp_path)]) == 2
    assert "no DRASCULA signature" in capsys.readouterr().err


def test_the_installed_game_gives_its_lines_each_with_its_own_recording(tmp_path):
    if not (drascula_lines.GAME / "drascula.dat").is_file():
        pytest.skip(f"{drascula_lines.GAME} is absent: Debian's drascula is not installed (`make install` installs it)")
    prepared = drascula_lines.prepare(drascula_lines.DrasculaLinesConfig(), tmp_path)
    assert not prepared.failures
    assert len(prepared.rows) > 600 and sum(r["duration"] for r in prepared.rows) / 3600 > 0.6
    by_id = {r["id"]: r for r in prepared.rows}
    assert by_id["drascula-1"]["text"] == "that's the second biggest door i've seen in my life"
    assert (by_id["drascula-vb58"]["text"], by_id["drascula-vb58"]["speaker"]) == (
        "are you john hacker i'm doctor von braun", "drascula:vonbraun")
    # A line's length follows its recording's duration; one line off, far less (lines of one scene are alike)
    rows = sorted(prepared.rows, key=lambda r: r["id"])
    durations = np.array([r["duration"] for r in rows])
    lengths = np.array([len(r["text"]) for r in rows])
    assert np.corrcoef(durations, lengths)[0, 1] > 0.85
    assert abs(np.corrcoef(durations[1:], lengths[:-1])[0, 1]) < 0.5
