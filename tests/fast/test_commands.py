"""Typed commands at the edge (issue 14, item 1): one table
(``handoff.commands.COMMANDS``) serves REST and socket.io, so each command
answers alike on both, refuses bad input with the same error on both, and
a refused input never reaches the desk. Unknown fields are ignored on both."""

from __future__ import annotations

import re
from typing import Any

import pytest

from handoff.commands import COMMANDS, Command
from tests.support.api import Client, open_attendance

TWINS = [c for c in COMMANDS if c.event is not None and c.route is not None]
INT = "O campo {} deve ser um número inteiro."
TEXT = "Informe o texto da mensagem (até 4096 caracteres)."

# One bad input per field a command reads from its body (the ids are the
# path's on REST: see test_an_id_that_is_not_an_integer_is_refused), and
# the error both transports must answer with.
BAD_INPUTS: dict[str, list[tuple[dict[str, Any], dict[str, str]]]] = {
    "list_attendances": [],
    "messages": [],
    "take": [],
    "retry": [],
    "cancel": [],
    "send": [
        ({"client_id": "c"}, {"code": "invalid", "message": TEXT}),
        ({"text": "x" * 4097, "client_id": "c"}, {"code": "invalid", "message": TEXT}),
        ({"text": "   ", "client_id": "c"}, {"code": "invalid", "message": TEXT}),
        ({"text": 5, "client_id": "c"}, {"code": "invalid", "message": TEXT}),
        ({"text": "olá"}, {"code": "invalid", "message": "Campo obrigatório: client_id."}),
        (
            {"text": "olá", "client_id": ["c"]},
            {"code": "invalid", "message": "O campo client_id deve ser um texto."},
        ),
        (
            {"text": "olá", "client_id": "c" * 101},
            {"code": "invalid", "message": "O campo client_id passa de 100 caracteres."},
        ),
        (
            {"template": 5, "client_id": "c"},
            {"code": "invalid", "message": "Modelo de mensagem desconhecido.", "field": "template"},
        ),
        (
            {"template": "t", "parameters": "x", "client_id": "c"},
            {
                "code": "invalid",
                "message": "Preencha todos os parâmetros do modelo.",
                "field": "parameters",
            },
        ),
    ],
    "finish": [
        (
            {"subject": 3},
            {"code": "invalid", "message": "Escolha um assunto da lista.", "field": "subject"},
        ),
        (
            {"comment": ["x"]},
            {"code": "invalid", "message": "O comentário deve ser texto.", "field": "comment"},
        ),
        (
            {"pending_until": 20261208, "pending_reason": "x"},
            {
                "code": "invalid",
                "message": "Informe o prazo da pendência (data).",
                "field": "pending_until",
            },
        ),
    ],
    "transfer": [
        (
            {"note": 7},
            {"code": "invalid", "message": "Use uma nota de até 2000 caracteres.", "field": "note"},
        ),
        (
            {"note": "x" * 2001},
            {"code": "invalid", "message": "Use uma nota de até 2000 caracteres.", "field": "note"},
        ),
        (
            {"room_id": "abc"},
            {"code": "not_found", "message": "Sala não encontrada.", "field": "room_id"},
        ),
        (
            {"operator_id": 1.5},
            {"code": "not_found", "message": "Operador não encontrado.", "field": "operator_id"},
        ),
    ],
}


def test_every_command_is_classified_here():
    assert set(BAD_INPUTS) | {"typing", "add_note"} == {c.name for c in COMMANDS}


@pytest.fixture
def taken(service, operator: Client) -> dict[str, int]:
    """The path parameters of every command: an attendance the operator
    took, with one message of theirs."""
    attendance_id = open_attendance(service)["id"]
    assert operator.take(attendance_id).status_code == 200
    sent = operator.send(attendance_id, "Bom dia")
    return {"attendance_id": attendance_id, "message_id": sent.json()["message"]["id"]}


def rest(client: Client, command: Command[Any], ids: dict[str, Any], body: Any):
    assert command.route is not None
    method, path = command.route
    url = re.sub(r"<(\w+):int>", lambda m: str(ids[m.group(1)]), "/api" + path)
    if method == "GET":
        return client.get(url)
    return client.post(url, body)


