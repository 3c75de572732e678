"""Typed domain errors; only the edges turn them into HTTP codes or acks."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a caller can act on."""

    code = "error"
    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The input field at fault, so a form can show the error in place.
        self.field = field

    def as_dict(self) -> dict[str, str]:
        error = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        return error


class Invalid(DomainError):
    code, status = "invalid", 400


class Unauthorized(DomainError):
    code, status = "unauthorized", 401


class Forbidden(DomainError):
    code, status = "forbidden", 403


class UnsupportedMediaType(DomainError):
    """A request that must be JSON said it is something else, or a file of
    a type not taken."""

    code, status = "unsupported_media_type", 415


class TooLarge(DomainError):
    """A file over the size limit (refused before it was read whole)."""

    code, status = "too_large", 413


class NotFound(DomainError):
    """Raised alike for "missing" and "not yours", so ids leak nothing."""

    code, status = "not_found", 404


class Conflict(DomainError):
    code, status = "conflict", 409


class TooManyRequests(DomainError):
    """A rate limit of :mod:`handoff.rate_limits` was reached."""

    code, status = "too_many_requests", 429


class Unavailable(DomainError):
    """A part the work needs (Rasa) did not answer; nothing was changed."""

    code, status = "unavailable", 503
