"""REST routes. Each parses and authorises, then calls one desk or domain
function; typed domain errors become JSON errors in :mod:`.errors`."""

from __future__ import annotations

from sanic import Blueprint

from handoff.routes import (
    admin,
    attachments,
    attendances,
    customers,
    data_subjects,
    health,
    hours,
    integration,
    knowledge,
    operators,
    record_requests,
    widget,
)

api = Blueprint.group(
    admin.bp,
    hours.bp,
    hours.own,
    data_subjects.bp,
    operators.bp,
    attendances.bp,
    attachments.bp,
    customers.bp,
    knowledge.bp,
    integration.bp,
    record_requests.service_bp,
    record_requests.admin_bp,
    record_requests.operator_bp,
    url_prefix="/api",
)
routes = Blueprint.group(health.bp, widget.bp, record_requests.files_bp, api)
