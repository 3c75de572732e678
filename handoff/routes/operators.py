"""Login, logout, the operator's own profile and availability (O1)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from handoff.domain.errors import Invalid
from handoff.domain.operators import login, operator_view, pause_reasons
from handoff.routes.common import bearer, desk, json_body, settings

bp = Blueprint("operators")


@bp.post("/auth/login")
async def login_route(request: Request) -> HTTPResponse:
    data = json_body(request)
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise Invalid("username and password are required")
    ttl = settings(request).session_ttl_seconds
    token, operator = await desk(request).run(lambda uow: login(uow, username, password, ttl))
    return json({"token": token, "operator": operator_view(operator)})


@bp.post("/auth/logout")
async def logout_route(request: Request) -> HTTPResponse:
    await desk(request).logout(bearer(request))
    return json({"ok": True})


@bp.get("/me")
async def me(request: Request) -> HTTPResponse:
    view = await desk(request).as_operator(
        bearer(request),
        lambda uow, op: {**operator_view(op), "pause_reasons": pause_reasons(uow.session)},
    )
    return json(view)


@bp.post("/me/status")
async def change_status(request: Request) -> HTTPResponse:
    data = json_body(request)
    view = await desk(request).change_status(
        bearer(request), data.get("status"), data.get("reason")
    )
    return json(view)
