"""outbox jobs; message ids scoped to their attendance

Revision ID: 0007
Revises: 0006

Operator messages' keys become "op:<operator id>:<client id>" and every key
is unique within its attendance only. Work the old in-memory retry loops
would have resumed at start-up (undelivered operator messages, closing
flows Rasa never accepted, transfers the action server missed) becomes
outbox jobs.
"""

import json
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dedup", sa.String(length=300), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_job")),
        sa.UniqueConstraint("dedup", name=op.f("uq_outbox_job_dedup")),
    )
    op.create_index("ix_outbox_job_due", "outbox_job", ["status", "next_try_at"])
    op.create_index("ix_outbox_job_key", "outbox_job", ["key", "id"])
    op.execute(
        "UPDATE message SET dedup_key = 'op:' || operator_id || ':' || substr(dedup_key, 4)"
        " WHERE dedup_key LIKE 'op:%' AND operator_id IS NOT NULL"
    )
    with op.batch_alter_table("message") as batch_op:
        batch_op.drop_constraint("uq_message_dedup_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_message_attendance_id", ["attendance_id", "dedup_key"]
        )
    _jobs_for_unfinished_work()


def _jobs_for_unfinished_work() -> None:
    bind = op.get_bind()
    now = datetime.now(timezone.utc)
    jobs = sa.table(
        "outbox_job",
        *(sa.column(c) for c in ("kind", "key", "payload", "status", "dedup")),
        *(sa.column(c) for c in ("attempts", "failures")),
        *(sa.column(c, sa.DateTime(timezone=True)) for c in ("next_try_at", "created_at")),
    )
    rows: list[tuple[str, Any, dict[str, Any], str | None]] = []
    for message_id, text, conversation in bind.execute(
        sa.text(
            "SELECT m.id, m.text, a.conversation_id FROM message m"
            " JOIN attendance a ON a.id = m.attendance_id"
            " WHERE m.direction = 'operator' AND m.delivery IN ('pending', 'failed')"
            " AND m.channel_message_id IS NULL ORDER BY m.id"
        )
    ):
        payload = {"message_id": message_id, "conversation_id": conversation, "text": text}
        rows.append(("operator_message", conversation, payload, None))
    for attendance_id, conversation, status, protocol in bind.execute(
        sa.text(
            "SELECT id, conversation_id, status, protocol FROM attendance"
            " WHERE status IN ('finished', 'cancelled', 'abandoned') AND closing_sent_at IS NULL"
            " AND ended_at IS NOT NULL ORDER BY ended_at"
        )
    ):
        payload = {
            "attendance_id": attendance_id,
            "conversation_id": conversation,
            "status": status,
            "protocol": protocol,
        }
        rows.append(("closing", conversation, payload, f"closing:{attendance_id}"))
    for (conversation,) in bind.execute(sa.text("SELECT conversation_id FROM transfer_request")):
        payload = {"conversation_id": conversation}
        rows.append(("transfer", conversation, payload, f"transfer:{conversation}"))
    if rows:
        op.bulk_insert(
            jobs,
            [
                {
                    "kind": kind,
                    "key": f"to:{conversation}",
                    "payload": json.dumps(payload),
                    "status": "pending",
                    "dedup": dedup,
                    "attempts": 0,
                    "failures": 0,
                    "next_try_at": now,
                    "created_at": now,
                }
                for kind, conversation, payload, dedup in rows
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("message") as batch_op:
        batch_op.drop_constraint("uq_message_attendance_id", type_="unique")
        batch_op.create_unique_constraint("uq_message_dedup_key", ["dedup_key"])
    op.drop_index("ix_outbox_job_key", "outbox_job")
    op.drop_index("ix_outbox_job_due", "outbox_job")
    op.drop_table("outbox_job")
