"""The periodic session check ends dead sessions only: a console that
connects while a check is reading the database is not told its session
ended (it used to be, and a real console then went back to the login)."""

from __future__ import annotations

import time

import pytest
import socketio

from tests.support.api import Client, add_operator, add_room
from tests.support.processes import Service

CONSOLES = 30


@pytest.fixture(scope="module")
def backend() -> str:
    """One engine: the race is between the check and a connecting console, not in the database."""
    return "sqlite"


@pytest.fixture(scope="module")
def handoff_settings() -> dict[str, str]:
    # A check every 10 ms, so that connections keep landing during one.
    return {"HANDOFF_SESSION_CHECK_SECONDS": "0.01"}


def test_consoles_connecting_during_a_session_check_stay_connected(handoff: Service) -> None:
    add_room(handoff, "checagens")
    username = add_operator(handoff, ["checagens"])
    tokens = [Client(handoff, username).token for _ in range(CONSOLES)]  # one session each
    told: list[int] = []
    consoles = []
    for index, token in enumerate(tokens):
        sio = socketio.Client(reconnection=False)
        sio.on("session:ended", lambda _data, index=index: told.append(index))
        sio.connect(handoff.base_url, auth={"token": token}, transports=["websocket"])
        consoles.append(sio)
    time.sleep(0.5)  # many checks after the last connection
    connected = sum(sio.connected for sio in consoles)
    for sio in consoles:
        sio.disconnect()
    assert told == []
    assert connected == CONSOLES
