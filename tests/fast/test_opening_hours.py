"""Opening hours per room and the organisation's holidays (issue 20, item
2): the schedule's rules and pt-BR texts, the content files, Supervisão's
edits, and what a customer who joins a closed room's queue is told (the
clock is simulated: the domain takes ``now``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from handoff.demo import DEMO_PASSWORD
from handoff.domain.errors import Invalid
from handoff.domain.opening_hours import (
    KEEP,
    MESSAGE,
    closed_notice,
    describe,
    is_open,
    next_opening,
    parse_schedule,
    schedule_text,
)
from handoff.domain.room_hours import parse_holidays_file, parse_hours_file
from handoff.settings import PROJECT_ROOT
from tests.support.api import Client, error_of
from tests.support.processes import SERVICE_TOKEN

SP = ZoneInfo("America/Sao_Paulo")
WEEKDAYS = parse_schedule("seg-sex 08:00-18:00\nsáb 08:00-12:30")
NONE: dict[date, str] = {}


def at(text: str, zone: ZoneInfo = SP) -> datetime:
    """A local time of the organisation, as the aware instant the domain takes."""
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def test_open_and_closed_by_weekday_and_hour():
    # 2026-12-01 is a Tuesday; 2026-12-05 a Saturday.
    assert is_open(WEEKDAYS, NONE, at("2026-12-01 08:00"), SP)
    assert is_open(WEEKDAYS, NONE, at("2026-12-01 17:59"), SP)
    assert not is_open(WEEKDAYS, NONE, at("2026-12-01 18:00"), SP)
    assert not is_open(WEEKDAYS, NONE, at("2026-12-01 07:59"), SP)
    assert is_open(WEEKDAYS, NONE, at("2026-12-05 12:29"), SP)
    assert not is_open(WEEKDAYS, NONE, at("2026-12-05 12:30"), SP)
    assert not is_open(WEEKDAYS, NONE, at("2026-12-06 10:00"), SP)


def test_the_organisations_time_zone_decides_not_utc():
    # 20:30 UTC is 17:30 in São Paulo (open) and 21:30 in Lisbon... not.
    instant = datetime(2026, 12, 1, 20, 30, tzinfo=timezone.utc)
    assert is_open(WEEKDAYS, NONE, instant, SP)
    assert not is_open(WEEKDAYS, NONE, instant, ZoneInfo("Europe/Lisbon"))


def test_overnight_intervals_run_into_the_next_day():
    night = parse_schedule("sex 22:00-02:00")
    assert is_open(night, NONE, at("2026-12-04 23:00"), SP)  # Friday
    assert is_open(night, NONE, at("2026-12-05 01:59"), SP)  # Saturday, still Friday's
    assert not is_open(night, NONE, at("2026-12-05 02:00"), SP)
    assert not is_open(night, NONE, at("2026-12-05 23:00"), SP)
    assert schedule_text(night) == "sex 22:00-02:00"
    full = parse_schedule("seg-dom 00:00-24:00")
    assert is_open(full, NONE, at("2026-12-06 23:59"), SP)


def test_a_holiday_closes_the_intervals_that_start_on_it():
    christmas = {date(2026, 12, 25): "Natal"}
    assert not is_open(WEEKDAYS, christmas, at("2026-12-25 10:00"), SP)  # a Friday
    night = parse_schedule("qui 22:00-02:00")
    # Thursday night's interval started before the holiday: it runs on.
    assert is_open(night, christmas, at("2026-12-25 01:00"), SP)
    opening = next_opening(WEEKDAYS, christmas, at("2026-12-25 10:00"), SP)
    assert opening == at("2026-12-26 08:00")


def test_the_next_opening_and_the_notice_in_pt_br():
    evening = at("2026-12-04 19:00")  # a Friday, after hours
    assert next_opening(WEEKDAYS, NONE, evening, SP) == at("2026-12-05 08:00")
    assert describe(WEEKDAYS) == (
        "de segunda a sexta, das 8h às 18h, e aos sábados, das 8h às 12h30"
    )
    weekdays = parse_schedule("seg-sex 08:00-18:00")
    assert closed_notice(weekdays, NONE, at("2026-12-05 10:00"), SP) == (
        "Nosso atendimento funciona de segunda a sexta, das 8h às 18h. "
        "Abriremos segunda-feira, 07/12, às 8h. "
        "Sua conversa fica na fila e será atendida por ordem de chegada assim que abrirmos."
    )
    early = closed_notice(weekdays, NONE, at("2026-12-01 06:00"), SP)
    assert "Abriremos hoje, às 8h." in early
    late = closed_notice(weekdays, NONE, at("2026-12-01 19:00"), SP)
    assert "Abriremos amanhã, 02/12, às 8h." in late
    assert closed_notice(weekdays, NONE, at("2026-12-01 10:00"), SP) is None
    holiday = closed_notice(weekdays, {date(2026, 12, 25): "Natal"}, at("2026-12-25 10:00"), SP)
    assert holiday.startswith("Hoje é feriado (Natal). Nosso atendimento")
    assert "Abriremos segunda-feira, 28/12, às 8h." in holiday
    some_days = parse_schedule("seg,qua,sex 09:00-12:00", MESSAGE)
    assert describe(some_days) == "às segundas, às quartas e às sextas, das 9h às 12h"
    told = closed_notice(some_days, NONE, at("2026-12-01 10:00"), SP)
    assert "Deixe aqui sua mensagem, com seu nome e um telefone ou e-mail" in told


def test_schedule_errors_name_the_line_and_the_field():
    with pytest.raises(Invalid) as error:
        parse_schedule("seg-sex 08:00-18:00\n\nxyz 08:00-10:00")
    assert error.value.field == "hours" and error.value.message.startswith("Linha 3: dia 'xyz'")
    for bad, words in [
        ("seg-sex 8h às 18h", "não é um horário"),
        ("seg 25:00-26:00", "hora '25:00' inválida"),
        ("sex-seg 08:00-10:00", "fora de ordem"),
        ("seg 08:00-08:00", "mesma hora"),
    ]:
        with pytest.raises(Invalid) as error:
            parse_schedule(bad)
        assert words in error.value.message, bad
    with pytest.raises(Invalid) as error:
        parse_schedule("seg 08:00-10:00", "talvez")
    assert error.value.field == "outside_hours"
    assert parse_schedule("").always_open


def test_the_files_parse_and_errors_name_file_and_line(tmp_path: Path):
    hours = tmp_path / "horarios.md"
    hours.write_text(
        "# Horários\n\n## atendimento\n- seg-sex 08:00-18:00\n- fora do horário: recado\n"
        "## tributos\n- sáb 08:00-12:00\n",
        encoding="utf-8",
    )
    rooms = parse_hours_file(hours)
    assert schedule_text(rooms["atendimento"]) == "seg-sex 08:00-18:00"
    assert rooms["atendimento"].outside == MESSAGE and rooms["tributos"].outside == KEEP
    for text, where in [
        ("## a\n- seg-sex 8-18\n", "horarios.md:2: "),
        ("- seg 08:00-10:00\n", "horarios.md:1: horário antes de uma sala"),
        ("## a\n- fora do horário: depois\n", "horarios.md:2: fora do horário"),
        ("## a\n## a\n", "horarios.md:2: sala vazia ou repetida"),
    ]:
        hours.write_text(text, encoding="utf-8")
        with pytest.raises(Invalid) as error:
            parse_hours_file(hours)
        assert error.value.message.startswith(where), error.value.message
    holidays = tmp_path / "feriados.md"
    holidays.write_text("- 25/12/2026 Natal\n- 2026-12-31 Véspera\n", encoding="utf-8")
    with pytest.raises(Invalid) as error:
        parse_holidays_file(holidays)
    assert error.value.message.startswith("feriados.md:2: data '2026-12-31'")
    # The shipped files: the national holidays, and no hours (the demo room is always open).
    national = parse_holidays_file(PROJECT_ROOT / "data" / "feriados.md")
    assert national[date(2026, 11, 20)].startswith("Dia Nacional de Zumbi")
    assert parse_hours_file(PROJECT_ROOT / "data" / "horarios.md") == {}


# --- through the service: Supervisão's edits and what the customer is told


@pytest.fixture
def hours_files(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "horarios.md", tmp_path / "feriados.md"


@pytest.fixture
def service_settings(hours_files: tuple[Path, Path]) -> dict:
    return {"hours_file": hours_files[0], "holidays_file": hours_files[1]}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):
    """The service's clock, moved by the test (``clock.now = ...``)."""

    class Clock:
        now = at("2026-12-05 10:00")  # a Saturday

    for module in ("handoff.desk", "handoff.routes.hours", "handoff.routes.widget"):
        monkeypatch.setattr(f"{module}.utcnow", lambda: Clock.now)
    return Clock


