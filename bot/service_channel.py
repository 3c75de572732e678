"""The base of the input channels whose routes only the handoff service
calls (operator messages, conversation messages, the tracker store's
health): configured with the service token in ``credentials.yml``, and
every request must carry it as ``Authorization: Bearer <token>``.

Every refusal of the routes ``bot/`` adds to Rasa is JSON ``{"error":
{"code", "message"}}`` (:func:`refuse`), whatever the request carried: a
header that is not ASCII, a body that is not JSON or nested past Python's
stack (:func:`json_object`)."""

from __future__ import annotations

import hmac
import json
from typing import Any, Dict, Optional

from rasa.core.channels.channel import InputChannel
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from textrules import clean_text


class ServiceInput(InputChannel):
    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        token = (credentials or {}).get("token")
        if not token:
            raise ValueError(f"{cls.name()}: token (the handoff service token) is required")
        return cls(token)

    def __init__(self, token: str) -> None:
        self.token = token

    def refusal(self, request: Request) -> Optional[HTTPResponse]:
        return service_refusal(request, self.token)


def refuse(status: int, code: str, message: str) -> HTTPResponse:
    return response.json({"error": {"code": code, "message": message}}, status=status)


def same_secret(sent: Optional[str], expected: str) -> bool:
    """Constant-time comparison of a header with a secret. Sanic keeps a
    header's bytes that are not ASCII as surrogate escapes, which
    ``hmac.compare_digest`` refuses as text: compared as the bytes sent."""
    return bool(sent) and hmac.compare_digest(
        sent.encode(errors="surrogateescape"), expected.encode()
    )


def service_refusal(request: Request, token: str) -> Optional[HTTPResponse]:
    """401 unless the request carries the service token; None if it does."""
    if same_secret(request.headers.get("authorization"), f"Bearer {token}"):
        return None
    return refuse(401, "unauthorized", "missing or invalid service token")


def json_object(body: bytes) -> Optional[Dict[str, Any]]:
    """The body's JSON object; None if it is not one (not JSON, invalid
    UTF-8, nested past Python's stack, another JSON value)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def is_plain_id(value: Any) -> bool:
    """A conversation or message id that any tracker store can hold: text
    the text rule leaves unchanged (no NUL, no lone surrogate), not empty."""
    return isinstance(value, str) and bool(value) and clean_text(value) == value
