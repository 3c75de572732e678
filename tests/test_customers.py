"""Customers (O5-O8) through the public API, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.support.api import Client, add_operator, add_room, error_of, open_attendance
from tests.support.processes import Service

CPF = "529.982.247-25"
CNPJ = "11.222.333/0001-81"


@pytest.fixture(scope="module")
def client(handoff: Service) -> Client:
    return Client(handoff, add_operator(handoff, ["atendimento"])).available()


@pytest.fixture(scope="module")
def joao(client: Client) -> dict:
    response = client.post(
        "/api/customers",
        {
            "name": "João da Conceição",
            "phone": "(11) 98765-4321",
            "email": "Joao@Example.com",
            "document": CPF,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["customer"]


def test_registration_normalises_what_it_stores(joao):
    assert joao["phone"] == "+5511987654321"
    assert joao["document"] == "52998224725"
    assert joao["email"] == "joao@example.com"


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"phone": "11987654321"}, "name", "Informe o nome."),
        ({"name": "Ana"}, "phone", "Informe o telefone."),
        ({"name": "Ana", "phone": "1234"}, "phone", "Telefone inválido"),
        (
            {"name": "Ana", "phone": "21 99876-5432", "document": "529.982.247-24"},
            "document",
            "CPF ou CNPJ inválido.",
        ),
        (
            {"name": "Ana", "phone": "21 99876-5432", "document": "11.222.333/0001-80"},
            "document",
            "CPF ou CNPJ inválido.",
        ),
        ({"name": "Ana", "phone": "21 99876-5432", "email": "ana@"}, "email", "E-mail inválido."),
        ({"name": "x" * 201, "phone": "21 99876-5432"}, "name", "no máximo 200"),
    ],
)
def test_registration_errors_name_their_field(client: Client, payload, field, message):
    error = error_of(client.post("/api/customers", payload), 400)
    assert error["field"] == field
    assert message in error["message"]


def test_duplicates_are_rejected(client: Client, joao):
    same_phone = client.post("/api/customers", {"name": "Outro", "phone": "+55 11 98765 4321"})
    error = error_of(same_phone, 409)
    assert error["field"] == "phone" and "João da Conceição" in error["message"]
    same_cpf = client.post(
        "/api/customers", {"name": "Outro", "phone": "21 3456-7890", "document": "52998224725"}
    )
    assert error_of(same_cpf, 409)["field"] == "document"
    # Nothing stored by the failed attempts.
    assert [c["name"] for c in client.get("/api/customers", q="Outro").json()["customers"]] == []


@pytest.mark.parametrize(
    "query",
    [
        "joao",
        "JOÃO",
        "concei",
        "Conceição",
        "joao@example.com",
        "JOAO@EXAMPLE.COM",
        "529.982.247-25",
        "52998224725",
        "+55 (11) 98765-4321",
        "11987654321",
        "011 98765 4321",
        "5511987654321",
    ],
)
def test_search_by_every_field_with_messy_input(client: Client, joao, query):
    found = client.get("/api/customers", q=query).json()["customers"]
    assert [c["id"] for c in found] == [joao["id"]]


def test_search_by_cnpj_and_empty_query(client: Client):
    company = client.post(
        "/api/customers", {"name": "Padaria Pão Quente", "phone": "21 3333-4444", "document": CNPJ}
    ).json()["customer"]
    assert [
        c["id"] for c in client.get("/api/customers", q="11222333000181").json()["customers"]
    ] == [company["id"]]
    assert error_of(client.get("/api/customers", q="  "), 400)["field"] == "q"


def test_edit_keeps_rules(client: Client, joao):
    other = client.post("/api/customers", {"name": "Maria", "phone": "31 99999-8888"}).json()[
        "customer"
    ]
    clash = client.put(f"/api/customers/{other['id']}", {"phone": "11 98765-4321"})
    assert error_of(clash, 409)["field"] == "phone"
    renamed = client.put(f"/api/customers/{other['id']}", {"name": "Maria Clara"})
    assert renamed.json()["customer"]["name"] == "Maria Clara"
    assert error_of(client.put("/api/customers/999999", {"name": "X"}), 404)


def test_link_and_relink_to_the_attendance(handoff: Service, client: Client, joao):
    attendance = open_attendance(handoff)
    client.take(attendance["id"])
    other = client.post("/api/customers", {"name": "Beatriz", "phone": "41 98888-7777"}).json()[
        "customer"
    ]
    linked = client.post(
        f"/api/attendances/{attendance['id']}/customer", {"customer_id": joao["id"]}
    )
    assert linked.json()["attendance"]["customer_id"] == joao["id"]
    relinked = client.post(
        f"/api/attendances/{attendance['id']}/customer", {"customer_id": other["id"]}
    )
    assert relinked.json()["attendance"]["customer_id"] == other["id"]
    missing = client.post(f"/api/attendances/{attendance['id']}/customer", {"customer_id": 999999})
    assert error_of(missing, 404)["message"] == "Cliente não encontrado."


def test_whatsapp_attendance_is_linked_by_phone(handoff: Service, joao):
    attendance = open_attendance(handoff, channel="whatsapp", contact={"phone": "5511987654321"})
    assert attendance["customer_id"] == joao["id"]
    unknown = open_attendance(handoff, channel="whatsapp", contact={"phone": "5511900001111"})
    assert unknown["customer_id"] is None


def test_history_lists_attendances_newest_first(handoff: Service, client: Client):
    customer = client.post("/api/customers", {"name": "Helena", "phone": "51 99777-6666"}).json()[
        "customer"
    ]
    ids = []
    for text in ("primeira", "segunda"):
        attendance = open_attendance(handoff, first_message={"message_id": text, "text": text})
        client.take(attendance["id"])
        client.post(
            f"/api/attendances/{attendance['id']}/customer", {"customer_id": customer["id"]}
        )
        client.send(attendance["id"], f"resposta {text}")
        article = client.get("/api/kb/articles").json()["articles"][0]
        client.post(
            f"/api/attendances/{attendance['id']}/registrations", {"article_id": article["id"]}
        )
        client.post(f"/api/attendances/{attendance['id']}/finish")
        ids.append(attendance["id"])
    history = client.get(f"/api/customers/{customer['id']}/history").json()
    assert history["customer"]["name"] == "Helena"
    rows = history["attendances"]
    assert [r["id"] for r in rows] == ids[::-1]
    newest = rows[0]
    assert newest["status"] == "finished" and newest["protocol"]
    assert newest["operator_name"] == client.operator["name"]
    assert [m["text"] for m in newest["messages"]] == ["segunda", "resposta segunda"]
    assert newest["registrations"][0]["title"] == article["title"]

    # An operator of another room does not see these attendances.
    add_room(handoff, "outra-sala")
    stranger = Client(handoff, add_operator(handoff, ["outra-sala"]))
    assert stranger.get(f"/api/customers/{customer['id']}/history").json()["attendances"] == []
