"""Origins (issue 8): both socket.io servers, Rasa's widget channel and the
handoff console's, accept only configured origins; an engine.io handshake
from another origin is refused, over long-polling and over websocket.

SQLite only: the origin is checked on the HTTP request, before any
database is touched, so the backend cannot change the answer."""

from __future__ import annotations

import json

import pytest
import requests
import websocket

from tests.support.processes import Stack

pytestmark = pytest.mark.slow

EVIL = "http://evil.example"
# Another site allowed to open the console (HANDOFF_ALLOWED_ORIGINS).
CONSOLE_SITE = "https://console.example.gov.br"


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def stack_settings() -> dict[str, str]:
    return {"HANDOFF_ALLOWED_ORIGINS": CONSOLE_SITE}


def polling(base_url: str, origin: str) -> requests.Response:
    return requests.get(
        f"{base_url}/socket.io/",
        params={"EIO": "4", "transport": "polling"},
        headers={"Origin": origin},
        timeout=10,
    )


def close(base_url: str, sid: str, origin: str) -> None:
    """Close a long-polling session (engine.io "close" packet)."""
    requests.post(
        f"{base_url}/socket.io/",
        params={"EIO": "4", "transport": "polling", "sid": sid},
        data="1",
        headers={"Origin": origin},
        timeout=10,
    ).raise_for_status()


def websocket_open(base_url: str, origin: str) -> str:
    """The first engine.io frame of a websocket handshake from ``origin``."""
    url = base_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    connection = websocket.create_connection(url, origin=origin, timeout=10)
    try:
        return connection.recv()
    finally:
        connection.close()


def servers(stack: Stack) -> dict[str, tuple[str, list[str]]]:
    """Each socket.io server and the origins it must accept."""
    return {
        # The organisation's site (WIDGET_ALLOWED_ORIGINS) and the demo page.
        "widget": (stack.rasa_url, [stack.site_url, stack.handoff_url]),
        # The console's own origin and HANDOFF_ALLOWED_ORIGINS.
        "console": (stack.handoff_url, [stack.handoff_url, CONSOLE_SITE]),
    }


@pytest.mark.parametrize("server", ["widget", "console"])
def test_a_handshake_from_another_origin_is_refused(stack: Stack, server: str):
    url, _allowed = servers(stack)[server]
    refused = polling(url, EVIL)
    assert refused.status_code == 400
    assert "not an accepted origin" in refused.text
    assert "Access-Control-Allow-Origin" not in refused.headers
    with pytest.raises(websocket.WebSocketBadStatusException) as error:
        websocket_open(url, EVIL)
    assert error.value.status_code == 400


@pytest.mark.parametrize("server", ["widget", "console"])
def test_configured_origins_are_accepted(stack: Stack, server: str):
    url, allowed = servers(stack)[server]
    for origin in allowed:
        answer = polling(url, origin)
        assert answer.status_code == 200, (origin, answer.text)
        assert answer.text.startswith("0{")  # engine.io "open" with the session id
        assert answer.headers["Access-Control-Allow-Origin"] == origin
        close(url, json.loads(answer.text[1:])["sid"], origin)
        assert websocket_open(url, origin).startswith("0{")
