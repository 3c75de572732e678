"""The operator's commands: each one's input model, its handler, and where
it is heard (a socket.io event, a REST route, or both)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic

from pydantic import Field, model_validator

from handoff.commands.parsing import ClientId, Input, M, MessageText, RowId, parse, reference
from handoff.domain import attendances, conversation, views
from handoff.domain.demands import Asked
from handoff.domain.errors import Invalid
from handoff.domain.handovers import MAX_NOTE, NO_ROOM
from handoff.domain.uploads import MAX_CAPTION
from handoff.models import CANCELLED, FINISHED
from handoff.settings import MAX_MESSAGE_LENGTH

if TYPE_CHECKING:
    from handoff.desk import Desk

Answer = dict[str, Any]
ATTENDANCE = "/attendances/<attendance_id:int>"


class Nothing(Input):
    """A command that reads no input."""


class OfAttendance(Input):
    attendance_id: RowId


class OfMessage(Input):
    message_id: RowId


class SendMessage(Input):
    """{attendance_id, text, client_id} or, on WhatsApp outside the
    24-hour window, {attendance_id, template, parameters, client_id}."""

    attendance_id: RowId
    text: MessageText | None = None
    client_id: ClientId
    template: str | None = None
    parameters: list[str] | None = None
    messages: ClassVar[dict[str, str]] = {
        "text": f"Informe o texto da mensagem (até {MAX_MESSAGE_LENGTH} caracteres).",
        "template": "Modelo de mensagem desconhecido.",
        "parameters": "Preencha todos os parâmetros do modelo.",
    }
    unplaced: ClassVar[frozenset[str]] = frozenset({"text", "client_id"})

    @model_validator(mode="after")
    def text_or_template(self) -> SendMessage:
        # Invalid is no ValueError: pydantic lets it through as it is.
        if self.text is None and self.template is None:
            raise Invalid(self.messages["text"])
        return self


class SendFile(Input):
    """The query of an operator's file: ``?name=&caption=&client_id=``
    (the file is the body; ``routes/attachments.py``)."""

    name: str | None = None
    caption: Annotated[str, Field(max_length=MAX_CAPTION)] | None = None
    client_id: ClientId
    messages: ClassVar[dict[str, str]] = {
        "caption": f"A legenda pode ter no máximo {MAX_CAPTION} caracteres."
    }
    unplaced: ClassVar[frozenset[str]] = frozenset({"client_id"})


class Finish(Input):
    """{attendance_id, subject?, comment?}: the closing classification;
    {pending_until, pending_reason} ends it as a pending demand."""

    attendance_id: RowId
    subject: str | None = None
    comment: str | None = None
    pending_until: str | None = None
    pending_reason: str | None = None
    messages: ClassVar[dict[str, str]] = {
        "subject": "Escolha um assunto da lista.",
        "comment": "O comentário deve ser texto.",
        "pending_until": "Informe o prazo da pendência (data).",
        "pending_reason": "Descreva o que está pendente.",
    }

    @property
    def pending(self) -> Asked | None:
        """The "pendente" asked for, if any."""
        if self.pending_until is None and self.pending_reason is None:
            return None
        return Asked(self.pending_until, self.pending_reason)


class Transfer(Input):
    """{attendance_id, room_id?, operator_id?, note?}: to a room's queue or an operator."""

    attendance_id: RowId
    room_id: Annotated[int | None, reference(NO_ROOM)] = None
    operator_id: Annotated[int | None, reference("Operador não encontrado.")] = None
    note: Annotated[str, Field(max_length=MAX_NOTE)] | None = None
    messages: ClassVar[dict[str, str]] = {"note": f"Use uma nota de até {MAX_NOTE} caracteres."}


class AddNote(Input):
    """A private note {text, client_id}: never delivered to the customer."""

    attendance_id: RowId
    text: MessageText
    client_id: ClientId
    messages: ClassVar[dict[str, str]] = {
        "text": f"Informe o texto da nota (até {MAX_MESSAGE_LENGTH} caracteres)."
    }


