"""Queue, taking, rooms, roles, absence and protocols through the public API
(issue: attendance domain), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from sqlalchemy import select

from handoff.db import Database
from handoff.models import AuditLog, OperatorStatusChange
from tests.support.api import Client, add_operator, add_room, error_of, open_attendance
from tests.support.clients import Operator as SocketOperator
from tests.support.processes import Service

GRACE = 1.5


@pytest.fixture(scope="module")
def handoff_settings() -> dict[str, str]:
    return {"HANDOFF_RECONNECT_GRACE_SECONDS": str(GRACE)}


@pytest.fixture(scope="module")
def rooms(handoff: Service) -> tuple[str, str]:
    add_room(handoff, "sala-a")
    add_room(handoff, "sala-b")
    return "sala-a", "sala-b"


def operator_in(handoff: Service, room: str, **fields) -> Client:
    return Client(handoff, add_operator(handoff, [room], **fields)).available()


def test_queue_is_in_arrival_order_per_room(handoff: Service, rooms):
    first = open_attendance(handoff, rooms[0])
    second = open_attendance(handoff, rooms[0])
    elsewhere = open_attendance(handoff, rooms[1])
    queued = operator_in(handoff, rooms[0]).get("/api/attendances").json()["queued"]
    ids = [a["id"] for a in queued]
    assert ids.index(first["id"]) < ids.index(second["id"])
    assert elsewhere["id"] not in ids


def test_two_operators_racing_for_one_call(handoff: Service, rooms):
    attendance = open_attendance(handoff, rooms[0])
    racers = [operator_in(handoff, rooms[0]) for _ in range(2)]
    barrier = threading.Barrier(len(racers))
    results: list[requests.Response] = []

    def race(client: Client) -> None:
        barrier.wait()
        results.append(client.take(attendance["id"]))

    threads = [threading.Thread(target=race, args=(c,)) for c in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in results) == [200, 409]
    loser = next(r for r in results if r.status_code == 409)
    assert (
        loser.json()["error"]["message"] == "Este atendimento já foi assumido por outro operador."
    )


def test_an_operator_of_another_room_is_refused(handoff: Service, rooms):
    attendance = open_attendance(handoff, rooms[0])
    owner = operator_in(handoff, rooms[0])
    assert owner.take(attendance["id"]).status_code == 200
    assert owner.send(attendance["id"], "Olá!").status_code == 201
    protocol = owner.get(f"/api/attendances/{attendance['id']}/summary").json()["attendance"][
        "protocol"
    ]
    stranger = operator_in(handoff, rooms[1])
    aid = attendance["id"]
    for response in (
        stranger.take(aid),
        stranger.get(f"/api/attendances/{aid}/messages"),
        stranger.get(f"/api/attendances/{aid}/summary"),
        stranger.post(f"/api/attendances/{aid}/finish"),
        stranger.send(aid, "intruso"),
        stranger.get(f"/api/protocols/{protocol}"),
    ):
        assert error_of(response, 404)["code"] == "not_found"
    # A colleague of the same room can read but not act on it.
    colleague = operator_in(handoff, rooms[0])
    assert colleague.get(f"/api/attendances/{aid}/messages").status_code == 200
    assert error_of(colleague.post(f"/api/attendances/{aid}/finish"), 403)["code"] == "forbidden"
    assert error_of(colleague.send(aid, "oi"), 403)["code"] == "forbidden"
    messages = owner.get(f"/api/attendances/{aid}/messages").json()["messages"]
    assert [m["text"] for m in messages] == ["Olá!"]


def test_who_may_take_calls(handoff: Service, rooms):
    attendance = open_attendance(handoff, rooms[0])
    inactive = operator_in(handoff, rooms[0], active_for_chat=False)
    assert "ativado para o chat" in error_of(inactive.take(attendance["id"]), 403)["message"]
    paused = operator_in(handoff, rooms[0])
    bad_reason = paused.post("/api/me/status", {"status": "paused", "reason": "Sem motivo"})
    assert error_of(bad_reason, 400)["field"] == "reason"
    assert paused.post("/api/me/status", {"status": "paused", "reason": "Almoço"}).ok
    assert "Disponível" in error_of(paused.take(attendance["id"]), 409)["message"]
    busy = operator_in(handoff, rooms[0], max_concurrent=1)
    assert busy.take(attendance["id"]).status_code == 200
    other = open_attendance(handoff, rooms[0])
    assert "máximo" in error_of(busy.take(other["id"]), 409)["message"]


def test_supervisor_may_finish_an_attendance_of_the_room(handoff: Service, rooms):
    attendance = open_attendance(handoff, rooms[0])
    owner = operator_in(handoff, rooms[0])
    owner.take(attendance["id"])
    supervisor = operator_in(handoff, rooms[0], role="supervisor")
    finished = supervisor.post(f"/api/attendances/{attendance['id']}/finish")
    assert finished.status_code == 200
    body = finished.json()["attendance"]
    assert body["status"] == "finished" and body["protocol"]
    again = owner.post(f"/api/attendances/{attendance['id']}/finish")
    assert again.status_code == 200 and again.json()["attendance"]["protocol"] == body["protocol"]
    assert (
        "encerrado"
        in error_of(owner.post(f"/api/attendances/{attendance['id']}/cancel"), 409)["message"]
    )


def test_a_disconnected_operator_does_not_strand_the_attendance(handoff: Service, rooms):
    username = add_operator(handoff, [rooms[0]])
    watcher = SocketOperator(
        handoff.base_url, add_operator(handoff, [rooms[0]]), "senha-de-teste-123"
    )
    leaving = SocketOperator(handoff.base_url, username, "senha-de-teste-123")
    attendance = open_attendance(handoff, rooms[0])
    watcher.wait_for("attendance:queued", lambda a: a["id"] == attendance["id"])
    assert leaving.call("attendance:take", {"attendance_id": attendance["id"]})["ok"]

    # Back within the grace period: nothing changes.
    leaving.close()
    leaving = SocketOperator(handoff.base_url, username, "senha-de-teste-123")
    time.sleep(GRACE + 1)
    with pytest.raises(TimeoutError):
        watcher.wait_for("attendance:queued", lambda a: a["id"] == attendance["id"], timeout=0.1)
    mine = leaving.call("attendances:list", {})["active"]
    assert [a["id"] for a in mine] == [attendance["id"]]

    # Gone for longer: the call returns to the queue and the room hears of
    # it, and the operator is offline (no ghost "available" in supervision).
    leaving.close()
    requeued = watcher.wait_for("attendance:queued", lambda a: a["id"] == attendance["id"])
    assert requeued["status"] == "queued" and requeued["operator_id"] is None
    assert Client(handoff, username).get("/api/me").json()["status"] == "offline"
    assert watcher.call("attendance:take", {"attendance_id": attendance["id"]})["ok"]
    watcher.close()


def test_going_offline_returns_calls_to_the_queue(handoff: Service, rooms):
    client = operator_in(handoff, rooms[0])
    attendance = open_attendance(handoff, rooms[0])
    client.take(attendance["id"])
    assert client.send(attendance["id"], "Um momento").ok
    assert client.post("/api/me/status", {"status": "offline"}).json()["status"] == "offline"
    time.sleep(GRACE + 1)
    colleague = operator_in(handoff, rooms[0])
    queued = colleague.get("/api/attendances").json()["queued"]
    assert attendance["id"] in [a["id"] for a in queued]
    # Times are per operator hold: the colleague has not answered yet.
    assert colleague.take(attendance["id"]).ok
    summary = colleague.get(f"/api/attendances/{attendance['id']}/summary").json()
    assert summary["first_response_seconds"] is None
    assert summary["attendance"]["first_response_at"] is None


def test_queue_events_reach_the_room_only(handoff: Service, rooms):
    in_room = SocketOperator(
        handoff.base_url, add_operator(handoff, [rooms[1]]), "senha-de-teste-123"
    )
    other = SocketOperator(
        handoff.base_url, add_operator(handoff, [rooms[0]]), "senha-de-teste-123"
    )
    attendance = open_attendance(handoff, rooms[1])
    assert in_room.wait_for("attendance:queued", lambda a: a["id"] == attendance["id"])
    with pytest.raises(TimeoutError):
        other.wait_for("attendance:queued", lambda a: a["id"] == attendance["id"], timeout=1)
    in_room.close()
    other.close()


def test_status_changes_and_actions_are_kept(handoff: Service, rooms):
    client = operator_in(handoff, rooms[0])
    client.post("/api/me/status", {"status": "paused", "reason": "Intervalo"})
    client.post("/api/me/status", {"status": "available"})
    attendance = open_attendance(handoff, rooms[0])
    client.take(attendance["id"])
    client.post(f"/api/attendances/{attendance['id']}/cancel")
    assert client.post("/api/auth/logout").ok
    db = Database(handoff.env["DATABASE_URL"])
    with db.unit_of_work() as uow:
        changes = uow.session.execute(
            select(OperatorStatusChange.status, OperatorStatusChange.reason)
            .where(OperatorStatusChange.operator_id == client.operator["id"])
            .order_by(OperatorStatusChange.id)
        ).all()
        actions = uow.session.scalars(
            select(AuditLog.action)
            .where(AuditLog.operator_id == client.operator["id"])
            .order_by(AuditLog.id)
        ).all()
    db.dispose()
    assert [tuple(c) for c in changes] == [
        ("available", None),
        ("paused", "Intervalo"),
        ("available", None),
        ("offline", None),
    ]
    assert actions == [
        "login",
        "status",
        "status",
        "status",
        "taken",
        "cancelled",
        "status",
        "logout",
    ]


def test_summary_and_protocol_lookup(handoff: Service, rooms):
    client = operator_in(handoff, rooms[0])
    attendance = open_attendance(
        handoff,
        rooms[0],
        contact={"name": "Carla"},
        first_message={"message_id": "m-1", "text": "Oi"},
    )
    client.take(attendance["id"])
    client.send(attendance["id"], "Bom dia, Carla!")
    summary = client.get(f"/api/attendances/{attendance['id']}/summary").json()
    assert summary["message_count"] == 2
    assert summary["waiting_seconds"] >= 0 and summary["first_response_seconds"] >= 0
    protocol = summary["attendance"]["protocol"]
    record = client.get(f"/api/protocols/{protocol[:4]}.{protocol[4:]}").json()
    assert record["id"] == attendance["id"]
    assert [m["text"] for m in record["messages"]] == ["Oi", "Bom dia, Carla!"]
    assert error_of(client.get("/api/protocols/1999000001"), 404)["message"] == (
        "Protocolo não encontrado."
    )
