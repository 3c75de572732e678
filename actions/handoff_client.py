"""The handoff service's API as the custom actions use it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, Optional
from urllib.parse import quote

import requests

TIMEOUT_SECONDS = 5


class HandoffUnavailable(Exception):
    """The handoff service did not accept the request."""


@dataclass(frozen=True)
class OpenedAttendance:
    id: int
    created: bool
    # The customer's place in the queue, in pt-BR ("Você é o 2º da fila. ..."), or "".
    queue_text: str = ""


def _call(method: str, path: str, payload: Optional[Dict[str, Any]] = None) -> requests.Response:
    base = os.environ.get("HANDOFF_URL", "http://127.0.0.1:8000").rstrip("/")
    token = os.environ.get("HANDOFF_SERVICE_TOKEN", "")  # make run generates it
    try:
        return requests.request(
            method,
            f"{base}{path}",
            json=payload,
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT_SECONDS,
        )
    except requests.RequestException as error:
        raise HandoffUnavailable(repr(error)) from error


def open_attendance(
    conversation_id: str,
    channel: str,
    contact: Dict[str, Any],
    first_message: Optional[Dict[str, Any]] = None,
    entry_point: Optional[Dict[str, str]] = None,
) -> OpenedAttendance:
    """Queue the conversation for a human; idempotent for an open attendance.
    The handoff service routes it by ``entry_point`` (configured by the
    organisation); the action never names a room."""
    response = _call(
        "POST",
        "/api/attendances",
        {
            "conversation_id": conversation_id,
            "channel": channel,
            "contact": contact,
            "first_message": first_message,
            "entry_point": entry_point,
        },
    )
    if response.status_code not in (200, 201):
        raise HandoffUnavailable(f"HTTP {response.status_code}: {response.text[:300]}")
    body = response.json()
    place = body.get("queue") or {}
    text = place.get("text") if isinstance(place, dict) else None
    return OpenedAttendance(
        body["attendance"]["id"], response.status_code == 201, text if isinstance(text, str) else ""
    )


def has_open_attendance(conversation_id: str) -> bool:
    """Whether a human is attending this conversation now."""
    response = _call("GET", f"/api/conversations/{quote(conversation_id, safe='')}/attendance")
    if response.status_code != 200:
        raise HandoffUnavailable(f"HTTP {response.status_code}: {response.text[:300]}")
    return bool(response.json()["open"])


def answer_survey(kind: str, answer: Dict[str, Any]) -> str:
    """Hand the customer's survey answer (``kind``: ``rating`` or
    ``comment``) to the handoff service; what became of it: ``stored``,
    ``already_answered`` or ``closed``."""
    response = _call("POST", f"/api/surveys/{kind}", answer)
    if response.status_code != 200:
        raise HandoffUnavailable(f"HTTP {response.status_code}: {response.text[:300]}")
    return str(response.json().get("outcome"))


class RecordRefused(Exception):
    """The handoff service refused the request (no such protocol, no
    protocol given): ``message`` says why, in pt-BR, for the citizen."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def request_record(conversation_id: str, channel: str, text: str) -> Dict[str, Any]:
    """Ask for the record of a demand in the citizen's words (protocol, and
    an e-mail address if they want it by e-mail); the stored request."""
    response = _call(
        "POST",
        "/api/records/requests",
        {"conversation_id": conversation_id, "channel": channel, "text": text},
    )
    if response.status_code in (400, 404):
        raise RecordRefused(str(response.json()["error"]["message"]))
    if response.status_code != 201:
        raise HandoffUnavailable(f"HTTP {response.status_code}: {response.text[:300]}")
    return dict(response.json()["request"])
