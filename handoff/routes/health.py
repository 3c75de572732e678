"""GET /health: is the database reachable, does Rasa answer, does Rasa's
tracker store answer (or has it kept conversations only in memory)."""

from __future__ import annotations

import asyncio
from typing import Any

from sanic import Blueprint, Request
from sanic.log import logger
from sanic.response import HTTPResponse, json
from sqlalchemy import text

from handoff.rasa_client import RasaUnavailable
from handoff.routes.common import desk

bp = Blueprint("health")


@bp.get("/health")
async def health(request: Request) -> HTTPResponse:
    """Reports the database, Rasa and Rasa's tracker store; 503 without a database."""
    try:
        await desk(request).run(lambda uow: uow.session.execute(text("SELECT 1")))
        database = "ok"
    except Exception as error:  # noqa: BLE001 - any failure means unreachable
        logger.warning("health: database unreachable: %r", error)
        database = "unreachable"
    reachable, tracker_store = await asyncio.gather(
        desk(request).rasa.is_reachable(), _tracker_store(request)
    )
    rasa = "ok" if reachable else "unreachable"
    healthy = database == rasa == tracker_store["state"] == "ok"
    return json(
        {
            "status": "ok" if healthy else "degraded",
            "database": database,
            "rasa": rasa,
            "rasa_tracker_store": tracker_store,
        },
        status=200 if database == "ok" else 503,
    )


async def _tracker_store(request: Request) -> dict[str, Any]:
    """``state``: ok, unavailable (Rasa refuses messages until it is back),
    in_memory (Rasa fell back to memory: what it holds is lost on restart)
    or unknown; plus how many failures Rasa counted since it started."""
    try:
        report = await desk(request).rasa.tracker_store_health()
    except RasaUnavailable as error:
        logger.warning("health: Rasa's tracker store health unknown: %s", error)
        return {"state": "unknown"}
    if report.get("in_memory_conversations"):
        state = "in_memory"
    else:
        state = "ok" if report.get("tracker_store") == "ok" else "unavailable"
    return {
        "state": state,
        "failures": report.get("failures", 0),
        "last_failure": report.get("last_failure"),
        "in_memory_conversations": report.get("in_memory_conversations", 0),
    }
