"""Calls from the Rasa side: the custom actions and the event broker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from handoff import channel_resend, rasa_events
from handoff.db import UnitOfWork
from handoff.domain import access, conversation, receipts, surveys, views
from handoff.routes.common import desk, json_body, require_service, settings

bp = Blueprint("integration")


@bp.post("/attendances")
async def open_attendance(request: Request) -> HTTPResponse:
    require_service(request)
    data = json_body(request)
    contact, first = data.get("contact"), data.get("first_message")
    default_room = settings(request).default_room
    attendance, created, place = await desk(request).open_attendance(
        conversation_id=data.get("conversation_id"),
        channel=data.get("channel"),
        room=data.get("room"),
        default_room=default_room,
        entry_point=data.get("entry_point"),
        contact=contact if isinstance(contact, dict) else None,
        first_message=rasa_events.customer_said(first) if isinstance(first, dict) else None,
    )
    return json(
        {"attendance": views.attendance_view(attendance), "created": created, "queue": place},
        status=201 if created else 200,
    )


@bp.post("/rasa/events")
async def broker_events(request: Request) -> HTTPResponse:
    require_service(request)
    batch = rasa_events.batch(json_body(request, list))
    stored = await desk(request).record_rasa_events(batch)
    return json({"stored": stored})


@bp.post("/rasa/dead-letters")
async def rasa_dead_letters(request: Request) -> HTTPResponse:
    """Events Rasa's broker gave up on (the events route kept refusing
    them): set aside for a supervisor, never refused for their content."""
    require_service(request)
    batch = rasa_events.dead_letters(json_body(request, list))
    stored = await desk(request).run(lambda uow: conversation.set_aside_events(uow, batch))
    return json({"stored": stored})


@bp.post("/rasa/started")
async def rasa_started(request: Request) -> HTTPResponse:
    """Rasa's event broker announces a (re)start: what the previous Rasa
    process stored but never forwarded is imported from its tracker."""
    require_service(request)
    await desk(request).reconcile()
    return json({"reconciling": True}, status=202)


@bp.post("/channel/receipts")
async def channel_receipts(request: Request) -> HTTPResponse:
    """Ids and delivery statuses of operator messages, from a channel (WhatsApp)."""
    require_service(request)
    body = json_body(request, list)
    changed = await desk(request).run(lambda uow: receipts.record_receipts(uow, body))
    return json({"changed": changed})


@bp.post("/channel/undelivered")
async def channel_undelivered(request: Request) -> HTTPResponse:
    """A bot message the channel could not send now: queued for a re-send
    in order with the conversation's other messages (handoff/channel_resend.py)."""
    require_service(request)
    data = json_body(request)
    await desk(request).run(lambda uow: channel_resend.enqueue_undelivered(uow, data))
    return json({"queued": True}, status=202)


@bp.get("/conversations/<conversation_id:str>/attendance")
async def open_attendance_of(request: Request, conversation_id: str) -> HTTPResponse:
    """Whether the conversation is with a human now (the bot must stay silent)."""
    require_service(request)
    attendance = await desk(request).read(
        lambda uow: access.open_attendance_of(uow.session, conversation_id)
    )
    return json(
        {
            "open": attendance is not None,
            "attendance": views.attendance_view(attendance) if attendance else None,
        }
    )


@bp.post("/surveys/rating")
async def survey_rating(request: Request) -> HTTPResponse:
    """The customer's 1-5 rating of a finished attendance (the bot's action)."""
    return await _survey_answer(request, surveys.record_rating)


@bp.post("/surveys/comment")
async def survey_comment(request: Request) -> HTTPResponse:
    """The comment after the rating, or the customer's "Pular" (``skip``)."""
    return await _survey_answer(request, surveys.record_comment)


async def _survey_answer(
    request: Request, record: Callable[[UnitOfWork, Any], str]
) -> HTTPResponse:
    """A survey answer from the bot's actions (actions/survey.py): what became of it."""
    require_service(request)
    data = json_body(request)
    outcome = await desk(request).run(lambda uow: record(uow, data))
    return json({"outcome": outcome})
