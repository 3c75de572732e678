"""GET /health: is the database reachable, does Rasa answer."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.log import logger
from sanic.response import HTTPResponse, json
from sqlalchemy import text

from handoff.routes.common import desk

bp = Blueprint("health")


@bp.get("/health")
async def health(request: Request) -> HTTPResponse:
    """Reports the database and Rasa; 503 without a database."""
    try:
        await desk(request).run(lambda uow: uow.session.execute(text("SELECT 1")))
        database = "ok"
    except Exception as error:  # noqa: BLE001 - any failure means unreachable
        logger.warning("health: database unreachable: %r", error)
        database = "unreachable"
    rasa = "ok" if await desk(request).rasa.is_reachable() else "unreachable"
    status = "ok" if database == rasa == "ok" else "degraded"
    return json(
        {"status": status, "database": database, "rasa": rasa},
        status=200 if database == "ok" else 503,
    )
