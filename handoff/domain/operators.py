"""Operators, their sessions, rooms and availability (O0, O1)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from handoff.db import UnitOfWork
from handoff.domain import audiences
from handoff.domain.audit import audit
from handoff.domain.errors import Invalid, Unauthorized
from handoff.models import (
    AVAILABLE,
    OFFLINE,
    PAUSED,
    Operator,
    OperatorRoom,
    OperatorSession,
    OperatorStatusChange,
    PauseReason,
    Room,
    utcnow,
)

# OWASP: Argon2id with at least 19 MiB of memory and 2 iterations.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
MIN_PASSWORD = 8

STATUSES = (AVAILABLE, PAUSED, OFFLINE)
ROLES = ("operator", "supervisor", "admin")


SUPERVISOR_ROLES = ("supervisor", "admin")


def is_supervisor(operator: Operator) -> bool:
    """Supervisors and admins may act on any attendance of their rooms."""
    return operator.role in SUPERVISOR_ROLES


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def new_password_hash(password: Any, field: str = "password") -> str:
    """The hash of an acceptable new password; Invalid (on ``field``) otherwise."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise Invalid(f"A senha deve ter ao menos {MIN_PASSWORD} caracteres.", field=field)
    return hash_password(password)


def token_hash(token: str) -> str:
    """What the database keeps of a session token (never the token itself)."""
    return hashlib.sha256(token.encode(errors="surrogateescape")).hexdigest()


def create_operator(
    session: Session,
    *,
    username: str,
    name: str,
    password: str,
    rooms: list[Room],
    role: str = "operator",
) -> Operator:
    """Add an operator, active for chat and linked to ``rooms``."""
    operator = Operator(
        username=username, name=name, password_hash=hash_password(password), role=role
    )
    session.add(operator)
    session.flush()
    for room in rooms:
        session.add(OperatorRoom(operator_id=operator.id, room_id=room.id))
    return operator


def login(uow: UnitOfWork, username: str, password: str, ttl_seconds: int) -> tuple[str, Operator]:
    """Check the password and open a session; returns its bearer token."""
    operator = uow.session.scalar(select(Operator).where(Operator.username == username))
    if operator is None or not operator.active:
        # Spend the same time as a real check so usernames cannot be probed.
        _password_matches(_DUMMY_HASH, password)
        raise Unauthorized("Usuário ou senha inválidos.")
    if not _password_matches(operator.password_hash, password):
        raise Unauthorized("Usuário ou senha inválidos.")
    token = secrets.token_urlsafe(32)
    uow.session.add(
        OperatorSession(
            token_hash=token_hash(token),
            operator_id=operator.id,
            expires_at=utcnow() + timedelta(seconds=ttl_seconds),
        )
    )
    audit(uow.session, "login", operator_id=operator.id)
    return token, operator


_DUMMY_HASH = hash_password("not a real password")


# The one answer for a missing, unknown, expired or revoked session.
SESSION_ENDED = "Sessão expirada. Entre novamente."


def _live() -> Select[tuple[OperatorSession]]:
    """Sessions neither revoked nor expired, of active operators."""
    return (
        select(OperatorSession)
        .join(Operator, Operator.id == OperatorSession.operator_id)
        .where(
            OperatorSession.revoked_at.is_(None),
            OperatorSession.expires_at > utcnow(),
            Operator.active,
        )
    )


def _live_session(session: Session, token: str) -> OperatorSession:
    row = session.scalar(_live().where(OperatorSession.token_hash == token_hash(token)))
    if row is None:
        raise Unauthorized(SESSION_ENDED)
    return row


def operator_for_token(session: Session, token: str) -> Operator:
    """The operator of a live session, or Unauthorized."""
    operator = session.get(Operator, _live_session(session, token).operator_id)
    assert operator is not None
    return operator


def live_session_hashes(session: Session, hashes: set[str]) -> set[str]:
    """Which of these token hashes still belong to live sessions."""
    rows = session.scalars(
        _live()
        .where(OperatorSession.token_hash.in_(hashes))
        .with_only_columns(OperatorSession.token_hash)
    )
    return set(rows)


