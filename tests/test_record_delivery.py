"""Decreto 11.034/2022 art. 12 in the widget, with real processes: a visitor
asks for the record of their demand by protocol and gets its link in the
chat; asked for by e-mail, the record arrives at a real SMTP server
(aiosmtpd) with its PDF and JSON attached. (On WhatsApp:
tests/test_whatsapp.py.)"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator

import pypdf
import pytest
import requests
from aiosmtpd.controller import Controller

from tests.support.clients import Operator, Visitor
from tests.support.processes import Stack, free_port, wait_until
from tests.support.smtp import Inbox

pytestmark = pytest.mark.slow

SMTP_PORT = free_port()


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def stack_settings() -> dict[str, str]:
    return {
        "HANDOFF_SMTP_HOST": "127.0.0.1",
        "HANDOFF_SMTP_PORT": str(SMTP_PORT),
        "HANDOFF_SMTP_FROM": "sac@prefeitura.example",
        "HANDOFF_SMTP_STARTTLS": "false",
    }


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    received = Inbox()
    server = Controller(received, hostname="127.0.0.1", port=SMTP_PORT)
    server.start()
    yield received
    server.stop()


def texts_until(visitor: Visitor, fragment: str) -> str:
    """The visitor's next bot texts, up to the one holding ``fragment``."""
    while True:
        text = visitor.next_text(timeout=30)
        if fragment in text:
            return text


def test_a_visitor_gets_the_record_in_the_chat_and_by_email(
    stack: Stack, operator: Operator, inbox: Inbox
):
    visitor = Visitor(stack.rasa_url)
    try:
        visitor.say("Preciso da certidão de ônus reais", metadata={"name": "Lúcia Prado"})
        queued = operator.wait_for(
            "attendance:queued", lambda a: a["conversation_id"] == visitor.session_id
        )
        assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
        answer = "Sua certidão será emitida em dois dias úteis."
        sent = operator.call(
            "message:send",
            {"attendance_id": queued["id"], "text": answer, "client_id": uuid.uuid4().hex},
        )
        assert sent["ok"], sent
        protocol = sent["protocol"]
        assert operator.call("attendance:finish", {"attendance_id": queued["id"]})["ok"]
        texts_until(visitor, protocol)

        # In the chat: the request is acknowledged, then the record's link.
        visitor.say(f"quero o registro do protocolo {protocol}")
        texts_until(visitor, f"pedido do registro do atendimento de protocolo {protocol}")
        link = texts_until(visitor, "/records/")
        pdf = requests.get(re.search(r"http\S+\.pdf", link).group(0), timeout=30)
        assert pdf.headers["Content-Type"] == "application/pdf"
        words = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
        assert protocol in words and "Preciso da certidão de ônus reais" in words
        assert answer in words

        # By e-mail, at the address the visitor gives.
        visitor.say(f"quero receber o registro do protocolo {protocol} no email lucia@exemplo.org")
        wait_until(lambda: inbox.messages, 60, "the record's e-mail")
        [message] = inbox.messages
        assert message["To"] == "lucia@exemplo.org" and protocol in message["Subject"]
        files = inbox.attachments(message)
        assert set(files) == {f"registro-{protocol}.pdf", f"registro-{protocol}.json"}
        record = json.loads(files[f"registro-{protocol}.json"])
        assert [m["texto"] for m in record["mensagens"] if m["de"] != "Assistente virtual"] == [
            "Preciso da certidão de ônus reais",
            answer,
        ]
    finally:
        visitor.close()
