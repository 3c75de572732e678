"""A person's data rights (LGPD arts. 18-19) and who saw what, with real
Rasa, action server and handoff service, on SQLite and PostgreSQL: a
citizen who came through the widget and WhatsApp is exported, then erased;
afterwards neither database (the handoff service's and Rasa's tracker
store) holds their name, CPF, phone or e-mail in any table."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, inspect, text

from handoff.domain.masking import MARK
from tests.support.api import Client, error_of
from tests.support.clients import Operator, Visitor
from tests.support.fake_graph import FakeGraph
from tests.support.processes import Service, Stack, wait_until
from tests.support.whatsapp import media, media_settings, png, post
from tests.support.whatsapp import text as whatsapp_text

pytestmark = pytest.mark.slow

NAME, EMAIL, CPF = "João da Conceição", "joao.conceicao@example.com", "529.982.247-25"
PHONE, WA_ID = "(11) 98765-4321", "5511987654321"
# What must be gone everywhere: each form of their data a table could hold.
NEEDLES = [NAME, "Conceição", "Conceicao", EMAIL, CPF, "52998224725", WA_ID, "98765-4321"]
OTHER_NAME, OTHER_EMAIL = "Maria Aparecida Souza", "maria.souza@example.com"
DEMO_PASSWORD = "atendimento123"
ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


@pytest.fixture(scope="module")
def stack_settings(graph: FakeGraph, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {"WHATSAPP_API_BASE_URL": graph.base_url, **media_settings(tmp_path_factory)}


def media_folder(stack: Stack, attendance_id: int) -> Path:
    """Where the handoff service keeps an attendance's files."""
    return Path(process(stack, "handoff").env["HANDOFF_MEDIA_DIR"]) / str(attendance_id)


def process(stack: Stack, name: str) -> Service:
    return next(s for s in stack.services if s.name == name)


@pytest.fixture(scope="module")
def supervisor(stack: Stack) -> Client:
    return Client(process(stack, "handoff"), "supervisor", DEMO_PASSWORD)


@pytest.fixture(scope="module")
def desk(stack: Stack) -> Client:
    return Client(process(stack, "handoff"), "operador", DEMO_PASSWORD)


def attend(desk: Client, attendance_id: int, reply: str, **finish: Any) -> str:
    """The operator takes the call, answers, registers an article, finishes;
    returns the protocol."""
    desk.take(attendance_id)
    sent = desk.send(attendance_id, reply)
    assert sent.status_code in (200, 201), sent.text
    article = desk.get("/api/kb/articles").json()["articles"][0]
    desk.post(f"/api/attendances/{attendance_id}/registrations", {"article_id": article["id"]})
    ended = desk.post(f"/api/attendances/{attendance_id}/finish", finish)
    assert ended.status_code == 200, ended.text
    return str(ended.json()["attendance"]["protocol"])


def widget_attendance(
    stack: Stack, operator: Operator, name: str, email: str, first: str
) -> tuple[Visitor, dict[str, Any]]:
    visitor = Visitor(stack.rasa_url)
    visitor.say(first, metadata={"name": name, "email": email})
    queued = operator.wait_for(
        "attendance:queued", lambda a: a["conversation_id"] == visitor.session_id
    )
    return visitor, queued


@pytest.fixture(scope="module")
def citizen(stack: Stack, desk: Client, graph: FakeGraph) -> Iterator[dict[str, Any]]:
    """João: in the widget (pre-chat name and e-mail, his CPF and phone in
    the text), registered as a customer, then on WhatsApp from his phone;
    Maria, another citizen, in the widget."""
    operator = Operator(stack.handoff_url)
    desk.available()
    first = f"Quero falar com um atendente. Meu CPF é {CPF} e meu telefone {PHONE}."
    visitor, queued = widget_attendance(stack, operator, NAME, EMAIL, first)
    customer = desk.post(
        "/api/customers", {"name": NAME, "phone": PHONE, "email": EMAIL, "document": CPF}
    ).json()["customer"]
    assert desk.take(queued["id"]).status_code == 200
    desk.post(f"/api/attendances/{queued['id']}/customer", {"customer_id": customer["id"]})
    protocol = attend(desk, queued["id"], "Olá, João! Já localizei seu cadastro.", comment=NAME)

    post(stack, whatsapp_text(WA_ID, "oi, é o João de novo", name=NAME))
    on_whatsapp = operator.wait_for("attendance:queued", lambda a: a["conversation_id"] == WA_ID)
    # A photo of his document, with his name in the caption: a file is kept.
    photo = graph.add_media(png(), "image/png")
    document = media(WA_ID, "image", id=photo, mime_type="image/png", caption=f"RG de {NAME}")
    assert post(stack, document).ok
    wait_until(
        lambda: any(media_folder(stack, on_whatsapp["id"]).glob("*.png")),
        what="the photo kept by the handoff service",
    )
    on_whatsapp_protocol = attend(desk, on_whatsapp["id"], "Bom dia, João Conceição.")

    other_visitor, other = widget_attendance(stack, operator, OTHER_NAME, OTHER_EMAIL, "oi")
    attend(desk, other["id"], "Bom dia, Maria.")
    yield {
        "customer": customer,
        "widget": queued,
        "whatsapp": on_whatsapp,
        "whatsapp_protocol": on_whatsapp_protocol,
        "protocol": protocol,
        "first": first,
    }
    for client in (visitor, other_visitor, operator):
        client.close()