def room_hours(supervisor: Client) -> dict:
    return {r["room_id"]: r for r in supervisor.get("/api/admin/hours").json()["rooms"]}


def test_the_file_sets_the_hours_and_supervisao_overrides_them(
    service, supervisor: Client, hours_files, clock
):
    hours_files[0].write_text("## atendimento\n- seg-sex 08:00-18:00\n", encoding="utf-8")
    (room,) = room_hours(supervisor).values()
    assert room["source"] == "arquivo" and room["hours"] == "seg-sex 08:00-18:00"
    assert room["open"] is False and room["opens_at"] == "2026-12-07T08:00:00-03:00"
    path = f"/api/admin/rooms/{room['room_id']}/hours"
    error = error_of(supervisor.put(path, {"hours": "seg-sex 08:00\n", "outside_hours": KEEP}), 400)
    assert error["field"] == "hours" and error["message"].startswith("Linha 1:")
    error = error_of(supervisor.put(path, {"hours": "sáb 09:00-13:00", "outside_hours": "x"}), 400)
    assert error["field"] == "outside_hours"
    view = supervisor.put(path, {"hours": "sáb 09:00-13:00", "outside_hours": MESSAGE}).json()
    assert view["hours"] == {**view["hours"], "source": "supervisao", "open": True}
    # A later change of the file does not undo the supervisor's edit...
    hours_files[0].write_text("## atendimento\n- seg 08:00-09:00\n", encoding="utf-8")
    assert room_hours(supervisor)[room["room_id"]]["hours"] == "sáb 09:00-13:00"
    # ...until the supervisor puts the room back on the file's hours.
    view = supervisor.put(path, {"from_file": True}).json()["hours"]
    assert view["source"] == "arquivo" and view["hours"] == "seg 08:00-09:00"
    hours_files[0].unlink()
    assert room_hours(supervisor)[room["room_id"]]["source"] == "nenhum"


