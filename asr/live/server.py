"""``asr serve``: live transcription in the browser, file uploads, a health check.

    asr serve [--model M] [--host 127.0.0.1] [--port 8000]

Routes:

* ``GET /``: a page that captures the microphone (getUserMedia + an AudioWorklet that resamples to 16 kHz and
  converts to 16-bit PCM), streams it over a WebSocket and shows partial and final text live, with a start/stop
  button and a level meter.
* ``GET /ws``: the WebSocket. The client sends binary messages of 16-bit little-endian mono PCM at 16 kHz (any
  length up to ``--max-message-kb``) and the text message ``{"type": "stop"}`` at the end; the server sends text
  messages ``{"type": "ready"}``, then ``{"type": "partial" | "final", "segment", "start", "end", "text",
  "words"}`` (times in seconds of the stream) and ``{"type": "end"}`` after the last final, then closes.
* ``POST /transcribe``: an audio file as the request body or as a multipart form's file field; answers the JSON
  of ``asr transcribe --format json`` (text, duration, words with times and confidences).
* ``GET /health``: ``{"status": "ok", "streams": N, ...}``.

Why aiohttp: one well-kept asyncio library (aio-libs) that is at once the HTTP server, the WebSocket
implementation (with a message size limit enforced while reading, and close codes) and the HTTP/WebSocket client
the tests and ``bench/live.py`` use; an ASGI stack (Starlette + uvicorn + a WebSocket library + multipart parser)
needs four packages for the same.

Safe by default: binds 127.0.0.1; a WebSocket whose ``Origin`` is not this server's own (or one given with
``--allow-origin``) is refused with 403 (clients that send no Origin, i.e. not browsers, are let in); a binary
message over the size limit closes the stream with 1009, a malformed one (odd byte count, unknown text) with 1007
or 1003; a stream past ``--max-stream-seconds`` of audio with 1008; a stream beyond ``--max-streams`` at once with
1013 ("try again later"); a stream that sends nothing for ``--idle-timeout`` seconds with 1001. Uploads are
limited in bytes (413) and in audio duration (413), and at most two are transcribed at once. An error never shows
a traceback to a client: it is logged here and the client gets a one-line reason.

All streams are served by one engine thread (``Engine``), which owns every ``asr.streaming.Stream``: handlers
hand it audio through a queue, and it feeds each stream, runs the due work of all of them as one batch
(``StreamingRecognizer.step``), and sends each client its own hypotheses. Clients share nothing but the model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import queue
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from aiohttp import WSCloseCode, WSMsgType, web

from asr.errors import ASRError
from asr.live.common import add_model_arguments, load_recognizer

log = logging.getLogger("asr.serve")
STATIC = Path(__file__).with_name("static")
FINISH = object()  # the engine's inbox: end of a stream's audio
DROP = object()  # the client went away: forget the stream


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    allow_origins: tuple[str, ...] = ()  # origins besides the server's own that may open a WebSocket
    max_streams: int = 32  # WebSocket streams at once
    max_message_bytes: int = 64 * 1024  # per WebSocket message (2 s of 16 kHz PCM16)
    max_stream_seconds: float = 3600.0  # audio per WebSocket stream
    idle_timeout_s: float = 30.0  # a stream that sends nothing this long is closed
    max_upload_bytes: int = 50 * 1024 * 1024
    max_upload_seconds: float = 1800.0
    max_concurrent_uploads: int = 2


class Engine:
    """The thread that owns every stream (see the module docstring)."""

    def __init__(self, recognizer):
        self.recognizer = recognizer
        self.inbox: queue.Queue = queue.Queue()
        self.streams: dict[int, tuple] = {}  # id → (Stream, deliver(message dict or None))
        self._next_id = 0
        self._thread = threading.Thread(target=self._loop, name="asr-engine", daemon=True)
        self._stop = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.inbox.put((None, None))
        self._thread.join(timeout=5)

    def open(self, deliver) -> int:
        """A new stream; ``deliver(message)`` is called from the engine thread (None: the stream is over)."""
        self._next_id += 1
        self.inbox.put((self._next_id, deliver))
        return self._next_id

    def feed(self, stream_id: int, samples: np.ndarray) -> None:
        self.inbox.put((stream_id, samples))

    def finish(self, stream_id: int) -> None:
        self.inbox.put((stream_id, FINISH))

    def drop(self, stream_id: int) -> None:
        self.inbox.put((stream_id, DROP))

    def _loop(self) -> None:
        while not self._stop.is_set():
            items = [self.inbox.get()]
            while True:
                try:
                    items.append(self.inbox.get_nowait())
                except queue.Empty:
                    break
            for stream_id, item in items:
                self._apply(stream_id, item)
            busy = [(i, s) for i, (s, _) in self.streams.items() if s.has_work()]
            if busy:
                try:
                    results = self.recognizer.step([s for _, s in busy])
                except Exception:  # a bug: log it, end the streams involved with a generic reason
                    log.exception("decoding failed")
                    for i, _ in busy:
                        _, deliver = self.streams.pop(i)
                        deliver({"type": "error", "message": "internal error while decoding"})
                        deliver(None)
                    continue
                for (i, _), hyps in zip(busy, results):
                    for hyp in hyps:
                        self.streams[i][1](hyp.to_dict())
            for i, (stream, deliver) in list(self.streams.items()):
                if stream.finished and not stream.has_work():
                    del self.streams[i]
                    deliver({"type": "end"})
                    deliver(None)

    def _apply(self, stream_id, item) -> None:
        if stream_id is None:
            return
        if callable(item):  # open
            self.streams[stream_id] = (self.recognizer.stream(), item)
            return
        entry = self.streams.get(stream_id)
        if entry is None:
            return
        if item is DROP:
            del self.streams[stream_id]
        elif item is FINISH:
            entry[0].finish_input()
        else:
            entry[0].feed(item)


# --- handlers ----------------------------------------------------------------------------------------------


def origin_allowed(request: web.Request, config: ServerConfig) -> bool:
    """Same origin as the page (the Host the client asked for), or one of ``allow_origins``; no Origin header
    (a client that is not a browser) is let in, since only browsers can be made to connect by another site."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if origin in config.allow_origins or "*" in config.allow_origins:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == request.host.lower()


