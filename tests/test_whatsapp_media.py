"""What Brazilians send on WhatsApp besides text, end to end: Meta's webhook
names a media id, the handoff service fetches the file from the (fake)
Graph API and keeps it, and the operator sees it in Conversa in a real
Chromium: the photo shown with its caption, the voice note playable, the
document as a link, the location as a map link. A file Meta does not hand
over is shown unavailable, tried again, and holds back nothing else. On
SQLite and PostgreSQL (the attachment is a JSON column)."""

from __future__ import annotations

import io
import json
import struct
import uuid
import wave

import pytest
import requests
from playwright.sync_api import Browser, expect

from tests.support.api import Client, add_operator, add_room
from tests.support.browser import console_login
from tests.support.clients import Operator
from tests.support.fake_graph import FakeGraph
from tests.support.processes import ROOT, Stack
from tests.support.whatsapp import citizen, incoming, media, media_settings, png, post, text

pytestmark = pytest.mark.slow

MAX_BYTES = 1_000_000


@pytest.fixture(scope="module")
def backend() -> str:
    """The attachment is a JSON column: here on PostgreSQL, in the fast tier on SQLite."""
    return "postgresql"


@pytest.fixture(scope="module")
def stack_settings(graph: FakeGraph, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        "WHATSAPP_API_BASE_URL": graph.base_url,
        "HANDOFF_MEDIA_MAX_BYTES": str(MAX_BYTES),
        **media_settings(tmp_path_factory),
    }


