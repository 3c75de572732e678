"""The satisfaction survey after a finished attendance (issue 20, item 4):
off unless the room asks for it, a 1-5 rating once per attendance and an
optional comment, in the protocol record, the reports and the CSV."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import requests
from sqlalchemy import select

from handoff.db import Database
from handoff.domain.surveys import MAX_COMMENT_CHARS
from handoff.models import OutboxJob, utcnow
from tests.support.api import Client, backdate, error_of, open_attendance, report_csv_rows
from tests.support.processes import SERVICE_TOKEN


def answer(service: Any, kind: str, body: dict[str, Any]) -> requests.Response:
    """What the bot's survey actions post (service token)."""
    return requests.post(
        f"{service.base_url}/api/surveys/{kind}",
        json=body,
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=10,
    )


def survey_on(supervisor: Client, on: bool = True) -> None:
    room = next(r for r in supervisor.get("/api/admin/rooms").json()["rooms"])
    changed = supervisor.put(f"/api/admin/rooms/{room['id']}", {"survey_enabled": on})
    assert changed.status_code == 200, changed.text
    assert changed.json()["room"]["survey_enabled"] is on


def finished(service: Any, operator: Client, name: str = "Rita") -> dict[str, Any]:
    """An attendance the operator answered and finished; with its protocol."""
    call = open_attendance(service, contact={"name": name})
    operator.take(call["id"])
    operator.send(call["id"], "Resolvido")
    ended = operator.post(f"/api/attendances/{call['id']}/finish")
    assert ended.status_code == 200, ended.text
    return ended.json()["attendance"]


def closing_job(service: Any, attendance_id: int) -> dict[str, Any]:
    db = Database(service.env["DATABASE_URL"])
    with db.unit_of_work(read_only=True) as uow:
        jobs = uow.session.scalars(select(OutboxJob).where(OutboxJob.kind == "closing")).all()
        payloads = [json.loads(j.payload) for j in jobs]
    db.dispose()
    return next(p for p in payloads if p["attendance_id"] == attendance_id)


def test_the_survey_is_off_by_default_and_asked_only_after_a_finished_attendance(
    service, operator: Client, supervisor: Client
):
    rooms = supervisor.get("/api/admin/rooms").json()["rooms"]
    assert all(r["survey_enabled"] is False for r in rooms)
    quiet = finished(service, operator)
    assert "survey" not in closing_job(service, quiet["id"])
    closed = {"protocol": quiet["protocol"], "conversation_id": quiet["conversation_id"]}
    assert answer(service, "rating", {**closed, "rating": 5}).json() == {"outcome": "closed"}

    survey_on(supervisor)
    asked = finished(service, operator)
    assert closing_job(service, asked["id"])["survey"] is True
    cancelled = open_attendance(service)
    operator.take(cancelled["id"])
    operator.post(f"/api/attendances/{cancelled['id']}/cancel")
    assert "survey" not in closing_job(service, cancelled["id"])
    bad = supervisor.put(f"/api/admin/rooms/{rooms[0]['id']}", {"survey_enabled": "sim"})
    assert error_of(bad, 400)["field"] == "survey_enabled"


def test_a_rating_counts_once_and_only_from_1_to_5(service, operator: Client, supervisor: Client):
    survey_on(supervisor)
    call = finished(service, operator)
    names = {"protocol": call["protocol"], "conversation_id": call["conversation_id"]}
    for wrong in (0, 6, 4.5, True, "cinco", None):
        assert error_of(answer(service, "rating", {**names, "rating": wrong}), 400)["field"] == (
            "rating"
        )
    assert error_of(answer(service, "rating", {"rating": 4}), 400)["field"] == "protocol"
    other = {**names, "conversation_id": "another-conversation"}
    assert answer(service, "rating", {**other, "rating": 1}).json()["outcome"] == "closed"
    # A comment before any rating is not taken.
    assert answer(service, "comment", {**names, "comment": "cedo"}).json()["outcome"] == "closed"

    assert answer(service, "rating", {**names, "rating": "4"}).json()["outcome"] == "stored"
    assert answer(service, "rating", {**names, "rating": 1}).json()["outcome"] == (
        "already_answered"
    )
    long = "  Muito   bom\x00 " + "a" * 2000
    assert answer(service, "comment", {**names, "comment": long}).json()["outcome"] == "stored"
    again = answer(service, "comment", {**names, "comment": "de novo"}).json()
    assert again["outcome"] == "already_answered"

    record = supervisor.get(f"/api/admin/protocols/{call['protocol']}").json()
    assert record["survey"]["rating"] == 4
    comment = record["survey"]["comment"]
    assert comment.startswith("Muito bom a") and comment.endswith("…")
    assert len(comment) == MAX_COMMENT_CHARS


