"""What every route needs: the desk, the JSON body, the caller's identity."""

from __future__ import annotations

import hmac
from typing import Any

from sanic import Request
from sanic.exceptions import SanicException

from handoff.desk import Desk
from handoff.domain.errors import Invalid, Unauthorized
from handoff.settings import Settings


def desk(request: Request) -> Desk:
    return request.app.ctx.desk


def settings(request: Request) -> Settings:
    return request.app.ctx.settings


def json_body(request: Request, kind: type = dict) -> Any:
    try:
        data = request.json
    except SanicException as error:
        raise Invalid("request body is not valid JSON") from error
    if not isinstance(data, kind):
        raise Invalid(f"request body must be a JSON {'object' if kind is dict else 'array'}")
    return data


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token")
    return token


def require_service(request: Request) -> None:
    """Calls from the custom actions and the event broker carry the service token."""
    if not hmac.compare_digest(bearer(request), settings(request).service_token):
        raise Unauthorized("invalid service token")


def int_arg(request: Request, name: str) -> int | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as error:
        raise Invalid(f"{name} must be a number", field=name) from error