class App:
    def __init__(self, recognizer, config: ServerConfig, model_name: str | None = None):
        self.recognizer = recognizer
        self.model_name = model_name
        self.config = config
        self.engine = Engine(recognizer)
        self.streams = 0
        self.uploads = asyncio.Semaphore(config.max_concurrent_uploads)
        self.sample_rate = recognizer.sample_rate

    def web_app(self) -> web.Application:
        app = web.Application(middlewares=[self.errors], client_max_size=self.config.max_upload_bytes)
        app.router.add_get("/", self.index)
        app.router.add_get("/health", self.health)
        app.router.add_get("/ws", self.websocket)
        app.router.add_post("/transcribe", self.transcribe)
        app.router.add_static("/static/", STATIC, show_index=False)
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)
        return app

    async def _start(self, app) -> None:
        self.engine.start()

    async def _stop(self, app) -> None:
        await asyncio.to_thread(self.engine.stop)

    @web.middleware
    async def errors(self, request: web.Request, handler):
        """Every failure becomes a one-line JSON reason; tracebacks stay in the server's log."""
        try:
            response = await handler(request)
        except web.HTTPException as err:
            if err.status < 400:
                raise
            return web.json_response({"error": err.reason if err.text is None or err.text.startswith(str(
                err.status)) else err.text}, status=err.status)
        except Exception:
            log.exception("request %s %s failed", request.method, request.path)
            return web.json_response({"error": "internal error"}, status=500)
        if not isinstance(response, web.WebSocketResponse):
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    async def index(self, request: web.Request) -> web.StreamResponse:
        response = web.FileResponse(STATIC / "index.html")
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'")
        return response

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "streams": self.streams, "max_streams": self.config.max_streams,
                                  "model": self.model_name, "sample_rate": self.sample_rate})

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        c = self.config
        if not origin_allowed(request, c):
            raise web.HTTPForbidden(text="this origin may not open a stream (see asr serve --allow-origin)")
        ws = web.WebSocketResponse(max_msg_size=c.max_message_bytes)
        await ws.prepare(request)
        if self.streams >= c.max_streams:
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER,
                           message=f"server busy: at most {c.max_streams} streams at once".encode())
            return ws
        self.streams += 1
        loop = asyncio.get_running_loop()
        outbox: asyncio.Queue = asyncio.Queue()
        stream_id = self.engine.open(lambda message: loop.call_soon_threadsafe(outbox.put_nowait, message))
        sender = asyncio.create_task(self._send(ws, outbox))
        try:
            await ws.send_json({"type": "ready", "sample_rate": self.sample_rate, "format": "pcm_s16le"})
            await self._receive(ws, stream_id)
            if not ws.closed:  # the client said stop: its last finals, then "end"
                await asyncio.wait_for(asyncio.shield(sender), timeout=c.idle_timeout_s)
        except (TimeoutError, ConnectionError):
            pass
        finally:
            self.streams -= 1
            self.engine.drop(stream_id)
            sender.cancel()
            if not ws.closed:
                await ws.close()
        return ws

    async def _receive(self, ws: web.WebSocketResponse, stream_id: int) -> None:
        """Audio in until the client says stop (or breaks a rule: then the stream is closed with a reason)."""
        c = self.config
        limit = int(c.max_stream_seconds * self.sample_rate)
        received = 0
        while True:
            try:
                msg = await ws.receive(timeout=c.idle_timeout_s)
            except TimeoutError:
                await ws.close(code=WSCloseCode.GOING_AWAY, message=f"idle for {c.idle_timeout_s:g} s".encode())
                return
            if msg.type == WSMsgType.BINARY:
                if len(msg.data) % 2:
                    await ws.close(code=WSCloseCode.INVALID_TEXT,
                                   message=b"binary messages are 16-bit PCM: an even number of bytes")
                    return
                samples = np.frombuffer(msg.data, dtype="<i2").astype(np.float32) / 32768.0
                received += samples.size
                if received > limit:
                    self.engine.finish(stream_id)
                    await ws.close(code=WSCloseCode.POLICY_VIOLATION,
                                   message=f"stream longer than {c.max_stream_seconds:g} s".encode())
                    return
                self.engine.feed(stream_id, samples)
            elif msg.type == WSMsgType.TEXT:
                try:
                    kind = json.loads(msg.data).get("type")
                except (ValueError, AttributeError):
                    kind = None
                if kind != "stop":
                    await ws.close(code=WSCloseCode.UNSUPPORTED_DATA,
                                   message=b'text messages: only {"type": "stop"}')
                    return
                self.engine.finish(stream_id)
                return
            elif msg.type == WSMsgType.ERROR:  # e.g. a message over the size limit: aiohttp closed with 1009
                return
            else:  # the client closed
                return

    async def _send(self, ws: web.WebSocketResponse, outbox: asyncio.Queue) -> None:
        while True:
            message = await outbox.get()
            if message is None:
                if not ws.closed:
                    await ws.close()
                return
            if not ws.closed:
                await ws.send_str(json.dumps(message, ensure_ascii=False))

    async def transcribe(self, request: web.Request) -> web.Response:
        c = self.config
        if request.content_length is not None and request.content_length > c.max_upload_bytes:
            raise web.HTTPRequestEntityTooLarge(max_size=c.max_upload_bytes, actual_size=request.content_length,
                                                text=f"upload larger than {c.max_upload_bytes} bytes")
        fd, tmp = tempfile.mkstemp(prefix="asr-upload-")
        os.close(fd)
        try:
            name = await self._save_upload(request, Path(tmp))
            async with self.uploads:
                transcript = await asyncio.to_thread(self._transcribe_file, Path(tmp), name)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return web.json_response(transcript)

    async def _save_upload(self, request: web.Request, path: Path) -> str:
        """The body (or a multipart form's first file) into ``path``, at most ``max_upload_bytes``."""
        c = self.config
        name = "upload"
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            part = await reader.next()
            while part is not None and not getattr(part, "filename", None):
                part = await reader.next()
            if part is None:
                raise web.HTTPBadRequest(text="the form has no file field")
            name = Path(part.filename).name or name
            source = part
        else:
            source = request.content
        size = 0
        with path.open("wb") as out:
            while True:
                block = await (source.read_chunk(65536) if source is not request.content
                               else source.read(65536))
                if not block:
                    break
                size += len(block)
                if size > c.max_upload_bytes:
                    raise web.HTTPRequestEntityTooLarge(max_size=c.max_upload_bytes, actual_size=size,
                                                        text=f"upload larger than {c.max_upload_bytes} bytes")
                out.write(block)
        if size == 0:
            raise web.HTTPBadRequest(text="empty upload")
        return name

    def _transcribe_file(self, path: Path, name: str) -> dict:
        from asr.audio import AudioError, audio_info

        try:
            info = audio_info(path)
            if info.duration > self.config.max_upload_seconds:
                raise web.HTTPRequestEntityTooLarge(
                    max_size=self.config.max_upload_bytes, actual_size=0,
                    text=f"audio longer than {self.config.max_upload_seconds:g} s")
            transcript = self.recognizer.transcriber.transcribe(path)
        except AudioError as err:  # name the upload, not the temporary file
            raise web.HTTPBadRequest(text=f"{name}: {err.problem}") from None
        transcript.source = name
        return transcript.to_dict()


