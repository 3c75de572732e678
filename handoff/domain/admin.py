"""Running the service: operators, rooms, entry points and pause reasons.
Only supervisors and admins reach these (see :func:`require_supervisor`)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from handoff.db import UnitOfWork
from handoff.domain.access import is_row_id
from handoff.domain.assignment import assign_waiting, offer_to
from handoff.domain.audit import audit
from handoff.domain.errors import Conflict, Forbidden, Invalid, NotFound
from handoff.domain.operators import (
    ROLES,
    is_supervisor,
    new_password_hash,
    operator_view,
    revoke_sessions,
    room_ids,
    set_status,
)
from handoff.models import (
    ASSIGNMENTS,
    MANUAL,
    OFFLINE,
    EntryPoint,
    Operator,
    OperatorRoom,
    PauseReason,
    Room,
)

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
ENTRY_KINDS = ("widget", "whatsapp")


def require_supervisor(operator: Operator) -> None:
    if not is_supervisor(operator):
        raise Forbidden("Acesso restrito a supervisores e administradores.")


def _field(data: dict[str, Any], name: str, limit: int, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Invalid("Campo obrigatório.", field=name)
        return None
    if not isinstance(value, str) or len(value.strip()) > limit:
        raise Invalid(f"Use um texto de até {limit} caracteres.", field=name)
    return value.strip()


def _rooms(session: Session, values: Any) -> list[Room]:
    if not isinstance(values, list) or not all(is_row_id(v) for v in values):
        raise Invalid("rooms must be a list of room ids", field="rooms")
    rooms = list(session.scalars(select(Room).where(Room.id.in_(values))))
    if len(rooms) != len(set(values)):
        raise NotFound("Sala não encontrada.")
    return rooms


def _operator(session: Session, operator_id: Any) -> Operator:
    operator = session.get(Operator, operator_id) if is_row_id(operator_id) else None
    if operator is None:
        raise NotFound("Operador não encontrado.")
    return operator


def admin_operator_view(session: Session, operator: Operator) -> dict[str, Any]:
    return {
        **operator_view(operator),
        "active": operator.active,
        "max_concurrent": operator.max_concurrent,
        "rooms": room_ids(session, operator),
    }


def list_operators(session: Session) -> list[dict[str, Any]]:
    operators = session.scalars(select(Operator).order_by(Operator.name))
    return [admin_operator_view(session, o) for o in operators]


def _apply(session: Session, operator: Operator, data: dict[str, Any]) -> None:
    if "name" in data:
        operator.name = _field(data, "name", 120) or operator.name
    if "role" in data:
        if data["role"] not in ROLES:
            raise Invalid(f"role must be one of {', '.join(ROLES)}", field="role")
        operator.role = data["role"]
    if "active_for_chat" in data:
        operator.active_for_chat = bool(data["active_for_chat"])
    if "max_concurrent" in data:
        value = data["max_concurrent"]
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 50:
            raise Invalid("Informe um número de 1 a 50.", field="max_concurrent")
        operator.max_concurrent = value
    if "rooms" in data:
        rooms = _rooms(session, data["rooms"])
        session.execute(delete(OperatorRoom).where(OperatorRoom.operator_id == operator.id))
        session.add_all(OperatorRoom(operator_id=operator.id, room_id=r.id) for r in rooms)


def create_operator(uow: UnitOfWork, actor: Operator, data: Any) -> Operator:
    require_supervisor(actor)
    if not isinstance(data, dict):
        raise Invalid("operator data must be an object")
    username = _field(data, "username", 64)
    session = uow.session
    if session.scalar(select(Operator.id).where(Operator.username == username)) is not None:
        raise Conflict("Este usuário já existe.", field="username")
    operator = Operator(
        username=username,
        name=_field(data, "name", 120),
        password_hash=new_password_hash(data.get("password")),
        role="operator",
    )
    session.add(operator)
    session.flush()
    _apply(session, operator, {k: v for k, v in data.items() if k != "name"})
    audit(session, "operator_created", operator_id=actor.id, target=operator.id)
    return operator


def update_operator(uow: UnitOfWork, actor: Operator, operator_id: Any, data: Any) -> Operator:
    """Edit, (de)activate, reset the password; history is never deleted."""
    require_supervisor(actor)
    if not isinstance(data, dict):
        raise Invalid("operator data must be an object")
    session = uow.session
    operator = _operator(session, operator_id)
    _apply(session, operator, data)
    revoke = False
    if "password" in data:
        operator.password_hash = new_password_hash(data.get("password"))
        revoke = True
    if "active" in data:
        operator.active = bool(data["active"])
        revoke = revoke or not operator.active
        if not operator.active and operator.status != OFFLINE:
            set_status(uow, operator, OFFLINE)
    if revoke:  # a new password or a deactivation ends every open session
        revoke_sessions(session, operator.id)
    offer_to(uow, operator)  # a higher limit or a new room: calls waiting may go out
    audit(
        session,
        "operator_updated",
        operator_id=actor.id,
        target=operator.id,
        fields=sorted(k for k in data if k != "password"),
    )
    return operator


def change_operator_status(
    uow: UnitOfWork, actor: Operator, operator_id: Any, status: Any
) -> Operator:
    """A supervisor sets a forgotten session to Indisponível (or back)."""
    require_supervisor(actor)
    operator = _operator(uow.session, operator_id)
    if status == "paused":
        raise Invalid("Só o próprio operador pode pausar.", field="status")
    set_status(uow, operator, status)
    offer_to(uow, operator)
    audit(
        uow.session, "status_by_supervisor", operator_id=actor.id, target=operator.id, status=status
    )
    return operator


# --- rooms, entry points, pause reasons


# A room's yes/no settings in Supervisão: name and e-mail optional in the
# widget's pre-chat; the satisfaction survey after a finished attendance.
ROOM_FLAGS = ("prechat_optional", "survey_enabled")


def room_view(room: Room) -> dict[str, Any]:
    return {
        "id": room.id,
        "slug": room.slug,
        "name": room.name,
        "assignment": room.assignment,
        "prechat_optional": room.prechat_optional,
        "survey_enabled": room.survey_enabled,
    }


def _assignment(data: dict[str, Any], default: str) -> str:
    """How the room's calls reach operators: ``manual`` or ``automatic``."""
    value = data.get("assignment", default)
    if value not in ASSIGNMENTS:
        raise Invalid("Escolha a distribuição: manual ou automática.", field="assignment")
    return str(value)


