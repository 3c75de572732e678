"""Every error leaves as JSON ``{"error": {"code", "message"[, "field"]}}``.

Answers never repeat what the request carried (path, body, headers) nor a
stack trace: Sanic's own errors get a fixed message per status, unexpected
ones a plain "internal error" (the trace goes to the log only).
"""

from __future__ import annotations

from sanic import Request, Sanic
from sanic.exceptions import SanicException
from sanic.log import logger
from sanic.response import HTTPResponse, json

from handoff.domain.errors import DomainError, NotFound

# Row ids fit in 64 bits: a longer number in a path names no row (and SQLite
# cannot even bind it, which would be a 500).
MAX_ID = 2**63 - 1

# Sanic's messages name the URL or the parsing problem: replaced by these.
_SANIC_MESSAGES = {
    400: ("bad_request", "Pedido inválido."),
    404: ("not_found", "Endereço não encontrado."),
    405: ("method_not_allowed", "Método não permitido neste endereço."),
    408: ("timeout", "O pedido demorou demais."),
    413: ("too_large", "Pedido grande demais."),
    416: ("bad_range", "Intervalo não satisfatório."),
}


def install_errors(app: Sanic) -> None:
    @app.on_request
    async def ids_in_range(request: Request) -> None:
        if any(isinstance(v, int) and not 0 <= v <= MAX_ID for v in request.match_info.values()):
            raise NotFound("Não encontrado.")

    @app.exception(DomainError)
    async def domain_error(_request: Request, error: DomainError) -> HTTPResponse:
        return json({"error": error.as_dict()}, status=error.status)

    @app.exception(SanicException)
    async def sanic_error(_request: Request, error: SanicException) -> HTTPResponse:
        status = error.status_code
        code, message = _SANIC_MESSAGES.get(status, ("error", "Pedido não atendido."))
        return json({"error": {"code": code, "message": message}}, status=status)

    @app.exception(Exception)
    async def unexpected(request: Request, _error: Exception) -> HTTPResponse:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return json({"error": {"code": "internal", "message": "internal error"}}, status=500)
