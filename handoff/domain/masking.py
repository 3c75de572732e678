"""Masking a person's data in free text (messages, comments) and in JSON (audit details)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from handoff.domain.brazil import search_key

MARK = "[dado pessoal removido]"
# Whatever looks like personal data, whoever it belongs to: e-mails, CNPJs
# (with letters since July 2026), CPFs and Brazilian phone numbers, typed
# with or without punctuation.
_PATTERNS = [
    re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+"),
    re.compile(r"\b[0-9A-Za-z]{2}\.?[0-9A-Za-z]{3}\.?[0-9A-Za-z]{3}/?[0-9A-Za-z]{4}-?\d{2}\b"),
    re.compile(r"\b\d{3}\.?\d{3}\.?\d{3}-?\d{2}\b"),
    # Area codes have no 0 (so a protocol number, 2026000001, is no phone).
    re.compile(r"(?<![\w+])(?:\+?55[\s.-]?)?(?:\(?[1-9]{2}\)?[\s.-]?)?9?\d{4}[\s.-]?\d{4}\b"),
]
# Parts of a name too common to mask alone.
_PARTICLES = {"das", "dos", "del", "von", "van"}


def name_parts(name: str) -> list[str]:
    """A full name and the words of it worth masking alone ("João da
    Conceição": itself, "João", "Conceição"), each also without accents."""
    words = [w for w in name.split() if len(w) >= 3 and w.casefold() not in _PARTICLES]
    forms = [name.strip(), *words]
    return [*forms, *(search_key(f) for f in forms)]


def mask_text(text: str, known: Iterable[str]) -> str:
    """``text`` with the ``known`` values (any case) and anything that looks
    like personal data replaced by :data:`MARK`."""
    values = sorted({v for v in known if v}, key=len, reverse=True)
    if values:
        alternatives = "|".join(re.escape(v) for v in values)
        text = re.sub(rf"(?<!\w)(?:{alternatives})(?!\w)", MARK, text, flags=re.IGNORECASE)
    for pattern in _PATTERNS:
        text = pattern.sub(MARK, text)
    return text


def mask_json(document: str, known: Iterable[str]) -> str:
    """A JSON document with :func:`mask_text` applied to its strings only
    (its numbers and keys stay, so it is still the same JSON shape)."""

    def masked(value: Any) -> Any:
        if isinstance(value, str):
            return mask_text(value, known)
        if isinstance(value, list):
            return [masked(v) for v in value]
        if isinstance(value, dict):
            return {k: masked(v) for k, v in value.items()}
        return value

    return json.dumps(masked(json.loads(document)), ensure_ascii=False)
