"""A person's rights over their data (LGPD arts. 18-19): find them by
CPF/CNPJ, phone or e-mail, export everything the desk holds about them at
once, erase them; and the log of who saw or changed their data.

Erasing keeps every attendance (its protocol, dates, room, operator,
classification and registrations: the record the organisation must keep,
and the statistics) with the person's data removed: contact fields
emptied, the conversation id (a WhatsApp number) replaced, personal data in
the messages' text masked. Rasa's copy of the conversations is deleted by
the caller before this runs (``handoff/routes/data_subjects.py``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from handoff import outbox
from handoff.db import UnitOfWork
from handoff.domain import attachments, record_requests
from handoff.domain.access import is_row_id
from handoff.domain.audit import audit
from handoff.domain.brazil import (
    InvalidDocument,
    digits,
    document_number,
    format_document,
    phone_e164,
    search_key,
)
from handoff.domain.customers import EMAIL, customer_view
from handoff.domain.errors import Conflict, Invalid, NotFound
from handoff.domain.masking import mask_json, mask_text, name_parts
from handoff.domain.records import attendance_records
from handoff.domain.surveys import surveys_of
from handoff.domain.views import iso
from handoff.models import (
    JOB_PENDING,
    OPEN_STATES,
    Attendance,
    AttendanceHold,
    AuditLog,
    Customer,
    Message,
    Operator,
    OutboxJob,
    TransferRequest,
    utcnow,
)

ERASED_NAME = "Titular anonimizado"
KINDS = {"document": "CPF/CNPJ", "phone": "telefone", "email": "e-mail"}


@dataclass
class Person:
    """What the desk holds about one person, found by one identifier."""

    kind: str
    customers: list[Customer]
    attendances: list[Attendance]

    def known_values(self) -> list[str]:
        """Every form of their name, e-mail, phone and document, to mask."""
        values: list[str] = []
        names = [c.name for c in self.customers] + [
            a.contact_name for a in self.attendances if a.contact_name
        ]
        for name in names:
            values.extend(name_parts(name))
        for email in self._emails():
            values.append(email)
        for phone in self._phones():
            national = [phone[3:]] if phone.startswith("+55") else []
            values.extend([phone, phone.lstrip("+"), *national])
        for customer in self.customers:
            if customer.document:
                values.extend([customer.document, format_document(customer.document)])
        return values

    def _emails(self) -> set[str]:
        found = {c.email for c in self.customers if c.email}
        return found | {a.contact_email.casefold() for a in self.attendances if a.contact_email}

    def _phones(self) -> set[str]:
        found = {c.phone for c in self.customers if c.phone}
        # A WhatsApp attendance's contact phone is the number as Meta sends it.
        given = {phone_e164(a.contact_phone) for a in self.attendances if a.contact_phone}
        return found | {p for p in given if p}


def identify(query: Any) -> tuple[str, str]:
    """The kind of identifier typed and its stored form."""
    if not isinstance(query, str) or not query.strip():
        raise Invalid("Digite o CPF/CNPJ, o telefone ou o e-mail do titular.", field="q")
    query = query.strip()
    if "@" in query:
        if not EMAIL.match(query):
            raise Invalid("E-mail inválido.", field="q")
        return "email", query.casefold()
    try:
        return "document", document_number(query)
    except InvalidDocument as error:
        # Dots, a slash or letters: a document typed wrong, not a phone.
        if any(c in query for c in "./") or any(c.isalpha() for c in query):
            raise Invalid(str(error), field="q") from None
    phone = phone_e164(query)
    if phone is None:
        raise Invalid("Digite um CPF/CNPJ, telefone ou e-mail válido.", field="q")
    return "phone", phone


def find_person(session: Session, query: Any) -> Person:
    """The customers with that identifier, and the attendances of those
    customers or whose contact fields (the pre-chat form, the WhatsApp
    number) carry it or their other identifiers."""
    kind, value = identify(query)
    column = {"document": Customer.document, "phone": Customer.phone, "email": Customer.email}
    customers = list(session.scalars(select(Customer).where(column[kind] == value)))
    emails = {value} if kind == "email" else set()
    phones = {value} if kind == "phone" else set()
    emails |= {c.email for c in customers if c.email}
    phones |= {c.phone for c in customers if c.phone}
    conditions = [
        Attendance.customer_id.in_([c.id for c in customers]),
        func.lower(Attendance.contact_email).in_(emails),
        # On WhatsApp the contact phone and the conversation id are the
        # number as Meta sends it: digits without "+".
        Attendance.contact_phone.in_(phones | {digits(p) for p in phones}),
        Attendance.conversation_id.in_([digits(p) for p in phones]),
    ]
    attendances = list(
        session.scalars(select(Attendance).where(or_(*conditions)).order_by(Attendance.id))
    )
    linked = {a.customer_id for a in attendances} - {c.id for c in customers} - {None}
    if linked:
        customers.extend(session.scalars(select(Customer).where(Customer.id.in_(linked))))
    if not customers and not attendances:
        raise NotFound(f"Nenhum dado encontrado com este {KINDS[kind]}.")
    return Person(kind, customers, attendances)


def person_view(person: Person) -> dict[str, Any]:
    """What Supervisão shows of the person found, before export or erasure."""
    return {
        "kind": person.kind,
        "customers": [customer_view(c) for c in person.customers],
        "attendances": [
            {
                "id": a.id,
                "protocol": a.protocol,
                "channel": a.channel,
                "status": a.status,
                "queued_at": iso(a.queued_at),
                "contact_name": a.contact_name,
            }
            for a in person.attendances
        ],
    }


def view_person(uow: UnitOfWork, actor: Operator, query: Any) -> dict[str, Any]:
    """:func:`person_view` of the person found, logged (who looked, when)."""
    person = find_person(uow.session, query)
    _audit_each(uow, actor, person, "person_viewed")
    return person_view(person)


def _audit_rows(
    session: Session, customer_ids: list[int], attendance_ids: list[int]
) -> list[AuditLog]:
    """The audit entries about these customers or attendances, oldest first."""
    return list(
        session.scalars(
            select(AuditLog)
            .where(
                or_(
                    AuditLog.customer_id.in_(customer_ids),
                    AuditLog.attendance_id.in_(attendance_ids),
                )
            )
            .order_by(AuditLog.at, AuditLog.id)
        )
    )


def _person_audit(session: Session, person: Person) -> list[AuditLog]:
    return _audit_rows(
        session, [c.id for c in person.customers], [a.id for a in person.attendances]
    )


def audit_entry_view(row: AuditLog, names: dict[int, str]) -> dict[str, Any]:
    return {
        "at": row.at.isoformat(),
        "action": row.action,
        "operator_id": row.operator_id,
        "operator_name": names.get(row.operator_id) if row.operator_id else None,
        "attendance_id": row.attendance_id,
        "customer_id": row.customer_id,
        "details": json.loads(row.details) if row.details else None,
    }


def _audit_views(session: Session, rows: list[AuditLog]) -> list[dict[str, Any]]:
    ids = {r.operator_id for r in rows if r.operator_id is not None}
    names = dict(
        session.execute(select(Operator.id, Operator.name).where(Operator.id.in_(ids)))
        .tuples()
        .all()
    )
    return [audit_entry_view(r, names) for r in rows]


def export_person(uow: UnitOfWork, actor: Operator, query: Any) -> dict[str, Any]:
    """Everything the desk holds about the person, machine-readable (art.
    18 II and V, art. 19 II): their registry, every attendance with its
    contact fields, messages, protocol and registrations, the requests for
    their records, and the audit log about them. The export itself is logged."""
    session = uow.session
    person = find_person(session, query)
    exported = {
        "generated_at": utcnow().isoformat(),
        "identifier": person.kind,
        "customers": [customer_view(c) for c in person.customers],
        "attendances": attendance_records(session, person.attendances),
        "record_requests": record_requests.requests_about(
            session, [a.id for a in person.attendances]
        ),
        "audit_log": _audit_views(session, _person_audit(session, person)),
    }
    _audit_each(uow, actor, person, "person_exported")
    return exported


def _audit_each(uow: UnitOfWork, actor: Operator, person: Person, action: str) -> None:
    """One entry per customer (so each customer's log shows it), or one
    without a customer when the person was found only in attendances."""
    attendance_ids = [a.id for a in person.attendances]
    customer_ids: list[int | None] = [c.id for c in person.customers]
    for customer_id in customer_ids or [None]:
        audit(
            uow.session,
            action,
            operator_id=actor.id,
            customer_id=customer_id,
            identifier=person.kind,
            attendances=attendance_ids,
        )


def _refuse_open(person: Person) -> None:
    if any(a.status in OPEN_STATES for a in person.attendances):
        raise Conflict("Este titular tem um atendimento em aberto: finalize-o antes de apagar.")


def conversations_to_erase(session: Session, query: Any) -> list[str]:
    """The person's conversation ids (Rasa's copy is deleted first); a
    person still in an open attendance is refused."""
    person = find_person(session, query)
    _refuse_open(person)
    conversations = sorted({a.conversation_id for a in person.attendances})
    pending = session.scalar(
        select(OutboxJob.id)
        .where(OutboxJob.key.in_(_job_keys(conversations)), OutboxJob.status == JOB_PENDING)
        .limit(1)
    )
    if pending is not None:
        # Rasa would store what is on its way after its copy is deleted.
        raise Conflict("Ainda há mensagens a caminho deste titular: tente de novo em instantes.")
    return conversations


def _job_keys(conversations: Iterable[str]) -> list[str]:
    return [k for c in conversations for k in (outbox.to_customer(c), outbox.from_customer(c))]


def strip_attendances(
    uow: UnitOfWork, attendances: list[Attendance], clean: Callable[[str], str]
) -> int:
    """Remove the personal data of these attendances, keeping them as
    records: contact fields emptied (WhatsApp's user id and username too),
    the conversation id (a WhatsApp number) replaced (in the bot messages'
    dedup keys too), every message's text, the closing comment and the
    transfer notes passed through ``clean``, the citizen's files deleted
    (an outbox job, after the commit) with only their kind kept. Returns
    how many messages changed."""
    session = uow.session
    renamed = {a.id: (a.conversation_id, f"apagado-{a.id}") for a in attendances}
    changed = 0
    for message in session.scalars(select(Message).where(Message.attendance_id.in_(renamed))):
        text = clean(message.text)
        changed += text != message.text
        message.text = text
        message.dedup_key = message.dedup_key.replace(*renamed[message.attendance_id])
        if message.attachment:
            attachments.forget(uow, message)
    holds = session.scalars(select(AttendanceHold).where(AttendanceHold.attendance_id.in_(renamed)))
    for hold in holds:
        if hold.transfer_note:
            hold.transfer_note = clean(hold.transfer_note)
    for attendance in attendances:
        attendance.contact_name = attendance.contact_email = attendance.contact_phone = None
        attendance.contact_user_id = attendance.contact_username = None
        attendance.conversation_id = renamed[attendance.id][1]
        if attendance.closing_comment:
            attendance.closing_comment = clean(attendance.closing_comment)
    for survey in surveys_of(session, sorted(renamed)).values():
        if survey.comment:
            survey.comment = clean(survey.comment)
    if renamed:
        attachments.delete_files_of(uow, sorted(renamed))
        record_requests.forget_requesters(session, attendance_ids=sorted(renamed))
    return changed


def anonymise_customer(customer: Customer) -> None:
    customer.name, customer.name_key = ERASED_NAME, search_key(ERASED_NAME)
    customer.email = customer.document = customer.phone = None


def erase_person(uow: UnitOfWork, actor: Operator, query: Any) -> dict[str, int]:
    """Remove the person's data from every table, keeping the records
    (art. 18 IV and VI; art. 16 I: the record the organisation must keep)."""
    session = uow.session
    person = find_person(session, query)
    _refuse_open(person)
    known = person.known_values()
    conversations = {a.conversation_id for a in person.attendances}
    masked = strip_attendances(uow, person.attendances, lambda text: mask_text(text, known))
    for customer in person.customers:
        anonymise_customer(customer)
    session.execute(
        delete(TransferRequest).where(TransferRequest.conversation_id.in_(conversations))
    )
    session.execute(delete(OutboxJob).where(OutboxJob.key.in_(_job_keys(conversations))))
    record_requests.forget_requesters(session, conversations=sorted(conversations))
    mask_audit_details(session, person, known)
    _audit_each(uow, actor, person, "person_erased")
    return {
        "customers": len(person.customers),
        "attendances": len(person.attendances),
        "messages_masked": masked,
    }


def mask_audit_details(session: Session, person: Person, known: list[str]) -> None:
    """Audit details about the person, or quoting their data (a discarded
    dead letter's payload), keep the facts without the data."""
    details = func.lower(AuditLog.details)
    quoting = [details.contains(v.casefold(), autoescape=True) for v in known]
    rows = set(_person_audit(session, person))
    if quoting:
        rows.update(session.scalars(select(AuditLog).where(or_(*quoting))))
    for row in rows:
        if row.details:
            row.details = mask_json(row.details, known)


def customer_log(session: Session, customer_id: Any) -> dict[str, Any]:
    """Who saw or changed the customer's data, and when (oldest first)."""
    customer = session.get(Customer, customer_id) if is_row_id(customer_id) else None
    if customer is None:
        raise NotFound("Cliente não encontrado.")
    attendance_ids = list(
        session.scalars(select(Attendance.id).where(Attendance.customer_id == customer.id))
    )
    return {
        "customer": customer_view(customer),
        "entries": _audit_views(session, _audit_rows(session, [customer.id], attendance_ids)),
    }
