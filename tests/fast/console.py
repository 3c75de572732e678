"""An operator's console connection, as python-socketio's client."""

from __future__ import annotations

import queue
from typing import Any

import socketio

# A bound for a hang, never a measure.
WAIT = 30.0


class Console:
    """Calls the console's events and keeps every event the server pushes."""

    def __init__(self, base_url: str, token: str) -> None:
        self._events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", lambda name, data: self._events.put((name, data)))
        self.sio.connect(base_url, transports=["websocket"], auth={"token": token})

    def call(self, name: str, data: Any = None) -> dict[str, Any]:
        """The acknowledgement of an event."""
        answer: dict[str, Any] = self.sio.call(name, data, timeout=WAIT)
        return answer

    def next(self, name: str, **fields: Any) -> dict[str, Any]:
        """The next pushed ``name`` event whose payload has ``fields``."""
        while True:
            pushed, data = self._events.get(timeout=WAIT)
            if pushed == name and all(data.get(k) == v for k, v in fields.items()):
                return dict(data)

    def close(self) -> None:
        self.sio.disconnect()
