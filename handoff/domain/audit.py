"""The audit log: who changed what, and when."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from handoff.models import AuditLog


def audit(
    session: Session,
    action: str,
    *,
    operator_id: int | None = None,
    attendance_id: int | None = None,
    customer_id: int | None = None,
    **details: Any,
) -> None:
    """Record one state change (or one look at a person's data) in the same
    transaction as the change."""
    session.add(
        AuditLog(
            action=action,
            operator_id=operator_id,
            attendance_id=attendance_id,
            customer_id=customer_id,
            details=json.dumps(details, ensure_ascii=False) if details else None,
        )
    )