def both(client: Client, desk, command: Command[Any], ids: dict[str, int], body: dict[str, Any]):
    """The REST response and the socket.io ack of the same input."""
    wanted = {k: v for k, v in ids.items() if f"<{k}:int>" in (command.route or ("", ""))[1]}
    return rest(client, command, wanted, body), desk.call(command.event, {**body, **wanted})


@pytest.mark.parametrize("command", [c for c in TWINS if BAD_INPUTS[c.name]], ids=lambda c: c.name)
def test_a_bad_input_is_refused_alike_and_never_reaches_the_desk(
    service, operator: Client, console, taken, monkeypatch, command
):
    desk = console(operator)
    reached: list[Any] = []
    original = service.desk.as_operator
    monkeypatch.setattr(
        service.desk, "as_operator", lambda *a, **k: reached.append(a) or original(*a, **k)
    )
    for body, error in BAD_INPUTS[command.name]:
        response, ack = both(operator, desk, command, taken, body)
        status = 404 if error["code"] == "not_found" else 400
        assert (response.status_code, response.json()) == (status, {"error": error}), body
        assert ack == {"ok": False, "error": error}, body
    assert reached == []


def _id_field(command: Command[Any]) -> str | None:
    """The id a command acts on (its model's first field), if any."""
    first = next(iter(command.model.model_fields), "")
    return first if first.endswith("_id") else None


@pytest.mark.parametrize(
    "command", [c for c in COMMANDS if c.event and _id_field(c)], ids=lambda c: c.name
)
def test_an_id_that_is_not_an_integer_is_refused(service, operator: Client, console, command):
    """On socket.io the id is a field; on REST it is part of the address,
    so "abc" names no route (404)."""
    field = _id_field(command)
    desk = console(operator)
    missing = {"code": "invalid", "message": f"Campo obrigatório: {field}.", "field": field}
    assert desk.call(command.event, {"text": "olá", "client_id": "c"}) == {
        "ok": False,
        "error": missing,
    }
    for bad in ("abc", "1", 1.5, True, 2**70, None, [1]):
        ack = desk.call(command.event, {field: bad, "text": "olá", "client_id": "c"})
        error = {"code": "invalid", "message": INT.format(field), "field": field}
        assert ack == {"ok": False, "error": error}, bad
    if command.route is not None:
        answer = rest(operator, command, {field: "abc"}, {})
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


MOVING = ("delivery", "retryable", "delivery_error")


def _stable(answer: Any) -> Any:
    """An answer without what the outbox may change between two calls (a
    message's delivery, as Rasa is unreachable)."""
    if isinstance(answer, dict):
        return {k: _stable(v) for k, v in answer.items() if k not in MOVING}
    if isinstance(answer, list):
        return [_stable(item) for item in answer]
    return answer


# Inputs each command takes twice with the same answer (reads, or
# idempotent writes), an unknown field with them; the status of REST's.
REPEATABLE: dict[str, tuple[dict[str, Any], int]] = {
    "list_attendances": ({}, 200),
    "messages": ({}, 200),
    "take": ({}, 200),
    "send": ({"text": "olá", "client_id": "same"}, 201),
    "finish": ({"comment": "resolvido"}, 200),
    "cancel": ({}, 200),
    # Refused by the domain, alike: not a message of theirs; the same room.
    "retry": ({}, 404),
    "transfer": ({}, 400),
}


@pytest.mark.parametrize("command", TWINS, ids=lambda c: c.name)
def test_a_command_answers_alike_on_both_transports(
    service, operator: Client, console, taken, command
):
    body, status = REPEATABLE[command.name]
    body = {**body, "colour": "azul", "attendance_id": "ignored: the path's"}
    ids = {**taken, "message_id": 999999} if command.name == "retry" else taken
    desk = console(operator)
    response, ack = both(operator, desk, command, ids, body)
    assert response.status_code == status, response.text
    assert ack["ok"] is (status < 400), ack
    answer = response.json()
    assert _stable({k: v for k, v in ack.items() if k != "ok"}) == _stable(answer)
