"""The customer's place in the queue and the estimated wait (issue 20,
item 1): the rules, and what the service tells and shows."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import select

from handoff.db import Database
from handoff.domain.queue_notices import PlacesShown
from handoff.domain.waiting import (
    WHATSAPP_NOTICE_INTERVAL,
    WIDGET_NOTICE_INTERVAL,
    Told,
    estimate_seconds,
    held_until,
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
    # News held back is due when the interval ends; no news is never due.
    assert held_until(last, 2, 5, soon, whatsapp) == NOW + whatsapp
    assert held_until(last, 2, 5, later, whatsapp) is None  # due now
    assert held_until(last, 4, 5, soon, whatsapp) is None
    assert held_until(None, 1, None, soon, whatsapp) is None


def test_the_widget_is_told_at_most_every_thirty_seconds():
    last = Told(position=9, minutes=None, at=NOW)
    assert WIDGET_NOTICE_INTERVAL == timedelta(seconds=30)
    assert not worth_telling(last, 8, None, NOW + timedelta(seconds=29), WIDGET_NOTICE_INTERVAL)
    assert worth_telling(last, 8, None, NOW + timedelta(seconds=30), WIDGET_NOTICE_INTERVAL)


def test_consoles_are_shown_the_places_that_changed_and_all_of_them_at_times():
    shown = PlacesShown(full_every=timedelta(seconds=30))
    a, b, c = ({"id": n, "position": n, "estimated_minutes": None} for n in (1, 2, 3))
    assert shown.changed(7, [a, b], NOW) == [a, b]  # the first count: all
    assert shown.changed(7, [a, b, c], NOW + timedelta(seconds=1)) == [c]
    moved = [{**b, "position": 1}, {**c, "position": 2}]
    assert shown.changed(7, moved, NOW + timedelta(seconds=2)) == moved
    assert shown.changed(7, moved, NOW + timedelta(seconds=3)) == []
    assert shown.changed(8, [a], NOW + timedelta(seconds=3)) == [a]  # rooms apart
    assert shown.changed(7, moved, NOW + timedelta(seconds=30)) == moved  # all again


def notices(service) -> list[dict]:
    db = Database(service.env["DATABASE_URL"])
    with db.unit_of_work(read_only=True) as uow:
        rows = uow.session.scalars(
            select(OutboxJob.payload).where(OutboxJob.kind == "queue_notice")
        ).all()
    db.dispose()
    return [json.loads(row) for row in rows]


# The widget's 30-second interval is left out here (tested above and below).
EVERY_CHANGE = {"widget_queue_notice_seconds": 0.0}


@pytest.mark.parametrize("service_settings", [EVERY_CHANGE])
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


@pytest.mark.parametrize("service_settings", [EVERY_CHANGE])
def test_a_recount_shows_the_consoles_only_the_places_that_changed(
    service, operator: Client, console
):
    desk = console(operator)
    first = open_attendance(service, contact={"name": "Gil"})
    second = open_attendance(service, contact={"name": "Hebe"})
    # Both counted (in one recount or two), before the third joins.
    while not any(p["id"] == second["id"] for p in desk.next("queue:positions")["positions"]):
        pass
    third = open_attendance(service, contact={"name": "Iara"})
    shown = desk.next("queue:positions")["positions"]
    assert shown == [{"id": third["id"], "position": 3, "estimated_minutes": None}]
    assert first["id"] not in {p["id"] for p in shown}


@pytest.mark.parametrize("service_settings", [{"widget_queue_notice_seconds": 2.0}])
def test_news_held_back_by_the_interval_is_told_when_it_ends(service, operator: Client):
    """No later change is needed: the recount that held it back asks to be
    run again when the interval ends."""
    first = open_attendance(service, contact={"name": "Joana"})
    second = open_attendance(service, contact={"name": "Lia"})
    operator.take(first["id"])
    deadline = time.monotonic() + 30  # stuck, not slow
    while not notices(service) and time.monotonic() < deadline:
        time.sleep(0.1)
    (notice,) = notices(service)
    assert notice["attendance_id"] == second["id"]
    assert notice["text"].startswith("Você é o 1º da fila.")
