"""Masking a person's data in text and in audit details (handoff/domain/masking.py)."""

from __future__ import annotations

import json

import pytest

from handoff.domain.masking import MARK, mask_json, mask_text, name_parts

KNOWN = [*name_parts("João da Conceição"), "joao@example.com", "+5511987654321"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sou o João da Conceição.", f"Sou o {MARK}."),
        ("joao conceicao aqui", f"{MARK} {MARK} aqui"),
        ("Meu e-mail: JOAO@EXAMPLE.COM", f"Meu e-mail: {MARK}"),
        ("outro@exemplo.com.br", MARK),
        ("CPF 529.982.247-25 ou 52998224725", f"CPF {MARK} ou {MARK}"),
        ("CNPJ 12.ABC.345/01DE-35", f"CNPJ {MARK}"),
        ("tel (11) 98765-4321, +55 21 3456-7890", f"tel {MARK}, {MARK}"),
        # Not personal data: a protocol number, a date, a time, a count.
        ("protocolo 2026000001 de 12/03/2026 às 10:30, 3 itens", None),
        ("da Silva", None),  # "da" alone is no part of a name to mask
    ],
)
def test_mask_text(text: str, expected: str | None) -> None:
    assert mask_text(text, KNOWN) == (text if expected is None else expected)


def test_mask_json_masks_strings_and_keeps_numbers_and_shape() -> None:
    document = json.dumps(
        {"job": 3, "payload": {"text": "sou o João, 11987654321", "timestamp": 1796138357.65}}
    )
    masked = json.loads(mask_json(document, KNOWN))
    assert masked == {
        "job": 3,
        "payload": {"text": f"sou o {MARK}, {MARK}", "timestamp": 1796138357.65},
    }
