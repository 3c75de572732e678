"""Administration and supervision (supervisors and admins only): operators,
rooms, entry points, pause reasons, ready replies, the live view, reports,
protocol lookup and reloading the content editors' files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json, text

from handoff import outbox
from handoff.db import UnitOfWork
from handoff.domain import admin, ready_replies, records, reports
from handoff.models import Operator, utcnow
from handoff.routes.common import desk, json_body, operator_token, settings

bp = Blueprint("admin", url_prefix="/admin")


async def as_supervisor(
    request: Request,
    work: Callable[[UnitOfWork, Operator], Any],
    read: bool = False,
    viewed: bool = False,
) -> Any:
    """Run ``work`` for a supervisor or admin; 403 for anyone else.
    ``read``: work that only reads (in a read-only transaction);
    ``viewed``: a read of personal data that logs it (``Desk.viewed``)."""

    def checked(uow: UnitOfWork, operator: Operator) -> Any:
        admin.require_supervisor(operator)
        return work(uow, operator)

    if viewed:
        return await desk(request).viewed(operator_token(request), checked)
    return await desk(request).as_operator(operator_token(request), checked, read=read)


@bp.get("/operators")
async def operators(request: Request) -> HTTPResponse:
    rows = await as_supervisor(
        request, lambda uow, _op: admin.list_operators(uow.session), read=True
    )
    return json({"operators": rows})


@bp.post("/operators")
async def create_operator(request: Request) -> HTTPResponse:
    data = json_body(request)
    view = await as_supervisor(
        request,
        lambda uow, op: admin.admin_operator_view(
            uow.session, admin.create_operator(uow, op, data)
        ),
    )
    return json({"operator": view}, status=201)


@bp.put("/operators/<operator_id:int>")
async def update_operator(request: Request, operator_id: int) -> HTTPResponse:
    data = json_body(request)
    view = await as_supervisor(
        request,
        lambda uow, op: admin.admin_operator_view(
            uow.session, admin.update_operator(uow, op, operator_id, data)
        ),
    )
    return json({"operator": view})


@bp.post("/operators/<operator_id:int>/status")
async def operator_status(request: Request, operator_id: int) -> HTTPResponse:
    status = json_body(request).get("status")
    view = await as_supervisor(
        request,
        lambda uow, op: admin.admin_operator_view(
            uow.session, admin.change_operator_status(uow, op, operator_id, status)
        ),
    )
    return json({"operator": view})


@bp.get("/rooms")
async def rooms(request: Request) -> HTTPResponse:
    def work(uow: UnitOfWork, _op: Operator) -> dict[str, Any]:
        return {
            "rooms": admin.list_rooms(uow.session),
            "entry_points": admin.list_entry_points(uow.session),
            "pause_reasons": admin.list_pause_reasons(uow.session),
        }

    return json(await as_supervisor(request, work, read=True))


@bp.post("/rooms")
async def create_room(request: Request) -> HTTPResponse:
    data = json_body(request)
    view = await as_supervisor(
        request, lambda uow, op: admin.room_view(admin.create_room(uow, op, data))
    )
    return json({"room": view}, status=201)


@bp.put("/rooms/<room_id:int>")
async def update_room(request: Request, room_id: int) -> HTTPResponse:
    data = json_body(request)
    view = await as_supervisor(
        request, lambda uow, op: admin.room_view(admin.update_room(uow, op, room_id, data))
    )
    return json({"room": view})


@bp.post("/entry-points")
async def entry_point(request: Request) -> HTTPResponse:
    data = json_body(request)
    entry = await as_supervisor(request, lambda uow, op: admin.set_entry_point(uow, op, data))
    return json({"entry_point": {"kind": entry.kind, "key": entry.key, "room_id": entry.room_id}})


@bp.post("/pause-reasons")
async def pause_reason(request: Request) -> HTTPResponse:
    data = json_body(request)
    reason = await as_supervisor(request, lambda uow, op: admin.set_pause_reason(uow, op, data))
    return json({"pause_reason": {"label": reason.label, "active": reason.active}})


@bp.get("/live")
async def live(request: Request) -> HTTPResponse:
    rooms = await as_supervisor(request, lambda uow, _op: reports.live_view(uow.session), read=True)
    return json({"rooms": rooms})


@bp.get("/reports")
async def report(request: Request) -> HTTPResponse:
    """?start=YYYY-MM-DD&end=YYYY-MM-DD[&format=csv]"""
    zone = settings(request).timezone

    def work(uow: UnitOfWork, _op: Operator) -> dict[str, Any]:
        first, last = reports.parse_period(
            request.args.get("start"), request.args.get("end"), utcnow().date()
        )
        return reports.report(uow.session, first, last, zone)

    data = await as_supervisor(request, work, read=True)
    if request.args.get("format") == "csv":
        name = f"relatorio-{data['start']}-{data['end']}.csv"
        return text(
            reports.report_csv(data),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return json(data)


@bp.get("/protocols/<protocol:str>")
async def protocol(request: Request, protocol: str) -> HTTPResponse:
    """Any attendance by protocol, whole; ?download=1 to save it as JSON."""
    record = await as_supervisor(
        request,
        lambda uow, op: records.view_protocol(uow, op, protocol, any_room=True),
        viewed=True,
    )
    headers = {}
    if request.args.get("download"):
        headers["Content-Disposition"] = (
            f'attachment; filename="protocolo-{record["protocol"]}.json"'
        )
    return json(record, headers=headers)


@bp.post("/content/reload")
async def reload_content(request: Request) -> HTTPResponse:
    """Reload the knowledge-base and ready-reply files now; a broken file
    changes nothing of its kind."""
    await as_supervisor(request, lambda _uow, _op: None)
    changed = await desk(request).reload_knowledge_base()
    replies = await desk(request).reload_ready_replies()
    # The hours files are read when used: checked here, named when broken.
    await as_supervisor(request, lambda uow, _op: desk(request).hours.check(uow.session), read=True)
    return json({"changed": changed, "ready_replies_changed": replies})


@bp.get("/ready-replies")
async def list_ready_replies(request: Request) -> HTTPResponse:
    await desk(request).reload_ready_replies_if_changed()
    rows = await as_supervisor(
        request, lambda uow, _op: ready_replies.list_replies(uow.session), read=True
    )
    return json({"ready_replies": rows})


@bp.post("/ready-replies")
async def create_ready_reply(request: Request) -> HTTPResponse:
    data = json_body(request)
    view = await as_supervisor(
        request,
        lambda uow, op: ready_replies.reply_view(ready_replies.create_reply(uow, op, data)),
    )
    return json({"ready_reply": view}, status=201)


@bp.put("/ready-replies/<reply_id:int>")
async def update_ready_reply(request: Request, reply_id: int) -> HTTPResponse:
    data = json_body(request)
    view = await as_supervisor(
        request,
        lambda uow, op: ready_replies.reply_view(
            ready_replies.update_reply(uow, op, reply_id, data)
        ),
    )
    return json({"ready_reply": view})


@bp.delete("/ready-replies/<reply_id:int>")
async def delete_ready_reply(request: Request, reply_id: int) -> HTTPResponse:
    await as_supervisor(request, lambda uow, op: ready_replies.delete_reply(uow, op, reply_id))
    return json({"deleted": reply_id})


@bp.get("/dead-letters")
async def dead_letters(request: Request) -> HTTPResponse:
    """Work the outbox set aside after too many failures."""
    rows = await as_supervisor(request, lambda uow, _op: outbox.dead_letters(uow.session))
    return json({"dead_letters": rows})


@bp.post("/dead-letters/<job_id:int>/retry")
async def retry_dead_letter(request: Request, job_id: int) -> HTTPResponse:
    view = await as_supervisor(request, lambda uow, op: outbox.retry_dead(uow, op.id, job_id))
    return json({"dead_letter": view})


@bp.post("/dead-letters/<job_id:int>/discard")
async def discard_dead_letter(request: Request, job_id: int) -> HTTPResponse:
    view = await as_supervisor(request, lambda uow, op: outbox.discard_dead(uow, op.id, job_id))
    return json({"dead_letter": view})
