"""Administration and supervision: operators, rooms, entry points, pause
reasons, the live view, reports, protocol lookup, content reload; plain
operators are refused on every admin route."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from handoff.settings import PROJECT_ROOT
from tests.support.api import (
    ADMIN_ROUTES,
    PASSWORD,
    Client,
    backdate,
    error_of,
    open_attendance,
    report_csv_rows,
)


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "kb"
    shutil.copytree(PROJECT_ROOT / "data" / "knowledge_base", folder)
    return folder


@pytest.fixture
def service_settings(kb_dir: Path) -> dict:
    return {"kb_dir": kb_dir}


def rooms_of(client: Client) -> dict[str, int]:
    return {r["slug"]: r["id"] for r in client.get("/api/admin/rooms").json()["rooms"]}


def test_plain_operators_get_403_everywhere(service, operator: Client):
    for method, path, body in ADMIN_ROUTES:
        response = requests.request(
            method, f"{service.base_url}{path}", json=body, headers=operator.headers
        )
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["code"] == "forbidden"


def test_rooms_and_operators_lifecycle(service, supervisor: Client):
    refused = [({"slug": "Sala B", "name": "B"}, 400), ({"slug": "atendimento", "name": "B"}, 409)]
    for body, status in refused:
        assert error_of(supervisor.post("/api/admin/rooms", body), status)["field"] == "slug"
    created = supervisor.post("/api/admin/rooms", {"slug": "sala-b", "name": "Sala B"})
    room_id = created.json()["room"]["id"]
    supervisor.put(f"/api/admin/rooms/{room_id}", {"name": "Sala B (tributos)"})
    names = {r["id"]: r["name"] for r in supervisor.get("/api/admin/rooms").json()["rooms"]}
    assert names[room_id] == "Sala B (tributos)"

    def create(**fields) -> requests.Response:
        return supervisor.post("/api/admin/operators", {"name": "Ana", **fields})

    assert error_of(create(username="ana", password="1"), 400)["field"] == "password"
    ana = create(username="ana", password=PASSWORD, rooms=[room_id]).json()["operator"]
    assert ana["rooms"] == [room_id] and ana["active_for_chat"]
    assert error_of(create(username="ana", password=PASSWORD), 409)["field"] == "username"
    edited = supervisor.put(f"/api/admin/operators/{ana['id']}", {"max_concurrent": 1})
    assert edited.json()["operator"]["max_concurrent"] == 1

    # She works in her room, up to her maximum.
    worker = Client(service, "ana").available()
    assert worker.take(open_attendance(service, "sala-b")["id"]).status_code == 200
    assert error_of(worker.take(open_attendance(service, "sala-b")["id"]), 409)
    offline = supervisor.post(f"/api/admin/operators/{ana['id']}/status", {"status": "offline"})
    assert offline.json()["operator"]["status"] == "offline"
    # A deactivated operator's sessions end; she stays listed, with her history.
    supervisor.put(f"/api/admin/operators/{ana['id']}", {"active": False})
    assert error_of(worker.get("/api/me"), 401)
    listed = {o["username"]: o for o in supervisor.get("/api/admin/operators").json()["operators"]}
    assert listed["ana"]["active"] is False


def test_entry_points_route_to_rooms(service, supervisor: Client):
    supervisor.post("/api/admin/rooms", {"slug": "ouvidoria", "name": "Ouvidoria"})
    ouvidoria = rooms_of(supervisor)["ouvidoria"]
    routed = supervisor.post(
        "/api/admin/entry-points", {"kind": "whatsapp", "key": "1065", "room_id": ouvidoria}
    )
    assert routed.json()["entry_point"] == {"kind": "whatsapp", "key": "1065", "room_id": ouvidoria}
    fax = supervisor.post(
        "/api/admin/entry-points", {"kind": "fax", "key": "1", "room_id": ouvidoria}
    )
    assert error_of(fax, 400)
    call = open_attendance(
        service, channel="whatsapp", entry_point={"kind": "whatsapp", "key": "1065"}
    )
    assert call["room_id"] == ouvidoria
    other = open_attendance(service, entry_point={"kind": "widget", "key": "desconhecido"})
    assert other["room_id"] == rooms_of(supervisor)["atendimento"]
    assert supervisor.get("/api/admin/rooms").json()["entry_points"][0]["key"] == "1065"


def test_pause_reasons_are_configurable(service, supervisor: Client, operator: Client):
    supervisor.post("/api/admin/pause-reasons", {"label": "Suporte técnico"})
    supervisor.post("/api/admin/pause-reasons", {"label": "Almoço", "active": False})
    assert "Suporte técnico" in operator.get("/api/me").json()["pause_reasons"]
    assert operator.post("/api/me/status", {"status": "paused", "reason": "Suporte técnico"}).ok
    refused = operator.post("/api/me/status", {"status": "paused", "reason": "Almoço"})
    assert error_of(refused, 400)["field"] == "reason"


def test_live_view_shows_queues_and_operators(service, supervisor: Client, operator: Client):
    first = open_attendance(service)
    open_attendance(service)
    operator.take(first["id"])
    (room,) = supervisor.get("/api/admin/live").json()["rooms"]
    assert len(room["waiting"]) == 1 and room["longest_wait_seconds"] >= 0
    by_name = {o["name"]: o for o in room["operators"]}
    mine = by_name[operator.operator["name"]]
    assert mine["status"] == "available" and [a["id"] for a in mine["attendances"]] == [first["id"]]


def test_report_figures_and_csv(service, supervisor: Client, operator: Client):
    article = operator.get("/api/kb/articles").json()["articles"][0]
    day = datetime(2026, 3, 10, 15, 0, tzinfo=timezone.utc)  # 12:00 in São Paulo
    for wait, first, handling in [(30, 10, 300), (90, 20, 600)]:
        call = open_attendance(service)
        operator.take(call["id"])
        operator.send(call["id"], "olá")
        operator.post(f"/api/attendances/{call['id']}/registrations", {"article_id": article["id"]})
        operator.post(f"/api/attendances/{call['id']}/finish")
        backdate(
            service.desk.db,
            call["id"],
            queued_at=day,
            taken_at=day + timedelta(seconds=wait),
            first_response_at=day + timedelta(seconds=wait + first),
            ended_at=day + timedelta(seconds=wait + handling),
        )
    data = supervisor.get("/api/admin/reports", start="2026-03-10", end="2026-03-10").json()
    (row,) = [r for r in data["rows"] if r["operator"] == operator.operator["name"]]
    assert (row["received"], row["answered"], row["finished"]) == (2, 2, 2)
    assert row["wait_avg"] == 60.0 and row["first_response_avg"] == 15.0
    assert data["top_articles"][0] == {"title": article["title"], "count": 2}
    csv = supervisor.get("/api/admin/reports", start="2026-03-10", end="2026-03-10", format="csv")
    assert csv.headers["Content-Type"].startswith("text/csv")
    # As a spreadsheet in pt-BR reads it: headings, dd/mm/aaaa, decimal comma.
    heading, *lines = report_csv_rows(csv.content)
    assert heading[:5] == ["Dia", "Sala", "Operador", "Recebidos", "Atendidos"]
    (mine,) = [line for line in lines if line[2] == operator.operator["name"]]
    assert mine[0] == "10/03/2026" and mine[3:6] == ["2", "2", "2"]
    assert mine[heading.index("Espera média (s)")] == "60,0"
    assert (
        error_of(supervisor.get("/api/admin/reports", start="10/03/2026"), 400)["field"] == "start"
    )
    backwards = supervisor.get("/api/admin/reports", start="2026-03-11", end="2026-03-10")
    assert error_of(backwards, 400)["field"] == "start"


def test_protocol_lookup_and_export(service, supervisor: Client, operator: Client):
    call = open_attendance(service, first_message={"message_id": "p-1", "text": "oi"})
    operator.take(call["id"])
    protocol = operator.send(call["id"], "bom dia").json()["protocol"]
    record = supervisor.get(f"/api/admin/protocols/{protocol}").json()
    assert [m["text"] for m in record["messages"]] == ["oi", "bom dia"]
    assert operator.get(f"/api/protocols/{protocol}").json()["id"] == call["id"]
    download = supervisor.get(f"/api/admin/protocols/{protocol}", download=1)
    assert f'filename="protocolo-{protocol}.json"' in download.headers["Content-Disposition"]
    assert error_of(supervisor.get("/api/admin/protocols/1999000009"), 404)
    assert error_of(operator.get("/api/protocols/1999000009"), 404)


def test_a_broken_article_is_refused_and_the_content_stays(service, supervisor: Client, kb_dir):
    before = supervisor.get("/api/kb/articles").json()["articles"]
    (kb_dir / "quebrado.md").write_text("---\ntitle: Sem categoria\n---\nTexto\n", encoding="utf-8")
    error = error_of(supervisor.post("/api/admin/content/reload"), 400)
    assert "quebrado.md:3" in error["message"] and "category" in error["message"]
    assert supervisor.get("/api/kb/articles").json()["articles"] == before
    (kb_dir / "quebrado.md").unlink()
    (kb_dir / "novo.md").write_text(
        "---\ntitle: Novo\ncategory: Geral\n---\nTexto\n", encoding="utf-8"
    )
    assert supervisor.post("/api/admin/content/reload").json()["changed"] == 1
    assert "Novo" in [a["title"] for a in supervisor.get("/api/kb/articles").json()["articles"]]
