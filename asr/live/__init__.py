"""Live transcription front ends over ``asr.streaming``.

``terminal``: ``asr live``, the microphone (sounddevice) or a file played at real-time pace, partial text updating
in place and final lines below. ``server``: ``asr serve``, an HTTP server (aiohttp) with a page that streams the
browser's microphone over a WebSocket, plus file upload. ``common``: the options and model loading both share.
"""
