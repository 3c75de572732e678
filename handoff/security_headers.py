"""Security headers on every answer of the handoff service (issue 16,
finding 7).

Every answer: ``X-Content-Type-Options: nosniff`` and a ``Referrer-Policy``;
HSTS when the request came over TLS (directly, or through a proxy Sanic is
told to trust). Pages get a Content-Security-Policy: scripts only from the
service's own files (no inline script, no ``eval``), no plugin, no ``<base>``.
The console and the demo page may not be framed; the widget's conversation
frame (``widget/frame.html``) may be framed by any site (the organisation's
sites embed it) and reaches the one Rasa its embedding tag names.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sanic import Request
from sanic.response import BaseHTTPResponse

HSTS = "max-age=31536000; includeSubDomains"
COMMON = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "font-src 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        "form-action 'self'",
    )
)
WIDGET_FRAME = "/widget/frame"
WIDGET_DEMO = ("/widget/", "/widget/index.html")
HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def _origins(url: str) -> str:
    """The origin of ``url``, over HTTP and over websockets; "" unless it is
    a plain http(s) address (nothing else may reach a header)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not HOST.fullmatch(parts.netloc):
        return ""
    socket = "wss" if parts.scheme == "https" else "ws"
    return f"{parts.scheme}://{parts.netloc} {socket}://{parts.netloc}"


def page_policy(request: Request) -> str:
    """The Content-Security-Policy of the page ``request`` asked for."""
    path, settings = request.path, request.app.ctx.settings
    if path.startswith(WIDGET_FRAME):
        # The Rasa the embedding tag names (data-rasa-url), else this installation's.
        asked = _origins(str(request.args.get("rasa", "")))
        rasa = asked or _origins(settings.visitor_rasa_url)
        return f"{COMMON}; style-src 'self'; connect-src 'self' {rasa}; frame-ancestors *"
    page = f"{COMMON}; style-src 'self'; connect-src 'self'; frame-ancestors 'none'"
    return f"{page}; frame-src 'self'" if path in WIDGET_DEMO else page


def add_security_headers(request: Request, response: BaseHTTPResponse) -> None:
    """A response middleware: the headers above on ``response``."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.scheme in ("https", "wss"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    if (response.content_type or "").startswith("text/html"):
        headers["Content-Security-Policy"] = page_policy(request)
        if not request.path.startswith(WIDGET_FRAME):
            headers.setdefault("X-Frame-Options", "DENY")
