"""The operator's attendances: queue, take, conversation, private notes,
ready replies, summary, ending (with the closing subjects)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from handoff.domain import attendances, conversation, handovers, ready_replies, records, views
from handoff.models import CANCELLED, FINISHED
from handoff.routes.common import desk, json_body, operator_token

bp = Blueprint("attendances")


@bp.get("/attendances")
async def list_attendances(request: Request) -> HTTPResponse:
    result = await desk(request).as_operator(
        operator_token(request),
        lambda uow, op: attendances.operator_attendances(uow.session, op),
        read=True,
    )
    return json(result)


@bp.get("/attendances/<attendance_id:int>/messages")
async def messages(request: Request, attendance_id: int) -> HTTPResponse:
    rows = await desk(request).as_operator(
        operator_token(request),
        lambda uow, op: conversation.attendance_messages(uow.session, op, attendance_id),
        read=True,
    )
    return json({"messages": rows})


@bp.get("/attendances/<attendance_id:int>/summary")
async def summary(request: Request, attendance_id: int) -> HTTPResponse:
    result = await desk(request).as_operator(
        operator_token(request),
        lambda uow, op: records.attendance_summary(uow.session, op, attendance_id),
        read=True,
    )
    return json(result)


@bp.get("/protocols/<protocol:str>")
async def by_protocol(request: Request, protocol: str) -> HTTPResponse:
    record = await desk(request).viewed(
        operator_token(request),
        lambda uow, op: records.view_protocol(uow, op, protocol),
    )
    return json(record)


@bp.post("/attendances/<attendance_id:int>/take")
async def take(request: Request, attendance_id: int) -> HTTPResponse:
    attendance = await desk(request).take(operator_token(request), attendance_id)
    return json({"attendance": views.attendance_view(attendance)})


@bp.post("/attendances/<attendance_id:int>/messages")
async def send(request: Request, attendance_id: int) -> HTTPResponse:
    data = json_body(request)
    result = await desk(request).send_message(
        operator_token(request),
        attendance_id,
        data.get("text"),
        data.get("client_id"),
        data.get("template"),
        data.get("parameters"),
    )
    return json(result, status=201)


@bp.get("/attendances/<attendance_id:int>/whatsapp-templates")
async def whatsapp_templates(request: Request, attendance_id: int) -> HTTPResponse:
    """The 24-hour window of a WhatsApp attendance and the templates offered."""
    result = await desk(request).composer_templates(operator_token(request), attendance_id)
    return json(result)


@bp.post("/messages/<message_id:int>/retry")
async def retry(request: Request, message_id: int) -> HTTPResponse:
    return json(await desk(request).retry(operator_token(request), message_id))


@bp.post("/attendances/<attendance_id:int>/finish")
async def finish(request: Request, attendance_id: int) -> HTTPResponse:
    """Optional body: {subject, comment}, the closing classification, and
    {pending_until, pending_reason} to end it as a pending demand."""
    data = json_body(request) if request.body else {}
    view = await desk(request).end(
        operator_token(request),
        attendance_id,
        FINISHED,
        data.get("subject"),
        data.get("comment"),
        views.pending_of(data),
    )
    return json({"attendance": view})


@bp.get("/demands")
async def pending_demands(request: Request) -> HTTPResponse:
    """The pending demands of the operator's rooms (``late``: past due)."""
    return json({"demands": await desk(request).pending_demands(operator_token(request))})


@bp.post("/demands/<attendance_id:int>/conclude")
async def conclude_demand(request: Request, attendance_id: int) -> HTTPResponse:
    """Body: {answer}; the customer is told on their channel."""
    data = json_body(request)
    view = await desk(request).conclude_demand(
        operator_token(request), attendance_id, data.get("answer")
    )
    return json({"attendance": view})


@bp.get("/attendances/<attendance_id:int>/transfer-targets")
async def transfer_targets(request: Request, attendance_id: int) -> HTTPResponse:
    """The rooms, each with its operators who could take the call now."""
    result = await desk(request).as_operator(
        operator_token(request),
        lambda uow, op: handovers.transfer_targets(uow.session, op, attendance_id),
        read=True,
    )
    return json(result)


@bp.post("/attendances/<attendance_id:int>/transfer")
async def transfer(request: Request, attendance_id: int) -> HTTPResponse:
    """Body: {room_id?, operator_id?, note?}."""
    data = json_body(request)
    view = await desk(request).transfer(
        operator_token(request),
        attendance_id,
        data.get("room_id"),
        data.get("operator_id"),
        data.get("note"),
    )
    return json({"attendance": view})


@bp.get("/subjects")
async def closing_subjects(request: Request) -> HTTPResponse:
    """The subjects an operator picks from on Finalizar (the subjects file)."""
    await desk(request).as_operator(operator_token(request), lambda _uow, _op: None, read=True)
    return json({"subjects": await desk(request).closing_subjects()})


@bp.post("/attendances/<attendance_id:int>/notes")
async def add_note(request: Request, attendance_id: int) -> HTTPResponse:
    """A private note {text, client_id}: never delivered to the customer."""
    data = json_body(request)
    note = await desk(request).add_note(
        operator_token(request), attendance_id, data.get("text"), data.get("client_id")
    )
    return json({"note": note}, status=201)


@bp.get("/attendances/<attendance_id:int>/replies")
async def replies(request: Request, attendance_id: int) -> HTTPResponse:
    """The ready replies of the attendance's room, its variables filled in."""
    await desk(request).reload_ready_replies_if_changed()
    rows = await desk(request).as_operator(
        operator_token(request),
        lambda uow, op: ready_replies.replies_for_attendance(uow.session, op, attendance_id),
        read=True,
    )
    return json({"replies": rows})


@bp.post("/attendances/<attendance_id:int>/cancel")
async def cancel(request: Request, attendance_id: int) -> HTTPResponse:
    view = await desk(request).end(operator_token(request), attendance_id, CANCELLED)
    return json({"attendance": view})