# --- the command ---------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    d = ServerConfig()
    parser.add_argument("--host", default=d.host, help="address to bind (0.0.0.0 exposes it to the network)")
    parser.add_argument("--port", type=int, default=d.port)
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="another origin whose pages may open streams, e.g. https://example.org (repeatable)")
    parser.add_argument("--max-streams", type=int, default=d.max_streams, help="WebSocket streams at once")
    parser.add_argument("--max-message-kb", type=int, default=d.max_message_bytes // 1024)
    parser.add_argument("--max-stream-seconds", type=float, default=d.max_stream_seconds)
    parser.add_argument("--idle-timeout", type=float, default=d.idle_timeout_s, metavar="SECONDS")
    parser.add_argument("--max-upload-mb", type=float, default=d.max_upload_bytes / 2**20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    if min(args.max_streams, args.max_message_kb, args.max_stream_seconds, args.idle_timeout,
           args.max_upload_mb) <= 0:
        raise ASRError("the limits must be positive")
    return ServerConfig(host=args.host, port=args.port, allow_origins=tuple(args.allow_origin),
                        max_streams=args.max_streams, max_message_bytes=args.max_message_kb * 1024,
                        max_stream_seconds=args.max_stream_seconds, idle_timeout_s=args.idle_timeout,
                        max_upload_bytes=int(args.max_upload_mb * 2**20))


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    recognizer = load_recognizer(args, args.threads or None)
    app = App(recognizer, config, Path(args.model).name).web_app()
    print(f"asr serve: http://{config.host}:{config.port}/ (Ctrl-C stops)", flush=True)
    try:
        web.run_app(app, host=config.host, port=config.port, print=None, access_log=None)
    except OSError as err:
        raise ASRError(f"cannot listen on {config.host}:{config.port}: {err.strerror or err}") from None
    return 0
