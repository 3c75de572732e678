"""Customers: register, edit, search, link to an attendance, history (O5-O8)."""

from __future__ import annotations

from tests.support.api import (
    Client,
    add_operator,
    add_room,
    error_of,
    finished_attendance,
    open_attendance,
)

CPF = "529.982.247-25"


def register(client: Client, **fields) -> dict:
    response = client.post("/api/customers", fields)
    assert response.status_code == 201, response.text
    return response.json()["customer"]


def test_registration_normalises_and_refuses_duplicates(service, operator: Client):
    joao = register(
        operator,
        name="João da Conceição",
        phone="(11) 98765-4321",
        email="Joao@X.com",
        document=CPF,
    )
    assert (joao["phone"], joao["document"], joao["email"]) == (
        "+5511987654321",
        "52998224725",
        "joao@x.com",
    )
    assert joao["document_formatted"] == CPF
    same_phone = operator.post("/api/customers", {"name": "Outro", "phone": "+55 11 98765 4321"})
    assert error_of(same_phone, 409)["field"] == "phone"
    same_cpf = operator.post(
        "/api/customers", {"name": "Outro", "phone": "21 3456-7890", "document": "52998224725"}
    )
    assert error_of(same_cpf, 409)["field"] == "document"
    assert (
        error_of(operator.post("/api/customers", {"phone": "11987654321"}), 400)["field"] == "name"
    )
    bad_cpf = operator.post(
        "/api/customers", {"name": "Ana", "phone": "21 99876-5432", "document": "529.982.247-24"}
    )
    assert error_of(bad_cpf, 400)["field"] == "document"
    assert error_of(operator.post("/api/customers", ["not", "an", "object"]), 400)


def test_search_by_name_email_document_and_phone(service, operator: Client):
    joao = register(
        operator, name="João da Conceição", phone="11 98765-4321", email="j@x.com", document=CPF
    )
    register(operator, name="Joana Prado", phone="21 97777-1111")
    for query in (
        "conceicao",
        "JOÃO",
        "j@x.com",
        "529.982.247-25",
        "52998224725",
        "(11) 98765-4321",
    ):
        found = operator.get("/api/customers", q=query).json()["customers"]
        assert [c["id"] for c in found] == [joao["id"]], query
    assert [c["name"] for c in operator.get("/api/customers", q="jo").json()["customers"]] == [
        "Joana Prado",
        "João da Conceição",
    ]
    assert error_of(operator.get("/api/customers", q="  "), 400)["field"] == "q"


def test_edit_keeps_the_rules(service, operator: Client):
    ana = register(operator, name="Ana", phone="21 99876-5432")
    register(operator, name="Bia", phone="21 99876-0000")
    edited = operator.put(f"/api/customers/{ana['id']}", {"email": "ANA@x.com"}).json()["customer"]
    assert edited["email"] == "ana@x.com" and edited["phone"] == "+5521998765432"
    clash = operator.put(f"/api/customers/{ana['id']}", {"phone": "21 99876-0000"})
    assert error_of(clash, 409)["field"] == "phone"
    assert error_of(operator.put("/api/customers/999999", {"name": "X"}), 404)


def test_link_relink_and_whatsapp_by_phone(service, operator: Client, console):
    ana = register(operator, name="Ana", phone="21 99876-5432")
    bia = register(operator, name="Bia", phone="21 99876-0000")
    call = open_attendance(service)
    operator.take(call["id"])
    connection = console(operator)
    url = f"/api/attendances/{call['id']}/customer"
    assert (
        operator.post(url, {"customer_id": ana["id"]}).json()["attendance"]["customer_id"]
        == ana["id"]
    )
    assert (
        connection.next("attendance:customer", attendance_id=call["id"])["customer"]["name"]
        == "Ana"
    )
    assert (
        operator.post(url, {"customer_id": bia["id"]}).json()["attendance"]["customer_id"]
        == bia["id"]
    )
    assert (
        error_of(operator.post(url, {"customer_id": 999999}), 404)["message"]
        == "Cliente não encontrado."
    )
    whatsapp = open_attendance(service, channel="whatsapp", contact={"phone": "5521998765432"})
    assert whatsapp["customer_id"] == ana["id"]


def test_history_gives_each_attendance_its_own_messages_and_articles(service, operator: Client):
    """Read in one query per kind for all the attendances: nothing may land
    in another attendance's row."""
    helena = register(operator, name="Helena", phone="51 99777-6666")
    articles = operator.get("/api/kb/articles").json()["articles"][:3]
    texts = ["primeira", "segunda", "terceira"]
    ids = [
        finished_attendance(service, operator, helena["id"], text, article["id"])
        for text, article in zip(texts, articles, strict=True)
    ]
    open_attendance(service)  # someone else's, never shown
    rows = operator.get(f"/api/customers/{helena['id']}/history").json()["attendances"]
    assert [r["id"] for r in rows] == ids[::-1]  # newest first
    for row, text, article in zip(rows, texts[::-1], articles[::-1], strict=True):
        assert [m["text"] for m in row["messages"]] == [text, f"resposta {text}"]
        assert [r["title"] for r in row["registrations"]] == [article["title"]]
        assert row["operator_name"] == operator.operator["name"] and row["protocol"]
    add_room(service, "outra-sala")
    stranger = Client(service, add_operator(service, ["outra-sala"]))
    assert stranger.get(f"/api/customers/{helena['id']}/history").json()["attendances"] == []
    assert error_of(operator.get("/api/customers/999999/history"), 404)


def test_a_brazilian_mobile_with_or_without_its_ninth_digit_is_one_customer(
    service, operator: Client
):
    """WhatsApp's older ids drop the ninth digit (55 DD XXXX-XXXX): the
    registered 13-digit customer links to them, and the 12-digit writing
    is the same phone for registration and search."""
    carla = register(operator, name="Carla", phone="(61) 99876-5432")
    old_id = open_attendance(service, channel="whatsapp", contact={"phone": "556198765432"})
    assert old_id["customer_id"] == carla["id"]
    new_id = open_attendance(service, channel="whatsapp", contact={"phone": "5561998765432"})
    assert new_id["customer_id"] == carla["id"]
    twin = operator.post("/api/customers", {"name": "Outra", "phone": "61 9876-5432"})
    assert error_of(twin, 409)["field"] == "phone"
    found = operator.get("/api/customers", q="6198765432").json()["customers"]
    assert [c["id"] for c in found] == [carla["id"]]
    dora = register(operator, name="Dora", phone="(61) 8765-4321")
    assert dora["phone"] == "+5561987654321"
    landline = register(operator, name="Eva", phone="(61) 3344-5566")
    assert landline["phone"] == "+556133445566"
