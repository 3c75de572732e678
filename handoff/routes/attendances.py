"""The operator's attendances: queue, take, conversation, private notes,
ready replies, summary, ending (with the closing subjects).

The operator's commands (``handoff.commands.COMMANDS``: list, messages,
take, send, retry, finish, transfer, cancel, notes) are routed from that
table, the same one the console's socket.io events are served from."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from handoff.commands import COMMANDS, Command
from handoff.domain import handovers, ready_replies, records
from handoff.routes.common import desk, json_body, operator_token

bp = Blueprint("attendances")


def command_route(command: Command[Any]) -> Callable[..., Coroutine[Any, Any, HTTPResponse]]:
    """The REST handler of ``command``: its input is the JSON body, if the
    request has one, with the path parameters merged over it; authenticated
    before the input is read, as every route is."""

    async def handle(request: Request, **path: int) -> HTTPResponse:
        token = operator_token(request)
        body = json_body(request) if request.method != "GET" and request.body else {}
        answer = await command.run(desk(request), token, {**body, **path})
        return json(answer, status=command.status)

    return handle


for _command in COMMANDS:
    if _command.route is not None:
        _method, _path = _command.route
        bp.add_route(command_route(_command), _path, methods=[_method], name=_command.name)


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


@bp.get("/attendances/<attendance_id:int>/whatsapp-templates")
async def whatsapp_templates(request: Request, attendance_id: int) -> HTTPResponse:
    """The 24-hour window of a WhatsApp attendance and the templates offered."""
    result = await desk(request).composer_templates(operator_token(request), attendance_id)
    return json(result)


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


@bp.get("/subjects")
async def closing_subjects(request: Request) -> HTTPResponse:
    """The subjects an operator picks from on Finalizar (the subjects file)."""
    await desk(request).as_operator(operator_token(request), lambda _uow, _op: None, read=True)
    return json({"subjects": await desk(request).closing_subjects()})


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
