"""Transfers and automatic assignment (issue 19, capabilities 1 and 6)
through the console's socket.io events and REST, against the real handoff
process on SQLite and PostgreSQL: who holds the call afterwards, whose
console hears of it, what is stored (holds, the customer's notice in the
outbox), and the refusals with their pt-BR messages."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from handoff.db import Database
from handoff.domain.handovers import CUSTOMER_NOTICE
from handoff.models import Attendance, AttendanceHold, OutboxJob, Room
from tests.support.api import PASSWORD, Client, add_operator, add_room, open_attendance, room_id
from tests.support.clients import Operator
from tests.support.processes import Service

MAIN, OTHER, AUTO = "sala-a", "sala-b", "sala-auto"


@pytest.fixture(scope="module")
def rooms(handoff: Service) -> None:
    for slug in (MAIN, OTHER, AUTO):
        add_room(handoff, slug)
    db = Database(handoff.env["DATABASE_URL"])
    with db.unit_of_work() as uow:
        auto = uow.session.scalar(select(Room).where(Room.slug == AUTO))
        assert auto is not None
        auto.assignment = "automatic"
    db.dispose()


@pytest.fixture
def consoles(handoff: Service, rooms: None) -> Iterator:
    opened: list[Operator] = []

    def console(room: str, **fields) -> Operator:
        username = add_operator(handoff, [room], **fields)
        opened.append(Operator(handoff.base_url, username, PASSWORD))
        return opened[-1]

    yield console
    for connection in opened:
        connection.close()


def me(console: Operator) -> int:
    return int(console.get("/api/me").json()["id"])


def read(handoff: Service, query):
    db = Database(handoff.env["DATABASE_URL"])
    with db.unit_of_work(read_only=True) as uow:
        rows = list(uow.session.execute(query).tuples())
    db.dispose()
    return rows


def taken(handoff: Service, console: Operator, room: str = MAIN) -> int:
    call = open_attendance(handoff, room, contact={"name": "Cidadã"})
    answer = console.call("attendance:take", {"attendance_id": call["id"]})
    assert answer["ok"], answer
    return int(call["id"])


def test_transfer_to_an_operator_over_socketio(handoff: Service, consoles):
    ana, bruno = consoles(MAIN, name="Ana"), consoles(MAIN, name="Bruno")
    aid = taken(handoff, ana)
    answer = ana.call(
        "attendance:transfer",
        {"attendance_id": aid, "operator_id": me(bruno), "note": "Pediu a segunda via"},
    )
    assert answer["ok"], answer
    assert ana.wait_for("attendance:transferred", lambda a: a["id"] == aid)
    assigned = bruno.wait_for("attendance:assigned", lambda a: a["id"] == aid)
    assert (assigned["status"], assigned["operator_id"]) == ("active", me(bruno))
    note = bruno.wait_for("message:new", lambda m: m["direction"] == "note")
    assert note["text"] == "Transferido por Ana para Bruno: Pediu a segunda via"

    holds = read(
        handoff,
        select(AttendanceHold.operator_id, AttendanceHold.outcome, AttendanceHold.transfer_note)
        .where(AttendanceHold.attendance_id == aid)
        .order_by(AttendanceHold.id),
    )
    assert holds == [
        (me(ana), "transferred", "Pediu a segunda via"),
        (me(bruno), None, None),
    ]
    # The customer's notice is on its way (Rasa unreachable: it waits).
    payloads = read(handoff, select(OutboxJob.payload))
    texts = [json.loads(p)["text"] for (p,) in payloads if "text" in json.loads(p)]
    assert CUSTOMER_NOTICE in texts and "Pediu a segunda via" not in " ".join(texts)


def test_transfer_to_a_room_over_rest_rings_there(handoff: Service, consoles):
    ana, there = consoles(MAIN, name="Ana"), consoles(OTHER, name="Olga")
    aid = taken(handoff, ana)
    client = Client(handoff, ana.get("/api/me").json()["username"])
    moved = client.post(f"/api/attendances/{aid}/transfer", {"room_id": room_id(handoff, OTHER)})
    assert moved.status_code == 200, moved.text
    queued = there.wait_for("attendance:queued", lambda a: a["id"] == aid)
    assert (queued["status"], queued["room_id"]) == ("queued", room_id(handoff, OTHER))
    assert there.call("attendance:take", {"attendance_id": aid})["ok"]
    ((room, operator),) = read(
        handoff, select(Attendance.room_id, Attendance.operator_id).where(Attendance.id == aid)
    )
    assert (room, operator) == (room_id(handoff, OTHER), me(there))


def test_refused_transfers(handoff: Service, consoles):
    ana, colleague = consoles(MAIN, name="Ana"), consoles(MAIN, name="Cida")
    full = consoles(MAIN, name="Fábio", max_concurrent=1)
    taken(handoff, full)
    away = consoles(MAIN, name="Edna")
    assert away.call("attendances:list", {})  # connected, then unavailable
    away_client = Client(handoff, away.get("/api/me").json()["username"])
    assert away_client.post("/api/me/status", {"status": "offline"}).ok
    aid = taken(handoff, ana)

    def refusal(console: Operator, **payload) -> str:
        answer = console.call("attendance:transfer", {"attendance_id": aid, **payload})
        assert answer["ok"] is False, answer
        return answer["error"]["message"]

    assert refusal(colleague, operator_id=me(full)) == "Este atendimento é de outro operador."
    assert refusal(ana, operator_id=me(full)) == (
        "Fábio já está com 1 atendimentos, o máximo permitido."
    )
    assert refusal(ana, operator_id=me(away)) == "Edna não está Disponível."
    assert refusal(ana, room_id=2**40) == "Sala não encontrada."
    assert refusal(ana, room_id=None) == "Escolha outra sala ou um operador."
    bad = ana.call("attendance:transfer", {"room_id": room_id(handoff, OTHER)})
    assert bad["ok"] is False and bad["error"]["code"] == "invalid"
    # Still Ana's, with one hold.
    rows = read(
        handoff, select(AttendanceHold.operator_id).where(AttendanceHold.attendance_id == aid)
    )
    assert rows == [(me(ana),)]


def test_automatic_room_gives_each_call_to_the_least_busy(handoff: Service, consoles):
    busy = consoles(AUTO, name="Ocupada", max_concurrent=3)
    first = open_attendance(handoff, AUTO)
    assert busy.wait_for("attendance:assigned", lambda a: a["id"] == first["id"])
    free = consoles(AUTO, name="Livre", max_concurrent=1)
    second = open_attendance(handoff, AUTO)
    # Livre has none: least busy. Then Livre is at her limit.
    assert free.wait_for("attendance:assigned", lambda a: a["id"] == second["id"])
    third = open_attendance(handoff, AUTO)
    assert busy.wait_for("attendance:assigned", lambda a: a["id"] == third["id"])
    # A call transferred to the room goes out too.
    ana = consoles(MAIN, name="Ana")
    aid = taken(handoff, ana)
    answer = ana.call(
        "attendance:transfer", {"attendance_id": aid, "room_id": room_id(handoff, AUTO)}
    )
    assert answer["ok"] and answer["attendance"]["operator_id"] == me(busy)
    assert busy.wait_for("attendance:assigned", lambda a: a["id"] == aid)
    # Everybody full: it waits; a finish frees Livre, and it goes to her.
    waiting = open_attendance(handoff, AUTO)
    assert waiting["status"] == "queued"
    assert free.call("attendance:finish", {"attendance_id": second["id"]})["ok"]
    assert free.wait_for("attendance:assigned", lambda a: a["id"] == waiting["id"])
