"""Transfers between operators and rooms, and automatic assignment per room
(issue 19, capabilities 1 and 6): the rules, over REST and the console's
socket.io events, with Rasa unreachable (the customer's notice waits in the
outbox, where the transfer note must never be)."""

from __future__ import annotations

import json

from sqlalchemy import select

from handoff.db import Database
from handoff.domain.handovers import CUSTOMER_NOTICE
from handoff.models import OutboxJob
from tests.support.api import Client, add_operator, add_room, error_of, open_attendance, room_id

ROOM = "atendimento"  # the demo room


def colleague(service, rooms=(ROOM,), **fields) -> Client:
    return Client(service, add_operator(service, list(rooms), **fields)).available()


def outbox_texts(service) -> list[str]:
    db = Database(service.env["DATABASE_URL"])
    with db.unit_of_work(read_only=True) as uow:
        payloads = list(uow.session.scalars(select(OutboxJob.payload)))
    db.dispose()
    return [json.loads(p).get("text") for p in payloads]


def taken_call(service, operator: Client, name: str = "Caio") -> int:
    call = open_attendance(service, contact={"name": name})
    assert operator.take(call["id"]).status_code == 200
    return int(call["id"])


def test_transfer_to_an_operator_is_theirs_at_once_with_the_note(
    service, operator: Client, supervisor: Client, console
):
    bruno = colleague(service, name="Bruno Lima")
    bruno_console = console(bruno)
    aid = taken_call(service, operator)
    protocol = operator.send(aid, "Bom dia").json()["protocol"]
    targets = operator.get(f"/api/attendances/{aid}/transfer-targets").json()
    (room,) = [r for r in targets["rooms"] if r["id"] == targets["room_id"]]
    assert {"id": bruno.operator["id"], "name": "Bruno Lima"} in room["operators"]
    assert operator.operator["id"] not in [o["id"] for o in room["operators"]]

    moved = operator.post(
        f"/api/attendances/{aid}/transfer",
        {"operator_id": bruno.operator["id"], "note": "Quer a 2ª via do IPTU"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["attendance"]["operator_id"] == bruno.operator["id"]
    assigned = bruno_console.next("attendance:assigned", id=aid)
    assert assigned["status"] == "active" and assigned["first_response_at"] is None
    assert [a["id"] for a in bruno.get("/api/attendances").json()["active"]] == [aid]
    assert operator.get("/api/attendances").json()["active"] == []

    messages = bruno.get(f"/api/attendances/{aid}/messages").json()["messages"]
    note, notice = messages[-2:]
    assert (note["direction"], note["text"]) == (
        "note",
        f"Transferido por {operator.operator['name']} para Bruno Lima: Quer a 2ª via do IPTU",
    )
    assert (notice["direction"], notice["text"]) == ("bot", CUSTOMER_NOTICE)
    texts = outbox_texts(service)
    assert CUSTOMER_NOTICE in texts and not any("IPTU" in (t or "") for t in texts)

    # The old operator can no longer write in it; the new one can.
    assert error_of(operator.send(aid, "ainda aqui?"), 403)["code"] == "forbidden"
    assert bruno.send(aid, "Olá, sou o Bruno").status_code == 201
    assert bruno.post(f"/api/attendances/{aid}/finish").status_code == 200

    record = supervisor.get(f"/api/admin/protocols/{protocol}").json()
    holds = [(h["operator_name"], h["outcome"], h["transfer_note"]) for h in record["holds"]]
    assert holds == [
        (operator.operator["name"], "transferred", "Quer a 2ª via do IPTU"),
        ("Bruno Lima", "finished", None),
    ]
    assert all(h["first_response_at"] for h in record["holds"])
    rows = {r["operator"]: r for r in supervisor.get("/api/admin/reports").json()["rows"]}
    ana, bruno_row = rows[operator.operator["name"]], rows["Bruno Lima"]
    assert (ana["answered"], ana["transferred"], ana["finished"]) == (1, 1, 0)
    assert (bruno_row["answered"], bruno_row["transferred"], bruno_row["finished"]) == (1, 0, 1)
    assert ana["first_response_avg"] >= 0 and bruno_row["first_response_avg"] >= 0
    totals = supervisor.get("/api/admin/reports").json()["totals"]
    assert (totals["received"], totals["finished"], totals["transferred"]) == (1, 1, 1)


def test_transfer_to_a_room_rings_there(service, operator: Client, console):
    add_room(service, "tributos")
    there = colleague(service, rooms=("tributos",))
    ringing = console(there)
    aid = taken_call(service, operator)
    desk = console(operator)
    answer = desk.call(
        "attendance:transfer", {"attendance_id": aid, "room_id": room_id(service, "tributos")}
    )
    assert answer["ok"], answer
    assert answer["attendance"]["status"] == "queued"
    assert desk.next("attendance:transferred", id=aid)
    assert ringing.next("attendance:queued", id=aid)["room_id"] == room_id(service, "tributos")
    assert [a["id"] for a in there.get("/api/attendances").json()["queued"]] == [aid]
    # The operator of the old room no longer sees it at all.
    assert error_of(operator.get(f"/api/attendances/{aid}/messages"), 404)
    assert there.take(aid).status_code == 200


def test_refused_transfers_say_why_in_portuguese(service, operator: Client, console):
    aid = taken_call(service, operator)
    desk = console(operator)

    def refused(**payload) -> dict:
        answer = desk.call("attendance:transfer", {"attendance_id": aid, **payload})
        assert answer["ok"] is False, answer
        return answer["error"]

    assert refused(room_id=999999)["message"] == "Sala não encontrada."
    assert refused(room_id="x")["code"] == "not_found"
    assert refused()["message"] == "Escolha outra sala ou um operador."
    assert refused(operator_id=operator.operator["id"])["message"] == "Escolha outro operador."
    assert refused(operator_id=999999)["code"] == "not_found"
    assert (
        refused(operator_id=colleague(service, name="Dora").operator["id"], note=7)["field"]
        == "note"
    )

    offline = Client(service, add_operator(service, [ROOM], name="Edu"))
    assert refused(operator_id=offline.operator["id"])["message"] == "Edu não está Disponível."
    full = colleague(service, name="Fabi", max_concurrent=1)
    taken_call(service, full, "Gil")
    assert refused(operator_id=full.operator["id"])["message"] == (
        "Fabi já está com 1 atendimentos, o máximo permitido."
    )
    add_room(service, "outra")
    stranger = colleague(service, rooms=("outra",), name="Hugo")
    assert refused(operator_id=stranger.operator["id"])["message"] == (
        "Operador não encontrado na sala Atendimento ao cidadão."
    )
    # Not theirs: a colleague of the room may not pass it on.
    other = colleague(service)
    answer = other.post(f"/api/attendances/{aid}/transfer", {"room_id": room_id(service, "outra")})
    assert error_of(answer, 403)["message"] == "Este atendimento é de outro operador."
    assert error_of(operator.post(f"/api/attendances/{aid}/transfer", [1]), 400)
    # Nothing changed.
    assert [a["id"] for a in operator.get("/api/attendances").json()["active"]] == [aid]


def test_automatic_room_gives_calls_to_the_least_busy_within_the_limit(
    service, operator: Client, supervisor: Client, console
):
    rid = room_id(service, ROOM)
    bad = supervisor.put(f"/api/admin/rooms/{rid}", {"assignment": "sorteio"})
    assert error_of(bad, 400)["field"] == "assignment"
    waiting = open_attendance(service, contact={"name": "Já na fila"})
    switched = supervisor.put(f"/api/admin/rooms/{rid}", {"assignment": "automatic"})
    assert switched.json()["room"]["assignment"] == "automatic"
    # The call waiting went out when the room switched: the demo operator is
    # the only one available.
    assert [a["id"] for a in operator.get("/api/attendances").json()["active"]] == [waiting["id"]]

    other = colleague(service, name="Ivo", max_concurrent=1)
    other_console = console(other)
    first = open_attendance(service, contact={"name": "Primeiro"})
    assert other_console.next("attendance:assigned", id=first["id"])  # Ivo had none
    second = open_attendance(service, contact={"name": "Segundo"})
    # Ivo is at his limit; the demo operator (one) takes it.
    mine = [a["id"] for a in operator.get("/api/attendances").json()["active"]]
    assert mine == [waiting["id"], second["id"]]
    assert [a["id"] for a in other.get("/api/attendances").json()["active"]] == [first["id"]]

    # Nobody free: the call waits, and goes out when someone may take it.
    assert operator.post("/api/me/status", {"status": "paused", "reason": "Almoço"}).ok
    third = open_attendance(service, contact={"name": "Terceiro"})
    assert third["status"] == "queued"
    assert other.post(f"/api/attendances/{first['id']}/finish").status_code == 200
    assert other_console.next("attendance:assigned", id=third["id"])

    # Ties go to the one idle longest: Ivo just took one, Joana never did.
    assert other.post(f"/api/attendances/{third['id']}/finish").status_code == 200
    joana = colleague(service, name="Joana")
    fourth = open_attendance(service, contact={"name": "Quarto"})
    assert [a["id"] for a in joana.get("/api/attendances").json()["active"]] == [fourth["id"]]


def test_a_higher_limit_in_supervisao_gives_out_the_calls_waiting(
    service, operator: Client, supervisor: Client
):
    assert supervisor.put(
        f"/api/admin/rooms/{room_id(service, ROOM)}", {"assignment": "automatic"}
    ).ok
    me = operator.operator["id"]
    assert supervisor.put(f"/api/admin/operators/{me}", {"max_concurrent": 1}).ok
    first = open_attendance(service)
    second = open_attendance(service)
    assert (first["status"], second["status"]) == ("active", "queued")
    assert supervisor.put(f"/api/admin/operators/{me}", {"max_concurrent": 2}).ok
    active = [a["id"] for a in operator.get("/api/attendances").json()["active"]]
    assert active == [first["id"], second["id"]]
