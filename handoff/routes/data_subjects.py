"""A person's data (LGPD arts. 18-19), supervisors and admins only: find,
export, erase; and who saw or changed a customer's data. The identifier
(CPF/CNPJ, phone, e-mail) travels in the body, never in the URL (which
access logs keep)."""

from __future__ import annotations

import logging

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from handoff.domain import data_subjects
from handoff.domain.errors import Unavailable
from handoff.rasa_client import RasaUnavailable
from handoff.routes.admin import as_supervisor
from handoff.routes.common import desk, json_body

bp = Blueprint("data_subjects", url_prefix="/admin")
logger = logging.getLogger(__name__)


@bp.post("/data-subjects/find")
async def find(request: Request) -> HTTPResponse:
    query = json_body(request).get("q")
    person = await as_supervisor(
        request, lambda uow, op: data_subjects.view_person(uow, op, query), viewed=True
    )
    return json({"person": person})


@bp.post("/data-subjects/export")
async def export(request: Request) -> HTTPResponse:
    """Everything about the person, as a JSON file to save (art. 19 II)."""
    query = json_body(request).get("q")
    exported = await as_supervisor(
        request, lambda uow, op: data_subjects.export_person(uow, op, query), viewed=True
    )
    stamp = exported["generated_at"][:10]
    return json(
        exported,
        headers={"Content-Disposition": f'attachment; filename="dados-pessoais-{stamp}.json"'},
    )


@bp.post("/data-subjects/erase")
async def erase(request: Request) -> HTTPResponse:
    """Rasa deletes the person's conversations first; then the handoff
    database is anonymised in one transaction. Rasa away: nothing changes
    here, and the supervisor tries again (a second deletion in Rasa finds
    nothing and succeeds)."""
    query = json_body(request).get("q")
    conversations = await as_supervisor(
        request,
        lambda uow, _op: data_subjects.conversations_to_erase(uow.session, query),
        read=True,
    )
    rasa = desk(request).rasa
    try:
        for conversation_id in conversations:
            await rasa.erase_conversation(conversation_id)
    except RasaUnavailable as error:
        logger.warning("erasure stopped: %s", error)
        raise Unavailable(
            "O robô (Rasa) não respondeu: nada foi apagado. Tente de novo em instantes."
        ) from None
    erased = await as_supervisor(
        request, lambda uow, op: data_subjects.erase_person(uow, op, query)
    )
    return json({"erased": erased})


@bp.get("/customers/<customer_id:int>/audit")
async def customer_audit(request: Request, customer_id: int) -> HTTPResponse:
    log = await as_supervisor(
        request, lambda uow, _op: data_subjects.customer_log(uow.session, customer_id), read=True
    )
    return json(log)
