"""The console's socket.io server: authenticates operators and maps their
events to the desk; pushes the domain's notices to the right rooms."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

import socketio

from handoff.commands import COMMANDS, Command
from handoff.db import Notice
from handoff.desk import Desk
from handoff.domain import audiences
from handoff.domain.audiences import SUPERVISORS, Audience
from handoff.domain.errors import DomainError, Invalid
from handoff.domain.operators import (
    SESSION_ENDED,
    live_session_hashes,
    notice_audiences,
    operator_for_token,
    operator_view,
    token_hash,
)
from handoff.outage import Outage
from handoff.routes.common import SESSION_COOKIE
from handoff.settings import Settings
from socketguard import NOT_READABLE, TolerantPacket, answer_the_rest
from textrules import TooDeep, clean_json, clean_text

Ack = dict[str, Any]
log = logging.getLogger(__name__)
# The ack of an event whose handler failed unexpectedly (the traceback is logged).
INTERNAL = {"code": "internal", "message": "Erro interno. Tente novamente."}
# A Redis that accepts connections but does not answer holds an emit this long.
PUBLISH_TIMEOUT_SECONDS = 1.0


class RedisManager(socketio.AsyncRedisManager):
    """python-socketio's Redis manager, degrading while Redis is away.

    An emit is delivered to this process's consoles first, then published
    for the other processes (python-socketio 5.18). While Redis is away the
    manager would try to publish twice per event, log two errors each time,
    and, with a Redis that accepts connections but does not answer, wait
    for ever, holding the request that emitted. Here each try is bounded,
    a failure skips publishing for a moment (:class:`Outage`), and the
    consoles of this process get every event meanwhile. Receiving is the
    manager's own: it subscribes again with back-off (up to 60 s)."""

    def __init__(self, url: str, channel: str) -> None:
        super().__init__(
            url, channel=channel, redis_options={"socket_connect_timeout": PUBLISH_TIMEOUT_SECONDS}
        )
        self._outage = Outage("Redis (socket.io events of other processes)")

    async def _publish(self, data: Any) -> None:
        if self._outage.skip():
            return
        try:
            if not self.connected:
                self._redis_connect()
            await asyncio.wait_for(
                self.redis.publish(self.channel, self.json.dumps(data)), PUBLISH_TIMEOUT_SECONDS
            )
        except Exception as error:  # noqa: BLE001 - redis, OS and time-out errors alike
            self._outage.failed(error)
        else:
            self._outage.succeeded()


def create_socket_server(settings: Settings) -> socketio.AsyncServer:
    """One AsyncServer per process; origins are explicit, never ``*``.

    Only pages of the service's own origin (the console) and those of
    ``HANDOFF_ALLOWED_ORIGINS`` may connect; a handshake from any other
    origin gets 400. With ``HANDOFF_REDIS_URL`` events reach consoles
    connected to any process of the service.
    """
    manager = (
        RedisManager(settings.redis_url, settings.redis_channel) if settings.redis_url else None
    )
    return socketio.AsyncServer(
        async_mode="sanic",
        cors_allowed_origins=origin_check(settings),
        client_manager=manager,
        serializer=TolerantPacket,  # a packet it cannot read is answered (socketguard)
    )


def origin_check(settings: Settings) -> Callable[[str, dict[str, Any]], bool]:
    """The service's own origin (as the browser reached it, or its public
    URL) and the configured ones. Requests without ``Origin`` are not a
    browser's and engine.io does not check them."""
    allowed = settings.console_origins

    def allowed_origin(origin: str, environ: dict[str, Any]) -> bool:
        own = f"{environ.get('wsgi.url_scheme')}://{environ.get('HTTP_HOST')}"
        return origin in allowed or origin == own

    return allowed_origin


def socketio_room(audience: Audience) -> str:
    """The socket.io room of a domain audience (``handoff/domain/audiences.py``)."""
    if audience.kind == audiences.SUPERVISING:
        return "supervisors"
    return f"{audience.kind}:{audience.id}"


# The rooms a console enters and leaves as its operator's rooms and role change.
FOLLOWED = ("room:", socketio_room(SUPERVISORS))


def make_publisher(sio: socketio.AsyncServer) -> Callable[[list[Notice]], Awaitable[None]]:
    async def publish(notices: list[Notice]) -> None:
        for notice in notices:
            await sio.emit(notice.name, notice.payload, room=socketio_room(notice.target))
        # Supervisors' live view refreshes when queues or operators change.
        if any(n.name.startswith(("attendance:", "operator:")) for n in notices):
            await sio.emit("live:changed", {}, room=socketio_room(SUPERVISORS))

    return publish


