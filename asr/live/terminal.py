"""``asr live``: transcribe the microphone (or a file played at real-time pace) as it is spoken.

    asr live                              # the default input device; Ctrl-C ends
    asr live --input models/sample.wav    # a file through the same pipeline, at real-time pace
    asr live --list-devices               # input devices; choose one with --device N or a part of its name
    asr live --save talk                  # on exit: talk.txt, talk.json (segments, words, times), talk.wav

On a terminal the partial text of the segment being spoken is redrawn in place (plain ANSI: carriage return and
erase-line, dimmed) and each final is printed on its own line below; into a pipe or file only the final lines
are written. Audio is read in blocks of ``--chunk-ms`` by a PortAudio callback (sounddevice) into a queue; the main
thread feeds everything queued to the stream before each decode, so a slow decode delays text but never drops
audio.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from asr.errors import ASRError, InputError
from asr.fileio import atomic_path, atomic_write_text
from asr.live.common import add_model_arguments, load_recognizer

NO_PORTAUDIO = ("PortAudio, the library sounddevice records through, is not installed (Debian: apt-get install "
                "libportaudio2). To transcribe a file instead: asr live --input FILE")
NO_DEVICE = ("no audio input device found: PortAudio lists none. Connect a microphone (or check that this user may "
             "use it), choose one with --device (see --list-devices), or transcribe a file: asr live --input FILE")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--input", metavar="FILE", help="play FILE through the pipeline instead of the microphone")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="with --input: playback speed (1 = real time, 0 = as fast as the machine goes)")
    parser.add_argument("--device", help="input device: its number or a part of its name (see --list-devices)")
    parser.add_argument("--list-devices", action="store_true", help="list the audio input devices and exit")
    parser.add_argument("--save", metavar="PREFIX", help="on exit write PREFIX.txt, PREFIX.json and PREFIX.wav")
    parser.add_argument("--chunk-ms", type=int, default=50, help="audio block size")
    parser.add_argument("--times", action="store_true", help="prefix each final line with its start and end times")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")


# --- audio sources ---------------------------------------------------------------------------------------


def _import_sounddevice():
    import sounddevice

    return sounddevice


def _sounddevice():
    """The sounddevice module, or a clear error when PortAudio is missing."""
    try:
        return _import_sounddevice()
    except OSError:  # what sounddevice raises when it cannot load the PortAudio library
        raise ASRError(NO_PORTAUDIO) from None


def input_devices(sd) -> list[tuple[int, dict]]:
    try:
        devices = sd.query_devices()
    except sd.PortAudioError:
        return []
    return [(i, d) for i, d in enumerate(devices) if d.get("max_input_channels", 0) > 0]


def list_devices() -> str:
    sd = _sounddevice()
    devices = input_devices(sd)
    if not devices:
        raise ASRError(NO_DEVICE)
    try:
        default = sd.default.device[0]
    except Exception:  # no default device configured
        default = -1
    return "\n".join(f"{'*' if i == default else ' '} {i:3d}  {d['name']}  ({d['max_input_channels']} ch, "
                     f"{d['default_samplerate']:.0f} Hz)" for i, d in devices)


def choose_device(sd, wanted: str | None) -> tuple[int | None, dict]:
    devices = input_devices(sd)
    if not devices:
        raise ASRError(NO_DEVICE)
    if wanted is None:
        try:
            return None, sd.query_devices(kind="input")
        except (sd.PortAudioError, ValueError):
            raise ASRError(NO_DEVICE) from None
    if wanted.isdigit():
        found = [(i, d) for i, d in devices if i == int(wanted)]
    else:
        found = [(i, d) for i, d in devices if wanted.lower() in d["name"].lower()]
    if len(found) != 1:
        names = ", ".join(f"{i}: {d['name']}" for i, d in devices)
        raise ASRError(f"--device {wanted!r} matches {len(found)} input devices (there are: {names})")
    return found[0]


def microphone_blocks(device: str | None, rate: int, chunk_ms: int) -> Iterator[list[np.ndarray]]:
    """Lists of float32 mono blocks at ``rate`` from the microphone: everything captured since the last list."""
    import soxr

    sd = _sounddevice()
    index, info = choose_device(sd, device)
    device_rate = rate
    try:
        sd.check_input_settings(device=index, channels=1, samplerate=rate, dtype="float32")
    except Exception:  # the device does not take the model's rate: record at its own and resample
        device_rate = int(info["default_samplerate"])
    resampler = soxr.ResampleStream(device_rate, rate, 1, dtype="float32") if device_rate != rate else None
    blocks: queue.Queue[np.ndarray] = queue.Queue()

    def callback(indata, frames, time_info, status):  # PortAudio's thread: only copy
        blocks.put(indata[:, 0].copy())

    try:
        stream = sd.InputStream(device=index, channels=1, samplerate=device_rate, dtype="float32",
                                blocksize=device_rate * chunk_ms // 1000, callback=callback)
    except sd.PortAudioError as err:
        raise ASRError(f"cannot open the input device ({err}). {NO_DEVICE}") from None
    print(f"asr live: listening on {info['name']} ({device_rate} Hz); Ctrl-C ends", file=sys.stderr)
    with stream:
        while True:
            got = [blocks.get()]
            while not blocks.empty():
                got.append(blocks.get_nowait())
            yield [resampler.resample_chunk(b) for b in got] if resampler else got


def file_blocks(path: Path, rate: int, chunk_ms: int, speed: float) -> Iterator[list[np.ndarray]]:
    """A file as blocks of ``chunk_ms``, each released when real time (times ``speed``) reaches its end."""
    from asr.audio import iter_audio_blocks

    chunk = rate * chunk_ms // 1000
    start = time.perf_counter()
    sent = 0
    for block in iter_audio_blocks(path, rate, block_seconds=5.0):
        for i in range(0, len(block), chunk):
            piece = block[i:i + chunk]
            sent += len(piece)
            if speed > 0:
                delay = start + sent / rate / speed - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            yield [piece]


# --- display and saving -------------------------------------------------------------------------------------


class Display:
    """Partial text redrawn in place on a terminal; final lines printed (and only those when not a terminal)."""

    def __init__(self, out=None, times: bool = False):
        self.out = out = out or sys.stdout
        self.tty = out.isatty()
        self.times = times
        self.width = os.get_terminal_size(out.fileno()).columns if self.tty else 0
        self.partial = False

    def show(self, hyp) -> None:
        if hyp.final:
            if not hyp.text:
                self._clear()
                return
            line = f"[{hyp.start:7.2f} - {hyp.end:7.2f}] {hyp.text}" if self.times else hyp.text
            self._clear()
            self.out.write(line + "\n")
        elif self.tty:
            text = hyp.text[-(self.width - 1):] if self.width > 1 else hyp.text
            self.out.write(f"\r\033[K\033[2m{text}\033[0m")
            self.partial = True
        self.out.flush()

    def _clear(self) -> None:
        if self.partial:
            self.out.write("\r\033[K")
            self.partial = False


class Recording:
    """The audio received (written as it comes, to a temporary file) and the finals, saved under a prefix."""

    def __init__(self, prefix: str, rate: int):
        import soundfile

        self.prefix = Path(prefix)
        self.rate = rate
        self.finals: list = []
        self._wav = atomic_path(self.prefix.with_suffix(".wav"))
        self._tmp = self._wav.__enter__()
        self._file = soundfile.SoundFile(str(self._tmp), "w", rate, 1, "PCM_16", format="WAV")
        self.samples = 0

    def add_audio(self, block: np.ndarray) -> None:
        self._file.write(block)
        self.samples += len(block)

    def close(self, source: str) -> list[Path]:
        self._file.close()
        self._wav.__exit__(None, None, None)
        text = "".join(h.text + "\n" for h in self.finals if h.text)
        data = {"source": source, "duration": round(self.samples / self.rate, 3),
                "text": " ".join(h.text for h in self.finals if h.text),
                "segments": [h.to_dict() for h in self.finals if h.text]}
        paths = [atomic_write_text(self.prefix.with_suffix(".txt"), text),
                 atomic_write_text(self.prefix.with_suffix(".json"), json.dumps(data, ensure_ascii=False) + "\n")]
        return [*paths, self.prefix.with_suffix(".wav")]

    def discard(self) -> None:
        self._file.close()
        self._wav.__exit__(RuntimeError, RuntimeError(), None)  # removes the temporary file


# --- the command ---------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    if args.list_devices:
        print(list_devices())
        return 0
    if args.chunk_ms <= 0 or args.chunk_ms > 1000:
        raise ASRError("--chunk-ms must be between 1 and 1000")
    if args.input is not None and not Path(args.input).is_file():
        raise InputError(args.input, "no such file")
    recognizer = load_recognizer(args, args.threads or None)
    rate = recognizer.sample_rate
    if args.input is not None:
        source = file_blocks(Path(args.input), rate, args.chunk_ms, args.speed)
        name = args.input
    else:
        source = microphone_blocks(args.device, rate, args.chunk_ms)
        name = "microphone"
    display = Display(times=args.times)
    recording = Recording(args.save, rate) if args.save else None
    stream = recognizer.stream()
    interrupted = False

    def show(hyps) -> None:
        for hyp in hyps:
            display.show(hyp)
            if hyp.final and recording is not None:
                recording.finals.append(hyp)

    try:
        try:
            for blocks in source:
                for block in blocks:
                    stream.feed(block)
                    if recording is not None:
                        recording.add_audio(block)
                show(recognizer.step([stream])[0])
        except KeyboardInterrupt:
            interrupted = True
        show(stream.finish())
    except BaseException:
        if recording is not None:
            recording.discard()
        raise
    if recording is not None:
        written = recording.close(name)
        print(f"asr live: saved {', '.join(map(str, written))}", file=sys.stderr)
    if interrupted:
        print(f"asr live: stopped after {stream.received / rate:.1f} s of audio", file=sys.stderr)
    return 0
