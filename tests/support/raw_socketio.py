"""A socket.io connection spoken by hand over a websocket (Engine.IO 4),
to send packets no client library would write: ack ids of any length,
invalid JSON, events that are not ``[name, ...]``."""

from __future__ import annotations

import json
import time
from typing import Any

import websocket

# Generous bound for an answer that must come (never a measured duration).
STUCK_SECONDS = 30


class RawSocket:
    def __init__(self, base_url: str, auth: dict[str, Any] | None = None) -> None:
        url = base_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(url, timeout=STUCK_SECONDS)
        assert self.ws.recv().startswith("0"), "engine.io handshake"
        self.ws.send("40" + (json.dumps(auth) if auth is not None else ""))
        assert self.next_packet().startswith("0"), "socket.io connect"
        self.acks: dict[int, Any] = {}
        self.events: list[list[Any]] = []
        self._next_id = 0

    def next_packet(self) -> str:
        """The next socket.io packet (engine.io pings answered on the way)."""
        while True:
            message = self.ws.recv()
            if message == "2":
                self.ws.send("3")
            elif isinstance(message, str) and message.startswith("4"):
                return message[1:]

    def _read_one(self, deadline: float) -> None:
        if time.monotonic() > deadline:
            raise AssertionError("stuck: no answer from the socket.io server")
        packet = self.next_packet()
        if packet.startswith("3"):  # an ack: 3<id>[args]
            body = packet[1:].lstrip("0123456789")
            args = json.loads(body)
            self.acks[int(packet[1 : len(packet) - len(body)])] = args[0] if args else None
        elif packet.startswith("2"):
            self.events.append(json.loads(packet[1:]))

    def ack(self, ack_id: int) -> Any:
        """The first argument of the ack ``ack_id`` (others are kept)."""
        deadline = time.monotonic() + STUCK_SECONDS
        while ack_id not in self.acks:
            self._read_one(deadline)
        return self.acks.pop(ack_id)

    def event(self, name: str) -> list[Any]:
        """The next event ``name`` the server sent (its arguments)."""
        deadline = time.monotonic() + STUCK_SECONDS
        while True:
            for index, event in enumerate(self.events):
                if event[0] == name:
                    return self.events.pop(index)[1:]
            self._read_one(deadline)

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def call_raw(self, data: str, ack_id: int | None = None) -> Any:
        """Send ``42<id><data>`` and wait for its ack."""
        ack_id = self.next_id() if ack_id is None else ack_id
        self.ws.send(f"42{ack_id}{data}")
        return self.ack(ack_id)

    def call(self, event: str, *args: Any) -> Any:
        return self.call_raw(json.dumps([event, *args]))

    def emit(self, event: str, *args: Any) -> None:
        self.ws.send("42" + json.dumps([event, *args]))

    def close(self) -> None:
        self.ws.close()
