"""Rasa's socket.io channel with persistent sessions that really work.

Rasa 3.6's ``SocketIOInput`` calls ``sio.enter_room`` without ``await``
(RasaHQ/rasa#13027): with python-socketio >= 5.10 the visitor never joins
the room of its session, so no reply reaches it. This subclass re-registers
the ``session_request`` handler with the call awaited, keeps the channel's
name ``socketio`` (trackers, ``output_channel=latest`` and the actions rely
on it) and refuses guessable session ids: the session id is the
conversation's only secret.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

# At least 128 bits when hex-encoded; the widget uses crypto.randomUUID().
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def valid_session_id(value: Any) -> bool:
    return isinstance(value, str) and bool(SESSION_ID.match(value))


class PersistentSocketIOInput(SocketIOInput):
    """socket.io input channel; register as ``bot.socketio_channel.PersistentSocketIOInput``."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Optional[Dict]) -> None:
            session_id = (data or {}).get("session_id")
            if not valid_session_id(session_id):
                session_id = uuid.uuid4().hex
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        return blueprint