class Connections:
    """The console connections of this process and their sessions, so that
    a session ended anywhere (logout, password change, deactivation, expiry,
    by any process) disconnects its consoles within ``check_seconds``, and
    a console's socket.io rooms follow the operator's rooms and role in the
    database within the same time (a supervisor's change, by any process)."""

    def __init__(self, sio: socketio.AsyncServer, desk: Desk, check_seconds: float) -> None:
        self._sio = sio
        self._desk = desk
        self._check_seconds = check_seconds
        self._sessions: dict[str, str] = {}  # sid -> token hash
        self._operators: dict[str, int] = {}  # sid -> operator id

    async def add(self, sid: str, token: str, operator_id: int) -> None:
        """A new console: its operator's room and, from the database, its audiences."""
        self._sessions[sid] = token_hash(token)
        self._operators[sid] = operator_id
        await self._sio.enter_room(sid, socketio_room(audiences.operator(operator_id)))
        await self.follow_audiences([sid])

    def remove(self, sid: str) -> None:
        self._sessions.pop(sid, None)
        self._operators.pop(sid, None)

    async def follow_audiences(self, sids: list[str]) -> None:
        """Enter and leave socket.io rooms so that each console hears what
        its operator's rooms and role say now (only this process's sockets)."""
        wanted = {self._operators[sid] for sid in sids if sid in self._operators}
        heard = await self._desk.read(lambda uow: notice_audiences(uow.session, wanted))
        for sid in sids:
            operator_id = self._operators.get(sid)
            if operator_id is None:
                continue
            target = {socketio_room(a) for a in heard.get(operator_id, set())}
            current = {r for r in self._sio.rooms(sid) if r.startswith(FOLLOWED)}
            for room in current - target:
                await self._sio.leave_room(sid, room)
            for room in target - current:
                await self._sio.enter_room(sid, room)

    async def check_sessions(self) -> int:
        """Disconnect every connection whose session is no longer live, and
        move the others' rooms to what the database says."""
        hashes = set(self._sessions.values())
        if not hashes:
            return 0
        live = await self._desk.read(lambda uow: live_session_hashes(uow.session, hashes))
        # Only the sessions asked about: a console that connected during the
        # query is not dead, only not checked yet.
        dead = [
            sid
            for sid, hashed in list(self._sessions.items())
            if hashed in hashes and hashed not in live
        ]
        for sid in dead:
            self.remove(sid)
            await self._sio.emit("session:ended", {"message": SESSION_ENDED}, to=sid)
            await self._sio.disconnect(sid)
        await self.follow_audiences(list(self._operators))
        return len(dead)

    async def watch(self) -> None:
        """Runs until cancelled (at shutdown)."""
        while True:
            await asyncio.sleep(self._check_seconds)
            try:
                await self.check_sessions()
            except Exception:  # a database outage must not end the watch
                log.exception("session check failed; trying again")


def _handshake_token(environ: dict[str, Any], auth: Any) -> str | None:
    """``auth: {token}`` from clients that hold the token, else the console's
    session cookie (the browser sends it with the same-origin handshake;
    other origins are refused by the server's allowed origins)."""
    token = auth.get("token") if isinstance(auth, dict) else None
    if isinstance(token, str):
        return clean_text(token)
    request = environ.get("sanic.request")
    return request.cookies.get(SESSION_COOKIE) if request is not None else None


def register_handlers(sio: socketio.AsyncServer, desk: Desk) -> Connections:
    connections = Connections(sio, desk, desk.settings.session_check_seconds)
    answer_the_rest(sio, log)

    async def token_of(sid: str) -> str:
        session = await sio.get_session(sid)
        return str(session["token"])

    def acked(command: Command[Any]) -> Callable[..., Awaitable[Ack]]:
        """The handler of the console's event of ``command``; every call is
        acknowledged. The payload is cleaned by the text rule (``textrules``;
        one nested too deeply is ``invalid``) and parsed by the command; a
        domain error (a refused input included) becomes ``{"ok": false,
        "error": {code, message[, field]}}``; anything unexpected is logged
        with its traceback and acknowledged as ``internal``, so the console
        never waits in vain."""

        async def handle(sid: str, data: Any = None, *_ignored: Any) -> Ack:
            try:
                answer = await command.run(desk, await token_of(sid), clean_json(data))
                return {"ok": True, **answer}
            except TooDeep:
                return {"ok": False, "error": Invalid(NOT_READABLE).as_dict()}
            except DomainError as error:
                return {"ok": False, "error": error.as_dict()}
            except Exception:
                log.exception("socket.io event %s failed", command.event)
                return {"ok": False, "error": INTERNAL}

        return handle

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = _handshake_token(environ, auth)
        if not token:
            raise socketio.exceptions.ConnectionRefusedError(SESSION_ENDED)
        try:
            operator = await desk.read(
                lambda uow: operator_view(operator_for_token(uow.session, token))
            )
            operator_id = cast(int, operator["id"])
            await sio.save_session(sid, {"token": token, "operator_id": operator_id})
            await connections.add(sid, token, operator_id)
        except DomainError as error:
            connections.remove(sid)
            raise socketio.exceptions.ConnectionRefusedError(error.message) from error
        except Exception as error:
            connections.remove(sid)
            log.exception("socket.io connection failed")
            raise socketio.exceptions.ConnectionRefusedError(INTERNAL["message"]) from error
        desk.presence.connected(operator_id, sid)

    async def disconnect(sid: str, _reason: Any = None) -> None:
        connections.remove(sid)
        session = await sio.get_session(sid)
        if session and "operator_id" in session:
            desk.presence.disconnected(session["operator_id"], sid)

    sio.on("connect", connect)
    sio.on("disconnect", disconnect)

    for command in COMMANDS:
        if command.event is not None:
            sio.on(command.event, acked(command))

    return connections
