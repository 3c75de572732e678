"""A local stand-in for Meta's Graph API (the only service this machine
cannot reach). It speaks the documented shapes of
``POST /{version}/{phone_number_id}/messages`` and records what it got."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACCESS_TOKEN = "test-access-token"
PHONE_NUMBER_ID = "106540352242922"


class FakeGraph:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.failures_left = 0  # answer this many sends with HTTP 500 first
        self.outside_window: set[str] = set()  # recipients past the 24-hour window
        self._lock = threading.Condition()
        graph = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, answer = graph._answer(self.path, self.headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

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
        with self._lock:
            if self.failures_left > 0:
                self.failures_left -= 1
                return 500, {"error": {"message": "An unknown error occurred", "code": 1}}
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
        self.server.shutdown()