def voice_note() -> bytes:
    """Three seconds of a tone, as WAV (Chromium plays it as it plays
    WhatsApp's Ogg Opus voice notes)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"".join(struct.pack("<h", (i % 40 - 20) * 800) for i in range(24000)))
    return out.getvalue()


def test_a_photo_with_caption_and_a_voice_note_reach_the_console(
    browser: Browser, stack: Stack, graph: FakeGraph, operator: Operator
):
    wa_id = citizen()
    photo = graph.add_media(png(), "image/png")
    caption = "Minha conta de IPTU veio com o valor errado"
    body = media(wa_id, "image", id=photo, mime_type="image/png", sha256="x", caption=caption)
    assert post(stack, body).status_code == 200
    graph.wait_for_text(wa_id, "transferido")  # the photo started the attendance

    console = browser.new_page(viewport={"width": 1366, "height": 768})
    console_login(console, stack.handoff_url, "operador", "atendimento123")
    console.locator("#queue button", has_text="Sheena Nelson").click()
    console.get_by_role("button", name="Atender").click()
    message = console.locator("#messages li.customer", has_text=caption)
    image = message.locator("img.attachment-image")
    expect(image).to_be_visible()
    console.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle(), timeout=30_000
    )
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [240, 150]

    note = graph.add_media(voice_note(), "audio/wav")
    assert post(stack, media(wa_id, "audio", id=note, mime_type="audio/wav", voice=True)).ok
    player = console.locator("#messages li.customer", has_text="Mensagem de voz").locator("audio")
    expect(player).to_have_attribute("controls", "")
    console.wait_for_function(
        "a => a.readyState >= 1 && a.duration > 0 && !a.error",
        arg=player.element_handle(),
        timeout=30_000,
    )
    assert 2.9 < player.evaluate("a => a.duration") < 3.1

    pdf = graph.add_media(b"%PDF-1.4\n" + b"0" * 2000, "application/pdf")
    document = media(wa_id, "document", id=pdf, mime_type="application/pdf", filename="boleto.pdf")
    assert post(stack, document).ok
    link = console.locator("#messages a.attachment-document")
    expect(link).to_have_text("boleto.pdf (2 KB)")
    downloaded = console.request.get(f"{stack.handoff_url}{link.get_attribute('href')}")
    assert downloaded.ok and downloaded.body().startswith(b"%PDF-1.4")
    assert downloaded.headers["content-disposition"].startswith("attachment;")

    place = {"latitude": -15.7939, "longitude": -47.8828, "name": "Prefeitura"}
    assert post(stack, incoming(wa_id, {"type": "location", "location": place})).ok
    expect(
        console.locator("#messages li.customer", has_text="Localização: Prefeitura")
    ).to_be_visible()
    expect(console.get_by_role("link", name="Ver no mapa")).to_have_attribute(
        "href", "https://www.google.com/maps/search/?api=1&query=-15.7939,-47.8828"
    )
    assert graph.texts_to(wa_id).count("escreva sua mensagem em texto") == 0
    console.screenshot(path=str(ROOT / "docs" / "screenshots" / "21-whatsapp-midia.png"))
    console.close()


def test_a_file_meta_does_not_hand_over_is_shown_unavailable_and_tried_again(
    browser: Browser, stack: Stack, graph: FakeGraph, operator: Operator
):
    wa_id = citizen()
    post(stack, text(wa_id, "oi", name="Otávio Reis"))
    queued = operator.wait_for("attendance:queued", lambda a: a["conversation_id"] == wa_id)
    assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]

    photo = graph.add_media(png(), "image/png")
    graph.media_failures_left = 10**6  # Meta's download answers 500 for now
    assert post(stack, media(wa_id, "image", id=photo, mime_type="image/png")).ok
    shown = operator.wait_for("message:new", lambda m: m["text"] == "Foto")
    failed = operator.wait_for("message:updated", lambda m: m["id"] == shown["id"])
    assert failed["attachment"]["status"] == "failed"
    assert "url" not in failed["attachment"]
    console = browser.new_page(viewport={"width": 1366, "height": 768})
    console_login(console, stack.handoff_url, "operador", "atendimento123")
    console.locator("#mine button", has_text="Otávio Reis").click()
    photo_card = console.locator("#messages li.customer", has_text="Foto")
    expect(photo_card.locator(".attachment")).to_have_text(
        "Foto: Arquivo indisponível. O sistema tenta de novo sozinho."
    )

    # The conversation goes on meanwhile.
    assert post(stack, text(wa_id, "mandei a foto da conta")).ok
    operator.wait_for("message:new", lambda m: m["text"] == "mandei a foto da conta")

    graph.media_failures_left = 0  # Meta hands it over on the next try
    stored = operator.wait_for(
        "message:updated",
        lambda m: m["id"] == shown["id"] and m["attachment"]["status"] == "stored",
    )
    image = photo_card.locator("img.attachment-image")
    expect(image).to_be_visible()  # in place, without a reload
    console.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle(), timeout=30_000
    )
    console.close()
    tries = [status for media_id, status in graph.downloads if media_id == photo]
    assert tries[-1] == 200 and tries.count(500) >= 1
    url = f"{stack.handoff_url}{stored['attachment']['url']}"
    served = requests.get(url, headers={"Authorization": f"Bearer {operator.token}"}, timeout=10)
    assert (served.status_code, served.content) == (200, png())
    assert served.headers["Content-Type"] == "image/png"
    assert "sandbox" in served.headers["Content-Security-Policy"]
    assert requests.get(url, timeout=10).status_code == 401
    handoff = next(s for s in stack.services if s.name == "handoff")
    add_room(handoff, "outra-sala")
    elsewhere = Client(handoff, add_operator(handoff, ["outra-sala"]))
    assert elsewhere.get(stored["attachment"]["url"]).status_code == 404


def test_a_file_over_the_limit_is_refused_and_the_citizen_told(
    stack: Stack, graph: FakeGraph, operator: Operator
):
    wa_id = citizen()
    post(stack, text(wa_id, "bom dia"))
    queued = operator.wait_for("attendance:queued", lambda a: a["conversation_id"] == wa_id)
    assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
    video = graph.add_media(b"\x00" * (MAX_BYTES + 1), "video/mp4")
    assert post(stack, media(wa_id, "video", id=video, mime_type="video/mp4")).ok
    shown = operator.wait_for("message:new", lambda m: m["text"] == "Vídeo")
    refused = operator.wait_for("message:updated", lambda m: m["id"] == shown["id"])
    assert refused["attachment"]["status"] == "refused"
    told = graph.wait_for_text(wa_id, "o limite é 1,0 MB")
    assert told["text"]["body"].startswith("Seu arquivo tem 1,0 MB")
    assert [s for m, s in graph.downloads if m == video] == []  # refused before downloading
    unknown = f"x-{uuid.uuid4().hex}"
    assert operator.get(f"/api/attachments/{shown['id']}").status_code == 404
    assert operator.get(f"/api/attachments/{unknown}").status_code == 404


def test_an_operators_pdf_is_uploaded_to_meta_and_sent_as_a_document(
    stack: Stack, graph: FakeGraph, operator: Operator
):
    wa_id = citizen()
    post(stack, text(wa_id, "preciso da segunda via"))
    queued = operator.wait_for("attendance:queued", lambda a: a["conversation_id"] == wa_id)
    assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]
    pdf = b"%PDF-1.4\n" + b"1" * 3000
    graph.upload_failures_left = 1  # Meta's /media is away once: failed, then "Tentar novamente"
    sent = requests.post(
        f"{stack.handoff_url}/api/attendances/{queued['id']}/files",
        params={"name": "segunda-via.pdf", "caption": "Segue a segunda via", "client_id": "pdf-1"},
        data=pdf,
        headers={"Authorization": f"Bearer {operator.token}", "Content-Type": "application/pdf"},
        timeout=30,
    )
    assert sent.status_code == 201, sent.text
    message = sent.json()["message"]
    operator.wait_for(
        "message:delivery", lambda d: d["id"] == message["id"] and d["delivery"] == "failed"
    )
    assert graph.messages_to(wa_id)[-1]["type"] == "text"  # nothing sent without the file
    retried = operator.call("message:retry", {"message_id": message["id"]})
    assert retried["ok"], retried
    document = graph.wait_for_send(wa_id, "document")
    assert document["document"]["filename"] == "segunda-via.pdf"
    assert document["document"]["caption"] == "Segue a segunda via"
    assert json.loads(document["biz_opaque_callback_data"]) == {"handoff_message_id": message["id"]}
    uploaded = [u for u in graph.uploads if u["id"] == document["document"]["id"]]
    assert [(u["content"], u["type"], u["number"]) for u in uploaded] == [
        (pdf, "application/pdf", document["from_number"])
    ]
    operator.wait_for(
        "message:delivery", lambda d: d["id"] == message["id"] and d["delivery"] == "sent"
    )
