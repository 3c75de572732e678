"""Ready replies ("respostas prontas", issue 19): from the content editors'
files and from Supervisão, per room, with the attendance's variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff.domain.errors import Invalid
from handoff.domain.ready_replies import parse_folder
from tests.support.api import Client, add_operator, add_room, error_of, open_attendance


def reply_file(folder: Path, key: str, header: str, text: str) -> None:
    (folder / f"{key}.md").write_text(f"---\n{header}\n---\n{text}\n", encoding="utf-8")


@pytest.fixture
def replies_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "ready_replies"
    folder.mkdir()
    reply_file(folder, "saudacao", "title: Saudação", "Olá, {cliente}! Sou {operador}.")
    reply_file(folder, "iptu", "title: IPTU\nroom: tributos", "Seu protocolo é {protocolo}.")
    return folder


@pytest.fixture
def service_settings(replies_dir: Path) -> dict:
    return {"replies_dir": replies_dir}


def replies_of(client: Client, attendance_id: int) -> dict[str, str]:
    response = client.get(f"/api/attendances/{attendance_id}/replies")
    assert response.status_code == 200, response.text
    return {r["title"]: r["text"] for r in response.json()["replies"]}


def test_replies_of_the_room_with_the_variables_filled_in(
    service, operator: Client, replies_dir: Path
):
    add_room(service, "tributos")
    rita = Client(service, add_operator(service, ["tributos"], name="Rita Lima")).available()
    call = open_attendance(service, room="tributos", contact={"name": "Ana Souza"})
    rita.take(call["id"])
    assert replies_of(rita, call["id"]) == {
        "IPTU": "Seu protocolo é {protocolo}.",
        "Saudação": "Olá, Ana Souza! Sou Rita Lima.",
    }
    # {protocolo} before the first message: filled in when it is sent.
    sent = rita.send(call["id"], "Seu protocolo é {protocolo}.").json()
    assert sent["message"]["text"] == f"Seu protocolo é {sent['protocol']}."
    assert replies_of(rita, call["id"])["IPTU"] == f"Seu protocolo é {sent['protocol']}."
    # Another room's operator sees no such attendance; the demo room has
    # only the reply for every room.
    assert error_of(operator.get(f"/api/attendances/{call['id']}/replies"), 404)
    mine = open_attendance(service)
    operator.take(mine["id"])
    assert list(replies_of(operator, mine["id"])) == ["Saudação"]

    # An editor changes one file and deletes another: the next list says so.
    reply_file(replies_dir, "saudacao", "title: Saudação", "Bom dia, {cliente}!")
    (replies_dir / "iptu.md").unlink()
    assert replies_of(rita, call["id"]) == {"Saudação": "Bom dia, Ana Souza!"}


def test_supervisors_keep_replies_in_supervisao(service, operator: Client, supervisor: Client):
    add_room(service, "tributos")
    url = "/api/admin/ready-replies"
    from_file = supervisor.get(url).json()["ready_replies"]
    assert [(r["key"], r["from_file"]) for r in from_file] == [("iptu", True), ("saudacao", True)]
    created = supervisor.post(url, {"title": "Aguarde", "text": "Um momento, {cliente}."})
    assert created.status_code == 201, created.text
    reply = created.json()["ready_reply"]
    assert (reply["from_file"], reply["room_id"]) == (False, None)
    call = open_attendance(service, contact={"name": "Bia"})
    operator.take(call["id"])
    assert replies_of(operator, call["id"])["Aguarde"] == "Um momento, Bia."

    changed = supervisor.put(f"{url}/{reply['id']}", {"title": "Aguarde", "text": "Já volto."})
    assert changed.json()["ready_reply"]["text"] == "Já volto."
    assert replies_of(operator, call["id"])["Aguarde"] == "Já volto."
    for body, field in [
        ({"text": "x"}, "title"),
        ({"title": "x", "text": " "}, "text"),
        ({"title": "x", "text": "y", "room_id": 999999}, "room_id"),
        ({"title": "x" * 121, "text": "y"}, "title"),
    ]:
        assert error_of(supervisor.post(url, body), 400)["field"] == field
    file_reply = next(r for r in supervisor.get(url).json()["ready_replies"] if r["from_file"])
    assert "arquivo" in error_of(supervisor.put(f"{url}/{file_reply['id']}", reply), 409)["message"]
    assert error_of(supervisor.delete(f"{url}/{file_reply['id']}"), 409)
    assert supervisor.delete(f"{url}/{reply['id']}").status_code == 200
    assert error_of(supervisor.delete(f"{url}/{reply['id']}"), 404)
    assert "Aguarde" not in replies_of(operator, call["id"])


def test_broken_reply_files_are_named_with_their_line(tmp_path: Path):
    reply_file(tmp_path, "ok", "title: Certo", "Texto.")
    (tmp_path / "sem-cabecalho.md").write_text("Texto sem cabeçalho\n", encoding="utf-8")
    reply_file(tmp_path, "sem-titulo", "room: tributos", "Texto.")
    with pytest.raises(Invalid) as error:
        parse_folder(tmp_path)
    assert "sem-cabecalho.md:1" in error.value.message
    assert "sem-titulo.md:3: o cabeçalho não tem 'title'" in error.value.message
