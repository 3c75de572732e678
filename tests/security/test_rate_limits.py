"""Rate limits: failed logins per (account, address) pair, per account and
per address (an attacker cannot lock the real user out: the pair lock stays
with the attacker's address, the account and address locks spare a known
device), requests per operator (REST and socket.io), 429 with a clear pt-BR message; the address
comes from X-Forwarded-For only behind a proxy Sanic is told to trust (and
so does HTTPS, for the session cookie's Secure flag); with Redis the
counters are shared by every process.

SQLite only: the counters live in memory or Redis, the database plays no part.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from http.cookies import SimpleCookie

import pytest
import redis
import requests
import socketio

from tests.support.api import PASSWORD, Client, add_operator, add_room, error_of
from tests.support.processes import Service, start_handoff

PER_PAIR, PER_ACCOUNT, PER_ADDRESS, PER_OPERATOR = 2, 3, 5, 15
LIMITS = {
    "HANDOFF_LOGIN_FAILURES_PER_PAIR": f"{PER_PAIR}/minute",
    "HANDOFF_LOGIN_FAILURES_PER_ACCOUNT": f"{PER_ACCOUNT}/minute",
    "HANDOFF_LOGIN_FAILURES_PER_ADDRESS": f"{PER_ADDRESS}/minute",
    "HANDOFF_OPERATOR_REQUESTS": f"{PER_OPERATOR}/minute",
}
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest.fixture(scope="module")
def handoff_settings() -> dict[str, str]:
    """Behind a (simulated) proxy: Sanic trusts one X-Forwarded-For hop."""
    return {**LIMITS, "SANIC_PROXIES_COUNT": "1"}


@pytest.fixture(scope="module")
def room(handoff: Service) -> str:
    add_room(handoff, "limites")
    return "limites"


@pytest.fixture(scope="module")
def direct(handoff: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The same service without SANIC_PROXIES_COUNT: forwarded headers are
    anyone's to forge, so they count for nothing."""
    service = start_handoff(
        handoff.env["DATABASE_URL"], tmp_path_factory.mktemp("direct"), extra_env=LIMITS
    )
    yield service
    service.stop()


def login(
    service: Service,
    username: str,
    password: str,
    address: str,
    browser: requests.Session | None = None,
) -> requests.Response:
    """A login from ``address``; with ``browser``, its cookies go along (and are kept)."""
    return (browser or requests).post(
        f"{service.base_url}/api/auth/login",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": address},
        timeout=10,
    )


def assert_limited(response: requests.Response, words: str) -> None:
    error = error_of(response, 429)
    assert error["code"] == "too_many_requests"
    assert words in error["message"], error


def test_failed_logins_per_account(handoff: Service, room: str) -> None:
    """Guessing one account's password from many addresses stops."""
    username, neighbour = add_operator(handoff, [room]), add_operator(handoff, [room])
    for attempt in range(PER_ACCOUNT):
        assert login(handoff, username, "errada", f"198.51.100.{attempt}").status_code == 401
    # Even the right password waits now, from any address; other accounts do not.
    assert_limited(login(handoff, username, PASSWORD, "198.51.100.200"), "Muitas tentativas")
    assert login(handoff, neighbour, PASSWORD, "198.51.100.200").status_code == 200


def test_an_attacker_cannot_lock_the_real_user_out(handoff: Service, room: str) -> None:
    """Failures from the attacker's address lock only that (account, address)
    pair: the real user logs in from anywhere else."""
    username = add_operator(handoff, [room])
    for _ in range(PER_PAIR):
        assert login(handoff, username, "errada", "198.51.100.66").status_code == 401
    assert_limited(login(handoff, username, "errada", "198.51.100.66"), "Tente novamente em")
    assert_limited(login(handoff, username, PASSWORD, "198.51.100.66"), "Muitas tentativas")
    assert login(handoff, username, PASSWORD, "198.51.100.67").status_code == 200


def test_a_known_device_logs_in_through_the_account_and_address_locks(
    handoff: Service, room: str
) -> None:
    """Guessing from many addresses locks the account for unknown devices,
    and failures on many accounts lock the address; the browser that logged
    in to this account before (its signed known-device cookie) still gets in."""
    username = add_operator(handoff, [room])
    browser = requests.Session()
    assert login(handoff, username, PASSWORD, "198.51.100.80", browser).status_code == 200
    assert "handoff_device" in browser.cookies
    for attempt in range(PER_ACCOUNT):
        assert login(handoff, username, "errada", f"198.51.100.{90 + attempt}").status_code == 401
    for attempt in range(PER_ADDRESS):
        assert login(handoff, f"ninguem-{attempt}", "x", "198.51.100.81").status_code == 401
    assert_limited(login(handoff, username, PASSWORD, "198.51.100.82"), "Muitas tentativas")
    assert login(handoff, username, PASSWORD, "198.51.100.81", browser).status_code == 200
    # The cookie is the account's: it opens no lock for another account.
    other = add_operator(handoff, [room])
    assert_limited(login(handoff, other, PASSWORD, "198.51.100.81", browser), "Muitas tentativas")
    # A forged cookie is an unknown device.
    forged = requests.Session()
    forged.cookies.set("handoff_device", "abc.def", path="/api/auth")
    assert_limited(login(handoff, username, PASSWORD, "198.51.100.82", forged), "Tente")


