"""Typed domain errors; only the edges turn them into HTTP codes or acks."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a caller can act on."""

    code = "error"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class Invalid(DomainError):
    code, status = "invalid", 400


class Unauthorized(DomainError):
    code, status = "unauthorized", 401


class Forbidden(DomainError):
    code, status = "forbidden", 403


class NotFound(DomainError):
    """Raised alike for "missing" and "not yours", so ids leak nothing."""

    code, status = "not_found", 404


class Conflict(DomainError):
    code, status = "conflict", 409
