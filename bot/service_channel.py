"""The base of the input channels whose routes only the handoff service
calls (operator messages, conversation messages, the tracker store's
health): configured with the service token in ``credentials.yml``, and
every request must carry it as ``Authorization: Bearer <token>``."""

from __future__ import annotations

import hmac
from typing import Any, Dict, Optional

from rasa.core.channels.channel import InputChannel
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse


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


def service_refusal(request: Request, token: str) -> Optional[HTTPResponse]:
    """401 unless the request carries the service token; None if it does."""
    header = request.headers.get("authorization", "")
    if hmac.compare_digest(header, f"Bearer {token}"):
        return None
    return response.json({"error": "unauthorized"}, status=401)
