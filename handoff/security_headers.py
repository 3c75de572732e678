"""Security headers on every answer of the handoff service (issue 16,
finding 7).

Every answer: ``X-Content-Type-Options: nosniff`` and a ``Referrer-Policy``;
HSTS when the request came over TLS (directly, or through a proxy Sanic is
told to trust). Pages get a Content-Security-Policy: scripts only from the
service's own files (no inline script, no ``eval``), no plugin, no ``<base>``.
The console may not be framed; the widget's conversation frame may be framed
by any site (the widget is embedded by the organisation's sites) and reaches
Rasa; the demo page is an organisation's site and keeps its inline styles.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sanic import Request
from sanic.response import HTTPResponse

from handoff.settings import Settings

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


def _rasa_origins(url: str) -> str:
    """Rasa's origin, over HTTP and over websockets."""
    parts = urlsplit(url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{parts.scheme}://{parts.netloc} {scheme}://{parts.netloc}"


def page_policy(path: str, settings: Settings) -> str:
    """The Content-Security-Policy of the page at ``path``."""
    rasa = _rasa_origins(settings.visitor_rasa_url)
    if path.startswith(WIDGET_FRAME):
        return f"{COMMON}; style-src 'self'; connect-src 'self' {rasa}; frame-ancestors *"
    if path in WIDGET_DEMO:
        return (
            f"{COMMON}; style-src 'self' 'unsafe-inline'; frame-src 'self';"
            f" connect-src 'self' {rasa}; frame-ancestors 'none'"
        )
    return f"{COMMON}; style-src 'self'; connect-src 'self'; frame-ancestors 'none'"


def add_security_headers(request: Request, response: HTTPResponse) -> None:
    """A response middleware: the headers above on ``response``."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.scheme in ("https", "wss"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    if (response.content_type or "").startswith("text/html"):
        headers["Content-Security-Policy"] = page_policy(request.path, request.app.ctx.settings)
        if not request.path.startswith(WIDGET_FRAME):
            headers.setdefault("X-Frame-Options", "DENY")
