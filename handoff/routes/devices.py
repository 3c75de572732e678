"""The known-device cookie (OWASP's "device cookie"): set on a successful
login, it names the browser (a random id) and the account, signed with a
key derived from ``HANDOFF_SERVICE_TOKEN`` (shared by every process). A
login that carries a valid one for its username is counted apart from an
attacker's failures elsewhere (:meth:`handoff.rate_limits.RateLimits.check_login`)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sanic import Request
from sanic.response import HTTPResponse

from handoff.routes.common import settings

DEVICE_COOKIE = "handoff_device"
DEVICE_COOKIE_DAYS = 180


def _signature(request: Request, username: str, device: str) -> str:
    key = hmac.new(settings(request).service_token.encode(), b"known-device", hashlib.sha256)
    message = f"{username.lower()}|{device}".encode(errors="surrogateescape")
    return hmac.new(key.digest(), message, hashlib.sha256).hexdigest()


def known_device(request: Request, username: str) -> str | None:
    """The device id of the request's cookie if it was set by a login to ``username``."""
    device, _, signature = (request.cookies.get(DEVICE_COOKIE) or "").partition(".")
    if not device or not signature:
        return None
    expected = _signature(request, username, device)
    if not hmac.compare_digest(signature.encode(errors="surrogateescape"), expected.encode()):
        return None
    return device


def remember_device(
    request: Request, response: HTTPResponse, username: str, device: str | None
) -> None:
    """After a successful login: this browser is a known device of ``username``."""
    device = device or secrets.token_hex(16)
    response.add_cookie(
        DEVICE_COOKIE,
        f"{device}.{_signature(request, username, device)}",
        path="/api/auth",
        max_age=DEVICE_COOKIE_DAYS * 24 * 3600,
        httponly=True,
        samesite="Strict",
        secure=request.scheme == "https",
    )
