"""GET /health: the state of each dependency of the handoff service.

``checks`` holds one entry per dependency, ``{"ok": bool, "error"?: str}``:
the database (it answers a read and, on SQLite, no other process holds its
write lock), Rasa, Rasa's tracker store (or has Rasa kept conversations
only in memory) and, when ``HANDOFF_REDIS_URL`` is set, Redis. ``status``
is ``ok`` when every check is, else ``degraded``; the HTTP status is 503
when the database, the one dependency nothing works without, is not ok
(Rasa or Redis away: the service degrades and goes on).

The checks run concurrently, each with its own time-out, so the answer
comes within ``CHECK_SECONDS`` whatever a dependency does. A database check
blocked in its worker thread is reported as not answering and left to
finish; the next requests wait for that one instead of starting more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from redis import asyncio as aioredis
from sanic import Blueprint, Request
from sanic.log import logger
from sanic.response import HTTPResponse, json
from sqlalchemy import text

from handoff.desk import Desk
from handoff.rasa_client import RasaUnavailable
from handoff.routes.common import desk, settings

bp = Blueprint("health")
# Each check gets this long; /health answers within it (plus a few ms).
CHECK_SECONDS = 1.5
# How long the SQLite probe waits for the write lock (writers hold it for
# milliseconds; another process's backup or long write, for longer).
WRITE_LOCK_PROBE_SECONDS = 0.5
NOT_ANSWERING = f"no answer within {CHECK_SECONDS} s"


@bp.get("/health")
async def health(request: Request) -> HTTPResponse:
    """Reports each dependency; 503 without a working database."""
    checks: dict[str, Awaitable[dict[str, Any]]] = {
        "database": _database(request),
        "rasa": _rasa(desk(request)),
        "rasa_tracker_store": _tracker_store(desk(request)),
    }
    if settings(request).redis_url:
        checks["redis"] = _redis(settings(request).redis_url)
    names = list(checks)
    results = dict(zip(names, await asyncio.gather(*map(_within, checks.values())), strict=True))
    for name, result in results.items():
        if not result["ok"]:
            logger.warning("health: %s not ok: %s", name, result.get("error", result))
    database = results["database"]
    return json(
        {
            "status": "ok" if all(r["ok"] for r in results.values()) else "degraded",
            # The summary fields of earlier versions, kept for their readers.
            "database": "ok" if database["ok"] else database.get("state", "unreachable"),
            "rasa": "ok" if results["rasa"]["ok"] else "unreachable",
            "rasa_tracker_store": {
                "state": "unknown",
                **{
                    k: v
                    for k, v in results["rasa_tracker_store"].items()
                    if k not in ("ok", "error")
                },
            },
            "checks": results,
        },
        status=200 if database["ok"] else 503,
    )


async def _within(check: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    try:
        return await asyncio.wait_for(check, CHECK_SECONDS)
    except TimeoutError:
        return {"ok": False, "error": NOT_ANSWERING}


async def _database(request: Request) -> dict[str, Any]:
    """One probe at a time: a probe still blocked (a thread waiting on the
    database) is awaited again rather than joined by more threads."""
    probe = getattr(request.app.ctx, "database_probe", None)
    if probe is None or probe.done():
        probe = asyncio.ensure_future(_probe_database(desk(request)))
        request.app.ctx.database_probe = probe
    return await asyncio.shield(probe)


async def _probe_database(service: Desk) -> dict[str, Any]:
    def work(uow: Any) -> bool:
        uow.session.execute(text("SELECT 1"))
        return service.db.write_lock_free(WRITE_LOCK_PROBE_SECONDS)

    try:
        writable = await service.read(work)
    except Exception as error:  # noqa: BLE001 - any failure means unreachable
        # DatabaseUnavailable says it in pt-BR; its cause says what happened.
        return {"ok": False, "state": "unreachable", "error": _describe(error.__cause__ or error)}
    if not writable:
        return {
            "ok": False,
            "state": "locked",
            "error": "the SQLite write lock is held (another process, or a long write):"
            " reads answer, writes wait",
        }
    return {"ok": True}


async def _rasa(service: Desk) -> dict[str, Any]:
    if await service.rasa.is_reachable():
        return {"ok": True}
    return {"ok": False, "error": "Rasa does not answer"}


async def _tracker_store(service: Desk) -> dict[str, Any]:
    """``state``: ok, unavailable (Rasa refuses messages until it is back),
    in_memory (Rasa fell back to memory: what it holds is lost on restart)
    or unknown; plus how many failures Rasa counted since it started."""
    try:
        report = await service.rasa.tracker_store_health()
    except RasaUnavailable as error:
        return {"ok": False, "state": "unknown", "error": str(error)}
    if report.get("in_memory_conversations"):
        state = "in_memory"
    else:
        state = "ok" if report.get("tracker_store") == "ok" else "unavailable"
    return {
        "ok": state == "ok",
        "state": state,
        "failures": report.get("failures", 0),
        "last_failure": report.get("last_failure"),
        "in_memory_conversations": report.get("in_memory_conversations", 0),
    }


async def _redis(url: str) -> dict[str, Any]:
    """Redis carries the rate limits' counters and other processes' events;
    without it both degrade (limits open, events reach this process only)."""
    client = aioredis.from_url(
        url, socket_connect_timeout=CHECK_SECONDS, socket_timeout=CHECK_SECONDS
    )
    try:
        await client.ping()
    except Exception as error:  # noqa: BLE001 - refused, reset, time-out alike
        return {"ok": False, "error": _describe(error)}
    finally:
        await client.aclose()
    return {"ok": True}


def _describe(error: BaseException) -> str:
    """The error's class and first line; never a URL with a password."""
    first = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {first}"[:200]
