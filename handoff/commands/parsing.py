"""A command's input, parsed once into its typed model; a refusal is the
domain's :class:`Invalid`, in pt-BR, naming the field at fault.

The models are pydantic v2 ``BaseModel``s in strict mode: an id is an
``int`` (not a bool, a float or a numeric string) of 64 bits, a text is a
``str``. Unknown fields are ignored (pydantic's ``extra="ignore"``), on
both transports alike, as the routes and events always did; an input that
is not an object reads as an empty one (so a command that takes nothing
takes anything, and one that needs a field says which).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from handoff.domain.access import MAX_ID, is_row_id
from handoff.domain.errors import DomainError, Invalid, NotFound
from handoff.settings import MAX_MESSAGE_LENGTH


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "blank")
    return value


# The kind of error of a value that cannot name a row (NotFound, not Invalid).
NO_ROW = "no_row"
# A row id: an integer of 64 bits (a longer one cannot even be bound).
RowId = Annotated[int, Field(ge=-MAX_ID - 1, le=MAX_ID)]


def reference(missing: str) -> BeforeValidator:
    """An optional id of a row to look up: a value that is not a row id
    names no row, and is refused as one not found (``missing``)."""

    def check(value: object) -> object:
        if value is not None and not is_row_id(value):
            raise PydanticCustomError(NO_ROW, missing)
        return value

    return BeforeValidator(check)


# The console's own id of a message or note (a retry sends the same one).
ClientId = Annotated[str, Field(max_length=100), AfterValidator(_not_blank)]
# What an operator writes: a message's or a note's text, not only blanks.
MessageText = Annotated[str, Field(max_length=MAX_MESSAGE_LENGTH), AfterValidator(_not_blank)]


class Input(BaseModel):
    """A command's input. ``messages`` words every refusal of a field at
    once (its type, absence and length alike); the others are worded by
    their kind. ``unplaced`` fields are refused without naming the field
    (``field`` absent), as the REST API has always answered them."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)
    messages: ClassVar[dict[str, str]] = {}
    unplaced: ClassVar[frozenset[str]] = frozenset()


M = TypeVar("M", bound=Input)

_BY_KIND = {
    "missing": "Campo obrigatório: {field}.",
    "blank": "Campo obrigatório: {field}.",
    "int_type": "O campo {field} deve ser um número inteiro.",
    "less_than_equal": "O campo {field} deve ser um número inteiro.",
    "greater_than_equal": "O campo {field} deve ser um número inteiro.",
    "string_type": "O campo {field} deve ser um texto.",
    "string_too_long": "O campo {field} passa de {max_length} caracteres.",
    "list_type": "O campo {field} deve ser uma lista.",
}


def parse(model: type[M], data: object) -> M:
    """``data`` (a decoded JSON payload) as ``model``; Invalid at the first
    field at fault, in the order the model declares them."""
    try:
        return model.model_validate(data if isinstance(data, dict) else {})
    except ValidationError as error:
        raise refusal(model, error.errors()[0]) from None


def refusal(model: type[Input], detail: ErrorDetails) -> DomainError:
    """The domain's error for pydantic's first one (``detail``)."""
    field = str(detail["loc"][0]) if detail["loc"] else ""
    named = None if field in model.unplaced else field or None
    if detail["type"] == NO_ROW:
        return NotFound(detail["msg"], field=named)
    worded = model.messages.get(field)
    if worded is None:
        kind = _BY_KIND.get(detail["type"], "O campo {field} é inválido.")
        worded = kind.format(field=field, **detail.get("ctx", {}))
    return Invalid(worded, field=named)
