"""Knowledge base (O9, O10): content files, filters, REGISTRAR."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.api import Client, add_operator, error_of, open_attendance
from tests.support.processes import Service


@pytest.fixture(scope="module")
def backend() -> str:
    """One engine: the fast tier runs the knowledge base on SQLite
    (tests/fast/test_knowledge_base.py)."""
    return "postgresql"


@pytest.fixture(scope="module")
def handoff_settings(kb_dir: Path) -> dict[str, str]:
    return {"HANDOFF_KB_DIR": str(kb_dir)}


@pytest.fixture(scope="module")
def client(handoff: Service) -> Client:
    return Client(handoff, add_operator(handoff, ["atendimento"])).available()


def titles(response) -> list[str]:
    return [a["title"] for a in response.json()["articles"]]


def test_lists_every_article_by_category(client: Client):
    body = client.get("/api/kb/articles").json()
    assert body["categories"] == ["Empresas", "Informações gerais", "Ouvidoria", "Tributos"]
    assert len(body["articles"]) == 4
    assert [a["category"] for a in body["articles"]] == sorted(
        a["category"] for a in body["articles"]
    )


def test_filters_by_category_and_text(client: Client):
    assert titles(client.get("/api/kb/articles", category="Tributos")) == ["Segunda via do IPTU"]
    assert titles(client.get("/api/kb/articles", q="ALVARA")) == ["Alvará de funcionamento"]
    assert titles(client.get("/api/kb/articles", q="reclamação", category="Ouvidoria")) == [
        "Registrar reclamação na Ouvidoria"
    ]
    assert titles(client.get("/api/kb/articles", q="inexistente")) == []


def test_register_marks_the_article_once(client: Client, handoff: Service):
    attendance = open_attendance(handoff)
    article = client.get("/api/kb/articles", category="Tributos").json()["articles"][0]
    path = f"/api/attendances/{attendance['id']}/registrations"
    assert error_of(client.post(path, {"article_id": article["id"]}), 403)  # not taken yet
    client.take(attendance["id"])
    first = client.post(path, {"article_id": article["id"]})
    again = client.post(path, {"article_id": article["id"]})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["registration"]["id"] == again.json()["registration"]["id"]
    listed = client.get("/api/kb/articles", attendance_id=attendance["id"]).json()["articles"]
    assert [a["title"] for a in listed if a["registered"]] == ["Segunda via do IPTU"]
    assert error_of(client.post(path, {"article_id": 999999}), 404)
    assert error_of(client.post(path, {}), 404)
    summary = client.get(f"/api/attendances/{attendance['id']}/summary").json()
    assert [r["title"] for r in summary["registrations"]] == ["Segunda via do IPTU"]
    client.post(f"/api/attendances/{attendance['id']}/finish")
    closed = client.post(path, {"article_id": listed[0]["id"]})
    assert "encerrado" in error_of(closed, 409)["message"]
    assert error_of(client.get("/api/kb/articles", attendance_id="abc"), 400)["field"] == (
        "attendance_id"
    )


def test_edited_files_are_reloaded_and_articles_never_deleted(client: Client, kb_dir: Path):
    time.sleep(0.01)
    (kb_dir / "horario-atendimento.md").write_text(
        "---\ntitle: Horário de atendimento\ncategory: Informações gerais\n---\nDas 9h às 18h.\n",
        encoding="utf-8",
    )
    (kb_dir / "nova-informacao.md").write_text(
        "---\ntitle: Cartão do SUS\ncategory: Saúde\n---\nLeve documento com foto.\n",
        encoding="utf-8",
    )
    (kb_dir / "ouvidoria.md").unlink()
    body = client.get("/api/kb/articles").json()
    by_title = {a["title"]: a for a in body["articles"]}
    assert by_title["Horário de atendimento"]["body"] == "Das 9h às 18h."
    assert "Cartão do SUS" in by_title
    assert "Registrar reclamação na Ouvidoria" in by_title  # history keeps pointing at it
