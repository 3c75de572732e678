"""Operators, their sessions, rooms and availability (O0, O1)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff.db import UnitOfWork
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

STATUSES = (AVAILABLE, PAUSED, OFFLINE)
ROLES = ("operator", "supervisor", "admin")


def is_supervisor(operator: Operator) -> bool:
    """Supervisors and admins may act on any attendance of their rooms."""
    return operator.role in ("supervisor", "admin")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
            token_hash=_token_hash(token),
            operator_id=operator.id,
            expires_at=utcnow() + timedelta(seconds=ttl_seconds),
        )
    )
    audit(uow.session, "login", operator_id=operator.id)
    return token, operator


_DUMMY_HASH = hash_password("not a real password")


def operator_for_token(session: Session, token: str) -> Operator:
    """The operator of a live session, or Unauthorized."""
    row = session.scalar(
        select(OperatorSession).where(OperatorSession.token_hash == _token_hash(token))
    )
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        raise Unauthorized("Sessão expirada. Entre novamente.")
    operator = session.get(Operator, row.operator_id)
    if operator is None or not operator.active:
        raise Unauthorized("Sessão expirada. Entre novamente.")
    return operator


def logout(uow: UnitOfWork, token: str) -> int:
    """Revoke the session and set the operator offline (O1); returns their id."""
    operator = operator_for_token(uow.session, token)
    row = uow.session.scalar(
        select(OperatorSession).where(OperatorSession.token_hash == _token_hash(token))
    )
    assert row is not None
    row.revoked_at = utcnow()
    set_status(uow, operator, OFFLINE)
    audit(uow.session, "logout", operator_id=operator.id)
    return operator.id


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
            raise Invalid(f"Motivo de pausa desconhecido: {reason}.", field="reason")
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
    uow.notify(f"operator:{operator.id}", "operator:status", operator_view(operator))


def room_ids(session: Session, operator: Operator) -> list[int]:
    return list(
        session.scalars(select(OperatorRoom.room_id).where(OperatorRoom.operator_id == operator.id))
    )


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
