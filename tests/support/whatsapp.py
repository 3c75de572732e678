"""A citizen writing on WhatsApp: Meta's webhook bodies, signed as Meta
signs them, posted to Rasa's channel."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid

import requests

from tests.support.fake_graph import envelope
from tests.support.processes import Stack

# The app secret the test stacks give Rasa (tests/support/processes.py).
APP_SECRET = "test-app-secret"
# The end of the transfer message: the citizen's place in the queue.
PLACE = re.compile(r" Você é o \d+º da fila\..*$")


def without_place(texts: list[str]) -> list[str]:
    """The texts sent, the transfer message without the place in the queue
    (which depends on who else waits and how long the room's calls waited)."""
    return [PLACE.sub("", t) for t in texts]


def citizen() -> str:
    """A WhatsApp id (the phone, digits only) of a new citizen."""
    return f"55119{uuid.uuid4().int % 10**8:08d}"


def incoming(wa_id: str, message: dict, name: str = "Sheena Nelson") -> dict:
    return envelope(
        {
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [
                {
                    "from": wa_id,
                    "id": f"wamid.{uuid.uuid4().hex}",
                    "timestamp": "1749416383",
                    **message,
                }
            ],
        }
    )


def text(wa_id: str, body: str, name: str = "Sheena Nelson") -> dict:
    return incoming(wa_id, {"type": "text", "text": {"body": body}}, name)


def post(stack: Stack, payload: dict, secret: str | None = APP_SECRET) -> requests.Response:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Hub-Signature-256"] = f"sha256={digest}"
    return requests.post(
        f"{stack.rasa_url}/webhooks/whatsapp/webhook", data=body, headers=headers, timeout=60
    )