def every_row(url: str) -> list[str]:
    """Each row of each table of the database, as text (JSON's \\u escapes
    read back), for a search."""
    engine = create_engine(url)
    rows = []
    with engine.connect() as connection:
        for table in inspect(engine).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                line = " ".join(str(value) for value in row)
                # Rasa stores events as JSON with non-ASCII characters escaped.
                rows.append(f"{table}: {ESCAPE.sub(lambda m: chr(int(m[1], 16)), line)}")
    engine.dispose()
    return rows


def found(stack: Stack, needle: str) -> list[str]:
    urls = {
        process(stack, "handoff").env["DATABASE_URL"],
        process(stack, "rasa").env["RASA_TRACKER_DB"],
    }
    return [row for url in urls for row in every_row(url) if needle.casefold() in row.casefold()]


def erase_unless_busy(supervisor: Client, query: str) -> requests.Response | None:
    """The erasure's answer; None while it is refused for messages still on
    their way to the person."""
    response = supervisor.post("/api/admin/data-subjects/erase", {"q": query})
    return None if response.status_code == 409 else response


def test_only_supervisors_and_valid_identifiers(desk: Client, supervisor: Client, citizen):
    assert error_of(desk.post("/api/admin/data-subjects/find", {"q": CPF}), 403)
    for query, field in (("", "q"), ("529.982.247-24", "q"), ("joao@", "q"), (None, "q")):
        assert (
            error_of(supervisor.post("/api/admin/data-subjects/find", {"q": query}), 400)["field"]
            == field
        ), query
    missing = supervisor.post("/api/admin/data-subjects/find", {"q": "ninguem@example.com"})
    assert "Nenhum dado" in error_of(missing, 404)["message"]


def test_export_holds_everything_about_the_person(stack: Stack, supervisor: Client, citizen):
    # Found alike by CPF, phone (any writing) or e-mail.
    for query in (CPF, "+55 11 98765 4321", EMAIL.upper()):
        person = supervisor.post("/api/admin/data-subjects/find", {"q": query}).json()["person"]
        assert [c["id"] for c in person["customers"]] == [citizen["customer"]["id"]], query
        assert {a["id"] for a in person["attendances"]} == {
            citizen["widget"]["id"],
            citizen["whatsapp"]["id"],
        }, query

    response = supervisor.post("/api/admin/data-subjects/export", {"q": CPF})
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    exported = response.json()
    assert exported["identifier"] == "document"
    [customer] = exported["customers"]
    assert (customer["name"], customer["document"], customer["phone"], customer["email"]) == (
        NAME,
        "52998224725",
        "+5511987654321",
        EMAIL,
    )
    by_channel = {a["channel"]: a for a in exported["attendances"]}
    widget, whatsapp = by_channel["socketio"], by_channel["whatsapp"]
    assert (widget["contact_name"], widget["contact_email"]) == (NAME, EMAIL)
    assert (whatsapp["contact_name"], whatsapp["contact_phone"]) == (NAME, WA_ID)
    assert whatsapp["conversation_id"] == WA_ID
    assert widget["protocol"] and whatsapp["protocol"]
    assert citizen["first"] in [m["text"] for m in widget["messages"]]
    assert "Olá, João! Já localizei seu cadastro." in [m["text"] for m in widget["messages"]]
    assert widget["registrations"] and widget["closing_comment"] == NAME
    actions = [e["action"] for e in exported["audit_log"]]
    assert {"customer_created", "customer_linked", "queued", "taken", "finished"} <= set(actions)
    # The other citizen is in no export of João.
    assert OTHER_NAME not in json.dumps(exported, ensure_ascii=False)


