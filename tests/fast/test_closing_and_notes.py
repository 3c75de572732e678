"""The closing classification on Finalizar (subject and comment, in the
protocol record and the reports) and private notes, which never go towards
the customer (issue 19)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from handoff.db import Database
from handoff.domain.errors import Invalid
from handoff.domain.subjects import parse_subjects
from handoff.models import OutboxJob
from tests.support.api import Client, add_operator, error_of, open_attendance, report_csv_rows


@pytest.fixture
def service_settings(tmp_path: Path) -> dict:
    subjects = tmp_path / "assuntos.md"
    subjects.write_text("# Assuntos\nUm por linha.\n- IPTU\n- Ouvidoria\n", encoding="utf-8")
    return {"subjects_file": subjects}


def test_finalizar_keeps_subject_and_comment_for_the_record_and_reports(
    service, operator: Client, supervisor: Client, console
):
    assert operator.get("/api/subjects").json() == {"subjects": ["IPTU", "Ouvidoria"]}
    call = open_attendance(service, contact={"name": "Caio"})
    operator.take(call["id"])
    protocol = operator.send(call["id"], "Bom dia").json()["protocol"]
    desk = console(operator)
    refused = desk.call("attendance:finish", {"attendance_id": call["id"], "subject": "Outro"})
    assert refused["ok"] is False and refused["error"]["field"] == "subject"
    url = f"/api/attendances/{call['id']}/finish"
    bad_comment = operator.post(url, {"subject": "IPTU", "comment": 3})
    assert error_of(bad_comment, 400)["field"] == "comment"
    finished = desk.call(
        "attendance:finish",
        {"attendance_id": call["id"], "subject": "IPTU", "comment": "  Pediu a 2ª via  "},
    )
    assert finished["ok"], finished
    assert (finished["attendance"]["subject"], finished["attendance"]["closing_comment"]) == (
        "IPTU",
        "Pediu a 2ª via",
    )

    record = supervisor.get(f"/api/admin/protocols/{protocol}").json()
    assert (record["subject"], record["closing_comment"]) == ("IPTU", "Pediu a 2ª via")
    report = supervisor.get("/api/admin/reports").json()
    assert report["totals"]["subjects"] == [{"subject": "IPTU", "count": 1}]
    exported = supervisor.get("/api/admin/reports", format="csv").content
    heading, *lines = report_csv_rows(exported)
    assert [dict(zip(heading, line, strict=True))["Assuntos"] for line in lines] == ["IPTU (1)"]


def test_subjects_file_errors_name_the_line(tmp_path: Path):
    path = tmp_path / "assuntos.md"
    path.write_text("- IPTU\n\n- IPTU\n", encoding="utf-8")
    with pytest.raises(Invalid) as error:
        parse_subjects(path)
    assert error.value.message == "assuntos.md:3: assunto repetido 'IPTU'"
    assert parse_subjects(tmp_path / "nenhum.md") == []


def test_private_notes_are_seen_by_operators_and_never_queued_for_the_customer(
    service, operator: Client, supervisor: Client, console
):
    call = open_attendance(service, contact={"name": "Duda"})
    operator.take(call["id"])
    desk = console(operator)
    url = f"/api/attendances/{call['id']}/notes"
    created = operator.post(url, {"text": "Cliente já ligou ontem", "client_id": "n1"})
    assert created.status_code == 201, created.text
    note = created.json()["note"]
    assert (note["direction"], note["delivery"]) == ("note", None)
    assert (
        operator.post(url, {"text": "Cliente já ligou ontem", "client_id": "n1"}).json()["note"][
            "id"
        ]
        == note["id"]
    )
    assert desk.next("message:new", id=note["id"])["direction"] == "note"
    # A note is no reply: no protocol, no first response, not the call's preview.
    listed = operator.get("/api/attendances").json()["active"]
    assert [(a["protocol"], a["first_response_at"], a["last_message"]) for a in listed] == [
        (None, None, None)
    ]
    assert supervisor.post(url, {"text": "Visto pela supervisão", "client_id": "s1"}).ok
    other = Client(service, add_operator(service, ["atendimento"])).available()
    assert error_of(other.post(url, {"text": "x", "client_id": "o1"}), 403)
    assert error_of(operator.post(url, {"client_id": "n2"}), 400)

    protocol = operator.send(call["id"], "Bom dia, Duda").json()["protocol"]
    texts = [
        (m["direction"], m["text"])
        for m in desk.call("attendance:messages", {"attendance_id": call["id"]})["messages"]
    ]
    assert texts == [
        ("note", "Cliente já ligou ontem"),
        ("note", "Visto pela supervisão"),
        ("operator", "Bom dia, Duda"),
    ]
    record = supervisor.get(f"/api/admin/protocols/{protocol}").json()
    assert [m["direction"] for m in record["messages"]] == ["note", "note", "operator"]
    # Only the operator's message is on its way to the customer.
    db = Database(service.env["DATABASE_URL"])
    with db.unit_of_work(read_only=True) as uow:
        payloads = list(uow.session.scalars(select(OutboxJob.payload)))
    db.dispose()
    assert len(payloads) == 1 and "Bom dia, Duda" in payloads[0]
    assert not any("Cliente já ligou" in p or "supervisão" in p for p in payloads)
