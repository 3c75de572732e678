"""Customers: search, register, edit, link to an attendance, history (O5-O8)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from handoff.domain import customers, views
from handoff.routes.common import desk, json_body, operator_token

bp = Blueprint("customers")


@bp.get("/customers")
async def search(request: Request) -> HTTPResponse:
    query = request.args.get("q")
    rows = await desk(request).as_operator(
        operator_token(request),
        lambda uow, _op: customers.search_customers(uow.session, query),
        read=True,
    )
    return json({"customers": rows})


@bp.post("/customers")
async def create(request: Request) -> HTTPResponse:
    data = json_body(request)
    customer = await desk(request).as_operator(
        operator_token(request), lambda uow, op: customers.create_customer(uow, op, data)
    )
    return json({"customer": customers.customer_view(customer)}, status=201)


@bp.put("/customers/<customer_id:int>")
async def update(request: Request, customer_id: int) -> HTTPResponse:
    data = json_body(request)
    customer = await desk(request).as_operator(
        operator_token(request),
        lambda uow, op: customers.update_customer(uow, op, customer_id, data),
    )
    return json({"customer": customers.customer_view(customer)})


@bp.get("/customers/<customer_id:int>/history")
async def history(request: Request, customer_id: int) -> HTTPResponse:
    result = await desk(request).viewed(
        operator_token(request),
        lambda uow, op: customers.view_customer(uow, op, customer_id),
    )
    return json(result)


@bp.post("/attendances/<attendance_id:int>/customer")
async def link(request: Request, attendance_id: int) -> HTTPResponse:
    customer_id = json_body(request).get("customer_id")
    attendance = await desk(request).as_operator(
        operator_token(request),
        lambda uow, op: customers.link_customer(uow, op, attendance_id, customer_id),
    )
    return json({"attendance": views.attendance_view(attendance)})
