"""What both socket.io servers (the console's in the handoff service, the
widget's in Rasa) do with packets and events they cannot take: answer them.

python-socketio 5.18 raises on a packet it cannot decode (invalid JSON,
JSON nested past Python's stack, an ack id of more than 100 digits, an
unknown packet type) and on an event that is not ``[name, ...]``;
engine.io logs the traceback and nobody answers, so a client waiting for
the ack waits in vain. An event no handler takes is dropped silently.

With ``serializer=TolerantPacket`` and :func:`answer_the_rest`, such a
packet becomes the event ``UNREADABLE`` and is acknowledged ``invalid``
when its ack id could be read (one warning line in the log, no traceback);
an unknown event is acknowledged ``unknown_event``. The connection stays
open and the next events are answered as usual. Both servers share this
module (like ``textrules``); it needs only python-socketio, which both
environments pin at the same version.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict

from socketio import AsyncServer, packet

# The event a packet that cannot be read becomes (no client event has a NUL).
UNREADABLE = "\x00unreadable"
NOT_READABLE = "Mensagem em formato inválido."
UNKNOWN_EVENT = "Evento desconhecido."
# What a client may send; CONNECT_ERROR (4) and unknown types are the server's.
CLIENT_TYPES = frozenset(
    {packet.CONNECT, packet.DISCONNECT, packet.EVENT, packet.ACK, packet.BINARY_EVENT}
)
EVENTS = frozenset({packet.EVENT, packet.BINARY_EVENT})


def _is_event(data: Any) -> bool:
    return isinstance(data, list) and bool(data) and isinstance(data[0], str)


class TolerantPacket(packet.Packet):
    """python-socketio's packet (its ``serializer`` hook) that always decodes:
    what it cannot read becomes the event ``UNREADABLE``, with the ack id
    when the header was read (the failure was in the JSON data)."""

    packet_type: Any  # set by python-socketio's (untyped) Packet

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "encoded_packet" in kwargs and not kwargs["encoded_packet"]:
            self._unreadable(None)  # an empty message: never decoded

    def decode(self, encoded_packet: Any) -> int:
        try:
            attachments: int = super().decode(encoded_packet)
        except (json.JSONDecodeError, RecursionError):  # the data: the header was read
            return self._unreadable(self.id if self.packet_type in EVENTS else None)
        except (ValueError, TypeError):  # the header: no ack id to trust
            return self._unreadable(None)
        if self.packet_type not in CLIENT_TYPES:
            return self._unreadable(None)
        if self.packet_type in EVENTS and not _is_event(self.data):
            return self._unreadable(self.id)
        return attachments

    def _unreadable(self, ack_id: Any) -> int:
        if self.packet_type == packet.CONNECT:
            self.data = None  # a handshake without auth: the server decides
            return 0
        self.packet_type = packet.EVENT
        self.id = ack_id if isinstance(ack_id, int) else None
        self.data = [UNREADABLE]
        return 0


def _error(code: str, message: str) -> Dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


def answer_the_rest(sio: AsyncServer, logger: logging.Logger) -> None:
    """Acknowledge, as errors, the events no handler of ``sio`` takes."""

    async def the_rest(event: str, sid: str, *_args: Any) -> Dict[str, Any]:
        if event == UNREADABLE:
            logger.warning("socket.io: unreadable packet from %s", sid)
            return _error("invalid", NOT_READABLE)
        return _error("unknown_event", UNKNOWN_EVENT)

    sio.on("*", the_rest)
