"""Small factories over the real domain functions and a REST client, for
tests that talk to a running handoff service."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import select, update

from handoff.db import Database
from handoff.domain.demands import today_in
from handoff.domain.operators import create_operator
from handoff.models import Attendance, AttendanceHold, EntryPoint, Room
from handoff.settings import Settings
from tests.support.processes import SERVICE_TOKEN

PASSWORD = "senha-de-teste-123"
# Every supervision route, with a body a supervisor could send.
ADMIN_ROUTES = [
    ("GET", "/api/admin/operators", None),
    ("POST", "/api/admin/operators", {"username": "x", "name": "X", "password": "12345678"}),
    ("PUT", "/api/admin/operators/1", {"name": "X"}),
    ("POST", "/api/admin/operators/1/status", {"status": "offline"}),
    ("GET", "/api/admin/rooms", None),
    ("POST", "/api/admin/rooms", {"slug": "x", "name": "X"}),
    ("PUT", "/api/admin/rooms/1", {"name": "X"}),
    ("GET", "/api/admin/hours", None),
    ("PUT", "/api/admin/rooms/1/hours", {"hours": "seg-sex 08:00-18:00"}),
    ("GET", "/api/admin/holidays", None),
    ("POST", "/api/admin/holidays", {"day": "2026-12-24", "name": "Véspera de Natal"}),
    ("DELETE", "/api/admin/holidays/1", None),
    ("POST", "/api/admin/entry-points", {"kind": "widget", "key": "k", "room_id": 1}),
    ("POST", "/api/admin/pause-reasons", {"label": "X"}),
    ("GET", "/api/admin/live", None),
    ("GET", "/api/admin/reports", None),
    ("GET", "/api/admin/protocols/2026000001", None),
    ("POST", "/api/admin/content/reload", None),
    ("GET", "/api/admin/ready-replies", None),
    ("POST", "/api/admin/ready-replies", {"title": "X", "text": "Y"}),
    ("PUT", "/api/admin/ready-replies/1", {"title": "X", "text": "Y"}),
    ("DELETE", "/api/admin/ready-replies/1", None),
    ("GET", "/api/admin/dead-letters", None),
    ("POST", "/api/admin/dead-letters/1/retry", None),
    ("POST", "/api/admin/dead-letters/1/discard", None),
    ("POST", "/api/admin/data-subjects/find", {"q": "529.982.247-25"}),
    ("POST", "/api/admin/data-subjects/export", {"q": "529.982.247-25"}),
    ("POST", "/api/admin/data-subjects/erase", {"q": "529.982.247-25"}),
    ("GET", "/api/admin/customers/1/audit", None),
    ("GET", "/api/admin/record-requests", None),
    ("POST", "/api/admin/record-requests", {"protocol": "2026000001", "means": "channel"}),
    ("POST", "/api/admin/record-requests/1/approve", None),
    ("POST", "/api/admin/record-requests/1/refuse", None),
]


class Service(Protocol):
    """A running handoff service: a real process (tests.support.processes)
    or the fast tier's app in the test process (tests/fast/server.py)."""

    base_url: str
    env: dict[str, str]


def add_room(service: Service, slug: str) -> None:
    db = Database(service.env["DATABASE_URL"])
    with db.unit_of_work() as uow:
        if uow.session.scalar(select(Room).where(Room.slug == slug)) is None:
            uow.session.add(Room(slug=slug, name=slug.title()))
    db.dispose()


def room_id(service: Service, slug: str) -> int:
    db = Database(service.env["DATABASE_URL"])
    with db.unit_of_work(read_only=True) as uow:
        found = uow.session.scalar(select(Room.id).where(Room.slug == slug))
    db.dispose()
    assert found is not None, slug
    return found


def add_entry_point(service: Service, kind: str, key: str, room: str) -> None:
    """Route ``kind``/``key`` (a widget's key, a WhatsApp number) to ``room``,
    as a supervisor does in the console."""
    add_room(service, room)
    target = room_id(service, room)
    db = Database(service.env["DATABASE_URL"])
    with db.unit_of_work() as uow:
        uow.session.add(EntryPoint(kind=kind, key=key, room_id=target))
    db.dispose()


def add_operator(service: Service, rooms: list[str], **fields: Any) -> str:
    """A new operator linked to ``rooms``; returns the username."""
    username = fields.pop("username", f"op-{uuid.uuid4().hex[:8]}")
    db = Database(service.env["DATABASE_URL"])
    with db.unit_of_work() as uow:
        room_rows = list(uow.session.scalars(select(Room).where(Room.slug.in_(rooms))))
        operator = create_operator(
            uow.session,
            username=username,
            name=fields.pop("name", username),
            password=PASSWORD,
            rooms=room_rows,
            role=fields.pop("role", "operator"),
        )
        for key, value in fields.items():
            setattr(operator, key, value)
    db.dispose()
    return username


