"""Every error leaves as JSON ``{"error": {"code", "message"[, "field"]}}``."""

from __future__ import annotations

from sanic import Request, Sanic
from sanic.exceptions import SanicException
from sanic.log import logger
from sanic.response import HTTPResponse, json

from handoff.domain.errors import DomainError


def install_errors(app: Sanic) -> None:
    @app.exception(DomainError)
    async def domain_error(_request: Request, error: DomainError) -> HTTPResponse:
        return json({"error": error.as_dict()}, status=error.status)

    @app.exception(SanicException)
    async def sanic_error(_request: Request, error: SanicException) -> HTTPResponse:
        code = "not_found" if error.status_code == 404 else "bad_request"
        return json({"error": {"code": code, "message": str(error)}}, status=error.status_code)

    @app.exception(Exception)
    async def unexpected(request: Request, _error: Exception) -> HTTPResponse:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return json({"error": {"code": "internal", "message": "internal error"}}, status=500)
