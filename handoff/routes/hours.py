"""Opening hours and holidays in Supervisão (supervisors and admins only):
each room's hours, where they come from and whether it is open now; the
organisation's holidays (the file's, and those added here). And for any
operator, whether their rooms are open (Início shows a closed one)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from handoff.domain import room_hours
from handoff.models import utcnow
from handoff.routes.admin import as_supervisor
from handoff.routes.common import desk, json_body, operator_token

bp = Blueprint("hours", url_prefix="/admin")
own = Blueprint("room_hours")


@own.get("/rooms/hours")
async def my_rooms(request: Request) -> HTTPResponse:
    files = desk(request).hours
    rows = await desk(request).as_operator(
        operator_token(request),
        lambda uow, op: room_hours.operator_rooms_hours(uow.session, files, op, utcnow()),
        read=True,
    )
    return json({"rooms": rows})


@bp.get("/hours")
async def list_hours(request: Request) -> HTTPResponse:
    files = desk(request).hours
    rows = await as_supervisor(
        request, lambda uow, _op: room_hours.all_hours(uow.session, files, utcnow()), read=True
    )
    return json({"rooms": rows})


@bp.put("/rooms/<room_id:int>/hours")
async def set_hours(request: Request, room_id: int) -> HTTPResponse:
    data, files = json_body(request), desk(request).hours
    view = await as_supervisor(
        request,
        lambda uow, op: room_hours.hours_view(
            uow.session, files, room_hours.set_room_hours(uow, op, room_id, data), utcnow()
        ),
    )
    return json({"hours": view})


@bp.get("/holidays")
async def list_holidays(request: Request) -> HTTPResponse:
    files = desk(request).hours
    rows = await as_supervisor(
        request, lambda uow, _op: room_hours.list_holidays(uow.session, files), read=True
    )
    return json({"holidays": rows})


@bp.post("/holidays")
async def add_holiday(request: Request) -> HTTPResponse:
    data, files = json_body(request), desk(request).hours
    holiday_id = await as_supervisor(
        request, lambda uow, op: room_hours.add_holiday(uow, op, files, data).id
    )
    return json({"holiday": {"id": holiday_id}}, status=201)


@bp.delete("/holidays/<holiday_id:int>")
async def delete_holiday(request: Request, holiday_id: int) -> HTTPResponse:
    await as_supervisor(request, lambda uow, op: room_hours.delete_holiday(uow, op, holiday_id))
    return json({"deleted": True})
