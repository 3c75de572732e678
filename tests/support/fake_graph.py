"""A local stand-in for Meta's Graph API (the only service this machine
cannot reach). It speaks the documented shapes of
``POST /{version}/{phone_number_id}/messages`` and records what it got."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACCESS_TOKEN = "test-access-token"
PHONE_NUMBER_ID = "106540352242922"


class FakeGraph:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.failures_left = 0  # answer this many sends with HTTP 500 first
        self.hangs_left = 0  # then hold this many sends unanswered ...
        self.hang_seconds = 30.0  # ... this long (past the client's time-out)
        # Each failed send: (monotonic time it arrived, recipient, HTTP status;
        # 0 for a hang). Successful ones are in ``sent``.
        self.attempts: list[tuple[float, str, int]] = []
        self._released = threading.Event()
        self.outside_window: set[str] = set()  # recipients past the 24-hour window
        self._lock = threading.Condition()
        graph = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, answer = graph._answer(self.path, self.headers, body)
                if status == 0:
                    return  # hung: the client gave up long ago
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up on a hung request

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_port}/v21.0"

    def _answer(self, path: str, headers: Any, body: dict) -> tuple[int, dict]:
        if path != f"/v21.0/{PHONE_NUMBER_ID}/messages":
            return 404, {"error": {"message": "Unknown path", "code": 100}}
        if headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            return 401, {"error": {"message": "Invalid OAuth access token.", "code": 190}}
        status, answer = self._fault(str(body.get("to")))
        if status is not None:
            return status, answer
        if body.get("to") in self.outside_window:
            return 400, {
                "error": {
                    "message": "Re-engagement message",
                    "type": "OAuthException",
                    "code": 131047,
                    "error_data": {"details": "More than 24 hours have passed"},
                }
            }
        wamid = f"wamid.{uuid.uuid4().hex}"
        with self._lock:
            self.sent.append({**body, "id": wamid})
            self._lock.notify_all()
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
            "messages": [{"id": wamid}],
        }

    def _fault(self, recipient: str) -> tuple[int | None, dict]:
        """A 500 or a hang (never answered) while some are left; None otherwise."""
        with self._lock:
            arrived = time.monotonic()
            if self.failures_left > 0:
                self.failures_left -= 1
                self.attempts.append((arrived, recipient, 500))
                return 500, {"error": {"message": "An unknown error occurred", "code": 1}}
            if self.hangs_left <= 0:
                return None, {}
            self.hangs_left -= 1
            self.attempts.append((arrived, recipient, 0))
        self._released.wait(self.hang_seconds)
        return 0, {}

    def attempts_to(self, recipient: str) -> list[tuple[float, int]]:
        """When each failed send to ``recipient`` arrived, and its status (0: hung)."""
        with self._lock:
            return [(at, status) for at, to, status in self.attempts if to == recipient]

    def texts_to(self, recipient: str) -> list[str]:
        return [m["text"]["body"] for m in self.sent if m.get("to") == recipient]

    def wait_for_text(self, recipient: str, fragment: str, timeout: float = 20) -> dict:
        """The first message to ``recipient`` containing ``fragment``."""
        with self._lock:
            found = self._lock.wait_for(
                lambda: next(
                    (
                        m
                        for m in self.sent
                        if m.get("to") == recipient and fragment in m["text"]["body"]
                    ),
                    None,
                ),
                timeout,
            )
        if found is None:
            raise TimeoutError(f"no '{fragment}' to {recipient}; sent: {self.texts_to(recipient)}")
        return found

    def close(self) -> None:
        self._released.set()
        self.server.shutdown()
