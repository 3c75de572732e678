"""REST routes. Each parses and authorises, then calls one desk or domain
function; typed domain errors become JSON errors in :func:`install_errors`."""

from __future__ import annotations

import hmac
from typing import Any

from sanic import Blueprint, Request, Sanic
from sanic.exceptions import SanicException
from sanic.log import logger
from sanic.response import HTTPResponse, json
from sqlalchemy import text

from handoff.desk import Desk
from handoff.domain import attendances
from handoff.domain.errors import DomainError, Invalid, Unauthorized
from handoff.domain.operators import login, logout, operator_view, set_status
from handoff.models import CANCELLED, FINISHED
from handoff.settings import Settings

api = Blueprint("api", url_prefix="/api")
health_bp = Blueprint("health")


def _desk(request: Request) -> Desk:
    return request.app.ctx.desk


def _settings(request: Request) -> Settings:
    return request.app.ctx.settings


def _body(request: Request) -> dict[str, Any]:
    try:
        data = request.json
    except SanicException as error:
        raise Invalid("request body is not valid JSON") from error
    if not isinstance(data, dict):
        raise Invalid("request body must be a JSON object")
    return data


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token")
    return token


def _require_service(request: Request) -> None:
    """Calls from the custom actions and the event broker carry the service token."""
    if not hmac.compare_digest(_bearer(request), _settings(request).service_token):
        raise Unauthorized("invalid service token")


@health_bp.get("/health")
async def health(request: Request) -> HTTPResponse:
    """Reports whether the database and Rasa answer; 503 without a database."""
    desk = _desk(request)
    try:
        await desk.run(lambda uow: uow.session.execute(text("SELECT 1")))
        database = "ok"
    except Exception as error:  # noqa: BLE001 - any failure means unreachable
        logger.warning("health: database unreachable: %r", error)
        database = "unreachable"
    rasa = "ok" if await desk.rasa.is_reachable() else "unreachable"
    status = "ok" if database == rasa == "ok" else "degraded"
    return json(
        {"status": status, "database": database, "rasa": rasa},
        status=200 if database == "ok" else 503,
    )


# --- operators


@api.post("/auth/login")
async def login_route(request: Request) -> HTTPResponse:
    data = _body(request)
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise Invalid("username and password are required")
    ttl = _settings(request).session_ttl_seconds
    token, operator = await _desk(request).run(lambda uow: login(uow, username, password, ttl))
    return json({"token": token, "operator": operator_view(operator)})


@api.post("/auth/logout")
async def logout_route(request: Request) -> HTTPResponse:
    token = _bearer(request)
    await _desk(request).run(lambda uow: logout(uow, token))
    return json({"ok": True})


@api.get("/me")
async def me(request: Request) -> HTTPResponse:
    view = await _desk(request).as_operator(_bearer(request), lambda _uow, op: operator_view(op))
    return json(view)


@api.post("/me/status")
async def change_status(request: Request) -> HTTPResponse:
    data = _body(request)
    status, reason = data.get("status"), data.get("reason")

    def work(uow, operator):  # noqa: ANN001
        set_status(uow, operator, status, reason)
        return operator_view(operator)

    return json(await _desk(request).as_operator(_bearer(request), work))


@api.get("/attendances")
async def list_attendances(request: Request) -> HTTPResponse:
    result = await _desk(request).as_operator(
        _bearer(request), lambda uow, op: attendances.operator_attendances(uow.session, op)
    )
    return json(result)


@api.get("/attendances/<attendance_id:int>/messages")
async def messages(request: Request, attendance_id: int) -> HTTPResponse:
    rows = await _desk(request).as_operator(
        _bearer(request),
        lambda uow, op: attendances.attendance_messages(uow.session, op, attendance_id),
    )
    return json({"messages": rows})


@api.post("/attendances/<attendance_id:int>/take")
async def take(request: Request, attendance_id: int) -> HTTPResponse:
    attendance = await _desk(request).as_operator(
        _bearer(request), lambda uow, op: attendances.take_attendance(uow, op, attendance_id)
    )
    return json({"attendance": attendances.attendance_view(attendance)})


@api.post("/attendances/<attendance_id:int>/messages")
async def send(request: Request, attendance_id: int) -> HTTPResponse:
    data = _body(request)
    result = await _desk(request).send_message(
        _bearer(request), attendance_id, data.get("text"), data.get("client_id")
    )
    return json(result, status=201)


@api.post("/attendances/<attendance_id:int>/finish")
async def finish(request: Request, attendance_id: int) -> HTTPResponse:
    view = await _desk(request).end(_bearer(request), attendance_id, FINISHED)
    return json({"attendance": view})


@api.post("/attendances/<attendance_id:int>/cancel")
async def cancel(request: Request, attendance_id: int) -> HTTPResponse:
    view = await _desk(request).end(_bearer(request), attendance_id, CANCELLED)
    return json({"attendance": view})


# --- integration: custom actions and the Rasa event broker


@api.post("/attendances")
async def open_attendance(request: Request) -> HTTPResponse:
    _require_service(request)
    data = _body(request)
    default_room = _settings(request).default_room
    attendance, created = await _desk(request).run(
        lambda uow: attendances.open_attendance(
            uow,
            conversation_id=data.get("conversation_id"),
            channel=data.get("channel"),
            room=data.get("room"),
            default_room=default_room,
            contact=data.get("contact") if isinstance(data.get("contact"), dict) else None,
            first_message=data.get("first_message")
            if isinstance(data.get("first_message"), dict)
            else None,
        )
    )
    return json(
        {"attendance": attendances.attendance_view(attendance), "created": created},
        status=201 if created else 200,
    )


@api.post("/rasa/events")
async def rasa_events(request: Request) -> HTTPResponse:
    _require_service(request)
    try:
        events = request.json
    except SanicException as error:
        raise Invalid("request body is not valid JSON") from error
    stored = await _desk(request).run(lambda uow: attendances.record_rasa_events(uow, events))
    return json({"stored": stored})


def install_errors(app: Sanic) -> None:
    """Every error leaves as JSON ``{"error": {"code", "message"}}``."""

    @app.exception(DomainError)
    async def domain_error(_request: Request, error: DomainError) -> HTTPResponse:
        return json({"error": error.as_dict()}, status=error.status)

    @app.exception(SanicException)
    async def sanic_error(_request: Request, error: SanicException) -> HTTPResponse:
        code = "not_found" if error.status_code == 404 else "bad_request"
        return json({"error": {"code": code, "message": str(error)}}, status=error.status_code)

    @app.exception(Exception)
    async def unexpected(request: Request, error: Exception) -> HTTPResponse:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return json({"error": {"code": "internal", "message": "internal error"}}, status=500)
