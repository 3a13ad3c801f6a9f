"""Flight of the Amazon Queen's talkie archive (``queen.1c``): which recording says which line, and who says it.

The game names the recording of every line it speaks; this module reads the three places the lines are and
applies the game's naming rule, so that each recording gets its text without anyone listening. All integers are
big-endian; a string is a length byte and that many Latin-1 bytes, a non-empty one padded to the next even offset
(4 in conversations). ``.DOG``, ``.CUT`` and ``QUEEN.JAS`` entries start with a 20-byte bank header, skipped.

- **The archive**: ``b"QTBL"``, a 6-byte version (``CEM10``: CD, English), 2 bytes, the speech codec (1: MP3),
  a 16-bit count and that many 21-byte entries (12-byte name, bundle byte, 32-bit offset and size).
- **Parts of a line**: ``*`` and two letters is a command (``*XY`` and 11 characters more: a walk); each command
  closes a part and counts one, even when the part is empty; a part closed by ``*GD`` or ``*GM`` (a gesture) is
  not spoken. Part n of a line is its own recording, named with n in hex after the line's prefix.
- **Conversations** (``.DOG``): after the header, 15 16-bit fields (levels, talk key, how many lines Joe and the
  other person have, the offsets of the other person's lines and of the two greetings), Joe's lines after ``32 +
  96 * levels`` bytes. A line: 2 bytes, its 16-bit id and its string. Prefix: the talk key (2 digits), the line's
  id (4 hex digits; ``SSSS`` for Joe's first greeting, ``XXXX`` for the greetings of a second meeting) and ``J``
  for Joe or ``P`` for the other person, who is named by the file.
- **Cutaway scenes** (``.CUT``): fields at 2 (the record count, negative: not skippable) and 8 (the offset of the
  sentences); records from 12, each 17 16-bit fields (object, ..., animation list at 4, execute at 5, from-object
  at 12), a count of people and their 16-bit numbers, then, for an animated record only, 20-byte frames up to a
  16-bit -2. The sentences: one entry string (never spoken), then one per record. A record is spoken when it is a
  person's (object 0 or -1: Joe; an object whose image is -3 or -4 in ``QUEEN.JAS``; with no animation list and
  no from-object) or text to be spoken (object -2 or -3: one recording, part 1, speaker not recorded); a sentence
  that is ``*`` or starts with ``#`` is not. Prefix: the scene's name padded with ``_`` to 5 characters and the
  record's number in 2 digits (``C18A_011.SB``: scene C18A, record 1, part 1).
- **Joe's remarks** (``QUEEN2.JAS``, CR LF text lines: object descriptions, object names, room names, 12 verbs,
  40 responses, actor animations, names and files; the block sizes are in ``QUEEN.JAS``): response k is prefix
  ``JOE`` and k in 4 digits, description d is ``JOE`` and d + 40; a description that names a ``.CUT`` or ``.DOG``
  plays that scene instead of speaking.
- **Who speaks in a cutaway**: the actor of a person object is the actor-table entry (``QUEEN.JAS``) of the
  object's room whose sprite number is the object's rank among the room's people; where the game's state chooses
  between several, the first (the state at the game's start).

The layout was established by reading the engine that plays the game (ScummVM's ``engines/queen``) and checked on
the whole archive: every name the rules give for a spoken part is an entry, and a line's length follows its
recording's duration (tests). The recordings' headers say 11,025 Hz, but they were recorded, and the engine plays
them, at 11,840 Hz (``SPEECH_RATE``): read at the header's rate, every voice is 7% slower and lower.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from asr.errors import InputError

ARCHIVE = Path("/usr/share/scummvm/flight-of-the-amazon-queen/queen.1c")
CODECS = {1: "mp3", 2: "ogg", 3: "flac"}  # the speech codec byte → the clips' extension (0: raw .SB, not read here)
ENTRY = struct.Struct(">12sBII")  # name, bundle, offset, size
BANK_HEADER = 20
SPEECH_RATE = 11840  # the rate the voices were recorded at; the compressed clips' headers say 11,025
HEADER_RATE = 11025
JOE_RESPONSES = 40  # the responses block of QUEEN2.JAS has a fixed size
KINDS = ("conversation", "cutaway", "remark")


@dataclass(frozen=True)
class VoicedLine:
    speaker: str  # the character, upper case as the game names it ("JOE", "ANDERSON"); "UNKNOWN" if not recorded
    text: str  # as written, without the commands
    kind: str  # one of KINDS


class QueenArchive:
    """The entries of a ``queen.1c`` archive: ``read(name)`` gives an entry's bytes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        with open(self.path, "rb") as f:
            head = f.read(15)
            if len(head) < 15 or head[:4] != b"QTBL":
                raise InputError(self.path, "not a Flight of the Amazon Queen archive (no QTBL table)")
            self.version = head[4:10].split(b"\0")[0].decode("ascii", errors="replace")
            self.codec = CODECS.get(head[12], "")
            (count,) = struct.unpack(">H", head[13:15])
            table = f.read(ENTRY.size * count)
        if len(table) < ENTRY.size * count:
            raise InputError(self.path, f"its table is cut short ({count} entries announced)")
        self.entries: dict[str, tuple[int, int]] = {}
        for k in range(count):
            name, _bundle, offset, size = ENTRY.unpack_from(table, ENTRY.size * k)
            self.entries[name.split(b"\0")[0].decode("ascii", errors="replace")] = (offset, size)

    def read(self, name: str) -> bytes:
        offset, size = self.entries[name]
        with open(self.path, "rb") as f:
            f.seek(offset)
            data = f.read(size)
        if len(data) != size:
            raise InputError(f"{self.path}/{name}", "the archive ends before this entry does")
        return data


