"""The record of a demand as files (PDF and JSON, pt-BR) and the signed,
expiring link that serves them (``GET /records/<link>.pdf``)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF

from handoff.settings import Settings

PDF, JSON = "pdf", "json"


def record_json(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, indent=2).encode()


def _when(value: str | None) -> str:
    """``01/12/2026 15:44`` from the record's local ISO time."""
    if not value:
        return "—"
    return datetime.fromisoformat(value).strftime("%d/%m/%Y %H:%M")


def record_pdf(record: dict[str, Any], font: Path) -> bytes:
    """The record laid out for reading and printing, in a font that has the
    Portuguese accents."""
    pdf = FPDF(format="A4")
    pdf.set_title(f"Registro do protocolo {record['protocolo']}")
    pdf.set_lang("pt-BR")
    pdf.add_font("record", "", str(font))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()

    def line(text: str, size: float = 10, gap: float = 1.5) -> None:
        pdf.set_font("record", size=size)
        pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    line(f"Registro do atendimento — protocolo {record['protocolo']}", size=15, gap=4)
    line(f"Canal: {record['canal']}")
    if record.get("cidadao"):
        line(f"Cidadão: {record['cidadao']}")
    line(f"Aberto em: {_when(record['aberto_em'])}")
    line(f"Encerrado em: {_when(record['encerrado_em'])}")
    line(f"Atendentes: {', '.join(record['atendentes']) or '—'}", gap=4)
    line("Mensagens", size=12, gap=2)
    for message in record["mensagens"]:
        line(f"{_when(message['em'])} · {message['de']}", size=9, gap=0.5)
        line(message["texto"], gap=3)
    line("Informações registradas", size=12, gap=2)
    line(f"Assunto: {record.get('assunto') or '—'}")
    if record.get("comentario_de_encerramento"):
        line(f"Comentário de encerramento: {record['comentario_de_encerramento']}")
    articles = record["artigos_registrados"]
    line("Artigos da base de conhecimento informados: " + ("" if articles else "—"))
    for article in articles:
        line(f"• {article['titulo']} ({article['categoria']}), {_when(article['em'])}")
    line(f"Gerado em {_when(record['gerado_em'])}. {record['base_legal']}.", size=8, gap=0)
    return bytes(pdf.output())


# --- the link


def _key(settings: Settings) -> bytes:
    secret = settings.record_link_secret or settings.service_token
    return hmac.new(secret.encode(), b"record-links", hashlib.sha256).digest()


def _signature(settings: Settings, request_id: int, expires: int) -> str:
    message = f"{request_id}.{expires}".encode()
    return hmac.new(_key(settings), message, hashlib.sha256).hexdigest()[:40]


def signed_link(settings: Settings, request_id: int, now: float | None = None) -> str:
    """The path of the record's PDF for a request, valid for
    ``HANDOFF_RECORD_LINK_DAYS``; the same path with ``.json`` serves the
    JSON."""
    expires = int((now or time.time()) + settings.record_link_days * 86400)
    return f"/records/{request_id}.{expires}.{_signature(settings, request_id, expires)}.{PDF}"


def read_link(settings: Settings, link: str, now: float | None = None) -> tuple[int, str] | None:
    """The request id and the format of a link's last part, or None when it
    is malformed, forged or expired."""
    parts = link.split(".")
    if len(parts) != 4 or parts[3] not in (PDF, JSON):
        return None
    request_id, expires, signature, kind = parts
    if not (request_id.isdigit() and expires.isdigit()) or len(request_id) > 12:
        return None
    if int(expires) < (now or time.time()):
        return None
    expected = _signature(settings, int(request_id), int(expires))
    if not hmac.compare_digest(expected, signature):
        return None
    return int(request_id), kind
