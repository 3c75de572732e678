"""Administration and supervision through the API (issue: administration).
A plain operator is refused on every admin route."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from handoff.db import Database
from tests.support.api import (
    ADMIN_ROUTES,
    PASSWORD,
    Client,
    add_operator,
    backdate,
    error_of,
    open_attendance,
    report_csv_rows,
)
from tests.support.processes import Service


@pytest.fixture(scope="module")
def backend() -> str:
    """One engine: the fast tier runs administration on SQLite (tests/fast/test_admin.py)."""
    return "postgresql"


@pytest.fixture(scope="module")
def handoff_settings(kb_dir: Path) -> dict[str, str]:
    return {"HANDOFF_KB_DIR": str(kb_dir), "HANDOFF_TIMEZONE": "America/Sao_Paulo"}


@pytest.fixture(scope="module")
def supervisor(handoff: Service) -> Client:
    return Client(handoff, add_operator(handoff, ["atendimento"], role="supervisor")).available()


def rooms_of(client: Client) -> dict[str, int]:
    return {r["slug"]: r["id"] for r in client.get("/api/admin/rooms").json()["rooms"]}


def test_plain_operators_get_403_everywhere(handoff: Service):
    plain = Client(handoff, add_operator(handoff, ["atendimento"]))
    for method, path, body in ADMIN_ROUTES:
        response = requests.request(method, f"{plain.base}{path}", json=body, headers=plain.headers)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["code"] == "forbidden"


def test_rooms_and_operators_lifecycle(handoff: Service, supervisor: Client):
    assert (
        error_of(supervisor.post("/api/admin/rooms", {"slug": "Sala B", "name": "B"}), 400)["field"]
        == "slug"
    )
    room = supervisor.post("/api/admin/rooms", {"slug": "sala-b", "name": "Sala B"})
    assert room.status_code == 201
    assert error_of(supervisor.post("/api/admin/rooms", {"slug": "sala-b", "name": "B"}), 409)
    room_id = room.json()["room"]["id"]
    renamed = supervisor.put(f"/api/admin/rooms/{room_id}", {"name": "Sala B (tributos)"})
    assert renamed.json()["room"]["name"] == "Sala B (tributos)"

    username = f"ana-{uuid.uuid4().hex[:6]}"
    short = supervisor.post(
        "/api/admin/operators", {"username": username, "name": "Ana", "password": "123"}
    )
    assert error_of(short, 400)["field"] == "password"
    created = supervisor.post(
        "/api/admin/operators",
        {
            "username": username,
            "name": "Ana",
            "password": PASSWORD,
            "rooms": [room_id],
            "max_concurrent": 2,
        },
    )
    assert created.status_code == 201, created.text
    ana = created.json()["operator"]
    assert ana["rooms"] == [room_id] and ana["active_for_chat"] and ana["max_concurrent"] == 2
    dup = supervisor.post(
        "/api/admin/operators", {"username": username, "name": "Ana", "password": PASSWORD}
    )
    assert error_of(dup, 409)["field"] == "username"

    # The new operator works in the room she was linked to.
    client = Client(handoff, username).available()
    call = open_attendance(handoff, "sala-b")
    assert client.take(call["id"]).status_code == 200

    # A supervisor sets her forgotten session to Indisponível.
    status = supervisor.post(f"/api/admin/operators/{ana['id']}/status", {"status": "offline"})
    assert status.json()["operator"]["status"] == "offline"

    # A new password ends her sessions; deactivation keeps her out.
    reset = supervisor.put(f"/api/admin/operators/{ana['id']}", {"password": "outra-senha-1"})
    assert reset.status_code == 200
    assert error_of(client.get("/api/me"), 401)
    Client(handoff, username, "outra-senha-1")
    supervisor.put(f"/api/admin/operators/{ana['id']}", {"active": False})
    login = requests.post(
        f"{handoff.base_url}/api/auth/login",
        json={"username": username, "password": "outra-senha-1"},
    )
    assert error_of(login, 401)
    listed = {o["username"]: o for o in supervisor.get("/api/admin/operators").json()["operators"]}
    assert listed[username]["active"] is False  # kept, with her history


def test_entry_points_route_to_rooms(handoff: Service, supervisor: Client):
    supervisor.post("/api/admin/rooms", {"slug": "ouvidoria", "name": "Ouvidoria"})
    ouvidoria = rooms_of(supervisor)["ouvidoria"]
    routed = supervisor.post(
        "/api/admin/entry-points",
        {"kind": "whatsapp", "key": "106540352242922", "room_id": ouvidoria},
    )
    assert routed.status_code == 200
    assert error_of(
        supervisor.post(
            "/api/admin/entry-points", {"kind": "fax", "key": "1", "room_id": ouvidoria}
        ),
        400,
    )
    call = open_attendance(
        handoff, channel="whatsapp", entry_point={"kind": "whatsapp", "key": "106540352242922"}
    )
    assert call["room_id"] == ouvidoria
    other = open_attendance(handoff, entry_point={"kind": "widget", "key": "desconhecido"})
    assert other["room_id"] == rooms_of(supervisor)["atendimento"]


def test_pause_reasons_are_configurable(handoff: Service, supervisor: Client):
    supervisor.post("/api/admin/pause-reasons", {"label": "Suporte técnico"})
    supervisor.post("/api/admin/pause-reasons", {"label": "Almoço", "active": False})
    client = Client(handoff, add_operator(handoff, ["atendimento"]))
    assert "Suporte técnico" in client.get("/api/me").json()["pause_reasons"]
    assert client.post("/api/me/status", {"status": "paused", "reason": "Suporte técnico"}).ok
    refused = client.post("/api/me/status", {"status": "paused", "reason": "Almoço"})
    assert error_of(refused, 400)["field"] == "reason"
    supervisor.post("/api/admin/pause-reasons", {"label": "Almoço", "active": True})


def test_live_view_shows_queues_and_operators(handoff: Service, supervisor: Client):
    supervisor.post("/api/admin/rooms", {"slug": "sala-live", "name": "Sala ao vivo"})
    room_id = rooms_of(supervisor)["sala-live"]
    worker = Client(handoff, add_operator(handoff, ["sala-live"], name="Bruno")).available()
    first = open_attendance(handoff, "sala-live")
    open_attendance(handoff, "sala-live")
    worker.take(first["id"])
    rooms = {r["room"]["id"]: r for r in supervisor.get("/api/admin/live").json()["rooms"]}
    live = rooms[room_id]
    assert len(live["waiting"]) == 1 and live["longest_wait_seconds"] >= 0
    (bruno,) = live["operators"]
    assert bruno["name"] == "Bruno" and bruno["status"] == "available"
    assert [a["id"] for a in bruno["attendances"]] == [first["id"]]


def _p90(values):
    ordered = sorted(values)
    return round(ordered[math.ceil(0.9 * len(ordered)) - 1], 1)


def test_report_figures_match_the_data(handoff: Service, supervisor: Client):
    supervisor.post("/api/admin/rooms", {"slug": "sala-rel", "name": "Sala relatório"})
    worker = Client(handoff, add_operator(handoff, ["sala-rel"], name="Carla", max_concurrent=9))
    worker.available()
    article = worker.get("/api/kb/articles").json()["articles"][0]
    day = datetime(2026, 3, 10, 15, 0, tzinfo=timezone.utc)  # 12:00 in São Paulo
    plan = [  # (wait, first response, handling) in seconds; None = not taken
        (30, 10, 300),
        (90, 20, 600),
        (10, 5, 120),
        # Stored before a requeue reset the first response (an earlier
        # operator's hold): no first response of this hold, never negative.
        (40, -93, 200),
        (None, None, None),
    ]
    db = Database(handoff.env["DATABASE_URL"])
    for wait, first, handling in plan:
        call = open_attendance(handoff, "sala-rel")
        if wait is not None:
            worker.take(call["id"])
            worker.send(call["id"], "olá")
            worker.post(
                f"/api/attendances/{call['id']}/registrations", {"article_id": article["id"]}
            )
            worker.post(f"/api/attendances/{call['id']}/finish")
        values = {"queued_at": day}
        if wait is not None:
            values.update(
                taken_at=day + timedelta(seconds=wait),
                first_response_at=day + timedelta(seconds=wait + first),
                ended_at=day + timedelta(seconds=wait + handling),
            )
        else:
            values.update(status="cancelled", ended_at=day + timedelta(seconds=60))
        backdate(db, call["id"], **values)
    db.dispose()

    data = supervisor.get("/api/admin/reports", start="2026-03-10", end="2026-03-10").json()
    rows = [r for r in data["rows"] if r["room"] == "Sala relatório"]
    carla = next(r for r in rows if r["operator"] == "Carla")
    nobody = next(r for r in rows if r["operator"] == "—")
    taken = [p for p in plan if p[0] is not None]
    answered = [p[1] for p in taken if p[1] >= 0]
    assert (carla["received"], carla["answered"], carla["finished"]) == (4, 4, 4)
    assert nobody["abandoned"] == 1 and nobody["answered"] == 0
    assert carla["wait_avg"] == round(sum(p[0] for p in taken) / 4, 1)
    assert carla["wait_p90"] == _p90([p[0] for p in taken])
    assert carla["first_response_avg"] == round(sum(answered) / len(answered), 1)
    assert carla["first_response_p90"] == _p90(answered)
    assert carla["handling_p90"] == _p90([p[2] for p in taken])
    assert data["daily"] == [d for d in data["daily"] if d["day"] == "2026-03-10"]
    assert data["top_articles"][0] == {"title": article["title"], "count": 4}

    csv = supervisor.get("/api/admin/reports", start="2026-03-10", end="2026-03-10", format="csv")
    assert csv.headers["Content-Type"].startswith("text/csv")
    heading, *lines = report_csv_rows(csv.content)
    assert heading[:5] == ["Dia", "Sala", "Operador", "Recebidos", "Atendidos"]
    assert ["10/03/2026", "Sala relatório", "Carla", "4", "4", "4"] in [line[:6] for line in lines]
    assert (
        error_of(supervisor.get("/api/admin/reports", start="10/03/2026"), 400)["field"] == "start"
    )
    assert (
        error_of(supervisor.get("/api/admin/reports", start="2026-03-11", end="2026-03-10"), 400)[
            "field"
        ]
        == "start"
    )


def test_protocol_lookup_and_export(handoff: Service, supervisor: Client):
    supervisor.post("/api/admin/rooms", {"slug": "sala-p", "name": "Sala P"})
    worker = Client(handoff, add_operator(handoff, ["sala-p"])).available()
    call = open_attendance(handoff, "sala-p", first_message={"message_id": "p-1", "text": "oi"})
    worker.take(call["id"])
    protocol = worker.send(call["id"], "bom dia").json()["protocol"]
    record = supervisor.get(f"/api/admin/protocols/{protocol}")  # another room: supervision
    assert [m["text"] for m in record.json()["messages"]] == ["oi", "bom dia"]
    download = supervisor.get(f"/api/admin/protocols/{protocol}", download=1)
    assert f'filename="protocolo-{protocol}.json"' in download.headers["Content-Disposition"]
    assert error_of(supervisor.get("/api/admin/protocols/1999000009"), 404)


def test_a_broken_article_is_rejected_and_the_old_content_stays(supervisor: Client, kb_dir: Path):
    before = supervisor.get("/api/kb/articles").json()["articles"]
    (kb_dir / "quebrado.md").write_text("---\ntitle: Sem categoria\n---\nTexto\n", encoding="utf-8")
    (kb_dir / "horario-atendimento.md").write_text(
        "---\ntitle: Horário novo\ncategory: Informações gerais\n---\nDas 7h às 19h.\n",
        encoding="utf-8",
    )
    error = error_of(supervisor.post("/api/admin/content/reload"), 400)
    assert "quebrado.md:3" in error["message"] and "category" in error["message"]
    after = supervisor.get("/api/kb/articles").json()["articles"]
    assert [a["title"] for a in after] == [a["title"] for a in before]
    (kb_dir / "quebrado.md").unlink()
    assert supervisor.post("/api/admin/content/reload").status_code == 200
    titles = [a["title"] for a in supervisor.get("/api/kb/articles").json()["articles"]]
    assert "Horário novo" in titles


def test_the_pre_chat_form_is_optional_per_room(handoff: Service, supervisor: Client):
    """The widget asks its room's setting by its key (the default room without one)."""

    def optional(key: str) -> bool:
        response = requests.get(f"{handoff.base_url}/widget/api/prechat", params={"key": key})
        assert response.status_code == 200
        return response.json()["optional"]

    room = supervisor.post("/api/admin/rooms", {"slug": "sem-cadastro", "name": "Sem cadastro"})
    room_id = room.json()["room"]["id"]
    assert room.json()["room"]["prechat_optional"] is False
    supervisor.post(
        "/api/admin/entry-points", {"kind": "widget", "key": "ouvidoria", "room_id": room_id}
    )
    assert not optional("ouvidoria")
    bad = supervisor.put(f"/api/admin/rooms/{room_id}", {"prechat_optional": "sim"})
    assert error_of(bad, 400)["field"] == "prechat_optional"
    changed = supervisor.put(f"/api/admin/rooms/{room_id}", {"prechat_optional": True})
    assert changed.json()["room"] == {
        "id": room_id,
        "slug": "sem-cadastro",
        "name": "Sem cadastro",
        "assignment": "manual",
        "prechat_optional": True,
        "survey_enabled": False,
    }
    assert optional("ouvidoria")
    # Other sites, and a site without a key, go to the default room: asked.
    assert not optional("outro-site") and not optional("")
