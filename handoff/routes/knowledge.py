"""Knowledge base (O9) and REGISTRAR (O10)."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from handoff.db import UnitOfWork
from handoff.domain import access, knowledge_base
from handoff.models import Operator
from handoff.routes.common import desk, int_arg, json_body, operator_token

bp = Blueprint("knowledge")


@bp.get("/kb/articles")
async def articles(request: Request) -> HTTPResponse:
    """?category=&q=&attendance_id= (marks the articles registered in it)."""
    category, text = request.args.get("category"), request.args.get("q")
    attendance_id = int_arg(request, "attendance_id")
    await desk(request).reload_knowledge_base_if_changed()

    def work(uow: UnitOfWork, operator: Operator) -> dict[str, Any]:
        if attendance_id is not None:
            access.attendance_for(uow.session, operator, attendance_id)
        return knowledge_base.list_articles(uow.session, category, text, attendance_id)

    return json(await desk(request).as_operator(operator_token(request), work, read=True))


@bp.post("/attendances/<attendance_id:int>/registrations")
async def register(request: Request, attendance_id: int) -> HTTPResponse:
    article_id = json_body(request).get("article_id")
    registration, created = await desk(request).as_operator(
        operator_token(request),
        lambda uow, op: knowledge_base.register_information(uow, op, attendance_id, article_id),
    )
    return json(
        {
            "registration": {
                "id": registration.id,
                "attendance_id": registration.attendance_id,
                "article_id": registration.article_id,
                "at": registration.at.isoformat(),
            },
            "created": created,
        },
        status=201 if created else 200,
    )
