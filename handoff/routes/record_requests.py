"""The record of a demand on request (Decreto 11.034/2022 art. 12): the
bot's request for a citizen (service token), Supervisão's list and
registration (supervisors), and the signed link that serves the record's
files to whoever holds it."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json, raw

from handoff.db import UnitOfWork
from handoff.domain import record_requests
from handoff.domain.errors import NotFound
from handoff.models import Attendance, Operator, RecordRequest
from handoff.record_files import PDF, read_link, record_json, record_pdf
from handoff.routes.admin import as_supervisor
from handoff.routes.common import desk, json_body, operator_token, require_service, settings

service_bp = Blueprint("record_service")
admin_bp = Blueprint("record_requests", url_prefix="/admin")
files_bp = Blueprint("record_files")
operator_bp = Blueprint("record_operator")


def _answer(request: RecordRequest, protocol: str | None) -> dict[str, Any]:
    return record_requests.request_view(request, protocol, request.requested_at)


@service_bp.post("/records/requests")
async def citizen_request(request: Request) -> HTTPResponse:
    """What the citizen wrote to the bot (``text``, with the protocol and
    perhaps an e-mail address), from their conversation."""
    require_service(request)
    data = json_body(request)

    def work(uow: UnitOfWork) -> dict[str, Any]:
        made = record_requests.citizen_request(
            uow,
            conversation_id=data.get("conversation_id"),
            channel=data.get("channel"),
            text=data.get("text"),
        )
        return _answer(made, record_requests.protocol_number(data.get("text")))

    made = await desk(request).run(work)
    # The deadline as the bot tells it, a day in the organisation's time zone.
    due = datetime.fromisoformat(made["due_at"]).astimezone(ZoneInfo(settings(request).timezone))
    return json({"request": {**made, "due_date": f"{due:%d/%m/%Y}"}}, status=201)


@admin_bp.get("/record-requests")
async def list_requests(request: Request) -> HTTPResponse:
    found = await as_supervisor(
        request, lambda uow, _op: record_requests.list_requests(uow.session), read=True
    )
    return json(found)


@admin_bp.post("/record-requests")
async def register(request: Request) -> HTTPResponse:
    data = json_body(request)

    def work(uow: UnitOfWork, operator: Operator) -> dict[str, Any]:
        made = record_requests.register_request(
            uow,
            operator,
            protocol=data.get("protocol"),
            means=data.get("means"),
            email=data.get("email"),
        )
        return _answer(made, record_requests.protocol_number(data.get("protocol")))

    return json({"request": await as_supervisor(request, work)}, status=201)


@operator_bp.post("/attendances/<attendance_id:int>/record-requests")
async def register_for_attendance(request: Request, attendance_id: int) -> HTTPResponse:
    """An operator registers a request for an attendance of their rooms."""
    data = json_body(request)

    def work(uow: UnitOfWork, operator: Operator) -> dict[str, Any]:
        made = record_requests.register_for_attendance(
            uow, operator, attendance_id, means=data.get("means"), email=data.get("email")
        )
        attendance = uow.session.get(Attendance, made.attendance_id)
        return _answer(made, attendance.protocol if attendance else None)

    made = await desk(request).as_operator(operator_token(request), work)
    return json({"request": made}, status=201)


@admin_bp.post("/record-requests/<request_id:int>/approve")
async def approve(request: Request, request_id: int) -> HTTPResponse:
    done = await as_supervisor(
        request, lambda uow, op: record_requests.approve(uow, op, request_id).status
    )
    return json({"status": done})


@admin_bp.post("/record-requests/<request_id:int>/refuse")
async def refuse(request: Request, request_id: int) -> HTTPResponse:
    done = await as_supervisor(
        request, lambda uow, op: record_requests.refuse(uow, op, request_id).status
    )
    return json({"status": done})


@files_bp.get("/records/<link:str>")
async def record_file(request: Request, link: str) -> HTTPResponse:
    """The PDF (``….pdf``) or JSON (``….json``) of a delivered or pending
    request's record; a forged, expired or refused link is 404."""
    config = settings(request)
    found = read_link(config, link)
    if found is None:
        raise NotFound("Este endereço não é válido ou expirou.")
    request_id, kind = found
    zone = ZoneInfo(config.timezone)
    _request, record = await desk(request).run(
        lambda uow: record_requests.record_for(uow, request_id, zone, how="link")
    )
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Referrer-Policy": "no-referrer",
    }
    name = f"registro-{record['protocolo']}"
    if kind == PDF:
        body = await asyncio.to_thread(record_pdf, record, config.record_font)
        headers["Content-Disposition"] = f'inline; filename="{name}.pdf"'
        return raw(body, content_type="application/pdf", headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="{name}.json"'
    return raw(record_json(record), content_type="application/json", headers=headers)
