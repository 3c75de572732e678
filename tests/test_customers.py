"""Customers (O5-O8) through the public API, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.support.api import (
    Client,
    add_operator,
    add_room,
    error_of,
    finished_attendance,
    open_attendance,
)
from tests.support.processes import Service

CPF = "529.982.247-25"
CNPJ = "11.222.333/0001-81"
# A CNPJ with letters (IN RFB 2.229/2024), issued since July 2026.
ALPHANUMERIC_CNPJ = "12.ABC.345/01DE-35"


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
    assert joao["document_formatted"] == CPF
    assert joao["email"] == "joao@example.com"


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"phone": "11987654321"}, "name", "Informe o nome."),
        ({"name": "Ana"}, "phone", "Informe o telefone."),
        ({"name": "Ana", "phone": "1234"}, "phone", "Telefone inválido"),
        *(
            ({"name": "Ana", "phone": "21 99876-5432", "document": document}, "document", message)
            for document, message in [
                ("529.982.247-24", "CPF inválido: confira os números."),
                ("11.222.333/0001-80", "CNPJ inválido: confira os caracteres."),
                ("12.ABC.345/01DE-36", "CNPJ inválido: confira os caracteres."),
                # Letters and stray characters were dropped, leaving a valid CPF.
                ("362.580.504-92c", "Informe um CPF (11 números) ou um CNPJ (14 caracteres)."),
                ("4616879B2651", "Informe um CPF (11 números) ou um CNPJ (14 caracteres)."),
                ("5299822472B", "O CPF só tem números; letras, só no CNPJ."),
                ("12.ABC.345/01DE-3A", "Os dois últimos caracteres do CNPJ são números."),
                ("529*982*247*25", "Caractere não permitido no CPF/CNPJ: “*”."),
                ("529.982.247-25º", "Caractere não permitido no CPF/CNPJ: “º”."),
            ]
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


def ids(client: Client, query: str) -> list[int]:
    return [c["id"] for c in client.get("/api/customers", q=query).json()["customers"]]


def test_alphanumeric_cnpj_is_stored_upper_case_searched_and_shown_formatted(client: Client):
    company = client.post(
        "/api/customers",
        {"name": "Cooperativa Nova", "phone": "21 2222-3333", "document": "12.abc.345/01de-35"},
    )
    assert company.status_code == 201, company.text
    customer = company.json()["customer"]
    assert customer["document"] == "12ABC34501DE35"
    assert customer["document_formatted"] == ALPHANUMERIC_CNPJ
    for query in (ALPHANUMERIC_CNPJ, "12ABC34501DE35", "12abc34501de35", " 12 ABC 345 01DE 35 "):
        assert ids(client, query) == [customer["id"]], query
    found = client.get("/api/customers", q="12abc34501de35").json()["customers"][0]
    assert found["document_formatted"] == ALPHANUMERIC_CNPJ
    history = client.get(f"/api/customers/{customer['id']}/history").json()
    assert history["customer"]["document_formatted"] == ALPHANUMERIC_CNPJ
    # The same CNPJ in another writing is the same customer.
    again = client.post(
        "/api/customers", {"name": "Outra", "phone": "21 2222-4444", "document": "12ABC34501DE35"}
    )
    assert error_of(again, 409)["field"] == "document"


def test_a_cnpj_with_letters_is_not_kept_as_the_cpf_of_its_digits(client: Client):
    """Its 11 digits, 527.611.448-05, are a valid CPF: the old rule stored that."""
    response = client.post(
        "/api/customers",
        {"name": "Mercado Horizonte", "phone": "21 2555-6666", "document": "52.761.1MH/4E48-05"},
    )
    customer = response.json()["customer"]
    assert customer["document"] == "527611MH4E4805"
    assert ids(client, "527.611.448-05") == []
    assert ids(client, "52.761.1MH/4E48-05") == [customer["id"]]


def test_a_valid_document_finds_its_owner_before_a_phone_with_its_digits(
    client: Client, joao: dict
):
    # Rita's phone, (52) 99822-4725, has the digits of João's CPF.
    rita = client.post("/api/customers", {"name": "Rita", "phone": "(52) 99822-4725"}).json()
    for query in (CPF, "52998224725"):
        assert ids(client, query) == [joao["id"]], query
    assert ids(client, "+55 52 99822-4725") == [rita["customer"]["id"]]
    # A valid CPF nobody has is still looked up as the phone it also is.
    sergio = client.post("/api/customers", {"name": "Sérgio", "phone": "21 98765-4382"}).json()
    assert ids(client, "21987654382") == [sergio["customer"]["id"]]


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
    article = client.get("/api/kb/articles").json()["articles"][0]
    ids = [
        finished_attendance(handoff, client, customer["id"], text, article["id"])
        for text in ("primeira", "segunda")
    ]
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
