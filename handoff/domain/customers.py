"""Customers: search, registration, linking to an attendance, history (O5-O8)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from handoff.db import UnitOfWork
from handoff.domain import audiences
from handoff.domain.access import is_row_id, own_attendance
from handoff.domain.audit import audit
from handoff.domain.brazil import (
    InvalidDocument,
    document_number,
    format_document,
    phone_e164,
    search_key,
)
from handoff.domain.errors import Conflict, Invalid, NotFound
from handoff.domain.operators import is_supervisor, room_ids
from handoff.domain.records import attendance_records
from handoff.models import Attendance, Customer, Operator

SEARCH_LIMIT = 20
EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")


def customer_view(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "document": customer.document,
        "document_formatted": customer.document and format_document(customer.document),
        "phone": customer.phone,
        "created_at": customer.created_at.isoformat(),
    }


def search_customers(session: Session, query: Any) -> list[dict[str, Any]]:
    """Find by name (partial, any case and accents), e-mail, CPF/CNPJ or phone.

    A valid CPF or CNPJ that a customer has finds that customer alone: its
    digits may also read as a phone number or appear in a name, and the
    operator who typed a document means the document. One that no customer
    has is searched like any other text.
    """
    if not isinstance(query, str) or not query.strip():
        raise Invalid("Digite um nome, e-mail, CPF/CNPJ ou telefone.", field="q")
    query = query.strip()
    try:
        document = document_number(query)
    except InvalidDocument:
        document = None
    owner = document and session.scalar(select(Customer).where(Customer.document == document))
    if owner:
        return [customer_view(owner)]
    conditions = [Customer.name_key.contains(search_key(query), autoescape=True)]
    if "@" in query:
        conditions.append(Customer.email == query.casefold())
    phone = phone_e164(query)
    if phone:
        conditions.append(Customer.phone == phone)
    rows = session.scalars(
        select(Customer).where(or_(*conditions)).order_by(Customer.name).limit(SEARCH_LIMIT)
    )
    return [customer_view(c) for c in rows]


def _clean(data: dict[str, Any]) -> dict[str, str | None]:
    """Validate a customer form; every error names its field."""

    def text(field: str, limit: int) -> str:
        value = data.get(field)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise Invalid("Valor inválido.", field=field)
        value = value.strip()
        if len(value) > limit:
            raise Invalid(f"Use no máximo {limit} caracteres.", field=field)
        return value

    name = text("name", 200)
    if not name:
        raise Invalid("Informe o nome.", field="name")
    raw_phone = text("phone", 40)
    if not raw_phone:
        raise Invalid("Informe o telefone.", field="phone")
    phone = phone_e164(raw_phone)
    if phone is None:
        raise Invalid("Telefone inválido. Use DDD e número, ex.: (11) 98765-4321.", field="phone")
    email = text("email", 254).casefold() or None
    if email and not EMAIL.match(email):
        raise Invalid("E-mail inválido.", field="email")
    document = _document(text("document", 20))
    return {"name": name, "phone": phone, "email": email, "document": document}


def _document(typed: str) -> str | None:
    """The stored form of the CPF/CNPJ typed in the form; None when left empty."""
    if not typed:
        return None
    try:
        return document_number(typed)
    except InvalidDocument as error:
        raise Invalid(str(error), field="document") from None


def _reject_duplicates(session: Session, fields: dict[str, str | None], own_id: int | None) -> None:
    for field, label in (("document", "CPF/CNPJ"), ("phone", "telefone")):
        value = fields[field]
        if value is None:
            continue
        other = session.scalar(select(Customer).where(getattr(Customer, field) == value))
        if other is not None and other.id != own_id:
            raise Conflict(f"Já existe um cliente com este {label}: {other.name}.", field=field)


def create_customer(uow: UnitOfWork, operator: Operator, data: Any) -> Customer:
    """Register a customer (O7): name and phone required, no duplicates."""
    if not isinstance(data, dict):
        raise Invalid("customer data must be an object")
    fields = _clean(data)
    _reject_duplicates(uow.session, fields, None)
    customer = Customer(name_key=search_key(fields["name"] or ""), **fields)
    uow.session.add(customer)
    uow.session.flush()
    audit(uow.session, "customer_created", operator_id=operator.id, customer_id=customer.id)
    return customer


def update_customer(uow: UnitOfWork, operator: Operator, customer_id: Any, data: Any) -> Customer:
    customer = _customer(uow.session, customer_id)
    if not isinstance(data, dict):
        raise Invalid("customer data must be an object")
    fields = _clean({**customer_view(customer), **data})
    _reject_duplicates(uow.session, fields, customer.id)
    for key, value in fields.items():
        setattr(customer, key, value)
    customer.name_key = search_key(customer.name)
    audit(uow.session, "customer_updated", operator_id=operator.id, customer_id=customer.id)
    return customer


def _customer(session: Session, customer_id: Any) -> Customer:
    customer = session.get(Customer, customer_id) if is_row_id(customer_id) else None
    if customer is None:
        raise NotFound("Cliente não encontrado.")
    return customer


def link_customer(
    uow: UnitOfWork, operator: Operator, attendance_id: Any, customer_id: Any
) -> Attendance:
    """Link (or re-link) a customer to the operator's attendance (O6)."""
    attendance = own_attendance(uow.session, operator, attendance_id)
    customer = _customer(uow.session, customer_id)
    previous = attendance.customer_id
    attendance.customer_id = customer.id
    audit(
        uow.session,
        "customer_linked",
        operator_id=operator.id,
        attendance_id=attendance.id,
        customer_id=customer.id,
        previous=previous,
    )
    uow.notify(
        audiences.operator(operator.id),
        "attendance:customer",
        {"attendance_id": attendance.id, "customer": customer_view(customer)},
    )
    return attendance


def customer_history(session: Session, operator: Operator, customer_id: Any) -> dict[str, Any]:
    """The customer and their attendances, newest first (O8).

    Operators see the attendances of their own rooms; supervisors see all.
    """
    customer = _customer(session, customer_id)
    query = select(Attendance).where(Attendance.customer_id == customer.id)
    if not is_supervisor(operator):
        query = query.where(Attendance.room_id.in_(room_ids(session, operator)))
    attendances = session.scalars(
        query.order_by(Attendance.queued_at.desc(), Attendance.id.desc())
    ).all()
    return {
        "customer": customer_view(customer),
        "attendances": attendance_records(session, attendances),
    }


def view_customer(uow: UnitOfWork, operator: Operator, customer_id: Any) -> dict[str, Any]:
    """:func:`customer_history`, logged: who saw the customer's data, when."""
    history = customer_history(uow.session, operator, customer_id)
    audit(uow.session, "customer_viewed", operator_id=operator.id, customer_id=customer_id)
    return history
