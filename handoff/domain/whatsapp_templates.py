"""WhatsApp message templates: what an organisation may send a citizen
outside the 24-hour customer-service window (Meta accepts only templates
it approved there).

Content editors declare the approved templates in
``data/whatsapp_templates/<name>.md``, one file each, the file name being
the template's name at Meta::

    ---
    language: pt_BR
    purpose: closing
    parameters: cliente, protocolo
    ---
    Olá, {{1}}! Seu atendimento foi encerrado. Protocolo: {{2}}.

``purpose``: ``operator`` (the default: offered in the console's composer
when the window is closed), ``closing`` (the closing message with the
protocol) or ``demand_concluded`` (a pending demand's conclusion notice).
``parameters`` names, in order, what fills ``{{1}}``, ``{{2}}``...:
``cliente`` (the customer's name), ``protocolo`` or ``texto`` (written by
the operator; the answer of a concluded demand).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handoff.domain.errors import Invalid
from handoff.domain.front_matter import parse_each, read_front_matter

OPERATOR, CLOSING, DEMAND_CONCLUDED = "operator", "closing", "demand_concluded"
PURPOSES = (OPERATOR, CLOSING, DEMAND_CONCLUDED)
CUSTOMER, PROTOCOL, FREE_TEXT = "cliente", "protocolo", "texto"
SOURCES = (CUSTOMER, PROTOCOL, FREE_TEXT)
# Meta: template names are lower-case letters, digits and underscores (512
# at most); languages are codes such as pt_BR or en; a body holds up to 1024
# characters; a parameter has no new line or tab and no more than 4 spaces
# in a row.
NAME = re.compile(r"^[a-z0-9_]{1,512}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
MAX_BODY = 1024

# Meta's refusals of a message (its error codes), as the operator reads them.
REFUSALS = {
    "131047": "Fora da janela de 24 horas: envie um modelo aprovado.",
    "470": "Fora da janela de 24 horas: envie um modelo aprovado.",
    "131026": "O WhatsApp não conseguiu entregar a mensagem a este número.",
    "131051": "Tipo de mensagem não aceito pelo WhatsApp.",
    "132000": "O número de parâmetros não confere com o modelo aprovado na Meta.",
    "132001": "Este modelo não existe (ou não foi aprovado) na Meta neste idioma.",
    "132005": "O texto do modelo, com os parâmetros, ficou longo demais.",
    "132007": "O conteúdo viola a política de formatação de modelos da Meta.",
    "132012": "Um parâmetro não está no formato que o modelo aprovado espera.",
    "132015": "O modelo está pausado pela Meta (qualidade baixa).",
    "132016": "O modelo foi desativado pela Meta.",
    # Meta's codes for "try later", once the channel's own retries are spent.
    **dict.fromkeys(
        ("2", "4", "80007", "131000", "131016", "133004"),
        "O WhatsApp está indisponível no momento: use Tentar novamente em instantes.",
    ),
}


@dataclass(frozen=True)
class Template:
    name: str
    language: str
    purpose: str
    parameters: tuple[str, ...]
    body: str

    def view(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "language": self.language,
            "purpose": self.purpose,
            "parameters": list(self.parameters),
            "body": self.body,
        }


def refusal_text(code: str | None) -> str | None:
    """What the operator reads of Meta's refusal ``code`` (None: unknown)."""
    if code is None:
        return None
    return REFUSALS.get(code, f"O WhatsApp recusou a mensagem (código {code}).")


