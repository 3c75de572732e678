"""Files people attach themselves (handoff/domain/uploads.py): an operator's
photo or PDF in Conversa, a visitor's in the widget. Their type is told
from their bytes, their size refused before the body is read whole, and
each is served only to whom it belongs."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from handoff.models import OutboxJob
from handoff.routes.widget import conversation_of
from tests.support.api import SERVICE_TOKEN, Client, error_of, open_attendance, post_rasa_events

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LIMIT = 2048


@pytest.fixture
def service_settings(tmp_path: Path) -> dict[str, Any]:
    return {"media_dir": tmp_path / "media", "upload_max_bytes": LIMIT}


def upload(client: Client, attendance_id: int, data: Any, **args: Any) -> requests.Response:
    return requests.post(
        f"{client.base}/api/attendances/{attendance_id}/files",
        params={"client_id": secrets.token_hex(8), **args},
        data=data,
        headers={**client.headers, "Content-Type": "application/octet-stream"},
        timeout=10,
    )


def visitor_upload(
    service: Any, token: str, data: Any, name: str = "foto.png"
) -> requests.Response:
    return requests.post(
        f"{service.base_url}/widget/api/files",
        params={"name": name},
        data=data,
        headers={"X-Conversation-Token": token},
        timeout=10,
    )


def widget_file(service: Any, token: str, message_id: int) -> requests.Response:
    return requests.get(
        f"{service.base_url}/widget/api/files/{message_id}",
        headers={"X-Conversation-Token": token},
        timeout=10,
    )


def files_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_an_operators_pdf_is_a_message_with_its_file_delivered_by_id(service, operator):
    call = open_attendance(service)
    operator.take(call["id"])
    sent = upload(operator, call["id"], PDF, name="boleto.pdf", caption="Segue o boleto")
    assert sent.status_code == 201, sent.text
    message = sent.json()["message"]
    assert message["text"] == "Segue o boleto" and message["delivery"] == "pending"
    assert sent.json()["protocol"]
    attachment = message["attachment"]
    assert {k: attachment[k] for k in ("kind", "mime_type", "file_name", "size", "status")} == {
        "kind": "document",
        "mime_type": "application/pdf",
        "file_name": "boleto.pdf",
        "size": len(PDF),
        "status": "stored",
    }
    assert "key" not in attachment
    shown = operator.get(attachment["url"])
    assert shown.content == PDF and shown.headers["Content-Type"] == "application/pdf"
    assert shown.headers["Content-Disposition"].startswith(
        "attachment; filename*=UTF-8''boleto.pdf"
    )
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    with service.desk.db.unit_of_work(read_only=True) as uow:
        job = uow.session.scalar(select(OutboxJob).where(OutboxJob.kind == "operator_message"))
        assert job is not None
        assert json.loads(job.payload)["attachment"] == {
            "kind": "document",
            "mime_type": "application/pdf",
            "file_name": "boleto.pdf",
            "size": len(PDF),
        }
    channel = f"{service.base_url}/api/channel/files/{message['id']}"
    assert requests.get(channel, timeout=10).status_code == 401
    by_rasa = requests.get(
        channel, headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, timeout=10
    )
    assert by_rasa.content == PDF


def test_the_type_is_told_by_the_bytes_and_refused_in_portuguese(service, operator, tmp_path):
    call = open_attendance(service)
    operator.take(call["id"])
    page = upload(operator, call["id"], b"<html><script>alert(1)</script>", name="foto.jpg")
    assert error_of(page, 415)["message"] == (
        "Tipo de arquivo não aceito. Envie uma foto (JPEG ou PNG) ou um PDF."
    )
    assert error_of(upload(operator, call["id"], b""), 400)["message"] == "O arquivo está vazio."
    photo = upload(operator, call["id"], PNG, name="retrato.txt")
    assert photo.json()["message"]["attachment"]["mime_type"] == "image/png"
    assert (
        operator.get(photo.json()["message"]["attachment"]["url"])
        .headers["Content-Disposition"]
        .startswith("inline")
    )
    assert len(files_in(tmp_path / "media")) == 1  # the refused ones were never kept


def test_a_file_over_the_limit_is_refused_before_it_is_read_whole(service, operator, tmp_path):
    call = open_attendance(service)
    operator.take(call["id"])
    announced = upload(operator, call["id"], PDF + b"0" * LIMIT)
    assert error_of(announced, 413)["message"] == (
        "O arquivo passa do limite de 0,0 MB. Envie um arquivo menor."
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked
        yield PDF
        yield b"0" * LIMIT

    assert error_of(upload(operator, call["id"], chunks()), 413)["code"] == "too_large"
    assert files_in(tmp_path / "media") == []


def test_only_the_attendances_operator_sends_a_file_and_a_retry_stores_one(
    service, operator, tmp_path
):
    call = open_attendance(service)
    assert error_of(upload(operator, call["id"], PDF), 403)  # queued, not theirs
    assert files_in(tmp_path / "media") == []
    operator.take(call["id"])
    again = {"client_id": "same-file"}
    first = upload(operator, call["id"], PDF, **again).json()["message"]
    second = upload(operator, call["id"], PDF, **again).json()["message"]
    assert first["id"] == second["id"]
    assert len(files_in(tmp_path / "media")) == 1


def test_a_visitors_upload_becomes_the_attachment_of_their_message(service, operator):
    token = secrets.token_hex(16)
    assert error_of(visitor_upload(service, "short", PNG), 401)
    early = visitor_upload(service, token, PNG)
    assert error_of(early, 409)["message"] == (
        "Você poderá enviar arquivos quando estiver falando com um atendente."
    )
    call = open_attendance(service, conversation_id=conversation_of(token))
    operator.take(call["id"])
    assert error_of(visitor_upload(service, token, b"GIF89a"), 415)
    answer = visitor_upload(service, token, PNG, name="conta de luz.png").json()
    assert (answer["kind"], answer["size"], answer["file_name"]) == (
        "image",
        len(PNG),
        "conta de luz.png",
    )
    event = {
        "event": "user",
        "sender_id": call["conversation_id"],
        "message_id": "w-1",
        "text": "Foto",
        "timestamp": time.time(),
        "metadata": {"attachment": {"kind": "document", "upload_id": answer["upload_id"]}},
    }
    assert post_rasa_events(service.base_url, [event]).json() == {"stored": 1}
    rows = operator.get(f"/api/attendances/{call['id']}/messages").json()["messages"]
    attachment = rows[-1]["attachment"]
    assert (attachment["kind"], attachment["status"]) == ("image", "stored")  # as its bytes say
    assert operator.get(attachment["url"]).content == PNG


def test_an_upload_id_names_a_file_of_its_own_attendance_only(service, operator):
    mine, theirs = secrets.token_hex(16), secrets.token_hex(16)
    other = open_attendance(service, conversation_id=conversation_of(theirs))
    their_upload = visitor_upload(service, theirs, PNG).json()["upload_id"]
    call = open_attendance(service, conversation_id=conversation_of(mine))
    operator.take(call["id"])
    event = {
        "event": "user",
        "sender_id": call["conversation_id"],
        "message_id": "w-2",
        "text": "Foto",
        "metadata": {"attachment": {"kind": "image", "upload_id": their_upload}},
    }
    post_rasa_events(service.base_url, [event])
    rows = operator.get(f"/api/attendances/{call['id']}/messages").json()["messages"]
    assert error_of(operator.get(rows[-1]["attachment"]["url"]), 404)
    assert other["id"] != call["id"]


def test_the_widget_reads_the_operators_files_of_its_own_conversation_only(service, operator):
    token = secrets.token_hex(16)
    call = open_attendance(service, conversation_id=conversation_of(token))
    operator.take(call["id"])
    message = upload(operator, call["id"], PDF, name="guia.pdf").json()["message"]
    shown = widget_file(service, token, message["id"])
    assert shown.status_code == 200 and shown.content == PDF
    assert error_of(widget_file(service, secrets.token_hex(16), message["id"]), 404)
    missing_token = requests.get(f"{service.base_url}/widget/api/files/{message['id']}", timeout=10)
    assert error_of(missing_token, 401)
    text = operator.send(call["id"], "sem arquivo").json()["message"]
    assert error_of(widget_file(service, token, text["id"]), 404)


def test_with_the_session_cookie_a_form_of_another_site_cannot_send_a_file(service, operator):
    call = open_attendance(service)
    operator.take(call["id"])
    browser = requests.Session()
    login = browser.post(
        f"{service.base_url}/api/auth/login",
        json={"username": "operador", "password": "atendimento123"},
        timeout=10,
    )
    headers = {"X-CSRF-Token": login.json()["csrf_token"]}
    url = f"{service.base_url}/api/attendances/{call['id']}/files?client_id=c-1"
    as_form = browser.post(url, data=PDF, headers={**headers, "Content-Type": "text/plain"})
    assert error_of(as_form, 415)["code"] == "unsupported_media_type"
    as_file = browser.post(url, data=PDF, headers={**headers, "Content-Type": "application/pdf"})
    assert as_file.status_code == 201, as_file.text
    no_csrf = browser.post(url, data=PDF, headers={"Content-Type": "application/pdf"})
    assert error_of(no_csrf, 403)


def test_a_visitor_keeps_a_bounded_number_of_files(service, operator, monkeypatch):
    monkeypatch.setattr("handoff.domain.uploads.VISITOR_FILES_PER_ATTENDANCE", 2)
    token = secrets.token_hex(16)
    open_attendance(service, conversation_id=conversation_of(token))
    assert visitor_upload(service, token, PNG).status_code == 201
    assert visitor_upload(service, token, PDF).status_code == 201
    third = visitor_upload(service, token, PNG)
    assert error_of(third, 429)["message"] == "Você já enviou 2 arquivos nesta conversa, o máximo."
