"""The customer's place in the queue and the estimated wait (issue 20,
item 1): the rules, and what the service tells and shows."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import requests
from sqlalchemy import select

from handoff.db import Database
from handoff.domain.waiting import (
    WHATSAPP_NOTICE_INTERVAL,
    Told,
    estimate_seconds,
    minutes_step,
    phrase,
    worth_telling,
)
from handoff.models import OutboxJob
from tests.support.api import SERVICE_TOKEN, Client, open_attendance

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=timezone.utc)


def test_the_estimate_is_the_median_wait_per_round_of_available_operators():
    waits = [30.0, 600.0, 90.0, 120.0, 60.0]  # median 90 s
    assert estimate_seconds(waits, position=1, available=2) == 90.0
    assert estimate_seconds(waits, position=3, available=2) == 180.0
    assert estimate_seconds(waits, position=5, available=1) == 450.0
    assert estimate_seconds([], position=1, available=1) is None
    assert estimate_seconds(waits, position=1, available=0) is None


def test_minutes_are_told_in_steps():
    assert [minutes_step(s) for s in (1, 60, 61, 179, 181, 3000, 3700, 5500)] == [
        1,
        1,
        2,
        3,
        5,
        60,
        90,
        120,
    ]
    assert minutes_step(None) is None


def test_the_phrase_in_pt_br():
    assert phrase(3, 5, 2) == "Você é o 3º da fila. Tempo estimado: cerca de 5 min."
    assert phrase(1, None, 1) == "Você é o 1º da fila."
    assert phrase(2, None, 0).startswith("Você é o 2º da fila. No momento nenhum atendente")


def test_what_is_worth_telling_and_how_often_on_whatsapp():
    last = Told(position=3, minutes=5, at=NOW)
    soon, later = NOW + timedelta(seconds=30), NOW + WHATSAPP_NOTICE_INTERVAL
    whatsapp = WHATSAPP_NOTICE_INTERVAL
    assert worth_telling(None, 3, 5, NOW, whatsapp)  # on joining
    assert not worth_telling(last, 3, 5, later)  # nothing new
    assert not worth_telling(last, 4, 5, later)  # a step back, same estimate
    assert worth_telling(last, 2, 5, soon)  # a step forward
    assert worth_telling(last, 3, 10, soon)  # another estimate step
    assert not worth_telling(last, 2, 5, soon, whatsapp)  # WhatsApp: not yet
    assert worth_telling(last, 2, 5, later, whatsapp)


def notices(service) -> list[dict]:
    db = Database(service.env["DATABASE_URL"])
    with db.unit_of_work(read_only=True) as uow:
        rows = uow.session.scalars(
            select(OutboxJob.payload).where(OutboxJob.kind == "queue_notice")
        ).all()
    db.dispose()
    return [json.loads(row) for row in rows]


def test_joining_tells_the_place_and_moving_up_tells_it_again(service, operator: Client, console):
    desk = console(operator)
    first = open_attendance(service, contact={"name": "Ana"})
    second = open_attendance(service, contact={"name": "Bento"})
    assert desk.next("queue:positions", room_id=first["room_id"])
    listed = desk.call("attendances:list", {})["queued"]
    assert [(a["id"], a["position"]) for a in listed] == [(first["id"], 1), (second["id"], 2)]
    assert notices(service) == []  # the join was told in the transfer message
    operator.take(first["id"])
    moved = desk.next(
        "queue:positions", positions=[{"id": second["id"], "position": 1, "estimated_minutes": 1}]
    )
    assert moved["room_id"] == second["room_id"]
    (notice,) = notices(service)
    assert notice["attendance_id"] == second["id"]
    assert notice["text"] == "Você é o 1º da fila. Tempo estimado: cerca de 1 min."


def test_the_transfer_answer_carries_the_place_told_on_joining(service, operator: Client):
    open_attendance(service, contact={"name": "Caio"})
    response = requests.post(
        f"{service.base_url}/api/attendances",
        json={"conversation_id": uuid.uuid4().hex, "channel": "whatsapp"},
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=10,
    )
    assert response.status_code == 201
    assert response.json()["queue"] == {
        "id": response.json()["attendance"]["id"],
        "position": 2,
        "estimated_minutes": None,
        "text": "Você é o 2º da fila.",
    }


def test_supervisors_see_each_room_s_places(service, operator: Client, supervisor: Client):
    first = open_attendance(service, contact={"name": "Dora"})
    second = open_attendance(service, contact={"name": "Enzo"})
    (room,) = [r for r in supervisor.get("/api/admin/live").json()["rooms"] if r["waiting"]]
    assert [(a["id"], a["position"], a["estimated_minutes"]) for a in room["waiting"]] == [
        (first["id"], 1, None),
        (second["id"], 2, None),
    ]
