"""Security headers and display spoofing (issue 16, findings 7 and 10).

Every answer says nosniff and a Referrer-Policy; HSTS comes when the request
came over TLS (here through a proxy Sanic trusts: ``SANIC_PROXIES_COUNT``);
pages carry a Content-Security-Policy with no inline script, the console
and the demo page may not be framed, the widget's frame may. In Chromium the
policy is enforced (an injected inline script does not run, another origin
cannot frame the console) and the console still works under it. A name
stored with a right-to-left override before the text rule removed it does
not reverse the dates shown after it in the protocol record. Real handoff
service (SQLite: headers are not the database's business) and Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from handoff.db import Database
from handoff.models import Attendance
from tests.support.api import open_attendance
from tests.support.browser import console_login
from tests.support.clients import Operator
from tests.support.processes import Service

pytestmark = pytest.mark.slow

PAGES = ["/console/", "/widget/", "/console/index.html", "/widget/frame.html"]
NOT_PAGES = ["/health", "/api/me", "/console/js/app.js", "/vendor/socket.io.min.js", "/nada"]


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def handoff_settings() -> dict[str, str]:
    return {"SANIC_PROXIES_COUNT": "1"}


def get(handoff: Service, path: str, **headers: str) -> requests.Response:
    return requests.get(f"{handoff.base_url}{path}", headers=headers, timeout=30)


def directives(policy: str) -> dict[str, str]:
    pairs = (part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    return {name: (rest[0] if rest else "") for name, *rest in pairs}


@pytest.mark.parametrize("path", PAGES + NOT_PAGES)
def test_every_answer_says_nosniff_and_a_referrer_policy(handoff: Service, path: str):
    answer = get(handoff, path)
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in answer.headers  # plain HTTP
    proxied = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    over_tls = get(handoff, path, **proxied)
    assert over_tls.headers["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.parametrize("path", PAGES)
def test_pages_have_a_policy_without_inline_script(handoff: Service, path: str):
    answer = get(handoff, path)
    assert answer.headers["Content-Type"].startswith("text/html")
    policy = directives(answer.headers["Content-Security-Policy"])
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'none'"
    assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
    assert policy["style-src"] == "'self'"
    assert "unsafe-inline" not in answer.headers["Content-Security-Policy"]
    if path.startswith("/widget/frame"):  # any organisation's site embeds the widget
        assert policy["frame-ancestors"] == "*"
        assert "X-Frame-Options" not in answer.headers
    else:
        assert policy["frame-ancestors"] == "'none'"
        assert answer.headers["X-Frame-Options"] == "DENY"


def test_the_widget_frame_reaches_only_the_rasa_its_tag_names(handoff: Service):
    def connect_src(query: str) -> str:
        answer = get(handoff, f"/widget/frame.html{query}")
        return directives(answer.headers["Content-Security-Policy"])["connect-src"]

    named = connect_src("?rasa=https://bot.example.gov.br:8443")
    assert named == "'self' https://bot.example.gov.br:8443 wss://bot.example.gov.br:8443"
    configured = connect_src("")
    assert configured.startswith("'self' http://") and " ws://" in configured
    for hostile in ("?rasa=javascript:alert(1)", "?rasa=https://a.example;script-src%20*"):
        assert connect_src(hostile) == configured, hostile


def test_json_and_scripts_have_no_page_policy(handoff: Service):
    for path in NOT_PAGES:
        assert "Content-Security-Policy" not in get(handoff, path).headers, path


# --- in Chromium


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    yield page
    page.close()


def log_in(page: Page, handoff: Service, username: str) -> None:
    console_login(page, handoff.base_url, username, "atendimento123")


def test_the_browser_enforces_the_policy_and_the_console_works(page: Page, handoff: Service):
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text else 0)
    log_in(page, handoff, "operador")
    assert violations == []  # the console's own files need nothing inline
    ran = page.evaluate(
        """() => new Promise((resolve) => {
             window.inlineRan = false;
             const s = document.createElement("script");
             s.textContent = "window.inlineRan = true";
             document.addEventListener("securitypolicyviolation", () => resolve(window.inlineRan));
             document.body.append(s);
             // Without a policy the script has run by now: no event comes.
             setTimeout(() => resolve(window.inlineRan), 1000);
           })"""
    )
    assert ran is False
    attendance = open_attendance(handoff, contact={"name": "Vera Política"})
    page.locator("#queue button", has_text="Vera Política").click()
    page.get_by_role("button", name="Atender").click()
    expect(page.locator("#attendance")).to_contain_text("Vera Política")
    assert attendance["status"] == "queued"


def test_another_origin_cannot_frame_the_console(page: Page, handoff: Service):
    # 127.0.0.1 and localhost are two origins of one machine.
    page.goto(f"{handoff.base_url.replace('127.0.0.1', 'localhost')}/nada")
    page.set_content(
        f'<iframe onload="window.framed = true" src="{handoff.base_url}/console/"></iframe>'
    )
    page.wait_for_function("window.framed === true", timeout=30_000)
    (framed,) = page.main_frame.child_frames
    assert framed.locator("#login-form").count() == 0, framed.url


def test_a_right_to_left_override_does_not_reverse_the_record(page: Page, handoff: Service):
    attendance = open_attendance(handoff, contact={"name": "Ana"})
    desk = Operator(handoff.base_url)
    assert desk.call("attendance:take", {"attendance_id": attendance["id"]})["ok"]
    sent = desk.call(
        "message:send",
        {"attendance_id": attendance["id"], "text": "Bom dia", "client_id": "bidi-1"},
    )
    assert sent["ok"], sent
    desk.close()
    # Stored before the text rule removed overrides: the page must isolate it.
    db = Database(handoff.env["DATABASE_URL"])
    with db.unit_of_work() as uow:
        uow.session.execute(
            update(Attendance)
            .where(Attendance.id == attendance["id"])
            .values(contact_name="Ana \u202eSilva")
        )
    db.dispose()
    protocol = sent["protocol"]

    log_in(page, handoff, "supervisor")
    page.get_by_role("button", name="Supervisão").click()
    page.get_by_role("tab", name="Protocolo").click()
    page.locator("#protocol-form").get_by_label("Protocolo").fill(protocol)
    page.get_by_role("button", name="Buscar").click()
    line = page.locator("#protocol-record p.muted")
    expect(line).to_contain_text("entrada")
    # Where the words are drawn: "Cliente:" then the name then "entrada".
    lefts = line.evaluate(
        """(p) => {
             const at = (word) => {
               const walk = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
               for (let n = walk.nextNode(); n; n = walk.nextNode()) {
                 const i = n.data.indexOf(word);
                 if (i < 0) continue;
                 const r = document.createRange();
                 r.setStart(n, i); r.setEnd(n, i + word.length);
                 return r.getBoundingClientRect().left;
               }
               return null;
             };
             return [at("Cliente:"), at("Ana"), at("entrada"), at("fim")];
           }"""
    )
    assert None not in lefts, lefts
    assert lefts == sorted(lefts), f"words drawn out of order: {lefts}"
    assert re.search(r"entrada \d", line.inner_text())
