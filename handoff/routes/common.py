"""What every route needs: the desk, the JSON body, the caller's identity.

Operators authenticate in one of two ways:

- the console: the session cookie (HttpOnly, SameSite=Strict) set at login;
  every state-changing request must also carry the session's CSRF token in
  ``X-CSRF-Token`` (a page of another site can make the browser send the
  cookie with a form post, but cannot read the token);
- other clients (tests, integrations): ``Authorization: Bearer <token>``,
  which a browser never adds by itself, so no CSRF token is needed.

Login and every cookie-authenticated state-changing request must also be
``Content-Type: application/json`` (a cross-site form can only send
text/plain, urlencoded or multipart) and, when they carry ``Origin``, come
from the service's own origin or ``HANDOFF_ALLOWED_ORIGINS``
(:func:`browser_guard`, run before every handler): a page elsewhere, even on another port of the
same host (same site, so SameSite does not help), cannot log the console
into the attacker's account nor post with the victim's cookie.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, TypeVar, cast

from sanic import Request
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse

from handoff.desk import Desk
from handoff.domain.errors import Forbidden, Invalid, Unauthorized, UnsupportedMediaType
from handoff.domain.operators import SESSION_ENDED
from handoff.settings import Settings
from textrules import MAX_DEPTH, TooDeep, clean_json

SESSION_COOKIE = "handoff_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What an HTML form of any site may send without CORS's preflight.
FORM_TYPES = frozenset(
    {"", "application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)
T = TypeVar("T")


def desk(request: Request) -> Desk:
    return cast(Desk, request.app.ctx.desk)


def settings(request: Request) -> Settings:
    return cast(Settings, request.app.ctx.settings)


def json_body(request: Request, kind: type = dict) -> Any:
    """The request's JSON body, its text made storable by the text rule
    (``textrules``: lone surrogates become U+FFFD, NUL and other controls
    go), so every caller (console, custom actions, Rasa's event broker)
    stores the same text on SQLite and PostgreSQL. A body nested deeper
    than ``textrules.MAX_DEPTH`` is refused like one that is not JSON."""
    try:
        data = request.json
    except SanicException as error:
        raise Invalid("request body is not valid JSON") from error
    if not isinstance(data, kind):
        raise Invalid(f"request body must be a JSON {'object' if kind is dict else 'array'}")
    try:
        return clean_json(data)
    except TooDeep as error:
        raise Invalid(f"request body is nested deeper than {MAX_DEPTH} levels") from error


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token")
    return token


def csrf_token(session_token: str) -> str:
    """The session's CSRF token: an HMAC keyed by the session token itself,
    so it needs no server secret and cannot be made without the token."""
    key = session_token.encode(errors="surrogateescape")
    return hmac.new(key, b"csrf", hashlib.sha256).hexdigest()


def operator_token(request: Request) -> str:
    """The operator's session token: the bearer token if the request has an
    Authorization header, else the session cookie, CSRF-checked."""
    if "authorization" in request.headers:
        return bearer(request)
    token = str(request.cookies.get(SESSION_COOKIE) or "")
    if not token:
        raise Unauthorized(SESSION_ENDED)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "").encode(errors="surrogateescape")
        if not hmac.compare_digest(sent, csrf_token(token).encode()):
            raise Forbidden(
                "Pedido recusado: falta o token de segurança (X-CSRF-Token) desta sessão."
                " Recarregue a página."
            )
    return token


LOGIN_PATH = "/api/auth/login"


async def browser_guard(request: Request) -> None:
    """Before any handler: login, and a state-changing API request that the
    session cookie authenticates, must be JSON from an origin of the service."""
    if request.method in SAFE_METHODS or not request.path.startswith("/api/"):
        return
    by_cookie = SESSION_COOKIE in request.cookies and "authorization" not in request.headers
    if request.path == LOGIN_PATH or by_cookie:
        _require_own_page(request)


def _require_own_page(request: Request) -> None:
    origin = request.headers.get("origin")
    own = f"{request.scheme}://{request.host}"
    if origin is not None and origin != own and origin not in settings(request).console_origins:
        raise Forbidden("Pedido recusado: ele veio de uma página de outra origem.")
    content_type = request.content_type.split(";")[0].strip().lower()
    if content_type == "application/json":
        return
    # A file's own type on a file route: no form of another site can send
    # one without the browser asking first (CORS), as for JSON.
    if not (request.route and request.route.extra.stream and content_type not in FORM_TYPES):
        raise UnsupportedMediaType("Pedido recusado: o conteúdo deve ser JSON (application/json).")


def set_session_cookie(request: Request, response: HTTPResponse, token: str, ttl: int) -> None:
    """HttpOnly (no script reads it), SameSite=Strict (no other site sends
    it), Secure when the request came over TLS (directly, or through a proxy
    trusted by Sanic's forwarded settings). An empty token and no time
    left delete it."""
    response.add_cookie(
        SESSION_COOKIE,
        token,
        path="/",
        max_age=ttl,
        httponly=True,
        samesite="Strict",
        secure=request.scheme == "https",
    )


def client_address(request: Request) -> str:
    """The caller's address: the forwarded one only when Sanic is told to
    trust a proxy (SANIC_PROXIES_COUNT, SANIC_REAL_IP_HEADER or
    SANIC_FORWARDED_SECRET), else the peer of the connection."""
    return request.remote_addr or request.ip


def require_service(request: Request) -> None:
    """Calls from the custom actions and the event broker carry the service token."""
    sent = bearer(request).encode(errors="surrogateescape")
    if not hmac.compare_digest(sent, settings(request).service_token.encode()):
        raise Unauthorized("invalid service token")


def int_arg(request: Request, name: str) -> int | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as error:
        raise Invalid(f"{name} must be a number", field=name) from error
