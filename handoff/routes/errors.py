"""Every error leaves as JSON ``{"error": {"code", "message"[, "field"]}}``.

Answers never repeat what the request carried (path, body, headers) nor a
stack trace: Sanic's own errors get a fixed message per status, unexpected
ones a plain "internal error" (the trace goes to the log only).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from sanic import Request, Sanic
from sanic.exceptions import SanicException
from sanic.log import logger
from sanic.response import HTTPResponse, json

from handoff.domain.access import MAX_ID
from handoff.domain.errors import DomainError, Invalid, NotFound
from textrules import clean_text

# Sanic's messages name the URL or the parsing problem: replaced by these.
_SANIC_MESSAGES = {
    400: ("bad_request", "Pedido inválido."),
    404: ("not_found", "Endereço não encontrado."),
    405: ("method_not_allowed", "Método não permitido neste endereço."),
    408: ("timeout", "O pedido demorou demais."),
    413: ("too_large", "Pedido grande demais."),
    416: ("bad_range", "Intervalo não satisfatório."),
}


BAD_ADDRESS = "O endereço contém caracteres inválidos."


def _address_is_text(request: Request) -> bool:
    """The path and the query are UTF-8 text that the text rule
    (``textrules``) leaves unchanged: no NUL or other control character
    (PostgreSQL refuses NUL; a file path cannot hold one), no invalid UTF-8."""
    try:
        parts = [unquote(request.path, errors="strict")]
        for name, values in request.get_args(keep_blank_values=True, errors="strict").items():
            parts += [name, *values]
    except UnicodeDecodeError:
        return False
    return all(clean_text(part) == part for part in parts)


def install_errors(app: Sanic[Any, Any]) -> None:
    @app.on_request
    async def plain_address(request: Request) -> None:
        if not _address_is_text(request):
            raise Invalid(BAD_ADDRESS)
        if any(isinstance(v, int) and not 0 <= v <= MAX_ID for v in request.match_info.values()):
            raise NotFound("Não encontrado.")

    @app.exception(DomainError)
    async def domain_error(_request: Request, error: DomainError) -> HTTPResponse:
        return json({"error": error.as_dict()}, status=error.status)

    @app.exception(IsADirectoryError)
    async def directory(_request: Request, _error: IsADirectoryError) -> HTTPResponse:
        """A folder of static files without an index (``/vendor/``)."""
        code, message = _SANIC_MESSAGES[404]
        return json({"error": {"code": code, "message": message}}, status=404)

    @app.exception(SanicException)
    async def sanic_error(_request: Request, error: SanicException) -> HTTPResponse:
        status = error.status_code
        code, message = _SANIC_MESSAGES.get(status, ("error", "Pedido não atendido."))
        return json({"error": {"code": code, "message": message}}, status=status)

    @app.exception(Exception)
    async def unexpected(request: Request, _error: Exception) -> HTTPResponse:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return json({"error": {"code": "internal", "message": "internal error"}}, status=500)