def list_rooms(session: Session) -> list[dict[str, Any]]:
    return [room_view(r) for r in session.scalars(select(Room).order_by(Room.name))]


def create_room(uow: UnitOfWork, actor: Operator, data: Any) -> Room:
    require_supervisor(actor)
    if not isinstance(data, dict):
        raise Invalid("room data must be an object")
    slug = _field(data, "slug", 64)
    if not SLUG.match(slug or ""):
        raise Invalid("Use letras minúsculas, números e hífens.", field="slug")
    if uow.session.scalar(select(Room.id).where(Room.slug == slug)) is not None:
        raise Conflict("Já existe uma sala com este identificador.", field="slug")
    room = Room(slug=slug, name=_field(data, "name", 120), assignment=_assignment(data, MANUAL))
    uow.session.add(room)
    uow.session.flush()
    audit(uow.session, "room_created", operator_id=actor.id, room=slug)
    return room


def update_room(uow: UnitOfWork, actor: Operator, room_id: Any, data: Any) -> Room:
    require_supervisor(actor)
    room = uow.session.get(Room, room_id) if is_row_id(room_id) else None
    if room is None:
        raise NotFound("Sala não encontrada.")
    if not isinstance(data, dict):
        raise Invalid("room data must be an object")
    if "name" in data:
        room.name = _field(data, "name", 120) or room.name
    for flag in ROOM_FLAGS:
        if flag in data:
            if not isinstance(data[flag], bool):
                raise Invalid(f"{flag} must be true or false", field=flag)
            setattr(room, flag, data[flag])
    room.assignment = _assignment(data, room.assignment)
    assign_waiting(uow, [room.id])  # switched to automatic: the calls waiting go out
    audit(
        uow.session,
        "room_updated",
        operator_id=actor.id,
        room=room.slug,
        fields=sorted(k for k in data if k in ("name", "assignment", *ROOM_FLAGS)),
        assignment=room.assignment,
    )
    return room


def list_entry_points(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(EntryPoint).order_by(EntryPoint.kind, EntryPoint.key))
    return [{"id": e.id, "kind": e.kind, "key": e.key, "room_id": e.room_id} for e in rows]


def set_entry_point(uow: UnitOfWork, actor: Operator, data: Any) -> EntryPoint:
    """Route a widget key or a WhatsApp number (its phone_number_id) to a room."""
    require_supervisor(actor)
    if not isinstance(data, dict):
        raise Invalid("entry point data must be an object")
    kind = data.get("kind")
    if kind not in ENTRY_KINDS:
        raise Invalid(f"kind must be one of {', '.join(ENTRY_KINDS)}", field="kind")
    key = _field(data, "key", 120)
    room = _rooms(uow.session, [data.get("room_id")])[0] if is_row_id(data.get("room_id")) else None
    if room is None:
        raise Invalid("Escolha a sala.", field="room_id")
    entry = uow.session.scalar(
        select(EntryPoint).where(EntryPoint.kind == kind, EntryPoint.key == key)
    )
    if entry is None:
        entry = EntryPoint(kind=kind, key=key, room_id=room.id)
        uow.session.add(entry)
    entry.room_id = room.id
    uow.session.flush()
    audit(uow.session, "entry_point_set", operator_id=actor.id, kind=kind, key=key, room=room.slug)
    return entry


def room_for_entry_point(session: Session, kind: Any, key: Any) -> Room | None:
    if not isinstance(kind, str) or not isinstance(key, str):
        return None
    return session.scalar(
        select(Room)
        .join(EntryPoint, EntryPoint.room_id == Room.id)
        .where(EntryPoint.kind == kind, EntryPoint.key == key)
    )


def widget_room(session: Session, widget_key: Any, default_room: str) -> Room | None:
    """The room that receives the visitors of the widget with this key (or without one)."""
    return room_for_entry_point(session, "widget", widget_key) or session.scalar(
        select(Room).where(Room.slug == default_room)
    )


def list_pause_reasons(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(PauseReason).order_by(PauseReason.id))
    return [{"id": r.id, "label": r.label, "active": r.active} for r in rows]


def set_pause_reason(uow: UnitOfWork, actor: Operator, data: Any) -> PauseReason:
    """Add a reason, or switch one on or off (reasons in history stay)."""
    require_supervisor(actor)
    if not isinstance(data, dict):
        raise Invalid("pause reason data must be an object")
    label = _field(data, "label", 120)
    reason = uow.session.scalar(select(PauseReason).where(PauseReason.label == label))
    if reason is None:
        reason = PauseReason(label=label, active=True)
        uow.session.add(reason)
    if "active" in data:
        reason.active = bool(data["active"])
    uow.session.flush()
    audit(uow.session, "pause_reason_set", operator_id=actor.id, label=label, active=reason.active)
    return reason
