"""A visitor and an operator, as real socket.io clients."""

from __future__ import annotations

import hashlib
import queue
import secrets
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
import socketio

# How long a test waits for what it expects: a bound for a hang (the machine
# is shared and slow at times), never a time limit.
WAIT = 30.0


def conversation_id(token: str) -> str:
    """The conversation a widget token opens (as Rasa's widget channel derives it)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


class VisitorRefused(Exception):
    """Rasa answered ``session_refused`` (e.g. too many new conversations)."""


class Visitor:
    """The web widget's side of the visitor protocol (docs/architecture.md):
    a secret token, a socket bound to the token's conversation, messages
    acknowledged once stored.

    ``session_id`` is the conversation id operators and trackers see;
    ``token`` is the secret only this visitor knows.
    """

    def __init__(
        self,
        rasa_url: str,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        source_address: str | None = None,
    ) -> None:
        """``source_address`` (e.g. ``127.0.0.9``) makes this visitor come from
        another loopback address, as another network would."""
        self.token = token or secrets.token_hex(16)
        self._texts: queue.Queue[str] = queue.Queue()
        self.received: list[dict[str, Any]] = []
        answer: queue.Queue[tuple[str, Any]] = queue.Queue()
        options: dict[str, Any] = {}
        if source_address:
            url = urlsplit(rasa_url)
            options["socket"] = socket.create_connection(
                (url.hostname, url.port), source_address=(source_address, 0)
            )
        self.sio = socketio.Client(reconnection=False, websocket_extra_options=options)
        self.sio.on("bot_uttered", self._bot_uttered)
        # "The operator is typing" signals received (bot/operator_messages.py).
        self.typing: queue.Queue[Any] = queue.Queue()
        self.sio.on("operator_typing", self.typing.put)
        self.sio.on("session_confirm", lambda data: answer.put(("confirm", data)))
        self.sio.on("session_refused", lambda data: answer.put(("refused", data)))
        self.sio.connect(rasa_url, transports=["websocket"], headers=headers or {})
        self.sio.emit("session_request", {"session_id": self.token})
        kind, data = answer.get(timeout=WAIT)
        if kind == "refused":
            self.sio.disconnect()
            raise VisitorRefused(data["message"])
        self.confirmed_id = data
        self.token = data
        self.session_id = conversation_id(data)

    def _bot_uttered(self, data: dict[str, Any]) -> None:
        self.received.append(data)
        self._texts.put(data.get("text"))

    def say(
        self, text: str, metadata: dict[str, Any] | None = None, client_id: str | None = None
    ) -> dict[str, Any]:
        """Send a message and wait for its acknowledgement (it is stored then)."""
        payload: dict[str, Any] = {
            "message": text,
            "session_id": self.token,
            "client_id": client_id or uuid.uuid4().hex,
        }
        if metadata is not None:
            payload["metadata"] = metadata
        return self.sio.call("user_uttered", payload, timeout=WAIT)

    def next_text(self, timeout: float = WAIT) -> str:
        return self._texts.get(timeout=timeout)

    def received_nothing(self) -> bool:
        return self._texts.empty()

    def history(self, handoff_url: str) -> requests.Response:
        """The widget's history request: the token in a header, never in the URL."""
        return requests.get(
            f"{handoff_url}/widget/api/history",
            headers={"X-Conversation-Token": self.token},
            timeout=10,
        )

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
            json={"username": username, "password": password, "token": True},
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

    def seen(self, event: str) -> list[Any]:
        """The events of that name received so far and not yet waited for."""
        while True:
            try:
                self._seen.append(self._events.get_nowait())
            except queue.Empty:
                break
        return [data for name, data in self._seen if name == event]

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