async def list_attendances(desk: Desk, token: str, _command: Nothing) -> Answer:
    return await desk.as_operator(
        token, lambda uow, op: attendances.operator_attendances(uow.session, op), read=True
    )


async def conversation_of(desk: Desk, token: str, command: OfAttendance) -> Answer:
    rows = await desk.as_operator(
        token,
        lambda uow, op: conversation.attendance_messages(uow.session, op, command.attendance_id),
        read=True,
    )
    return {"messages": rows}


async def take(desk: Desk, token: str, command: OfAttendance) -> Answer:
    attendance = await desk.take(token, command.attendance_id)
    return {"attendance": views.attendance_view(attendance)}


async def send(desk: Desk, token: str, command: SendMessage) -> Answer:
    return await desk.send_message(
        token,
        command.attendance_id,
        command.text,
        command.client_id,
        command.template,
        command.parameters,
    )


async def typing(desk: Desk, token: str, command: OfAttendance) -> Answer:
    """The operator is writing (the widget shows it)."""
    return await desk.operator_typing(token, command.attendance_id)


async def retry(desk: Desk, token: str, command: OfMessage) -> Answer:
    return await desk.retry(token, command.message_id)


async def finish(desk: Desk, token: str, command: Finish) -> Answer:
    view = await desk.end(
        token, command.attendance_id, FINISHED, command.subject, command.comment, command.pending
    )
    return {"attendance": view}


async def transfer(desk: Desk, token: str, command: Transfer) -> Answer:
    view = await desk.transfer(
        token, command.attendance_id, command.room_id, command.operator_id, command.note
    )
    return {"attendance": view}


async def cancel(desk: Desk, token: str, command: OfAttendance) -> Answer:
    return {"attendance": await desk.end(token, command.attendance_id, CANCELLED)}


async def add_note(desk: Desk, token: str, command: AddNote) -> Answer:
    note = await desk.add_note(token, command.attendance_id, command.text, command.client_id)
    return {"note": note}


@dataclass(frozen=True)
class Command(Generic[M]):
    """One operator command. ``name`` is its REST route's
    (``attendances.<name>``); ``route`` its method and path under ``/api``
    (path parameters are merged over the JSON body); ``event`` its
    socket.io event; ``status`` the REST answer's on success."""

    name: str
    model: type[M]
    handler: Callable[[Desk, str, M], Awaitable[Answer]]
    event: str | None = None
    route: tuple[str, str] | None = None
    status: int = 200

    async def run(self, desk: Desk, token: str, data: object) -> Answer:
        """Parse ``data`` (the decoded input), then hand it to the handler:
        a refusal of the input never reaches the desk."""
        return await self.handler(desk, token, parse(self.model, data))


COMMANDS: tuple[Command[Any], ...] = (
    Command("list_attendances", Nothing, list_attendances, "attendances:list",
            ("GET", "/attendances")),
    Command("messages", OfAttendance, conversation_of, "attendance:messages",
            ("GET", f"{ATTENDANCE}/messages")),
    Command("take", OfAttendance, take, "attendance:take", ("POST", f"{ATTENDANCE}/take")),
    Command("send", SendMessage, send, "message:send",
            ("POST", f"{ATTENDANCE}/messages"), status=201),
    Command("typing", OfAttendance, typing, "typing"),
    Command("retry", OfMessage, retry, "message:retry",
            ("POST", "/messages/<message_id:int>/retry")),
    Command("finish", Finish, finish, "attendance:finish", ("POST", f"{ATTENDANCE}/finish")),
    Command("transfer", Transfer, transfer, "attendance:transfer",
            ("POST", f"{ATTENDANCE}/transfer")),
    Command("cancel", OfAttendance, cancel, "attendance:cancel", ("POST", f"{ATTENDANCE}/cancel")),
    Command("add_note", AddNote, add_note, route=("POST", f"{ATTENDANCE}/notes"), status=201),
)  # fmt: skip
