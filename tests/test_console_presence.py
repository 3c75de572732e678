"""What supervision sees of an operator's absence (issue 19): a console
closed without logging out leaves the operator offline once the grace
period is over, and the live view says so; times are per operator hold, so
a requeued attendance's first response is never negative; an attendance
the customer abandoned reads as such in Protocolo. Real handoff service
with a short grace period (HANDOFF_RECONNECT_GRACE_SECONDS) and Chromium."""

from __future__ import annotations

import csv
import io
import time

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from handoff.db import Database
from handoff.models import ABANDONED, Attendance, utcnow
from tests.support.api import PASSWORD, Client, add_operator, open_attendance
from tests.support.browser import console_login
from tests.support.processes import Service

pytestmark = pytest.mark.slow
ROOM = "atendimento"
STUCK = 30  # seconds: a bound for what is expected, never a duration asserted


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def handoff_settings() -> dict[str, str]:
    return {"HANDOFF_RECONNECT_GRACE_SECONDS": "1"}


@pytest.fixture(scope="module")
def supervisor(browser: Browser, handoff: Service) -> Page:
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    console_login(page, handoff.base_url, "supervisor", "atendimento123")
    page.get_by_role("button", name="Supervisão").click()
    return page


def test_a_closed_console_goes_offline_in_the_live_view(
    browser: Browser, handoff: Service, supervisor: Page
):
    add_operator(handoff, [ROOM], username="ivo", name="Ivo Fantasma")
    console = browser.new_page()
    console_login(console, handoff.base_url, "ivo", PASSWORD)
    row = supervisor.locator(".room-card li", has_text="Ivo Fantasma")
    expect(row).to_contain_text("Disponível")
    # Closed once its socket is connected: a console that never connected
    # has no disconnect to notice.
    expect(console.locator("#connection")).to_have_attribute("data-state", "online")
    console.close()  # no logout: the browser is gone
    expect(row).to_contain_text("Indisponível", timeout=STUCK * 1000)


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + STUCK
    while not condition():
        assert time.monotonic() < deadline, f"stuck waiting for {what}"
        time.sleep(0.2)


def test_first_response_counts_from_the_last_take(handoff: Service, supervisor: Page):
    first = Client(handoff, add_operator(handoff, [ROOM], name="Jonas Primeiro")).available()
    second = Client(handoff, add_operator(handoff, [ROOM], name="Karla Segunda")).available()
    attendance = open_attendance(handoff, contact={"name": "Lia Requeue"})
    assert first.take(attendance["id"]).status_code == 200
    assert first.send(attendance["id"], "Um momento, por favor").status_code in (200, 201)
    # The first operator goes away: after the grace period the call is back.
    assert first.post("/api/me/status", {"status": "offline"}).ok

    def requeued() -> bool:
        queued = second.get("/api/attendances").json()["queued"]
        return attendance["id"] in [a["id"] for a in queued]

    wait_until(requeued, "the call back in the queue")
    assert second.take(attendance["id"]).status_code == 200
    assert second.send(attendance["id"], "Olá, sou a Karla").status_code in (200, 201)

    supervisor.get_by_role("tab", name="Relatórios").click()
    supervisor.get_by_role("button", name="Gerar relatório").click()
    row = supervisor.locator("#report-table tr", has_text="Karla Segunda")
    expect(row).to_be_visible()
    first_response = row.locator("td").nth(10).inner_text()
    assert "-" not in first_response and first_response != "—", first_response

    # The export of the default period (the last 7 days), as a pt-BR sheet reads it.
    csv_text = supervisor.evaluate(
        "async () => (await fetch('/api/admin/reports?format=csv')).text()"
    )
    rows = [
        r
        for r in csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")), delimiter=";")
        if r["Operador"] == "Karla Segunda"
    ]
    assert rows and float(rows[0]["1ª resposta média (s)"].replace(",", ".")) >= 0


def test_an_abandoned_attendance_reads_so_in_protocolo(handoff: Service, supervisor: Page):
    attendance = open_attendance(handoff, contact={"name": "Mara Sumiu"})
    db = Database(handoff.env["DATABASE_URL"])
    with db.unit_of_work() as uow:
        uow.session.execute(
            update(Attendance)
            .where(Attendance.id == attendance["id"])
            .values(status=ABANDONED, ended_at=utcnow(), protocol="2026999002")
        )
    db.dispose()
    supervisor.get_by_role("tab", name="Protocolo").click()
    supervisor.locator("#protocol-form").get_by_label("Protocolo").fill("2026999002")
    supervisor.get_by_role("button", name="Buscar").click()
    expect(supervisor.locator("#protocol-record")).to_contain_text("Abandonado pelo cliente")
    expect(supervisor.locator("#protocol-record")).not_to_contain_text("undefined")
