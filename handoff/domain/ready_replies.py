"""Ready replies ("respostas prontas"): short answers an operator inserts in
the composer (``/`` at the start of the message) and edits before sending.

Content editors keep them in ``data/ready_replies/*.md``, one file each::

    ---
    title: Saudação
    room: tributos
    ---
    Olá, {cliente}! Sou {operador}, da Prefeitura. Como posso ajudar?

``room`` (a room's identifier) is optional: without it the reply is offered
in every room. The file name is the reply's key: loading again updates the
reply, and a deleted file removes it. Supervisors also write replies in
Supervisão; those have no file and are changed only there.

Variables: ``{cliente}`` (the linked customer's name, else the name the
customer gave), ``{operador}`` (the operator's name) and ``{protocolo}``.
A variable with no value yet stays as written for the operator to complete,
except ``{protocolo}``: the attendance's number is given with its first
message, and any ``{protocolo}`` in a message is replaced when it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from handoff.db import UnitOfWork
from handoff.domain.access import attendance_for, is_row_id
from handoff.domain.audit import audit
from handoff.domain.errors import Conflict, Invalid, NotFound
from handoff.domain.front_matter import parse_each, read_front_matter
from handoff.models import Attendance, Customer, Operator, ReadyReply, Room, utcnow
from handoff.settings import MAX_MESSAGE_LENGTH

MAX_TITLE_LENGTH = 120
PROTOCOL = "{protocolo}"


@dataclass(frozen=True)
class ReplyFile:
    key: str
    title: str
    room: str | None
    text: str


def parse_reply(path: Path) -> ReplyFile:
    """Read one reply file; an error names the file and the line."""
    header, text = read_front_matter(path, ("title",))
    if len(header["title"]) > MAX_TITLE_LENGTH:
        raise Invalid(f"{path.name}:2: título com mais de {MAX_TITLE_LENGTH} letras")
    if len(text) > MAX_MESSAGE_LENGTH:
        raise Invalid(f"{path.name}: texto com mais de {MAX_MESSAGE_LENGTH} caracteres")
    return ReplyFile(path.stem, header["title"], header.get("room") or None, text)


def parse_folder(folder: Path) -> list[ReplyFile]:
    """Every reply of the folder, or Invalid listing every broken file."""
    return parse_each(folder, parse_reply)


def load_replies(session: Session, folder: Path) -> int:
    """Make the replies from files what the folder holds; returns how many
    changed. All files are checked first: one broken file (or a room that
    does not exist) changes nothing."""
    files = parse_folder(folder)
    rooms = dict(session.execute(select(Room.slug, Room.id)).tuples().all())
    unknown = [
        f"{f.key}.md: a sala '{f.room}' não existe" for f in files if f.room and f.room not in rooms
    ]
    if unknown:
        raise Invalid("; ".join(unknown))
    from_files = select(ReadyReply).where(ReadyReply.key.is_not(None))
    stored = {r.key: r for r in session.scalars(from_files)}
    changed = 0
    for reply in files:
        room_id = rooms[reply.room] if reply.room else None
        row = stored.pop(reply.key, None)
        if row is None:
            row = ReadyReply(key=reply.key)
            session.add(row)
        elif (row.title, row.text, row.room_id) == (reply.title, reply.text, room_id):
            continue
        row.title, row.text, row.room_id = reply.title, reply.text, room_id
        row.updated_at = utcnow()
        changed += 1
    if stored:
        gone = [r.id for r in stored.values()]
        session.execute(delete(ReadyReply).where(ReadyReply.id.in_(gone)))
        changed += len(stored)
    return changed


def fill(text: str, values: dict[str, str | None]) -> str:
    """``{name}`` replaced by its value; one without a value stays as written."""
    for name, value in values.items():
        if value:
            text = text.replace("{" + name + "}", value)
    return text


def fill_protocol(text: str, protocol: str | None) -> str:
    """A message being sent: ``{protocolo}`` becomes the attendance's number."""
    return fill(text, {"protocolo": protocol})


