"""Who is talking, as the widget is told (issue 20, item 3): the operator's
first name on each delivery, the history's times and names, the setting's
values, and the typing signal's rate."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from handoff.db import Database
from handoff.domain.views import first_name
from handoff.models import OutboxJob
from handoff.rasa_events import visitor_history
from handoff.settings import Settings
from handoff.typing import TypingThrottle
from tests.support.api import Client, open_attendance


def test_each_delivery_carries_the_operator_first_name(service, operator: Client):
    call = open_attendance(service, contact={"name": "Rui"})
    operator.take(call["id"])
    operator.send(call["id"], "Bom dia, Rui")
    db = Database(service.env["DATABASE_URL"])
    with db.unit_of_work(read_only=True) as uow:
        (payload,) = uow.session.scalars(select(OutboxJob.payload))
    db.dispose()
    assert json.loads(payload)["operator_name"] == "Operador"


def test_typing_is_refused_outside_the_operator_own_active_attendance(
    service, operator: Client, console
):
    desk = console(operator)
    call = open_attendance(service, contact={"name": "Lia"})
    queued = desk.call("typing", {"attendance_id": call["id"]})
    assert queued["ok"] is False and queued["error"]["code"] == "forbidden"
    operator.take(call["id"])
    assert desk.call("typing", {"attendance_id": call["id"]}) == {"ok": True, "relayed": True}
    assert desk.call("typing", {"attendance_id": "x"})["error"]["code"] == "invalid"


def test_typing_goes_on_once_per_interval_per_attendance():
    throttle = TypingThrottle(interval=2.0)
    assert throttle.due(1, now=100.0)
    assert not throttle.due(1, now=101.9)
    assert throttle.due(2, now=101.9)
    assert throttle.due(1, now=102.0)


def test_the_history_keeps_times_and_the_operator_name():
    events = [
        {"event": "user", "text": "oi", "timestamp": 1.5, "message_id": "c1"},
        {"event": "bot", "text": "Aguarde", "timestamp": 2.5},
        {
            "event": "bot",
            "text": "Olá",
            "timestamp": 3.5,
            "metadata": {"handoff_message_id": 7, "operator_name": "Ana"},
        },
    ]
    assert visitor_history(events) == [
        {"from": "visitor", "text": "oi", "timestamp": 1.5, "client_id": "c1"},
        {"from": "bot", "text": "Aguarde", "timestamp": 2.5},
        {
            "from": "bot",
            "text": "Olá",
            "timestamp": 3.5,
            "handoff_message_id": 7,
            "operator_name": "Ana",
        },
    ]


def test_first_names_and_the_setting():
    assert first_name("  Maria  da Silva ") == "Maria"
    assert first_name("   ") is None and first_name(None) is None
    assert Settings(operator_name_in_widget="none").operator_name_in_widget == "none"
    with pytest.raises(ValueError, match="HANDOFF_OPERATOR_NAME_IN_WIDGET"):
        Settings(operator_name_in_widget="full")
