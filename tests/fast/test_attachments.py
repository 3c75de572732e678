"""Attachments of customer messages (handoff/domain/attachments.py): what a
channel's metadata may describe, what is kept of it, and the limits. The
fetching itself runs against the Graph fake in tests/test_whatsapp_media.py;
here Meta is a closed port, so a file stays unavailable and is retried."""

from __future__ import annotations

import time

from handoff.domain.attachments import parse, refusal
from handoff.settings import DEFAULT_MEDIA_TYPES
from tests.support.api import Client, open_attendance, post_rasa_events

TYPES = DEFAULT_MEDIA_TYPES.split(",")


def user(conversation_id: str, message_id: str, text: str, attachment: object) -> dict:
    return {
        "event": "user",
        "sender_id": conversation_id,
        "message_id": message_id,
        "text": text,
        "timestamp": time.time(),
        "metadata": {"attachment": attachment},
    }


def test_a_location_and_a_file_are_kept_with_their_message(service, operator: Client):
    call = open_attendance(service, channel="whatsapp")
    operator.take(call["id"])
    conversation = call["conversation_id"]
    place = {"kind": "location", "latitude": -23.55, "longitude": -46.63}
    photo = {"kind": "image", "media_id": "123", "mime_type": "image/jpeg", "path": "/etc"}
    batch = [
        user(conversation, "u-1", "Localização: Sé", place),
        user(conversation, "u-2", "Foto", photo),
    ]
    assert post_rasa_events(service.base_url, batch).json() == {"stored": 2}
    rows = operator.get(f"/api/attendances/{call['id']}/messages").json()["messages"]
    location, image = (m["attachment"] for m in rows)
    assert location["map_url"] == "https://www.google.com/maps/search/?api=1&query=-23.55,-46.63"
    assert (image["kind"], image["status"], image["mime_type"]) == (
        "image",
        "pending",
        "image/jpeg",
    )
    assert "url" not in image and "path" not in image and "media_id" not in image
    assert operator.get(f"/api/attachments/{rows[1]['id']}").status_code == 404  # not stored yet


def test_attachments_of_another_shape_are_ignored_not_refused(service, operator: Client):
    call = open_attendance(service, channel="whatsapp")
    operator.take(call["id"])
    conversation = call["conversation_id"]
    odd = [
        "image",
        {"kind": "script"},
        {"kind": "image"},  # no media id
        {"kind": "image", "media_id": ["1"]},
        {"kind": "location", "latitude": 91, "longitude": 0},
        {"kind": "location", "latitude": True, "longitude": 0},
    ]
    batch = [user(conversation, f"o-{i}", f"odd {i}", a) for i, a in enumerate(odd)]
    assert post_rasa_events(service.base_url, batch).json() == {"stored": len(odd)}
    rows = operator.get(f"/api/attendances/{call['id']}/messages").json()["messages"]
    assert [m["attachment"] for m in rows] == [None] * len(odd)


def test_parse_keeps_only_what_is_shown_or_fetched():
    assert parse({"attachment": {"kind": "contacts", "vcard": "x"}}) == {"kind": "contacts"}
    audio = parse({"attachment": {"kind": "audio", "media_id": "9", "voice": True, "size": 5}})
    assert audio == {
        "kind": "audio",
        "voice": True,
        "media_id": "9",
        "mime_type": None,
        "file_name": None,
        "size": None,
        "status": "pending",
    }
    assert parse(None) is None and parse({"attachment": None}) is None


def test_limits_by_type_and_size():
    assert refusal("image/jpeg", 1000, TYPES, 2000) is None
    assert refusal("audio/ogg; codecs=opus", 1000, TYPES, 2000) is None  # audio/* and a parameter
    assert "desse tipo (image/svg+xml)" in (refusal("image/svg+xml", 10, TYPES, 2000) or "")
    assert "desse tipo (text/html)" in (refusal("text/html", 10, TYPES, 2000) or "")
    too_big = refusal("application/pdf", 30 * 1024 * 1024, TYPES, 20 * 1024 * 1024) or ""
    assert too_big.startswith("Seu arquivo tem 30,0 MB e o limite é 20,0 MB.")