def post_rasa_events(
    base_url: str, events: list[dict[str, Any]], route: str = "events"
) -> requests.Response:
    """What Rasa's event broker posts (``route``: ``events`` or ``dead-letters``)."""
    return requests.post(
        f"{base_url}/api/rasa/{route}",
        json=events,
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=30,
    )


class Client:
    """An operator's REST session."""

    def __init__(self, service: Service, username: str, password: str = PASSWORD) -> None:
        self.base = service.base_url
        response = requests.post(
            f"{self.base}/api/auth/login",
            json={"username": username, "password": password, "token": True},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        self.token = response.json()["token"]
        self.operator = response.json()["operator"]
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(f"{self.base}{path}", params=params, headers=self.headers, timeout=10)

    def post(self, path: str, payload: Any = None) -> requests.Response:
        return requests.post(f"{self.base}{path}", json=payload, headers=self.headers, timeout=10)

    def put(self, path: str, payload: Any) -> requests.Response:
        return requests.put(f"{self.base}{path}", json=payload, headers=self.headers, timeout=10)

    def delete(self, path: str) -> requests.Response:
        return requests.delete(f"{self.base}{path}", headers=self.headers, timeout=10)

    def available(self) -> Client:
        assert self.post("/api/me/status", {"status": "available"}).status_code == 200
        return self

    def take(self, attendance_id: int) -> requests.Response:
        return self.post(f"/api/attendances/{attendance_id}/take")

    def send(self, attendance_id: int, text: str) -> requests.Response:
        return self.post(
            f"/api/attendances/{attendance_id}/messages",
            {"text": text, "client_id": uuid.uuid4().hex},
        )


def open_attendance(service: Service, room: str | None = None, **fields: Any) -> dict[str, Any]:
    """What the custom action does; returns the attendance."""
    payload = {"conversation_id": uuid.uuid4().hex, "channel": "socketio", "room": room, **fields}
    response = requests.post(
        f"{service.base_url}/api/attendances",
        json=payload,
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["attendance"]


def error_of(response: requests.Response, status: int) -> dict[str, str]:
    """The JSON error of a response that must have ``status``."""
    assert response.status_code == status, response.text
    return response.json()["error"]


def report_csv_rows(content: bytes) -> list[list[str]]:
    """The cells of a report's CSV export, read as a spreadsheet set to pt-BR
    reads it: UTF-8 with a byte-order mark, cells separated by ";"."""
    assert content.startswith(b"\xef\xbb\xbf"), content[:20]
    text = content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def finished_attendance(
    service: Service, client: Client, customer_id: int, text: str, article_id: int
) -> int:
    """An attendance of the customer, whole: they wrote ``text``, ``client``
    took it, linked the customer, answered "resposta <text>", registered the
    article and finished it. Returns its id."""
    attendance = open_attendance(
        service, first_message={"message_id": uuid.uuid4().hex, "text": text}
    )
    client.take(attendance["id"])
    client.post(f"/api/attendances/{attendance['id']}/customer", {"customer_id": customer_id})
    client.send(attendance["id"], f"resposta {text}")
    client.post(f"/api/attendances/{attendance['id']}/registrations", {"article_id": article_id})
    client.post(f"/api/attendances/{attendance['id']}/finish")
    return int(attendance["id"])


def backdate(db: Database, attendance_id: int, **times: Any) -> None:
    """Move an attendance's times (``queued_at``, ``taken_at``,
    ``first_response_at``, ``ended_at``, and any other column) to where a
    report test wants them, its operator's hold with them (one hold: taken
    once, never transferred)."""
    hold_times = {
        "started_at": times.get("taken_at"),
        "first_response_at": times.get("first_response_at"),
        "ended_at": times.get("ended_at"),
    }
    with db.unit_of_work() as uow:
        uow.session.execute(
            update(Attendance).where(Attendance.id == attendance_id).values(**times)
        )
        if times.get("taken_at") is not None:
            uow.session.execute(
                update(AttendanceHold)
                .where(AttendanceHold.attendance_id == attendance_id)
                .values(**hold_times)
            )


def organisation_today() -> date:
    """The organisation's date (``Settings.timezone``, São Paulo's by
    default), which decides whether a demand is late. Not the machine's:
    from 21:00 in São Paulo the UTC date is already the next day."""
    return today_in(ZoneInfo(Settings().timezone))