def test_holidays_from_the_file_and_from_supervisao(
    service, supervisor: Client, hours_files, clock
):
    hours_files[1].write_text("- 25/12/2026 Natal\n", encoding="utf-8")
    hours_files[0].write_text("## atendimento\n- seg-dom 08:00-18:00\n", encoding="utf-8")
    assert (
        error_of(supervisor.post("/api/admin/holidays", {"day": "25/12", "name": "X"}), 400)[
            "field"
        ]
        == "day"
    )
    assert (
        error_of(supervisor.post("/api/admin/holidays", {"day": "2026-12-05"}), 400)["field"]
        == "name"
    )
    taken = supervisor.post("/api/admin/holidays", {"day": "2026-12-25", "name": "Outro"})
    assert error_of(taken, 409)["field"] == "day"
    added = supervisor.post("/api/admin/holidays", {"day": "2026-12-05", "name": "Aniversário"})
    assert added.status_code == 201
    assert [
        (h["day"], h["source"]) for h in supervisor.get("/api/admin/holidays").json()["holidays"]
    ] == [("2026-12-05", "supervisao"), ("2026-12-25", "arquivo")]
    (room,) = room_hours(supervisor).values()
    assert room["open"] is False  # today (Saturday the 5th) is the supervisor's holiday
    supervisor.delete(f"/api/admin/holidays/{added.json()['holiday']['id']}")
    assert next(iter(room_hours(supervisor).values()))["open"] is True
    assert error_of(supervisor.delete("/api/admin/holidays/999"), 404)