def _string(data: bytes, at: int, align: int = 2) -> tuple[str, int]:
    """A length-prefixed string at ``at`` and the offset after it (a non-empty one is padded to ``align``)."""
    n = data[at]
    at += 1
    if n == 0:
        return "", at
    return data[at:at + n].decode("latin-1"), (at + n + align - 1) & ~(align - 1)


def spoken_parts(line: str) -> list[tuple[int, str]]:
    """(part number from 1, text) of the parts of a line the actor speaks, each its own recording."""
    parts, start, k, part = [], 0, 0, 1
    while k < len(line):
        if line[k] != "*":
            k += 1
            continue
        command = line[k + 1:k + 3]
        if command not in ("GD", "GM"):  # a gesture, not spoken
            parts.append((part, line[start:k]))
        part += 1
        k += 3 + (11 if command == "XY" else 0)
        start = k
    if start < len(line):
        parts.append((part, line[start:]))
    return [(n, text.strip()) for n, text in parts if text.strip() and text.strip() != "0"]


def _said(prefix: str, line: str, speaker: str, kind: str) -> list[tuple[str, VoicedLine]]:
    return [(f"{prefix}{part:X}.SB".upper(), VoicedLine(speaker, text, kind)) for part, text in spoken_parts(line)]


# --- conversations (.DOG) -------------------------------------------------------------------------------------


def _dog_lines(data: bytes, at: int, count: int) -> list[tuple[int, str]]:
    """``count`` conversation lines from ``at``: (id, text)."""
    out = []
    for _ in range(count):
        (line_id,) = struct.unpack_from(">h", data, at + 2)
        text, at = _string(data, at + 4, 4)
        out.append((line_id, text))
    return out


