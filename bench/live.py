"""Live transcription latency and capacity: recordings fed to `asr serve` at real-time pace over WebSockets.

    .venv/bin/python bench/live.py [--model models/synthetic-small.pt --lm models/lm] [--streams 1 4 8 12 16 20 24 32]
    .venv/bin/python bench/live.py --model models/whisper-bilstm.pt --lm models/english-lm --results-name live-whisper-bilstm

Each stream is a generated recording (espeak-ng voices, 4 sentences with 0.8-1.5 s pauses, white noise at 30 dB
SNR) sent in 100 ms messages, each when real time reaches its end, to a server (the `asr serve` app, in this
process, on loopback) with a packaged model and an LM: by default the log-mel `models/synthetic-small.pt` and the
recipe's domain LM (the reference); the second line measures the model `asr live` and `asr serve` load by default.
Measured, in seconds:

* partial delay: for each word of each final, from the end of that word in the audio (the final's word time) to
  the first message, partial or final, of its segment that has that word at that position;
* final delay: for each sentence, from the end of its speech (the generated file's last sample above -40 dB of
  its peak) to the final that covers it;
* CPU per stream: this process's CPU seconds (server, model, and the clients) per second of audio per stream, with
  one stream (a fraction of a core; the clients' share is small);
* the largest number of concurrent real-time streams whose final p95 stays within 1 s (streams are started
  0-1 s apart so that they do not speak in lockstep).

Writes bench/results/live.json (live-int8.json with --int8, live-greedy.json with --greedy-partials; or
--results-name). The machine's other load shows in these figures: quote them with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _common import add_results_name_argument, machine, print_table, write_results  # noqa: E402

RATE = 16000
MESSAGE_S = 0.1
SENTENCES = [
    "she didn't get his name when they met the first time",
    "the committee will meet again next week to discuss the plan",
    "he turned the key and the old engine started at once",
    "we walked along the river until the sun went down",
    "please put the books back on the shelf when you are done",
    "the children laughed at the clown in the big red shoes",
    "a cold wind blew across the empty field all night",
    "they asked the teacher a question about the history lesson",
    "my brother bought a new car with the money he saved",
    "the doctor told her to rest for a few days",
    "there was a long line of people waiting outside the store",
    "the cat jumped onto the table and knocked over the glass",
]
VOICES = ["en-us", "en", "en-us+m3", "en+f2", "en-us+f3", "en+m2"]


def speak(text: str, voice: str, folder: Path) -> np.ndarray:
    from asr.audio import load_audio

    path = folder / f"{abs(hash((text, voice)))}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "160", "-w", str(path), text], check=True)
    return load_audio(path, RATE)


def make_recordings(count: int, folder: Path, seed: int = 0, snr_db: float = 30.0) -> list[dict]:
    """``count`` recordings of 4 sentences each, with white noise at ``snr_db`` (against the speech's power):
    samples, sentence ends (end of speech) and texts."""
    rng = np.random.default_rng(seed)
    recordings = []
    for k in range(count):
        parts, ends, texts, t = [np.zeros(int(0.5 * RATE), np.float32)], [], [], 0.5
        for j in range(4):
            text = SENTENCES[(4 * k + j) % len(SENTENCES)]
            speech = speak(text, VOICES[(k + j) % len(VOICES)], folder)
            loud = np.flatnonzero(np.abs(speech) > np.abs(speech).max() * 0.01)
            ends.append(t + (loud[-1] + 1) / RATE)
            texts.append(text)
            pause = np.zeros(int(rng.uniform(0.8, 1.5) * RATE), np.float32)
            parts += [speech, pause]
            t += (len(speech) + len(pause)) / RATE
        audio = np.concatenate(parts)
        power = np.mean(np.concatenate(parts[1::2]) ** 2)
        audio = audio + rng.normal(0, np.sqrt(power / 10 ** (snr_db / 10)), audio.size).astype(np.float32)
        recordings.append({"samples": np.clip(audio, -1, 1), "ends": ends, "texts": texts})
    return recordings


async def run_stream(session, url: str, recording: dict, delay: float) -> dict:
    """Send a recording at real-time pace; returns the messages with their arrival times (seconds of audio)."""
    import aiohttp

    await asyncio.sleep(delay)
    pcm = (recording["samples"] * 32767).astype("<i2").tobytes()
    step = int(MESSAGE_S * RATE) * 2
    messages: list[tuple[float, dict]] = []
    async with session.ws_connect(url + "/ws") as ws:
        await ws.receive_json()
        start = time.perf_counter()

        async def receive():
            async for m in ws:
                if m.type == aiohttp.WSMsgType.TEXT:
                    messages.append((time.perf_counter() - start, json.loads(m.data)))

        receiver = asyncio.create_task(receive())
        for k, i in enumerate(range(0, len(pcm), step)):
            wait = start + (k + 1) * MESSAGE_S - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            await ws.send_bytes(pcm[i:i + step])
        await ws.send_str(json.dumps({"type": "stop"}))
        await receiver
    return {"messages": messages}


def delays(recording: dict, messages: list[tuple[float, dict]]) -> tuple[list[float], list[float], list[str]]:
    """(partial delays, final delays, final texts) of one stream."""
    finals = [(t, m) for t, m in messages if m.get("type") == "final"]
    partial_delays = []
    for _, final in finals:
        seen = [(t, [w["word"] for w in m["words"]]) for t, m in messages
                if m.get("segment") == final["segment"] and m["type"] in ("partial", "final")]
        for i, word in enumerate(final["words"]):
            first = next(t for t, words in seen if len(words) > i and words[i] == word["word"])
            partial_delays.append(first - word["end"])
    final_delays = []
    for end in recording["ends"]:
        covering = [t for t, m in finals if m["start"] <= end <= m["end"] + 0.05]
        if covering:
            final_delays.append(covering[0] - end)
    return partial_delays, final_delays, [m["text"] for _, m in finals if m["text"]]


def run_level(recognizer, recordings: list[dict], streams: int) -> dict:
    import aiohttp
    from live_helpers import running_server

    async def main(url):
        async with aiohttp.ClientSession() as session:
            rng = np.random.default_rng(streams)
            return await asyncio.gather(*(run_stream(session, url, recordings[k % len(recordings)],
                                                     float(rng.uniform(0, 1.0))) for k in range(streams)))

    with running_server(recognizer, max_streams=max(streams, 1)) as url:
        cpu, wall = time.process_time(), time.perf_counter()
        results = asyncio.run(main(url))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    partial, final, missed = [], [], 0
    for k, r in enumerate(results):
        rec = recordings[k % len(recordings)]
        p, f, _ = delays(rec, r["messages"])
        partial += p
        final += f
        missed += len(rec["ends"]) - len(f)
    audio = sum(len(recordings[k % len(recordings)]["samples"]) / RATE for k in range(streams))
    return {"streams": streams, "partial_p50_s": float(np.percentile(partial, 50)),
            "partial_p95_s": float(np.percentile(partial, 95)), "final_p50_s": float(np.percentile(final, 50)),
            "final_p95_s": float(np.percentile(final, 95)),
            "sentences_without_final": missed, "cpu_s_per_audio_s": cpu / audio, "wall_s": wall,
            "load_average_1min": os.getloadavg()[0]}


def realtime(level: dict) -> bool:
    """Sustained: every sentence got its final, 95% of them within 1 s of the end of speech."""
    return level["final_p95_s"] <= 1.0 and level["sentences_without_final"] == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/synthetic-small.pt")
    parser.add_argument("--lm", default="models/lm")
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 4, 8, 12, 16, 20, 24, 32])
    parser.add_argument("--recordings", type=int, default=6)
    parser.add_argument("--int8", action="store_true")
    parser.add_argument("--greedy-partials", action="store_true")
    add_results_name_argument(parser, "")
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        sys.exit("bench/live.py: espeak-ng is needed (make install)")

    import torch

    from asr.inference import Transcriber
    from asr.streaming import StreamingConfig, StreamingRecognizer

    torch.set_num_threads(os.cpu_count() or 1)
    recognizer = StreamingRecognizer(Transcriber(args.model, lm=args.lm, int8=args.int8),
                                     StreamingConfig(partial_beam=not args.greedy_partials))
    with tempfile.TemporaryDirectory() as tmp:
        recordings = make_recordings(args.recordings, Path(tmp))
    levels = []
    for n in sorted(args.streams):
        level = run_level(recognizer, recordings, n)
        levels.append(level)
        print(f"{n} streams: partial p95 {level['partial_p95_s']:.3f} s, final p95 {level['final_p95_s']:.3f} s, "
              f"load {level['load_average_1min']:.1f}", file=sys.stderr, flush=True)
        if not realtime(level) and n > 1:
            break
    one = levels[0]
    sustained = [lv["streams"] for lv in levels if realtime(lv)]
    results = {
        "model": args.model, "lm": args.lm, "int8": args.int8, "partials": "greedy" if args.greedy_partials else "beam",
        "machine": machine(), "recording_seconds": [round(len(r["samples"]) / RATE, 2) for r in recordings],
        "partial_p50_s": one["partial_p50_s"], "partial_p95_s": one["partial_p95_s"],
        "final_p50_s": one["final_p50_s"], "final_p95_s": one["final_p95_s"],
        "cpu_per_stream": one["cpu_s_per_audio_s"],
        "max_realtime_streams": max(sustained) if sustained else 0, "levels": levels,
    }
    print_table(["streams", "partial p50", "partial p95", "final p50", "final p95", "CPU s / audio s", "load"],
                [[lv["streams"], lv["partial_p50_s"], lv["partial_p95_s"], lv["final_p50_s"], lv["final_p95_s"],
                  lv["cpu_s_per_audio_s"], lv["load_average_1min"]] for lv in levels])
    name = args.results_name or "live" + ("-int8" if args.int8 else "") + ("-greedy" if args.greedy_partials else "")
    print(f"wrote {write_results(name, results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
