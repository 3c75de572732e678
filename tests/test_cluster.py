"""The cluster as `make cluster` starts it (scripts/cluster.sh): nginx with
TLS on one public port in front of two Rasa and two handoff processes, on
PostgreSQL and Redis. A visitor in Chromium chats over HTTPS (socket.io's
long-polling, sticky, then its websocket, through nginx) with an operator
whose console is on either handoff process; one Rasa process and one
handoff process are killed and every message still arrives, once, in order."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser, expect

from tests.support.browser import chat, say, start_chat
from tests.support.clients import Operator
from tests.support.cluster import Cluster, running_cluster
from tests.support.databases import fresh_postgres
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with fresh_postgres() as url, running_cluster(tmp_path_factory.mktemp("cluster"), url) as c:
        yield c


def test_a_visitor_and_an_operator_talk_through_the_front_door(browser: Browser, cluster: Cluster):
    # TLS: the machine's own self-signed certificate; plain HTTP is refused.
    health = requests.get(
        f"{cluster.public_url}/health", verify=str(cluster.certificate), timeout=10
    )
    assert health.json()["status"] == "ok"
    plain = requests.get(cluster.public_url.replace("https", "http") + "/health", timeout=10)
    assert plain.status_code == 400

    operator = Operator(cluster.internal_url)
    context = browser.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        sockets: list[str] = []
        page.on("websocket", lambda socket: sockets.append(socket.url))
        page.goto(f"{cluster.public_url}/widget/")
        start_chat(page, "Joana")
        say(page, "Preciso da segunda via do IPTU")
        expect(chat(page).get_by_text("transferido(a)")).to_be_visible(timeout=30000)
        queued = operator.wait_for("attendance:queued", lambda a: a["contact_name"] == "Joana")
        assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]

        for n in range(4):
            reply = f"Resposta {n} da atendente"
            sent = operator.call(
                "message:send",
                {"attendance_id": queued["id"], "text": reply, "client_id": uuid.uuid4().hex},
            )
            assert sent["ok"], sent
            expect(chat(page).get_by_text(reply)).to_be_visible(timeout=30000)
            say(page, f"Mensagem {n} da visitante")
            heard = f"Mensagem {n} da visitante"
            operator.wait_for("message:new", lambda m, heard=heard: m["text"] == heard)
        # The widget's socket upgraded from long-polling to a websocket.
        wss = f"wss://127.0.0.1:{cluster.env['SERVICEDESK_PORT']}/rasa/socket.io/"
        assert any(url.startswith(wss) for url in sockets), sockets
    finally:
        context.close()
        operator.close()


def test_killing_a_rasa_and_a_handoff_process_loses_nothing(browser: Browser, cluster: Cluster):
    operator = Operator(cluster.internal_url)
    context = browser.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        page.goto(f"{cluster.public_url}/widget/")
        start_chat(page, "Rita")
        say(page, "Olá, bom dia")
        queued = operator.wait_for("attendance:queued", lambda a: a["contact_name"] == "Rita")
        assert operator.call("attendance:take", {"attendance_id": queued["id"]})["ok"]

        texts = []
        victims = ("rasa-1", "handoff-1")
        for victim in victims:
            cluster.kill(victim)
        for n in range(3):
            texts.append(f"Depois de parar {' e '.join(victims)} ({n})")
            say(page, texts[-1])
        # Each is acknowledged once a live Rasa process stored it.
        expect(chat(page).locator("li.pending")).to_have_count(0, timeout=90000)
        wait_until(cluster.ready, 180, "every process serving again")

        def stored() -> list[str]:
            path = f"/api/attendances/{queued['id']}/messages"
            messages = requests.get(
                f"{cluster.internal_url}{path}",
                headers={"Authorization": f"Bearer {operator.token}"},
                timeout=10,
            ).json()["messages"]
            return [m["text"] for m in messages if m["direction"] == "customer"]

        wait_until(lambda: set(texts) <= set(stored()), 60, "every message stored")
        assert [text for text in stored() if text in texts] == texts
    finally:
        context.close()
        operator.close()