def conversation(name: str, data: bytes) -> list[tuple[str, VoicedLine]]:
    """(recording name, line) of the spoken parts of one ``.DOG`` conversation."""
    body = data[BANK_HEADER:]
    fields = struct.unpack_from(">15h", body, 0)
    levels, talk_key, joe_count, person_count = abs(fields[0]), fields[2], fields[3], fields[4]
    person_at, greetings_at = fields[11] & 0xFFFF, fields[13] & 0xFFFF
    person = name.rsplit(".", 1)[0].rstrip("0123456789") or name
    key = f"{talk_key:02d}"
    said: list[tuple[str, VoicedLine]] = []
    for line_id, line in _dog_lines(body, 32 + levels * 96, joe_count):
        said += _said(f"{key}{'SSSS' if line_id == 0 else f'{line_id:04X}'}J", line, "JOE", "conversation")
    for line_id, line in _dog_lines(body, person_at, person_count):
        if line_id > 0:
            said += _said(f"{key}{line_id:04X}P", line, person, "conversation")
    person_again, at = _string(body, greetings_at)
    joe_again, _ = _string(body, at)
    said += _said(f"{key}XXXXP", person_again, person, "conversation")
    said += _said(f"{key}XXXXJ", joe_again, "JOE", "conversation")
    return said


# --- QUEEN.JAS and QUEEN2.JAS: objects, people, Joe's remarks ---------------------------------------------------


class GameTables:
    """What pairing needs of ``QUEEN.JAS`` (objects, rooms, actors) and ``QUEEN2.JAS`` (the text lines)."""

    def __init__(self, archive: QueenArchive):
        jas = archive.read("QUEEN.JAS")[BANK_HEADER:]
        at = 0

        def u16() -> int:
            nonlocal at
            (value,) = struct.unpack_from(">H", jas, at)
            at += 2
            return value

        def skip_records(size: int, at_least: int = 0) -> None:  # a count, then that many records of ``size``
            nonlocal at
            count = u16()
            at += size * max(count, at_least)

        rooms, names, objects, descriptions = u16(), u16(), u16(), u16()
        # objects, numbered from 1: name, x, y, description, entry object, room, state, image (16-bit each)
        self.objects = [(0,) * 8] + [struct.unpack_from(">8h", jas, at + 16 * k) for k in range(objects)]
        at += 16 * objects
        self.room_objects = [u16() for _ in range(rooms + 1)]  # room r's objects: [r-1]+1 .. [r] (rooms from 1)
        at += 2 * rooms  # sound effects per room
        skip_records(10)  # items
        skip_records(10)  # graphics
        for _ in range(rooms):  # walking grid: object count, area count, 16-byte areas
            (areas,) = struct.unpack_from(">h", jas, at + 2)
            at += 4 + 16 * areas
        at += 8 * objects  # object boxes
        skip_records(6)  # walk-off points
        skip_records(8)  # description sets
        for size in (20, 6, 6, 6, 8):  # command lists: a count of 0 still holds one record
            skip_records(size, 1)
        at += 2  # entry object
        skip_records(4)  # furniture
        actors, actor_anims, actor_names, actor_files = u16(), u16(), u16(), u16()
        # actors: room, sprite number, name (a line of QUEEN2.JAS's actor names), game-state slot and value, ...
        self.actors = [struct.unpack_from(">12h", jas, at + 24 * k) for k in range(actors)]

        text = archive.read("QUEEN2.JAS").decode("latin-1")
        lines = text.split("\r\n")
        if lines and lines[-1] == "":
            lines.pop()
        sizes = [descriptions, names, rooms, 12, JOE_RESPONSES, actor_anims, actor_names, actor_files]
        if sum(sizes) != len(lines):
            raise InputError(f"{archive.path}/QUEEN2.JAS",
                             f"{len(lines)} lines where QUEEN.JAS announces {sum(sizes)}")
        starts = [sum(sizes[:k]) for k in range(len(sizes))]
        self.descriptions = lines[starts[0]:starts[0] + descriptions]
        self.object_names = lines[starts[1]:starts[1] + names]
        self.responses = lines[starts[4]:starts[4] + JOE_RESPONSES]
        self.actor_names = lines[starts[6]:starts[6] + actor_names]

    def is_person(self, number: int) -> bool:
        return 0 < number < len(self.objects) and self.objects[number][7] in (-3, -4)

    def speaker(self, number: int) -> str:
        """The actor who plays person object ``number``: the first actor of its room with its sprite number."""
        room = self.objects[number][5]
        if not 0 < room < len(self.room_objects):
            return "UNKNOWN"
        sprite = sum(1 for k in range(self.room_objects[room - 1] + 1, number + 1) if self.is_person(k))
        for actor_room, actor_sprite, name, *_ in self.actors:
            if actor_room == room and actor_sprite == sprite and 0 < name <= len(self.actor_names):
                return self.actor_names[name - 1].upper()
        name = abs(self.objects[number][0])
        return self.object_names[name - 1].upper() if 0 < name <= len(self.object_names) else "UNKNOWN"