def test_views_and_exports_are_logged_per_customer(
    desk: Client, supervisor: Client, citizen
) -> None:
    customer_id = citizen["customer"]["id"]
    assert desk.get(f"/api/customers/{customer_id}/history").status_code == 200
    assert desk.get(f"/api/protocols/{citizen['protocol']}").status_code == 200
    assert error_of(desk.get(f"/api/admin/customers/{customer_id}/audit"), 403)
    log = supervisor.get(f"/api/admin/customers/{customer_id}/audit").json()
    seen = [(e["action"], e["operator_name"]) for e in log["entries"]]
    viewer, chief = desk.operator["name"], supervisor.operator["name"]
    assert ("customer_viewed", viewer) in seen
    assert ("record_viewed", viewer) in seen
    assert ("person_exported", chief) in seen
    assert ("person_viewed", chief) in seen
    viewed = next(e for e in log["entries"] if e["action"] == "record_viewed")
    assert viewed["details"]["protocol"] == citizen["protocol"] and viewed["at"]
    assert viewed["attendance_id"] == citizen["widget"]["id"]


def test_erasure_leaves_no_personal_data_in_either_database(
    stack: Stack, supervisor: Client, citizen
) -> None:
    # The search sees them before: it finds what it looks for.
    for needle in NEEDLES:
        assert found(stack, needle), needle
    # Rasa's trackers hold them too: the pre-chat fields, the WhatsApp number.
    for needle in (NAME, EMAIL, WA_ID):
        assert any(row.startswith("events:") for row in found(stack, needle)), needle
    # Refused (409) while a closing message is still on its way to him.
    erased = wait_until(lambda: erase_unless_busy(supervisor, EMAIL), what="erasure refused")
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased"]["attendances"] == 2

    for needle in NEEDLES:
        assert found(stack, needle) == [], needle
    # His photo is deleted; the record says a photo was there.
    wait_until(
        lambda: not media_folder(stack, citizen["whatsapp"]["id"]).exists(),
        what="the erased person's files deleted",
    )
    record = supervisor.get(f"/api/admin/protocols/{citizen['whatsapp_protocol']}").json()
    files = [m["attachment"] for m in record["messages"] if m.get("attachment")]
    assert files == [{"kind": "image", "status": "erased"}]
    # Another citizen's data stays.
    assert found(stack, OTHER_NAME) and found(stack, OTHER_EMAIL)
    # João's records stay (retention), without his data.
    kept = supervisor.get(f"/api/admin/protocols/{citizen['protocol']}").json()
    assert kept["status"] == "finished" and kept["registrations"]
    assert kept["contact_name"] is None and kept["contact_email"] is None
    customer_texts = [m["text"] for m in kept["messages"] if m["direction"] == "customer"]
    assert customer_texts == [
        f"Quero falar com um atendente. Meu CPF é {MARK} e meu telefone {MARK}."
    ]
    log = supervisor.get(f"/api/admin/customers/{citizen['customer']['id']}/audit").json()
    assert log["customer"]["name"] == "Titular anonimizado"
    assert "person_erased" in [e["action"] for e in log["entries"]]
    # Nobody is left to find.
    again = supervisor.post("/api/admin/data-subjects/erase", {"q": EMAIL})
    assert error_of(again, 404)


def test_a_person_in_an_open_attendance_is_not_erased(
    stack: Stack, supervisor: Client, desk: Client
) -> None:
    operator = Operator(stack.handoff_url)
    visitor, queued = widget_attendance(
        stack, operator, "Rita Lee Jones", "rita.jones@example.com", "oi"
    )
    try:
        refused = supervisor.post("/api/admin/data-subjects/erase", {"q": "rita.jones@example.com"})
        assert "finalize" in error_of(refused, 409)["message"]
        assert found(stack, "rita.jones@example.com")
    finally:
        desk.take(queued["id"])
        desk.post(f"/api/attendances/{queued['id']}/finish")
        visitor.close()
        operator.close()
