"""The widget's side of Rasa's socket.io channel, for thousands of visitors
on one event loop.

Everything the load generator knows about the visitor protocol
(docs: /tmp/briefs/protocol.md, `widget/frame.js`) is in this module: the
secret conversation token sent in `session_request`, `user_uttered` with a
`client_id` and an ack callback, and `bot_uttered` carrying the text. The
floor's echo server (`bench/echo_server.py`) speaks the same events.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import socketio

CONNECT_TIMEOUT = 10.0


def new_token() -> str:
    """A conversation token as the widget makes one (>= 128 bits, URL-safe)."""
    return secrets.token_urlsafe(24)


class Visitor:
    """One widget: a socket.io client bound to one conversation token."""

    def __init__(self, url: str, on_text: Callable[[str, float], None]) -> None:
        # Rasa under a path (the cluster's https://host/rasa): its socket.io
        # is at that path + /socket.io, as the widget dials it.
        address = urlsplit(url)
        self.url = f"{address.scheme}://{address.netloc}"
        self.path = f"{address.path.rstrip('/')}/socket.io"
        self.token = new_token()
        self.handshake_seconds = float("nan")  # connect to session_confirm
        self.refusals: list[Any] = []  # acks with ok false, session refusals
        self._on_text = on_text
        self._answered = asyncio.Event()
        # The cluster's certificate is self-signed.
        self.sio = socketio.AsyncClient(reconnection=False, ssl_verify=False)
        self.sio.on("session_confirm", self._confirm)
        self.sio.on("session_refused", self._refused)
        self.sio.on("bot_uttered", self._uttered)

    async def _confirm(self, _data: Any = None) -> None:
        self._answered.set()

    async def _refused(self, data: Any = None) -> None:
        self.refusals.append(data)
        self._answered.set()

    async def _uttered(self, data: Any) -> None:
        text = data.get("text") if isinstance(data, dict) else None
        if isinstance(text, str):
            self._on_text(text, time.time())

    def _ack(self, *answer: Any) -> None:
        if not (answer and isinstance(answer[0], dict) and answer[0].get("ok")):
            self.refusals.append(answer)

    async def connect(self) -> None:
        started = time.monotonic()
        await self.sio.connect(
            self.url,
            transports=["websocket"],
            socketio_path=self.path,
            wait_timeout=CONNECT_TIMEOUT,
        )
        await self.sio.emit("session_request", {"session_id": self.token})
        await asyncio.wait_for(self._answered.wait(), CONNECT_TIMEOUT)
        if self.refusals:
            raise RuntimeError(f"session refused: {self.refusals[0]}")
        self.handshake_seconds = time.monotonic() - started

    async def say(self, text: str, metadata: dict[str, Any] | None = None) -> None:
        payload: dict[str, Any] = {
            "message": text,
            "session_id": self.token,
            "client_id": uuid.uuid4().hex,
        }
        if metadata is not None:
            payload["metadata"] = metadata
        await self.sio.emit("user_uttered", payload, callback=self._ack)

    async def close(self) -> None:
        await self.sio.disconnect()
