"""What the processes are tuned for under load (issue 15): connections
kept alive from Rasa to the action server are let go by Rasa first (a
burst after a quiet moment must not go out on a connection the server is
closing: Rasa dropped 43 handoffs that way at the start of the bench's
1,000 conversations; Rasa's own server keeps them 120 s, longer than any
client here)."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.support.processes import Stack


@pytest.fixture(scope="module")
def backend() -> str:
    """One engine: nothing here depends on it."""
    return "sqlite"


# Longer than the 5 s after which Sanic 21.12 closes an idle connection by
# default, shorter than aiohttp's client keep-alive (15 s, what Rasa uses).
IDLE_SECONDS = 7


def get_health_twice(base_url: str, idle: float) -> tuple[bytes, bytes]:
    """Two GET /health on one connection, ``idle`` seconds apart: each answer's
    first bytes (b"" once the server has closed the connection)."""
    url = urlsplit(base_url)
    request = f"GET /health HTTP/1.1\r\nHost: {url.hostname}\r\n\r\n".encode()
    with socket.create_connection((url.hostname, url.port), timeout=30) as connection:
        answers = []
        for pause in (0, idle):
            time.sleep(pause)
            try:
                connection.sendall(request)
                answers.append(connection.recv(65536)[:15])
            except OSError:
                answers.append(b"")
        return answers[0], answers[1]


def test_the_action_server_keeps_rasa_s_idle_connection(stack: Stack):
    (actions,) = [s for s in stack.services if s.name == "actions"]
    first, second = get_health_twice(actions.base_url, IDLE_SECONDS)
    assert first == second == b"HTTP/1.1 200 OK"
