"""Fuzzing (issue 8): hypothesis property tests of the Brazilian identifiers
(CPF, CNPJ, phone numbers) and of the REST request parsing of the running
handoff service: whatever the JSON body, raw bytes or query string, a route
answers below 500, and an error is JSON ``{"error": {"message"}}``.

Example counts are bounded (see ``settings``) so the module takes seconds."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff.domain.brazil import digits, phone_e164, valid_cnpj, valid_cpf
from tests.security.app_routes import BODY_KEYS, PAGE_ROUTES, Route, http_routes
from tests.support.processes import SERVICE_TOKEN, Service

QUICK = settings(max_examples=200, deadline=None)
E164 = re.compile(r"^\+55[1-9]{2}(9[0-9]{8}|[2-5][0-9]{7})$")

ascii_digit = st.sampled_from("0123456789")
any_text = st.text(max_size=30)


# CPF and CNPJ: check digits.


@pytest.fixture(scope="module")
def backend() -> str:
    """PostgreSQL, the stricter engine (NUL, out-of-range integers); SQLite
    sees such bodies in test_edges."""
    return "postgresql"


def variants(base: str, length: int) -> list[str]:
    return [base + f"{n:02d}" for n in range(100)] if len(base) == length - 2 else []


@QUICK
@given(st.text(ascii_digit, min_size=9, max_size=9).filter(lambda b: len(set(b)) > 1))
def test_every_cpf_base_has_exactly_one_pair_of_check_digits(base: str):
    assert sum(valid_cpf(candidate) for candidate in variants(base, 11)) == 1


@QUICK
@given(st.text(ascii_digit, min_size=12, max_size=12).filter(lambda b: len(set(b)) > 1))
def test_every_cnpj_base_has_exactly_one_pair_of_check_digits(base: str):
    assert sum(valid_cnpj(candidate) for candidate in variants(base, 14)) == 1


@QUICK
@given(any_text)
def test_any_text_is_answered_without_error(value: str):
    """Unicode digits ("١", "²"), signs, spaces: a yes or a no, never a crash."""
    assert valid_cpf(value) is False or (value.isascii() and value.isdigit())
    # An alphanumeric CNPJ (IN RFB 2.229/2024): letters, but digits at the end.
    assert valid_cnpj(value) is False or (value.isascii() and value[12:].isdigit())
    assert digits(value) == "".join(c for c in value if c in "0123456789")


@QUICK
@given(st.text(ascii_digit, min_size=9, max_size=9).filter(lambda b: len(set(b)) > 1))
def test_a_cpf_written_with_punctuation_is_the_same_cpf(base: str):
    cpf = next(c for c in variants(base, 11) if valid_cpf(c))
    assert valid_cpf(digits(f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}"))


# Phones: any usual writing of a Brazilian number gives its E.164 form.

area = st.from_regex(r"[1-9][1-9]", fullmatch=True)
mobile = st.from_regex(r"9[0-9]{8}", fullmatch=True)
landline = st.from_regex(r"[2-5][0-9]{7}", fullmatch=True)


@QUICK
@given(area, st.one_of(mobile, landline), st.integers(0, 5), st.sampled_from(["-", " ", ""]))
def test_phone_writings_give_one_e164(ddd: str, number: str, style: int, sep: str):
    local = f"{number[:-4]}{sep}{number[-4:]}"
    writing = [
        f"+55 ({ddd}) {local}",
        f"0{ddd} {local}",
        f"0 21 {ddd} {local}",  # carrier selection code
        f"{ddd}{number}",
        f"55{ddd}{number}",
        f"  ({ddd}){local}  ",
    ][style]
    assert phone_e164(writing) == f"+55{ddd}{number}"


@QUICK
@given(any_text)
def test_any_text_is_a_valid_phone_or_none_and_normalising_is_stable(value: str):
    phone = phone_e164(value)
    assert phone is None or E164.match(phone)
    if phone is not None:
        assert phone_e164(phone) == phone


# REST request parsing, against the running service.

json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_value = st.recursive(
    json_scalar,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(BODY_KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=12,
)
query = st.dictionaries(
    st.sampled_from(["q", "page", "limit", "from", "to", "day", "room", "operator", "format"])
    | st.text(max_size=6),
    st.text(max_size=12),
    max_size=3,
)
path_value = st.one_of(st.integers(min_value=0, max_value=10**30), st.text(min_size=1, max_size=12))

# Not fuzzed: static files, socket.io's own endpoint, logging out (ends the
# session the fuzzer uses) and the content reload (trains a Rasa model).
SKIPPED = {"handle_request", *PAGE_ROUTES}
SKIPPED_NAMES = {"operators.logout_route", "admin.reload_content"}
ROUTES = [
    r
    for r in http_routes()
    if r.name not in SKIPPED and r.name not in SKIPPED_NAMES and r.path.startswith(("/api", "/w"))
]


@pytest.fixture(scope="module")
def supervisor(handoff: Service) -> Iterator[str]:
    response = requests.post(
        f"{handoff.base_url}/api/auth/login",
        json={"username": "supervisor", "password": "atendimento123", "token": True},
        timeout=10,
    )
    response.raise_for_status()
    yield response.json()["token"]


def parameters(route: Route) -> list[str]:
    return re.findall(r"<(\w+)", route.path)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_no_request_makes_a_route_fail(handoff: Service, supervisor: str, route: Route):
    token = SERVICE_TOKEN if route.name.startswith("integration.") else supervisor
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    @settings(
        max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        st.fixed_dictionaries({name: path_value for name in parameters(route)}),
        query,
        st.one_of(
            json_value.map(lambda v: ("json", v)), st.binary(max_size=40).map(lambda b: ("raw", b))
        ),
    )
    def check(values: dict, args: dict, body: tuple) -> None:
        url = route.url(
            handoff.base_url,
            **{k: requests.utils.quote(str(v), safe="") for k, v in values.items()},
        )
        kind, content = body
        send = {"json": content} if kind == "json" else {"data": content}
        if route.method == "GET":
            send = {}
        answer = session.request(route.method, url, params=args, timeout=10, **send)
        assert answer.status_code < 500, (answer.status_code, answer.text[:300])
        if answer.status_code >= 400:
            assert isinstance(answer.json()["error"]["message"], str), answer.text[:300]

    check()
