"""The handoff service's API as the custom actions use it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, Optional

import requests

TIMEOUT_SECONDS = 5


class HandoffUnavailable(Exception):
    """The handoff service did not accept the request."""


@dataclass(frozen=True)
class OpenedAttendance:
    id: int
    created: bool


def _base_url() -> str:
    return os.environ.get("HANDOFF_URL", "http://127.0.0.1:8000").rstrip("/")


def open_attendance(
    conversation_id: str,
    channel: str,
    contact: Dict[str, Any],
    room: Optional[str] = None,
    first_message: Optional[Dict[str, Any]] = None,
) -> OpenedAttendance:
    """Queue the conversation for a human; idempotent for an open attendance."""
    payload = {
        "conversation_id": conversation_id,
        "channel": channel,
        "room": room,
        "contact": contact,
        "first_message": first_message,
    }
    token = os.environ.get("HANDOFF_SERVICE_TOKEN", "dev-service-token")
    try:
        response = requests.post(
            f"{_base_url()}/api/attendances",
            json=payload,
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT_SECONDS,
        )
    except requests.RequestException as error:
        raise HandoffUnavailable(repr(error)) from error
    if response.status_code not in (200, 201):
        raise HandoffUnavailable(f"HTTP {response.status_code}: {response.text[:300]}")
    return OpenedAttendance(response.json()["attendance"]["id"], response.status_code == 201)
