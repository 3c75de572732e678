"""The console's socket.io server: authenticates operators and maps their
events to the desk; pushes the domain's notices to the right rooms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from handoff.db import Notice
from handoff.desk import Desk
from handoff.domain import attendances, conversation, views
from handoff.domain.errors import DomainError, Invalid, Unauthorized
from handoff.domain.operators import is_supervisor, operator_for_token, operator_view, room_ids
from handoff.models import CANCELLED, FINISHED
from handoff.settings import Settings

Ack = dict[str, Any]


def create_socket_server(settings: Settings) -> socketio.AsyncServer:
    """One AsyncServer per process; origins are explicit, never ``*``.

    Without ``HANDOFF_ALLOWED_ORIGINS`` only pages of the service's own
    origin (the console) may connect. With ``HANDOFF_REDIS_URL`` events
    reach consoles connected to any process of the service.
    """
    origins = settings.allowed_origins or None
    manager = (
        socketio.AsyncRedisManager(settings.redis_url, channel=settings.redis_channel)
        if settings.redis_url
        else None
    )
    return socketio.AsyncServer(
        async_mode="sanic", cors_allowed_origins=origins, client_manager=manager
    )


SUPERVISORS = "supervisors"


def make_publisher(sio: socketio.AsyncServer) -> Callable[[list[Notice]], Awaitable[None]]:
    async def publish(notices: list[Notice]) -> None:
        for notice in notices:
            await sio.emit(notice.name, notice.payload, room=notice.target)
        # Supervisors' live view refreshes when queues or operators change.
        if any(n.name.startswith(("attendance:", "operator:")) for n in notices):
            await sio.emit("live:changed", {}, room=SUPERVISORS)

    return publish


def _field(data: Any, name: str) -> Any:
    if not isinstance(data, dict) or name not in data:
        raise Invalid(f"{name} is required")
    return data[name]


def register_handlers(sio: socketio.AsyncServer, desk: Desk) -> None:
    async def token_of(sid: str) -> str:
        session = await sio.get_session(sid)
        return session["token"]

    def acked(
        handler: Callable[[str, Any], Awaitable[Ack]],
    ) -> Callable[[str, Any], Awaitable[Ack]]:
        """Turn domain errors into ``{"error": {...}}`` acks."""

        async def wrapper(sid: str, data: Any = None) -> Ack:
            try:
                return {"ok": True, **await handler(sid, data)}
            except DomainError as error:
                return {"ok": False, "error": error.as_dict()}

        return wrapper

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str):
            raise socketio.exceptions.ConnectionRefusedError("unauthorized")
        try:
            operator, rooms, supervising = await desk.run(
                lambda uow: _operator_and_rooms(uow.session, token)
            )
        except Unauthorized as error:
            raise socketio.exceptions.ConnectionRefusedError(error.message) from error
        await sio.save_session(sid, {"token": token, "operator_id": operator["id"]})
        await sio.enter_room(sid, f"operator:{operator['id']}")
        for room_id in rooms:
            await sio.enter_room(sid, f"room:{room_id}")
        if supervising:
            await sio.enter_room(sid, SUPERVISORS)
        desk.presence.connected(operator["id"], sid)

    @sio.event
    async def disconnect(sid: str, _reason: Any = None) -> None:
        session = await sio.get_session(sid)
        if session and "operator_id" in session:
            desk.presence.disconnected(session["operator_id"], sid)

    @sio.on("attendances:list")
    @acked
    async def list_attendances(sid: str, _data: Any) -> Ack:
        return await desk.as_operator(
            await token_of(sid), lambda uow, op: attendances.operator_attendances(uow.session, op)
        )

    @sio.on("attendance:messages")
    @acked
    async def messages(sid: str, data: Any) -> Ack:
        attendance_id = _field(data, "attendance_id")
        rows = await desk.as_operator(
            await token_of(sid),
            lambda uow, op: conversation.attendance_messages(uow.session, op, attendance_id),
        )
        return {"messages": rows}

    @sio.on("attendance:take")
    @acked
    async def take(sid: str, data: Any) -> Ack:
        attendance_id = _field(data, "attendance_id")
        attendance = await desk.as_operator(
            await token_of(sid),
            lambda uow, op: attendances.take_attendance(uow, op, attendance_id),
        )
        return {"attendance": views.attendance_view(attendance)}

    @sio.on("message:send")
    @acked
    async def send(sid: str, data: Any) -> Ack:
        return await desk.send_message(
            await token_of(sid),
            _field(data, "attendance_id"),
            _field(data, "text"),
            _field(data, "client_id"),
        )

    @sio.on("message:retry")
    @acked
    async def retry(sid: str, data: Any) -> Ack:
        return await desk.retry(await token_of(sid), _field(data, "message_id"))

    @sio.on("attendance:finish")
    @acked
    async def finish(sid: str, data: Any) -> Ack:
        view = await desk.end(await token_of(sid), _field(data, "attendance_id"), FINISHED)
        return {"attendance": view}

    @sio.on("attendance:cancel")
    @acked
    async def cancel(sid: str, data: Any) -> Ack:
        view = await desk.end(await token_of(sid), _field(data, "attendance_id"), CANCELLED)
        return {"attendance": view}


def _operator_and_rooms(session: Any, token: str) -> tuple[dict[str, Any], list[int], bool]:
    operator = operator_for_token(session, token)
    return operator_view(operator), room_ids(session, operator), is_supervisor(operator)
