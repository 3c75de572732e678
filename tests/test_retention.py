"""Retention (issue 21, item 3) with real Rasa, action server and handoff
service, on SQLite and PostgreSQL: the retention run, on a clock moved
past the period, anonymises exactly the demands that ended before it, in
both databases, and keeps their records for the statistics."""

from __future__ import annotations

import os
import subprocess

import pytest

from handoff.domain.masking import MARK
from tests.support.api import Client
from tests.support.clients import Operator
from tests.support.processes import PYTHON, ROOT, Stack
from tests.test_data_subjects import (
    DEMO_PASSWORD,
    attend,
    found,
    process,
    widget_attendance,
)

pytestmark = pytest.mark.slow

PERIOD_DAYS = 730
OLD_NAME, OLD_EMAIL, OLD_CPF = "Otávio Mesquita Lobo", "otavio.lobo@example.com", "111.444.777-35"
OLD_NEEDLES = [OLD_NAME, "Mesquita", OLD_EMAIL, OLD_CPF, "11144477735", "21977771111"]
CURRENT_NAME, CURRENT_EMAIL = "Helena Prates Viana", "helena.viana@example.com"


def retention_run(stack: Stack, days_later: float) -> str:
    """``python -m handoff retention`` with the clock ``days_later`` ahead."""
    handoff = process(stack, "handoff")
    done = subprocess.run(
        [PYTHON, "-m", "tests.support.moved_clock", str(days_later), "retention"],
        cwd=ROOT,
        env={**os.environ, **handoff.env, "HANDOFF_RETENTION_DAYS": str(PERIOD_DAYS)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_retention_anonymises_exactly_what_is_past_the_period(stack: Stack):
    desk = Client(process(stack, "handoff"), "operador", DEMO_PASSWORD).available()
    supervisor = Client(process(stack, "handoff"), "supervisor", DEMO_PASSWORD)
    operator = Operator(stack.handoff_url)
    old_visitor, old = widget_attendance(
        stack, operator, OLD_NAME, OLD_EMAIL, f"Quero um atendente. Meu CPF é {OLD_CPF}."
    )
    customer = desk.post(
        "/api/customers",
        {"name": OLD_NAME, "phone": "(21) 97777-1111", "email": OLD_EMAIL, "document": OLD_CPF},
    ).json()["customer"]
    desk.take(old["id"])
    desk.post(f"/api/attendances/{old['id']}/customer", {"customer_id": customer["id"]})
    protocol = attend(desk, old["id"], "Olá, Otávio! Segue a informação.", comment="Otávio ok")
    current_visitor, current = widget_attendance(
        stack, operator, CURRENT_NAME, CURRENT_EMAIL, "oi, sou a Helena"
    )
    desk.take(current["id"])
    try:
        day = supervisor.get("/api/admin/reports").json()["totals"]

        # A day before the period ends: nothing changes.
        assert retention_run(stack, PERIOD_DAYS - 1) == "Retention: 0 attendances anonymised."
        for needle in OLD_NEEDLES:
            assert found(stack, needle), needle
        assert any(row.startswith("events:") for row in found(stack, OLD_EMAIL))

        # A day after: the demand that ended is anonymised; the open one is not.
        assert retention_run(stack, PERIOD_DAYS + 1) == "Retention: 1 attendances anonymised."
        for needle in OLD_NEEDLES:
            assert found(stack, needle) == [], needle
        for needle in (CURRENT_NAME, CURRENT_EMAIL):
            rows = found(stack, needle)
            assert any(r.startswith("events:") for r in rows), needle
            assert any(r.startswith("attendance:") for r in rows), needle

        record = supervisor.get(f"/api/admin/protocols/{protocol}").json()
        assert record["status"] == "finished" and record["registrations"]
        assert record["ended_at"] and record["contact_name"] is None
        assert {m["text"] for m in record["messages"]} == {MARK}
        assert supervisor.get("/api/admin/reports").json()["totals"] == day
        history = desk.get(f"/api/customers/{customer['id']}/history").json()
        assert history["customer"]["name"] == "Titular anonimizado"
        # Done once: a later run finds nothing more.
        assert retention_run(stack, PERIOD_DAYS + 1) == "Retention: 0 attendances anonymised."
    finally:
        desk.post(f"/api/attendances/{current['id']}/finish")
        for client in (old_visitor, current_visitor, operator):
            client.close()
