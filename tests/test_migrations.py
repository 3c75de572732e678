"""The Alembic migrations, on both engines: they build exactly the models'
schema, and 0007 turns the work an old version left unfinished into outbox
jobs and scopes message ids to their attendance."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, text

from handoff.migrate import alembic_config, differences
from tests.support.databases import BACKENDS, fresh_database


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    with fresh_database(request.param, tmp_path) as url:
        engine = create_engine(url)
        yield url, engine
        engine.dispose()


def test_the_migrations_build_the_models_schema(database: tuple[str, Engine]) -> None:
    url, _engine = database
    assert differences(url) == []


def test_0007_queues_unfinished_work_and_scopes_ids(database: tuple[str, Engine]) -> None:
    url, engine = database
    config = alembic_config(url)
    command.upgrade(config, "0006")
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO room (id, slug, name, created_at) VALUES (1, 'r', 'R', :now)"),
            {"now": "2026-12-01 10:00:00"},
        )
        connection.execute(
            text(
                "INSERT INTO operator (id, username, name, password_hash, role, active,"
                " active_for_chat, max_concurrent, status, created_at)"
                " VALUES (7, 'op', 'Op', 'x', 'operator', true, true, 5, 'offline', :now)"
            ),
            {"now": "2026-12-01 10:00:00"},
        )
        for attendance_id, status, ended in ((1, "active", None), (2, "finished", "now")):
            connection.execute(
                text(
                    "INSERT INTO attendance (id, conversation_id, channel, room_id, status,"
                    " protocol, queued_at, ended_at)"
                    " VALUES (:id, :conversation, 'socketio', 1, :status, :protocol, :now, :ended)"
                ),
                {
                    "id": attendance_id,
                    "conversation": f"conversation-{attendance_id}",
                    "status": status,
                    "protocol": f"2026000{attendance_id}",
                    "now": "2026-12-01 10:00:00",
                    "ended": "2026-12-01 10:05:00" if ended else None,
                },
            )
        connection.execute(
            text(
                "INSERT INTO message (attendance_id, direction, operator_id, text, dedup_key,"
                " delivery, created_at) VALUES (1, 'operator', 7, 'olá', 'op:c-1', 'pending', :now)"
            ),
            {"now": "2026-12-01 10:01:00"},
        )
        connection.execute(
            text(
                "INSERT INTO transfer_request (conversation_id, requested_at)"
                " VALUES ('conversation-3', :now)"
            ),
            {"now": "2026-12-01 10:02:00"},
        )

    command.upgrade(config, "head")

    with engine.begin() as connection:
        jobs = connection.execute(
            text("SELECT kind, key, payload, status FROM outbox_job ORDER BY id")
        ).all()
        assert [(kind, key, status) for kind, key, _payload, status in jobs] == [
            ("operator_message", "to:conversation-1", "pending"),
            ("closing", "to:conversation-2", "pending"),
            ("transfer", "to:conversation-3", "pending"),
        ]
        assert json.loads(jobs[0][2])["text"] == "olá"
        assert json.loads(jobs[1][2])["protocol"] == "20260002"
        key = connection.execute(text("SELECT dedup_key FROM message")).scalar_one()
        assert key == "op:7:c-1"
        # The same id may now stand in two attendances (two conversations).
        for attendance_id in (1, 2):
            connection.execute(
                text(
                    "INSERT INTO message (attendance_id, direction, text, dedup_key, created_at)"
                    " VALUES (:id, 'customer', 'oi', 'rasa:1', :now)"
                ),
                {"id": attendance_id, "now": "2026-12-01 10:03:00"},
            )
        connection.execute(text("DELETE FROM message WHERE dedup_key = 'rasa:1'"))
    command.downgrade(config, "0006")


def test_0010_gives_the_attendances_under_way_their_hold(database: tuple[str, Engine]) -> None:
    url, engine = database
    config = alembic_config(url)
    command.upgrade(config, "0010-1")
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO room (id, slug, name, created_at) VALUES (1, 'r', 'R', :now)"),
            {"now": "2026-12-01 10:00:00"},
        )
        connection.execute(
            text(
                "INSERT INTO operator (id, username, name, password_hash, role, active,"
                " active_for_chat, max_concurrent, status, created_at)"
                " VALUES (7, 'op', 'Op', 'x', 'operator', true, true, 5, 'offline', :now)"
            ),
            {"now": "2026-12-01 10:00:00"},
        )
        for attendance_id, status in ((1, "active"), (2, "finished"), (3, "queued")):
            connection.execute(
                text(
                    "INSERT INTO attendance (id, conversation_id, channel, room_id, status,"
                    " operator_id, queued_at, taken_at)"
                    " VALUES (:id, :conversation, 'socketio', 1, :status, :operator, :now, :taken)"
                ),
                {
                    "id": attendance_id,
                    "conversation": f"conversation-{attendance_id}",
                    "status": status,
                    "operator": None if status == "queued" else 7,
                    "now": "2026-12-01 10:00:00",
                    "taken": None if status == "queued" else "2026-12-01 10:01:00",
                },
            )
    command.upgrade(config, "0010")
    with engine.connect() as connection:
        holds = connection.execute(
            text("SELECT attendance_id, operator_id, room_id, ended_at FROM attendance_hold")
        ).all()
        rooms = connection.execute(text("SELECT assignment FROM room")).scalars().all()
    assert [tuple(h) for h in holds] == [(1, 7, 1, None)]
    assert rooms == ["manual"]
