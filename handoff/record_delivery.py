"""Delivering a requested record (the outbox's ``record_delivery`` jobs):
on the requester's channel, a bot message with the signed link to the
PDF and JSON; by e-mail, through the organisation's SMTP server with both
files attached. Not delivered (Rasa, the channel or the SMTP server away,
no SMTP server configured): the request stays pending with the reason, and
the job is tried again."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from handoff import outbox
from handoff.db import UnitOfWork
from handoff.domain import record_requests
from handoff.domain.record_requests import EMAIL
from handoff.models import RecordRequest
from handoff.rasa_client import RasaClient, RasaUnavailable
from handoff.record_files import record_json, record_pdf, signed_link
from handoff.settings import Settings

Run = Callable[[Callable[[UnitOfWork], Any]], Awaitable[Any]]
# Rasa appends a notice once per id; record links use ids above the queue
# notices' (random 52-bit numbers), one per request.
NOTICE_IDS_FROM = 1 << 52
SMTP_TIMEOUT_SECONDS = 30


async def deliver(run: Run, rasa: RasaClient, settings: Settings, job: dict[str, Any]) -> Any:
    request_id = job["request_id"]
    zone = ZoneInfo(settings.timezone)

    def produce(uow: UnitOfWork) -> tuple[RecordRequest, dict[str, Any]] | None:
        if record_requests.to_deliver(uow.session, request_id) is None:
            return None  # refused, or delivered by an earlier try
        return record_requests.record_for(uow, request_id, zone, how="delivery")

    produced = await run(produce)
    if produced is None:
        return None
    request, record = produced
    try:
        if request.means == EMAIL:
            await asyncio.to_thread(send_email, settings, request, record)
        else:
            await send_on_channel(rasa, request, link_text(settings, request, record))
    except (RasaUnavailable, OSError, smtplib.SMTPException, NotConfigured) as error:
        reason = f"{type(error).__name__}: {error}"
        then = partial(record_requests.note_failure, request_id=request_id, error=reason)
        raise outbox.Unavailable(reason, then=then) from error
    return partial(record_requests.mark_delivered, request_id=request_id)


def link_text(settings: Settings, request: RecordRequest, record: dict[str, Any]) -> str:
    path = signed_link(settings, request.id)
    base = settings.base_url.rstrip("/")
    until = datetime.now(ZoneInfo(settings.timezone)) + timedelta(days=settings.record_link_days)
    return (
        f"Aqui está o registro do seu atendimento, protocolo {record['protocolo']}: "
        f"{base}{path} (PDF). Os mesmos dados em JSON: {base}{path.removesuffix('.pdf')}.json . "
        f"Os endereços valem até {until:%d/%m/%Y}."
    )


async def send_on_channel(rasa: RasaClient, request: RecordRequest, text: str) -> None:
    """The record on the requester's own channel (widget or WhatsApp),
    through Rasa: for now a bot message with the link; the place to send
    the PDF itself as a document once the channel can upload media."""
    assert request.conversation_id is not None
    await rasa.send_notice(request.conversation_id, text, NOTICE_IDS_FROM + request.id)


class NotConfigured(Exception):
    """No SMTP server is configured (HANDOFF_SMTP_HOST, HANDOFF_SMTP_FROM)."""


def send_email(settings: Settings, request: RecordRequest, record: dict[str, Any]) -> None:
    if not settings.smtp_host or not settings.smtp_from:
        raise NotConfigured("HANDOFF_SMTP_HOST and HANDOFF_SMTP_FROM are not set")
    assert request.email is not None
    protocol = record["protocolo"]
    message = EmailMessage()
    message["Subject"] = f"Registro do atendimento, protocolo {protocol}"
    message["From"] = settings.smtp_from
    message["To"] = request.email
    message.set_content(
        f"Olá,\n\nConforme solicitado, seguem em anexo o registro do atendimento de "
        f"protocolo {protocol} (PDF) e os mesmos dados em JSON.\n\n"
        "Esta é uma mensagem automática.\n"
    )
    message.add_attachment(
        record_pdf(record, settings.record_font),
        maintype="application",
        subtype="pdf",
        filename=f"registro-{protocol}.pdf",
    )
    message.add_attachment(
        record_json(record),
        maintype="application",
        subtype="json",
        filename=f"registro-{protocol}.json",
    )
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(message)