def customer_name(session: Session, attendance: Attendance) -> str | None:
    """How a message names the customer: the linked customer's name, else
    the name they gave."""
    customer = session.get(Customer, attendance.customer_id) if attendance.customer_id else None
    return customer.name if customer else attendance.contact_name


def replies_for_attendance(
    session: Session, operator: Operator, attendance_id: Any
) -> list[dict[str, Any]]:
    """The replies of the attendance's room and of every room, by title,
    with the attendance's variables filled in."""
    attendance = attendance_for(session, operator, attendance_id)
    values = {
        "cliente": customer_name(session, attendance),
        "operador": operator.name,
        "protocolo": attendance.protocol,
    }
    rows = session.scalars(
        select(ReadyReply)
        .where(or_(ReadyReply.room_id.is_(None), ReadyReply.room_id == attendance.room_id))
        .order_by(ReadyReply.title, ReadyReply.id)
    )
    return [{"id": r.id, "title": r.title, "text": fill(r.text, values)} for r in rows]


def reply_view(reply: ReadyReply) -> dict[str, Any]:
    return {
        "id": reply.id,
        "title": reply.title,
        "text": reply.text,
        "room_id": reply.room_id,
        "from_file": reply.key is not None,
        "key": reply.key,
    }


def list_replies(session: Session) -> list[dict[str, Any]]:
    """Every reply, for Supervisão."""
    rows = session.scalars(select(ReadyReply).order_by(ReadyReply.title, ReadyReply.id))
    return [reply_view(r) for r in rows]


def _checked(session: Session, data: dict[str, Any]) -> tuple[str, str, int | None]:
    title, text, room_id = data.get("title"), data.get("text"), data.get("room_id")
    if not isinstance(title, str) or not title.strip():
        raise Invalid("Campo obrigatório.", field="title")
    if len(title.strip()) > MAX_TITLE_LENGTH:
        raise Invalid(f"Use um texto de até {MAX_TITLE_LENGTH} caracteres.", field="title")
    if not isinstance(text, str) or not text.strip():
        raise Invalid("Campo obrigatório.", field="text")
    if len(text.strip()) > MAX_MESSAGE_LENGTH:
        raise Invalid(f"Use um texto de até {MAX_MESSAGE_LENGTH} caracteres.", field="text")
    if room_id is not None and (not is_row_id(room_id) or session.get(Room, room_id) is None):
        raise Invalid("Sala não encontrada.", field="room_id")
    return title.strip(), text.strip(), room_id


def _editable(session: Session, reply_id: Any) -> ReadyReply:
    reply = session.get(ReadyReply, reply_id) if is_row_id(reply_id) else None
    if reply is None:
        raise NotFound("Resposta pronta não encontrada.")
    if reply.key is not None:
        raise Conflict(
            f"Esta resposta vem do arquivo {reply.key}.md: altere-a no arquivo de conteúdo."
        )
    return reply


def create_reply(uow: UnitOfWork, supervisor: Operator, data: dict[str, Any]) -> ReadyReply:
    title, text, room_id = _checked(uow.session, data)
    reply = ReadyReply(title=title, text=text, room_id=room_id)
    uow.session.add(reply)
    uow.session.flush()
    audit(uow.session, "ready_reply_created", operator_id=supervisor.id, reply_id=reply.id)
    return reply


def update_reply(
    uow: UnitOfWork, supervisor: Operator, reply_id: Any, data: dict[str, Any]
) -> ReadyReply:
    reply = _editable(uow.session, reply_id)
    reply.title, reply.text, reply.room_id = _checked(uow.session, data)
    reply.updated_at = utcnow()
    audit(uow.session, "ready_reply_changed", operator_id=supervisor.id, reply_id=reply.id)
    return reply


def delete_reply(uow: UnitOfWork, supervisor: Operator, reply_id: Any) -> None:
    reply = _editable(uow.session, reply_id)
    uow.session.delete(reply)
    audit(uow.session, "ready_reply_deleted", operator_id=supervisor.id, reply_id=reply.id)
