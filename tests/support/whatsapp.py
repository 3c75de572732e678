"""Citizens on WhatsApp, as Meta's webhook brings them (shapes from Meta's
published examples), signed with the test stack's app secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import struct
import uuid
import zlib

import pytest
import requests

from tests.support.fake_graph import ACCESS_TOKEN, PHONE_NUMBER_ID, envelope
from tests.support.processes import Stack

# The app secret the test stacks give Rasa (tests/support/processes.py).
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
# The end of the transfer message: the citizen's place in the queue.
PLACE = re.compile(r" Você é o \d+º da fila\..*$")


def without_place(texts: list[str]) -> list[str]:
    """The texts sent, the transfer message without the place in the queue
    (which depends on who else waits and how long the room's calls waited)."""
    return [PLACE.sub("", t) for t in texts]


def media_settings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The handoff service fetches citizens' files from the fake Graph API
    into a folder of the test's own."""
    return {
        "WHATSAPP_ACCESS_TOKEN": ACCESS_TOKEN,
        "HANDOFF_MEDIA_DIR": str(tmp_path_factory.mktemp("media")),
    }


def citizen() -> str:
    """A WhatsApp id (the phone, digits only) of a new citizen."""
    return f"55119{uuid.uuid4().int % 10**8:08d}"


def incoming(
    wa_id: str, message: dict, name: str = "Sheena Nelson", to_number: str = PHONE_NUMBER_ID
) -> dict:
    """Meta's webhook for one message of the citizen ``wa_id`` to the
    published number ``to_number``."""
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
        },
        to_number,
    )


def text(
    wa_id: str, body: str, name: str = "Sheena Nelson", to_number: str = PHONE_NUMBER_ID
) -> dict:
    return incoming(wa_id, {"type": "text", "text": {"body": body}}, name, to_number)


def post(stack: Stack, payload: dict, secret: str | None = APP_SECRET) -> requests.Response:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Hub-Signature-256"] = f"sha256={digest}"
    return requests.post(
        f"{stack.rasa_url}/webhooks/whatsapp/webhook", data=body, headers=headers, timeout=60
    )


def png(width: int = 240, height: int = 150) -> bytes:
    """A PNG image: red and white stripes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    stripes = [b"\xc6\x28\x28", b"\xff\xff\xff"]
    rows = b"".join(b"\x00" + stripes[y // 15 % 2] * width for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def media(wa_id: str, kind: str, **fields: object) -> dict:
    return incoming(wa_id, {"type": kind, kind: fields})