def join(service, name: str, first_message: dict | None = None) -> dict:
    """What the transfer action does; the answer holds the text told."""
    response = requests.post(
        f"{service.base_url}/api/attendances",
        json={
            "conversation_id": uuid.uuid4().hex,
            "channel": "socketio",
            "contact": {"name": name},
            **({"first_message": first_message} if first_message else {}),
        },
        headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_a_customer_joining_a_closed_room_is_told_when_it_opens_and_is_answered_first(
    service, operator: Client, hours_files, clock
):
    hours_files[0].write_text(
        "## atendimento\n- seg-sex 08:00-18:00\n- fora do horário: recado\n", encoding="utf-8"
    )
    (closed,) = operator.get("/api/rooms/hours").json()["rooms"]  # Início shows it
    widget = requests.get(f"{service.base_url}/widget/api/prechat", timeout=10).json()
    assert widget["closed"]["leave_message"] is True  # the widget offers its form
    assert widget["closed"]["notice"].startswith("Nosso atendimento funciona")
    assert (closed["name"], closed["open"]) == ("Atendimento ao cidadão", False)
    saturday = join(service, "Fora do horário")
    assert saturday["queue"]["text"] == (
        "Você é o 1º da fila. Nosso atendimento funciona de segunda a sexta, das 8h às 18h. "
        "Abriremos segunda-feira, 07/12, às 8h. Deixe aqui sua mensagem, com seu nome e um "
        "telefone ou e-mail para contato: ela fica registrada e um atendente responde assim "
        "que abrirmos."
    )
    assert saturday["attendance"]["queued_outside_hours"] is True
    # The widget's leave-a-message form already left it: not asked again.
    left = {"message_id": "f1", "text": "O carnê veio errado.", "metadata": {"left_message": True}}
    assert join(service, "Pelo formulário", left)["queue"]["text"] == (
        "Você é o 2º da fila. Nosso atendimento funciona de segunda a sexta, das 8h às 18h. "
        "Abriremos segunda-feira, 07/12, às 8h. Recebemos sua mensagem: ela fica registrada e "
        "um atendente responde assim que abrirmos."
    )
    clock.now = at("2026-12-07 08:00") + timedelta(seconds=1)  # Monday, opening time
    monday = join(service, "No horário")
    assert monday["queue"]["text"].startswith("Você é o 3º da fila.")
    assert "Nosso atendimento" not in monday["queue"]["text"]
    assert monday["attendance"]["queued_outside_hours"] is False
    assert operator.get("/api/rooms/hours").json()["rooms"][0]["open"] is True
    widget = requests.get(f"{service.base_url}/widget/api/prechat", timeout=10).json()
    assert widget == {"optional": False, "closed": None}
    queued = operator.get("/api/attendances").json()["queued"]
    assert [(a["contact_name"], a["queued_outside_hours"]) for a in queued] == [
        ("Fora do horário", True),
        ("Pelo formulário", True),
        ("No horário", False),
    ]
    assert operator.take(saturday["attendance"]["id"]).status_code == 200


def test_open_with_nobody_available_a_room_that_takes_messages_asks_for_one(
    service, supervisor: Client, hours_files, clock
):
    hours_files[0].write_text(
        "## atendimento\n- seg-dom 00:00-24:00\n- fora do horário: recado\n", encoding="utf-8"
    )
    nobody = join(service, "Sem atendente")  # the demo operator is not available
    assert nobody["queue"]["text"] == (
        "Você é o 1º da fila. No momento nenhum atendente está disponível; você será atendido "
        "assim que um ficar livre. Se preferir, deixe aqui sua mensagem, com seu nome e um "
        "telefone ou e-mail para contato: ela fica registrada e um atendente responde assim "
        "que possível."
    )
    assert nobody["attendance"]["queued_outside_hours"] is False  # the room is open
    widget = requests.get(f"{service.base_url}/widget/api/prechat", timeout=10).json()
    assert widget["closed"]["leave_message"] is True
    Client(service, "operador", DEMO_PASSWORD).available()
    assert join(service, "Com atendente")["queue"]["text"] == "Você é o 2º da fila."


def test_reloading_the_content_names_a_broken_hours_file(service, supervisor: Client, hours_files):
    hours_files[0].write_text("## atendimento\n- seg-sex 8h-18h\n", encoding="utf-8")
    error = error_of(supervisor.post("/api/admin/content/reload"), 400)
    assert error["message"].startswith("horarios.md:2: ")
    hours_files[0].write_text("## tributos\n- seg-sex 08:00-18:00\n", encoding="utf-8")
    error = error_of(supervisor.post("/api/admin/content/reload"), 400)
    assert error["message"] == "horarios.md: a sala 'tributos' não existe"
    hours_files[0].write_text("## atendimento\n- seg-sex 08:00-18:00\n", encoding="utf-8")
    assert supervisor.post("/api/admin/content/reload").status_code == 200