def parse_template(path: Path) -> Template:
    """Read one template file; an error names the file and the line."""
    header, body = read_front_matter(path, ("language", "parameters"))
    lines = path.read_text(encoding="utf-8").splitlines()

    def line_of(field: str) -> int:
        return next((n for n, line in enumerate(lines, start=1) if line.startswith(f"{field}:")), 1)

    if not NAME.match(path.stem):
        raise Invalid(
            f"{path.name}:1: o nome do arquivo é o nome do modelo na Meta: "
            "letras minúsculas, algarismos e '_'"
        )
    if not LANGUAGE.match(header["language"]):
        raise Invalid(f"{path.name}:{line_of('language')}: idioma inválido (ex.: pt_BR)")
    purpose = header.get("purpose") or OPERATOR
    if purpose not in PURPOSES:
        raise Invalid(
            f"{path.name}:{line_of('purpose')}: 'purpose' deve ser um de {', '.join(PURPOSES)}"
        )
    parameters = tuple(p.strip() for p in header["parameters"].split(",") if p.strip())
    unknown = [p for p in parameters if p not in SOURCES]
    if unknown:
        raise Invalid(
            f"{path.name}:{line_of('parameters')}: parâmetro '{unknown[0]}' desconhecido "
            f"(use {', '.join(SOURCES)})"
        )
    numbers = sorted({int(n) for n in PLACEHOLDER.findall(body)})
    if numbers != list(range(1, len(parameters) + 1)):
        raise Invalid(
            f"{path.name}:{line_of('parameters')}: o texto usa {len(numbers)} parâmetro(s) "
            f"{{{{1}}}}..., e 'parameters' lista {len(parameters)}"
        )
    if len(body) > MAX_BODY:
        raise Invalid(f"{path.name}: texto com mais de {MAX_BODY} caracteres")
    return Template(path.stem, header["language"], purpose, parameters, body)


def parse_folder(folder: Path) -> list[Template]:
    """Every template of the folder (none if it is missing), or Invalid
    listing every broken file; at most one template per special purpose."""
    templates = parse_each(folder, parse_template)
    for purpose in (CLOSING, DEMAND_CONCLUDED):
        names = [t.name for t in templates if t.purpose == purpose]
        if len(names) > 1:
            raise Invalid(f"mais de um modelo com 'purpose: {purpose}': {', '.join(names)}")
    return templates


def for_purpose(folder: Path, purpose: str) -> Template | None:
    """The template for ``purpose`` (closing, demand_concluded), if any."""
    return next((t for t in parse_folder(folder) if t.purpose == purpose), None)


def named(folder: Path, name: str) -> Template:
    """The operator-offered template called ``name``."""
    found = next(
        (t for t in parse_folder(folder) if t.name == name and t.purpose == OPERATOR), None
    )
    if found is None:
        raise Invalid("Modelo de mensagem desconhecido.")
    return found


def prefill(template: Template, customer: str | None, protocol: str | None) -> list[str]:
    """The parameters as the console offers them: the customer's name and
    the protocol (``{protocolo}`` until the attendance has one, filled in
    when sent), free text empty."""
    values = {CUSTOMER: customer or "", PROTOCOL: protocol or "{protocolo}", FREE_TEXT: ""}
    return [values[source] for source in template.parameters]


def clean_parameter(value: str) -> str:
    """A parameter as Meta takes it: text, no new lines or tabs, no long runs
    of spaces; Invalid for one that is empty."""
    if not value.strip():
        raise Invalid("Preencha todos os parâmetros do modelo.")
    return " ".join(value.split())[:MAX_BODY]


def fill(template: Template, parameters: list[str]) -> tuple[str, dict[str, Any]]:
    """The text the citizen reads and what is stored and sent to Meta
    (``{name, language, parameters}``)."""
    if len(parameters) != len(template.parameters):
        raise Invalid(f"O modelo tem {len(template.parameters)} parâmetro(s).")
    values = [clean_parameter(p) for p in parameters]
    text = PLACEHOLDER.sub(lambda m: values[int(m.group(1)) - 1], template.body)
    if len(text) > MAX_BODY:
        raise Invalid(f"O texto do modelo preenchido passa de {MAX_BODY} caracteres.")
    return text, {"name": template.name, "language": template.language, "parameters": values}
