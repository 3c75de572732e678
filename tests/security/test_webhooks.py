"""Webhooks (issue 8): WhatsApp deliveries with a missing or wrong signature
get 401 and write nothing, and a replayed signed body gets 200 and writes
nothing more (rows of every table of the handoff database and events of
Rasa's tracker store, counted before and after);
malformed JSON and oversized bodies get 4xx; unknown message types are
logged and skipped. Real Rasa, actions and handoff service; Meta's Graph
API is the local fake."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import pytest
import requests
from sqlalchemy import MetaData, create_engine, func, select

from tests.support.fake_graph import PHONE_NUMBER_ID, FakeGraph
from tests.support.processes import Stack

pytestmark = pytest.mark.slow

APP_SECRET = "test-app-secret"
MAX_BODY_BYTES = 3 * 1024 * 1024  # bot/whatsapp_channel.py


@pytest.fixture(scope="module")
def backend() -> str:
    """Signatures and replays are the channel's rules, the same on any engine
    (storage is covered on both by tests/faults)."""
    return "sqlite"


@pytest.fixture(scope="module")
def stack_settings(graph: FakeGraph) -> dict[str, str]:
    return {"WHATSAPP_API_BASE_URL": graph.base_url}


def service_env(stack: Stack, name: str) -> dict[str, str]:
    return next(s for s in stack.services if s.name == name).env


def row_counts(stack: Stack) -> dict[str, int]:
    """Rows of every table of the handoff database, and Rasa's tracker events."""
    counts: dict[str, int] = {}
    for label, url in (
        ("handoff", service_env(stack, "handoff")["DATABASE_URL"]),
        ("rasa", service_env(stack, "rasa")["RASA_TRACKER_DB"]),
    ):
        engine = create_engine(url)
        with engine.connect() as connection:
            tables = MetaData()
            tables.reflect(connection)
            for table in tables.sorted_tables:
                if label == "handoff" or table.name == "events":
                    query = select(func.count()).select_from(table)
                    counts[f"{label}.{table.name}"] = connection.scalar(query)
        engine.dispose()
    return counts


def settled_counts(stack: Stack) -> dict[str, int]:
    """Row counts once the asynchronous work (the event broker) is done."""
    previous = row_counts(stack)
    for _ in range(20):
        time.sleep(0.5)
        current = row_counts(stack)
        if current == previous:
            return current
        previous = current
    raise AssertionError("the databases kept changing")


def citizen() -> str:
    return f"55119{uuid.uuid4().int % 10**8:08d}"


def delivery(wa_id: str, message: dict) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "contacts": [{"profile": {"name": "Lia"}, "wa_id": wa_id}],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": f"wamid.{uuid.uuid4().hex}",
                                    "timestamp": "1749416383",
                                    **message,
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(stack: Stack, body: bytes, signature: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return requests.post(
        f"{stack.rasa_url}/webhooks/whatsapp/webhook", data=body, headers=headers, timeout=30
    )


def text_body(wa_id: str, text: str) -> bytes:
    return json.dumps(delivery(wa_id, {"type": "text", "text": {"body": text}})).encode()


def test_missing_or_wrong_signatures_get_401_and_replays_write_nothing(
    stack: Stack, graph: FakeGraph
):
    wa_id = citizen()
    accepted = text_body(wa_id, "bom dia")
    assert post(stack, accepted, sign(accepted)).status_code == 200
    graph.wait_for_text(wa_id, "transferido")
    before = settled_counts(stack)

    forged = text_body(wa_id, "mensagem forjada")
    attempts = {
        "missing": post(stack, forged, None),
        "wrong secret": post(stack, forged, sign(forged, "not-the-secret")),
        "another body's": post(stack, forged, sign(accepted)),
        "not hex": post(stack, forged, "sha256=zz"),
        "no scheme": post(stack, forged, hmac.new(b"x", forged, "sha256").hexdigest()),
    }
    assert {name: r.status_code for name, r in attempts.items()} == dict.fromkeys(attempts, 401)
    assert all(r.json()["error"]["message"] for r in attempts.values())
    # A replay is what Meta's own re-delivery looks like: accepted, no effect.
    replays = [post(stack, accepted, sign(accepted)).status_code for _ in range(3)]
    assert replays == [200] * 3
    assert settled_counts(stack) == before
    assert len([t for t in graph.texts_to(wa_id) if "transferido" in t]) == 1


def test_malformed_and_oversized_bodies_get_4xx_and_write_nothing(stack: Stack):
    before = settled_counts(stack)
    oversized = b'{"entry": "' + b"x" * MAX_BODY_BYTES + b'"}'
    cases = {
        "not JSON": b'{"object": "whatsapp_business_account", "entry": [',
        "invalid UTF-8": b'{"entry": "\xff\xfe"}',
        "a JSON array": b"[1, 2, 3]",
        "a JSON string": b'"entry"',
    }
    for name, body in cases.items():
        answer = post(stack, body, sign(body))
        assert answer.status_code == 400, name
        assert answer.json()["error"]["message"], name
    signed = post(stack, oversized, sign(oversized))
    unsigned = post(stack, oversized, None)
    assert (signed.status_code, unsigned.status_code) == (413, 413)
    # A signed JSON object of an unexpected shape is Meta's to extend: ignored.
    for shape in (
        {"entry": "x"},
        {"entry": [{"changes": 5}]},
        {"entry": [{"changes": [{"field": "messages", "value": {"messages": "x"}}]}]},
        {"entry": [{"changes": [{"field": "messages", "value": {"messages": [7, None]}}]}]},
    ):
        body = json.dumps(shape).encode()
        assert post(stack, body, sign(body)).status_code == 200, shape
    assert settled_counts(stack) == before


def test_unknown_message_types_are_logged_and_skipped(stack: Stack, graph: FakeGraph):
    before = settled_counts(stack)
    wa_id = citizen()
    for kind in ("reaction", "unsupported", "hologram"):
        body = json.dumps(delivery(wa_id, {"type": kind, kind: {"emoji": "👍"}})).encode()
        assert post(stack, body, sign(body)).status_code == 200
    assert settled_counts(stack) == before
    assert graph.texts_to(wa_id) == []
    log = next(s for s in stack.services if s.name == "rasa").log_path.read_text(errors="replace")
    assert "of unknown type 'hologram' skipped" in log
