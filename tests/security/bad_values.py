"""The bad values the bad-input tests send (``test_bad_input*.py``): a few
per kind, not thousands, and the check every answer must pass."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import requests

DEEP = 100_000
# Values for every key of a JSON body (or a socket.io payload).
BAD_VALUES: dict[str, Any] = {
    "lone-surrogate": "a\ud800b",
    "nul": "a\x00b",
    "overlong": "x" * 5000,  # past every length limit (4096 the longest)
    "huge-int": 2**70,
    "negative": -(2**63) - 1,
    "float": 1.5,
    "bool": True,
    "null": None,
    "list": ["a", 1],
    "huge-ints": [2**70, -(2**70)],
    "object": {"a": {"b": [1]}},
    "deep": json.loads("[" * 70 + "]" * 70),  # past textrules.MAX_DEPTH (64)
}
# Bodies as bytes: (content type, body).
RAW_BODIES = {
    "deep-list-100k": ("application/json", b"[" * DEEP + b"]" * DEEP),
    "deep-object-900": ("application/json", b'{"a":' * 900 + b"1" + b"}" * 900),
    "not-json": ("application/json", b'{"text": '),
    "invalid-utf8": ("application/json", b'{"text": "\xff\xfe"}'),
    "text-plain": ("text/plain", b'{"username": "supervisor", "password": "x"}'),
    "array": ("application/json", b"[]"),
    "string": ("application/json", b'"x"'),
    "empty": ("application/json", b""),
}
# Path values, URL-encoded: NUL, a lone surrogate and invalid UTF-8 as
# bytes, beyond 64 bits, traversal (percent-encoded: urllib3 removes
# literal dot segments), 5000 digits.
TRAVERSAL = ["%2E%2E%2F%2E%2E%2Fhandoff%2Fapp.py", "%2E%2E"]
PATH_VALUES = ["%00", "%ED%A0%80", "%FF", str(2**70), "-1", "1.5", *TRAVERSAL, "9" * 5000]
# Query values, URL-encoded as a browser would send them.
QUERY_VALUES = {
    "lone-surrogate": "a%ED%A0%80b",
    "nul": "a%00b",
    "bad-utf8": "%FF",
    "huge": "9" * 30,
}
# Header values that are not ASCII (UTF-8, and bytes that are not UTF-8)
# on the headers read before and for authentication.
BAD_HEADERS = [
    {"Authorization": "Bearer \xe9\xff".encode("latin-1")},
    {"Authorization": "Bearer ção".encode()},
    {"Cookie": b"handoff_session=\xff\xfe", "X-CSRF-Token": b"\xc3\xa9"},
    {"Origin": b"http://\xff\xfe", "Content-Type": b"application/json; charset=\xff"},
    {"X-Hub-Signature-256": "sha256=ção".encode()},
    {"X-Hub-Signature-256": b"sha256=\xff\xfe"},
]


def bodies(keys: list[str]) -> dict[str, Any]:
    """One JSON object per bad value, with that value at every key."""
    return {name: {key: value for key in keys} for name, value in BAD_VALUES.items()}


@dataclass
class Problems:
    """Answers that broke the rule, collected so that one run shows them all."""

    found: list[str] = field(default_factory=list)

    def check(self, label: str, answer: requests.Response, json_errors: bool = True) -> None:
        """Below 500; with ``json_errors``, a 4xx is {"error": {"code", "message"}}."""
        if answer.status_code >= 500:
            self.found.append(f"{label}: {answer.status_code} {answer.text[:200]}")
        elif answer.status_code >= 400 and json_errors:
            try:
                error = answer.json()["error"]
                assert isinstance(error["code"], str) and isinstance(error["message"], str)
            except (ValueError, KeyError, TypeError, AssertionError):
                self.found.append(f"{label}: {answer.status_code} not a JSON error")

    def add(self, problem: str) -> None:
        self.found.append(problem)

    def assert_none(self) -> None:
        found, self.found = self.found, []
        assert not found, "\n".join(found)


def is_error_ack(ack: Any) -> bool:
    return (
        isinstance(ack, dict)
        and ack.get("ok") is False
        and isinstance(ack["error"]["code"], str)
        and isinstance(ack["error"]["message"], str)
    )
