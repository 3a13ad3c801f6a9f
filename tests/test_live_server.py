"""`asr serve`: WebSocket streams (each client its own transcript), limits, Origin checks, uploads, health."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import numpy as np
import pytest
from live_helpers import running_server

from asr.audio import load_audio
from asr.data.manifest import read_manifest
from asr.inference import Transcriber
from asr.streaming import StreamingConfig, StreamingRecognizer

RATE = 16000


@pytest.fixture(scope="module")
def recognizer(tiny_model):
    # The tiny model heard its sentences with 0.2-0.7 s of silence around them: segments get about that much.
    return StreamingRecognizer(Transcriber(tiny_model), StreamingConfig(preroll_s=0.5, endpoint_silence_s=0.5))


def pcm(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


async def stream_audio(session, url: str, audio: bytes, chunk: int = 3200, pace: float = 0.0) -> tuple[list, int]:
    """Send ``audio`` (PCM16) in chunks, then stop; returns (messages received, close code)."""
    async with session.ws_connect(url + "/ws") as ws:
        ready = await ws.receive_json()
        assert ready["type"] == "ready" and ready["sample_rate"] == RATE
        for i in range(0, len(audio), chunk):
            await ws.send_bytes(audio[i:i + chunk])
            if pace:
                await asyncio.sleep(pace)
        await ws.send_str(json.dumps({"type": "stop"}))
        messages = [json.loads(m.data) async for m in ws if m.type == aiohttp.WSMsgType.TEXT]
        return messages, ws.close_code


async def close_of(session, url: str, send, headers=None) -> tuple[int, str]:
    """Connect, let ``send(ws)`` misbehave, and return the close code and reason the server gave."""
    async with session.ws_connect(url + "/ws", headers=headers) as ws:
        await ws.receive_json()
        await send(ws)
        while True:
            message = await ws.receive()
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                return ws.close_code, message.extra or ""


def client_audio(corpus, k: int) -> tuple[np.ndarray, list[str]]:
    """Twenty different recordings: the twelve sentences alone, then eight pairs with a pause between."""
    utts = read_manifest(corpus.train)
    picked = [utts[k]] if k < len(utts) else [utts[k - len(utts)], utts[k - len(utts) + 1]]
    parts = [np.zeros(8000, np.float32)]
    for utt in picked:
        parts += [load_audio(utt.audio, RATE), np.zeros(12000, np.float32)]
    return np.concatenate(parts), [u.text for u in picked]


@pytest.mark.slow
def test_twenty_concurrent_clients_each_get_their_own_transcript(recognizer, tiny_corpus):
    clients = [client_audio(tiny_corpus, k) for k in range(20)]
    # What one stream alone gives for each recording: the server must give each client exactly that.
    alone = [[h.text for h in recognizer.transcribe_chunks([audio]) if h.final and h.text] for audio, _ in clients]

    async def main(url):
        async with aiohttp.ClientSession() as session:
            return await asyncio.gather(*(stream_audio(session, url, pcm(audio), pace=0.02) for audio, _ in clients))

    with running_server(recognizer, max_streams=20) as url:
        results = asyncio.run(main(url))
    for (messages, code), expected in zip(results, alone):
        assert [m["text"] for m in messages if m["type"] == "final" and m["text"]] == expected
        assert messages[-1] == {"type": "end"} and code == 1000
    assert sum(got == texts for got, (_, texts) in zip(alone, clients)) >= 18  # and the transcripts are right


def test_limits_and_malformed_messages(recognizer):
    async def main(url):
        async with aiohttp.ClientSession() as session:
            out = {}
            out["oversize"] = await close_of(session, url, lambda ws: ws.send_bytes(bytes(4098)))
            out["odd"] = await close_of(session, url, lambda ws: ws.send_bytes(bytes(101)))
            out["text"] = await close_of(session, url, lambda ws: ws.send_str("hello"))
            out["json"] = await close_of(session, url, lambda ws: ws.send_str('{"type": "rewind"}'))

            async def too_long(ws):
                for _ in range(12):  # 1.2 s of audio against a 1 s limit
                    await ws.send_bytes(bytes(3200))
            out["duration"] = await close_of(session, url, too_long)

            async def idle(ws):
                await asyncio.sleep(1.5)
            out["idle"] = await close_of(session, url, idle)

            first = [await session.ws_connect(url + "/ws") for _ in range(2)]
            for ws in first:
                await ws.receive_json()
            third = await session.ws_connect(url + "/ws")
            message = await third.receive()
            out["busy"] = (message.data, message.extra)
            for ws in [*first, third]:
                await ws.close()
            await asyncio.sleep(0.3)
            async with session.get(url + "/health") as response:
                out["health"] = await response.json()
            return out

    with running_server(recognizer, max_streams=2, max_message_bytes=4096, max_stream_seconds=1.0,
                        idle_timeout_s=1.0) as url:
        out = asyncio.run(main(url))
    assert out["oversize"][0] == 1009
    assert out["odd"] == (1007, "binary messages are 16-bit PCM: an even number of bytes")
    assert out["text"][0] == out["json"][0] == 1003
    assert out["duration"] == (1008, "stream longer than 1 s")
    assert out["idle"] == (1001, "idle for 1 s")
    assert out["busy"] == (1013, "server busy: at most 2 streams at once")
    assert out["health"]["status"] == "ok" and out["health"]["streams"] == 0


def test_websocket_origin_is_checked(recognizer):
    async def main(url):
        async with aiohttp.ClientSession() as session:
            codes = {}
            for name, origin in [("foreign", "http://evil.example"), ("same", url),
                                 ("allowed", "https://app.example"), ("other port", "http://127.0.0.1:1")]:
                try:
                    async with session.ws_connect(url + "/ws", headers={"Origin": origin}) as ws:
                        codes[name] = (await ws.receive_json())["type"]
                except aiohttp.WSServerHandshakeError as err:
                    codes[name] = err.status
            return codes

    with running_server(recognizer, allow_origins=("https://app.example",)) as url:
        codes = asyncio.run(main(url))
    assert codes == {"foreign": 403, "same": "ready", "allowed": "ready", "other port": 403}


def test_upload_transcribes_and_rejects_bad_files(recognizer, tiny_corpus, tmp_path):
    utt = read_manifest(tiny_corpus.train)[1]

    async def main(url):
        async with aiohttp.ClientSession() as session:
            form = aiohttp.FormData()
            form.add_field("file", open(utt.audio, "rb"), filename="hello.wav")
            async with session.post(url + "/transcribe", data=form) as r:
                good = (r.status, await r.json())
            async with session.post(url + "/transcribe", data=b"not audio at all" * 10) as r:
                bad = (r.status, await r.json())
            async with session.post(url + "/transcribe", data=bytes(300_000)) as r:
                big = (r.status, await r.json())
            return good, bad, big

    with running_server(recognizer, max_upload_bytes=200_000) as url:
        good, bad, big = asyncio.run(main(url))
    assert good[0] == 200 and good[1]["text"] == utt.text and good[1]["source"] == "hello.wav"
    assert good[1]["words"][0]["word"] == utt.text.split()[0]
    assert bad[0] == 400 and bad[1]["error"].startswith("upload: ") and "/tmp" not in bad[1]["error"]
    assert big[0] == 413


def test_errors_never_show_a_traceback(recognizer, tiny_corpus, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(recognizer.transcriber, "transcribe", broken)
    utt = read_manifest(tiny_corpus.train)[0]

    async def main(url):
        async with aiohttp.ClientSession() as session:
            with open(utt.audio, "rb") as f:
                async with session.post(url + "/transcribe", data=f.read()) as r:
                    return r.status, await r.text()

    with running_server(recognizer) as url:
        status, body = asyncio.run(main(url))
    assert status == 500 and json.loads(body) == {"error": "internal error"}
    assert "Traceback" not in body and "secret" not in body

