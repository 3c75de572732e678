"""A visitor and an operator, as real socket.io clients."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests
import socketio

WAIT = 20.0


class Visitor:
    """The web widget's side: Rasa's socket.io channel with a persistent session."""

    def __init__(self, rasa_url: str, session_id: str | None = None) -> None:
        self.session_id = session_id or uuid.uuid4().hex
        self._texts: queue.Queue[str] = queue.Queue()
        confirmed: queue.Queue[str] = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("bot_uttered", lambda data: self._texts.put(data.get("text")))
        self.sio.on("session_confirm", confirmed.put)
        self.sio.connect(rasa_url, transports=["websocket"])
        self.sio.emit("session_request", {"session_id": self.session_id})
        self.confirmed_id = confirmed.get(timeout=WAIT)

    def say(self, text: str, metadata: dict[str, Any] | None = None) -> None:
        payload: dict[str, Any] = {"message": text, "session_id": self.session_id}
        if metadata is not None:
            payload["metadata"] = metadata
        self.sio.emit("user_uttered", payload)

    def next_text(self, timeout: float = WAIT) -> str:
        return self._texts.get(timeout=timeout)

    def received_nothing(self) -> bool:
        return self._texts.empty()

    def close(self) -> None:
        self.sio.disconnect()


class Operator:
    """The console's side: REST login, then socket.io with the session token."""

    def __init__(
        self, handoff_url: str, username: str = "operador", password: str = "atendimento123"
    ) -> None:
        self.url = handoff_url
        response = requests.post(
            f"{handoff_url}/api/auth/login",
            json={"username": username, "password": password},
            timeout=10,
        )
        response.raise_for_status()
        self.token = response.json()["token"]
        requests.post(
            f"{handoff_url}/api/me/status",
            json={"status": "available"},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        ).raise_for_status()
        self._events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._seen: list[tuple[str, Any]] = []
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", lambda event, data: self._events.put((event, data)))
        self.sio.connect(handoff_url, auth={"token": self.token}, transports=["websocket"])

    def call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        return self.sio.call(event, data, timeout=WAIT)

    def wait_for(
        self, event: str, match: Callable[[Any], bool] = lambda _data: True, timeout: float = WAIT
    ) -> Any:
        """The first event of that name (seen before or arriving) that matches."""
        for index, (name, data) in enumerate(self._seen):
            if name == event and match(data):
                del self._seen[index]
                return data
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {event} event; saw {self._seen}")
            try:
                name, data = self._events.get(timeout=remaining)
            except queue.Empty:
                continue
            if name == event and match(data):
                return data
            self._seen.append((name, data))

    def customer_texts(self, attendance_id: int, expected: str, timeout: float = WAIT) -> list[str]:
        """The customer's messages in the attendance's history, once ``expected`` is there."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.get(f"/api/attendances/{attendance_id}/messages").json()["messages"]
            texts = [m["text"] for m in rows if m["direction"] == "customer"]
            if expected in texts or time.monotonic() > deadline:
                return texts
            time.sleep(0.3)

    def get(self, path: str) -> requests.Response:
        return requests.get(
            f"{self.url}{path}", headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )

    def close(self) -> None:
        self.sio.disconnect()