def test_a_late_answer_is_ignored_and_a_skipped_comment_closes_the_survey(
    service, operator: Client, supervisor: Client
):
    survey_on(supervisor)
    late, skipped = finished(service, operator), finished(service, operator)
    db = Database(service.env["DATABASE_URL"])
    backdate(db, late["id"], ended_at=utcnow() - timedelta(hours=25))
    db.dispose()
    names = {"protocol": late["protocol"], "conversation_id": late["conversation_id"]}
    assert answer(service, "rating", {**names, "rating": 3}).json()["outcome"] == "closed"

    names = {"protocol": skipped["protocol"], "conversation_id": skipped["conversation_id"]}
    assert answer(service, "rating", {**names, "rating": 2}).json()["outcome"] == "stored"
    assert answer(service, "comment", {**names, "skip": True}).json()["outcome"] == "stored"
    after = answer(service, "comment", {**names, "comment": "depois"}).json()
    assert after["outcome"] == "already_answered"
    record = supervisor.get(f"/api/admin/protocols/{skipped['protocol']}").json()
    assert record["survey"] == {**record["survey"], "rating": 2, "comment": None}
    assert supervisor.get(f"/api/admin/protocols/{late['protocol']}").json()["survey"] == {
        "rating": None,
        "comment": None,
        "rated_at": None,
    }


def test_ratings_are_averaged_per_room_operator_and_day_and_in_the_csv(
    service, operator: Client, supervisor: Client
):
    survey_on(supervisor)
    calls = [finished(service, operator) for _ in range(3)]
    for call, rating in zip(calls[:2], (5, 2), strict=True):
        names = {"protocol": call["protocol"], "conversation_id": call["conversation_id"]}
        assert answer(service, "rating", {**names, "rating": rating}).json()["outcome"] == (
            "stored"
        )
    report = supervisor.get("/api/admin/reports").json()
    assert (report["totals"]["survey_answers"], report["totals"]["rating_avg"]) == (2, 3.5)
    (row,) = report["rows"]
    assert (row["operator"], row["survey_answers"], row["rating_avg"]) == (
        operator.operator["name"],
        2,
        3.5,
    )
    today = [d for d in report["daily"] if d["received"]]
    assert [(d["survey_answers"], d["rating_avg"]) for d in today] == [(2, 3.5)]
    heading, *lines = report_csv_rows(supervisor.get("/api/admin/reports", format="csv").content)
    cells = dict(zip(heading, lines[0], strict=True))
    assert (cells["Avaliações"], cells["Nota média"]) == ("2", "3,5")


def test_a_bot_message_s_buttons_wait_in_the_outbox_with_it(service):
    """The survey question Meta did not take now is sent again with its list."""
    buttons = [
        {"title": f"{n} - Nota", "payload": f'/survey_rating{{"rating": {n}}}'} for n in (1, 2)
    ]
    message = {"text": "Como você avalia este atendimento?", "timestamp": 1.5, "buttons": buttons}
    body = {"conversation_id": "5511999990000", "channel": "whatsapp", "message": message}
    url = f"{service.base_url}/api/channel/undelivered"
    headers = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    assert requests.post(url, json=body, headers=headers, timeout=10).status_code == 202
    db = Database(service.env["DATABASE_URL"])
    with db.unit_of_work(read_only=True) as uow:
        (job,) = uow.session.scalars(select(OutboxJob).where(OutboxJob.kind == "channel_resend"))
        assert json.loads(job.payload)["message"]["buttons"] == buttons
    db.dispose()
    for wrong in ([{"title": "x"}], "botões", [{"title": "x", "payload": "/y"}] * 11):
        refused = requests.post(
            url,
            json={**body, "message": {**message, "buttons": wrong}},
            headers=headers,
            timeout=10,
        )
        assert error_of(refused, 400)["field"] == "message.buttons"