def remarks(tables: GameTables) -> list[tuple[str, VoicedLine]]:
    """(recording name, line) of Joe's responses and his descriptions of objects."""
    said = []
    for k, line in enumerate(tables.responses, start=1):
        said += _said(f"JOE{k:04d}", line, "JOE", "remark")
    for k, line in enumerate(tables.descriptions, start=1):
        if not line.upper().endswith((".CUT", ".DOG")):  # names a scene played instead
            said += _said(f"JOE{k + JOE_RESPONSES:04d}", line, "JOE", "remark")
    return said


# --- cutaway scenes (.CUT) ------------------------------------------------------------------------------------

CUT_RECORD = struct.Struct(">17h")


def cutaway(name: str, data: bytes, tables: GameTables) -> list[tuple[str, VoicedLine]]:
    """(recording name, line) of the spoken records of one ``.CUT`` scene."""
    body = data[BANK_HEADER:]
    (count,) = struct.unpack_from(">h", body, 2)
    (sentences_at,) = struct.unpack_from(">H", body, 8)
    _entry, sentences_at = _string(body, sentences_at)  # Joe's facing as the scene starts: never spoken
    scene = (name.rsplit(".", 1)[0] + "_" * 5)[:5]
    at, said = 12, []
    for record in range(1, abs(count) + 1):
        fields = CUT_RECORD.unpack_from(body, at)
        (people,) = struct.unpack_from(">h", body, at + CUT_RECORD.size)
        at += CUT_RECORD.size + 2 + 2 * people
        sentence, sentences_at = _string(body, sentences_at)
        number = 0 if fields[0] == -1 else fields[0]  # -1 fades the room and plays as Joe
        animation_list, execute, from_object = fields[4], fields[5], fields[12]
        person = animation_list == 0 and (number == 0 or tables.is_person(number)) and from_object <= 0
        animated = not person and from_object <= 0 and number not in (-2, -3, -4) and execute != 0
        if animated:  # 20-byte frames up to a -2
            while struct.unpack_from(">h", body, at)[0] != -2:
                at += 20
            at += 2
        prefix = f"{scene}{record:02d}"
        if person and sentence != "*" and not sentence.startswith("#"):
            said += _said(prefix, sentence, "JOE" if number == 0 else tables.speaker(number), "cutaway")
        elif number in (-2, -3) and sentence.strip():  # text to be spoken: one recording, whole
            said.append((f"{prefix}1.SB", VoicedLine("UNKNOWN", sentence.strip(), "cutaway")))
    return said


def voiced_lines(archive: QueenArchive, kinds: tuple[str, ...] = KINDS) -> dict[str, VoicedLine]:
    """Recording name → its line, over the kinds asked for (the first place to name a recording wins)."""
    out: dict[str, VoicedLine] = {}

    def add(said: list[tuple[str, VoicedLine]]) -> None:
        for recording, line in said:
            out.setdefault(recording, line)

    if "conversation" in kinds:
        for name in sorted(n for n in archive.entries if n.endswith(".DOG")):
            add(conversation(name, archive.read(name)))
    if "cutaway" in kinds or "remark" in kinds:
        if not {"QUEEN.JAS", "QUEEN2.JAS"} <= set(archive.entries):
            raise InputError(archive.path, "has no QUEEN.JAS and QUEEN2.JAS: only its conversations can be paired "
                                           "(--kinds conversation)")
        tables = GameTables(archive)
        if "remark" in kinds:
            add(remarks(tables))
        if "cutaway" in kinds:
            for name in sorted(n for n in archive.entries if n.endswith(".CUT")):
                add(cutaway(name, archive.read(name), tables))
    return out