def revoke_sessions(session: Session, operator_id: int, keep: str | None = None) -> None:
    """End the operator's sessions (all, or all but the one of token ``keep``);
    their REST calls get 401 at once, their consoles are disconnected by
    :mod:`handoff.realtime` within ``HANDOFF_SESSION_CHECK_SECONDS``."""
    query = update(OperatorSession).where(
        OperatorSession.operator_id == operator_id, OperatorSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(OperatorSession.token_hash != token_hash(keep))
    session.execute(query.values(revoked_at=utcnow()))


def logout(uow: UnitOfWork, token: str) -> int:
    """Revoke the session and set the operator offline (O1); returns their id."""
    row = _live_session(uow.session, token)
    operator = uow.session.get(Operator, row.operator_id)
    assert operator is not None
    row.revoked_at = utcnow()
    set_status(uow, operator, OFFLINE)
    audit(uow.session, "logout", operator_id=operator.id)
    return operator.id


# The field a wrong current password is reported on (counted by the desk).
CURRENT_PASSWORD = "current_password"


def change_own_password(uow: UnitOfWork, token: str, current: Any, new: Any) -> Operator:
    """An operator changes their password, knowing the current one; every
    other session of theirs ends (this one goes on)."""
    operator = operator_for_token(uow.session, token)
    if not isinstance(current, str) or not _password_matches(operator.password_hash, current):
        raise Invalid("A senha atual não confere.", field=CURRENT_PASSWORD)
    operator.password_hash = new_password_hash(new, field="new_password")
    revoke_sessions(uow.session, operator.id, keep=token)
    audit(uow.session, "password_changed", operator_id=operator.id)
    return operator


def pause_reasons(session: Session) -> list[str]:
    """The reasons an operator can give for a pause (supervisors edit the list)."""
    return list(
        session.scalars(
            select(PauseReason.label).where(PauseReason.active).order_by(PauseReason.id)
        )
    )


def set_status(uow: UnitOfWork, operator: Operator, status: Any, reason: Any = None) -> None:
    """Change availability and keep the change in its history.

    A pause needs one of the active pause reasons.
    """
    if status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}", field="status")
    if status == PAUSED:
        if not isinstance(reason, str) or not reason.strip():
            raise Invalid("Informe o motivo da pausa.", field="reason")
        if reason not in pause_reasons(uow.session):
            raise Invalid("Motivo de pausa desconhecido.", field="reason")
        if len(reason) > 120:
            raise Invalid("O motivo da pausa deve ter até 120 caracteres.", field="reason")
    operator.status = status
    operator.status_reason = reason if status == PAUSED else None
    uow.session.add(
        OperatorStatusChange(
            operator_id=operator.id, status=status, reason=reason if status == PAUSED else None
        )
    )
    audit(uow.session, "status", operator_id=operator.id, status=status, reason=reason)
    uow.notify(audiences.operator(operator.id), "operator:status", operator_view(operator))


def room_ids(session: Session, operator: Operator) -> list[int]:
    return rooms_of(session, operator.id)


def rooms_of(session: Session, operator_id: int) -> list[int]:
    return list(
        session.scalars(select(OperatorRoom.room_id).where(OperatorRoom.operator_id == operator_id))
    )


def notice_audiences(
    session: Session, operator_ids: set[int]
) -> dict[int, set[audiences.Audience]]:
    """The audiences each operator's consoles belong to besides their own, as
    the database says now: their rooms' queues and, for a supervisor, the
    supervisors."""
    heard: dict[int, set[audiences.Audience]] = {operator_id: set() for operator_id in operator_ids}
    if not operator_ids:
        return heard
    links = session.execute(
        select(OperatorRoom.operator_id, OperatorRoom.room_id).where(
            OperatorRoom.operator_id.in_(operator_ids)
        )
    )
    for operator_id, room_id in links:
        heard[operator_id].add(audiences.room(room_id))
    supervising = session.scalars(
        select(Operator.id).where(
            Operator.id.in_(operator_ids), Operator.role.in_(SUPERVISOR_ROLES)
        )
    )
    for operator_id in supervising:
        heard[operator_id].add(audiences.SUPERVISORS)
    return heard


def operator_view(operator: Operator) -> dict[str, object]:
    return {
        "id": operator.id,
        "username": operator.username,
        "name": operator.name,
        "role": operator.role,
        "status": operator.status,
        "status_reason": operator.status_reason,
        "active_for_chat": operator.active_for_chat,
    }
