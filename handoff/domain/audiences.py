"""Who hears of a change, in the domain's words: a room's operators, one
operator's consoles, or the supervisors. Domain functions address their
notices to these (``UnitOfWork.notify``); only ``handoff/realtime.py``
knows which socket.io room each one is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["room", "operator", "supervisors"]
ROOM: Kind = "room"
OPERATOR: Kind = "operator"
SUPERVISING: Kind = "supervisors"


@dataclass(frozen=True)
class Audience:
    kind: Kind
    id: int | None = None


def room(room_id: int) -> Audience:
    """The operators of a room (its queue)."""
    return Audience(ROOM, room_id)


def operator(operator_id: int) -> Audience:
    """Every console of one operator."""
    return Audience(OPERATOR, operator_id)


SUPERVISORS = Audience(SUPERVISING)