def test_wrong_current_passwords_are_limited(handoff: Service, room: str) -> None:
    """`/api/me/password` is no password oracle for a stolen session: its
    wrong current passwords count per account, like failed logins."""
    client, other = (Client(handoff, add_operator(handoff, [room])) for _ in range(2))
    change = {"current_password": "errada", "new_password": "nova-senha-123"}
    for _ in range(PER_PAIR):
        assert error_of(client.post("/api/me/password", change), 400)["field"] == "current_password"
    assert_limited(client.post("/api/me/password", change), "Muitas tentativas com a senha atual")
    right = {**change, "current_password": PASSWORD}
    assert_limited(client.post("/api/me/password", right), "Tente novamente em")
    assert other.post("/api/me/password", right).status_code == 200


def test_failed_logins_per_address(handoff: Service, room: str) -> None:
    """Trying passwords on many accounts from one address stops."""
    username = add_operator(handoff, [room])
    for attempt in range(PER_ADDRESS):
        assert login(handoff, f"ninguem-{attempt}", "x", "203.0.113.50").status_code == 401
    assert_limited(login(handoff, username, PASSWORD, "203.0.113.50"), "Tente novamente em")
    assert login(handoff, username, PASSWORD, "203.0.113.51").status_code == 200


def test_cookie_is_secure_behind_a_trusted_tls_proxy(
    handoff: Service, direct: Service, room: str
) -> None:
    """X-Forwarded-Proto: https counts (Secure cookie) only from a trusted proxy.
    (Runs before the next test, which uses up the direct service's address.)"""
    username = add_operator(handoff, [room])
    for service, secure in ((handoff, True), (direct, False)):
        response = requests.post(
            f"{service.base_url}/api/auth/login",
            json={"username": username, "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.18.0.7"},
            timeout=10,
        )
        for header in response.raw.headers.getlist("Set-Cookie"):
            cookie = next(iter(SimpleCookie(header).values()))  # session and device cookies
            assert bool(cookie["secure"]) is secure, (service.base_url, cookie.key)


def test_forwarded_for_counts_only_behind_a_trusted_proxy(
    direct: Service, handoff: Service, room: str
) -> None:
    """Without SANIC_PROXIES_COUNT a forged X-Forwarded-For changes nothing."""
    username = add_operator(handoff, [room])
    for attempt in range(PER_ADDRESS):
        forged = f"192.0.2.{attempt}"
        assert login(direct, f"ninguem-{attempt}", "x", forged).status_code == 401
    assert_limited(login(direct, username, PASSWORD, "192.0.2.99"), "Muitas tentativas")


def test_requests_per_operator(handoff: Service, room: str) -> None:
    client = Client(handoff, add_operator(handoff, [room]))
    console = socketio.Client(reconnection=False)
    console.connect(handoff.base_url, auth={"token": client.token}, transports=["websocket"])
    try:
        for _ in range(PER_OPERATOR - 5):
            assert client.get("/api/me").status_code == 200
        for _ in range(5):
            assert console.call("attendances:list", {}, timeout=10)["ok"] is True
        assert_limited(client.get("/api/me"), "Muitas requisições")
        ack = console.call("attendances:list", {}, timeout=10)
        assert ack["ok"] is False and ack["error"]["code"] == "too_many_requests"
        other = Client(handoff, add_operator(handoff, [room]))
        assert other.get("/api/me").status_code == 200
    finally:
        console.disconnect()


@pytest.fixture
def two_processes(
    handoff: Service, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Service, Service]]:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {REDIS_URL} is not reachable ({error}); .ci/run starts it")
    env = {
        **LIMITS,
        "HANDOFF_REDIS_URL": REDIS_URL,
        "HANDOFF_REDIS_CHANNEL": uuid.uuid4().hex,
        # Each failure from its own address: the account's counter, not the pair's, fills.
        "SANIC_PROXIES_COUNT": "1",
    }
    url = handoff.env["DATABASE_URL"]
    first = start_handoff(url, tmp_path_factory.mktemp("redis-a"), extra_env=env)
    try:
        second = start_handoff(url, tmp_path_factory.mktemp("redis-b"), extra_env=env)
        yield first, second
        second.stop()
    finally:
        first.stop()


def test_with_redis_every_process_shares_the_counters(
    handoff: Service, room: str, two_processes: tuple[Service, Service]
) -> None:
    first, second = two_processes
    username = add_operator(handoff, [room])
    for attempt in range(PER_ACCOUNT):
        assert login(first, username, "errada", f"10.0.0.{attempt}").status_code == 401
    assert_limited(login(second, username, PASSWORD, "10.0.0.99"), "Muitas tentativas")
