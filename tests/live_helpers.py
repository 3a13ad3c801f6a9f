"""A live `asr serve` app for tests: on a free loopback port, in a thread with its own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from aiohttp import web

from asr.live.server import App, ServerConfig


@contextlib.contextmanager
def running_server(recognizer, **limits):
    """An `asr serve` app on a free loopback port, in a thread with its own event loop; yields its base URL."""
    config = ServerConfig(port=0, **limits)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    state = {}

    async def start():
        runner = web.AppRunner(App(recognizer, config, "tiny").web_app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state["runner"] = runner
        state["port"] = runner.addresses[0][1]
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True)
    thread.start()
    assert started.wait(30)
    try:
        yield f"http://127.0.0.1:{state['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(state["runner"].cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
