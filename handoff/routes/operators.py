"""Login, logout, the operator's own profile, password and availability (O1)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from handoff.domain.errors import Invalid
from handoff.domain.operators import operator_view, pause_reasons
from handoff.routes.common import (
    client_address,
    csrf_token,
    desk,
    json_body,
    operator_token,
    set_session_cookie,
    settings,
)
from handoff.routes.devices import known_device, remember_device

bp = Blueprint("operators")


@bp.post("/auth/login")
async def login_route(request: Request) -> HTTPResponse:
    """Opens a session: the token in the HttpOnly cookie (for the console),
    with the session's CSRF token; in the answer too only when the body asks
    for it with ``"token": true`` (bearer clients), so a page's script never
    sees it."""
    data = json_body(request)
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise Invalid("username and password are required")
    device = known_device(request, username)
    token, operator = await desk(request).login(username, password, client_address(request), device)
    answer = {"csrf_token": csrf_token(token), "operator": operator_view(operator)}
    if data.get("token") is True:
        answer["token"] = token
    response = json(answer)
    set_session_cookie(request, response, token, settings(request).session_ttl_seconds)
    remember_device(request, response, username, device)
    return response


@bp.post("/auth/logout")
async def logout_route(request: Request) -> HTTPResponse:
    await desk(request).logout(operator_token(request))
    response = json({"ok": True})
    set_session_cookie(request, response, "", 0)
    return response


@bp.get("/me")
async def me(request: Request) -> HTTPResponse:
    """The operator, the pause reasons, and the session's CSRF token (the
    console asks for it after a reload: only a page of this origin can
    read this answer)."""
    token = operator_token(request)
    view = await desk(request).as_operator(
        token,
        lambda uow, op: {**operator_view(op), "pause_reasons": pause_reasons(uow.session)},
        read=True,
    )
    return json({**view, "csrf_token": csrf_token(token)})


@bp.post("/me/status")
async def change_status(request: Request) -> HTTPResponse:
    data = json_body(request)
    view = await desk(request).change_status(
        operator_token(request), data.get("status"), data.get("reason")
    )
    return json(view)


@bp.post("/me/password")
async def change_password(request: Request) -> HTTPResponse:
    """{current_password, new_password}: every other session ends."""
    token = operator_token(request)
    data = json_body(request)
    operator = await desk(request).change_password(
        token, data.get("current_password"), data.get("new_password")
    )
    return json({"operator": operator_view(operator)})
