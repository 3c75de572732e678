"""The one rule for text that enters the service desk, on every edge.

Rasa (Python 3.10) and the handoff service (3.11) both import this
dependency-free module, so a visitor's message, a WhatsApp text, an
operator's reply and a name typed in a form are stored the same way on
SQLite and PostgreSQL, and what one side accepted the other can store.

The rule (stated in docs/architecture.md, "Input rules"):

- a lone UTF-16 surrogate (U+D800-U+DFFF, which JSON can carry as
  ``"\\ud800"`` but no UTF-8 database can store) becomes U+FFFD;
- Unicode non-characters (U+FDD0-U+FDEF and U+xFFFE/U+xFFFF of every
  plane) become U+FFFD;
- NUL (refused by PostgreSQL) and the other C0 controls except tab, line
  feed and carriage return, plus DEL, are removed;
- the explicit bidirectional embeddings, overrides and isolates (U+202A-
  U+202E, U+2066-U+2069) are removed: a right-to-left override in a name
  would reverse the words and dates shown after it (issue 16, finding 10);
- nothing else changes: accents, emoji, right-to-left scripts (and the
  bidirectional marks U+200E, U+200F, U+061C that they use) stay as typed.

Length limits are the caller's (they are counted after cleaning). A JSON
value nested deeper than ``MAX_DEPTH`` is refused (``TooDeep``): no message
of the service desk comes near it, and cleaning (or any recursive reading)
of a deeper one would exhaust Python's stack.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
_REPLACED = re.compile("[\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
_REMOVED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_REMOVED_BEYOND_ASCII = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
# Rasa's events, the deepest JSON the service desk reads, nest about 7 levels.
MAX_DEPTH = 64


class TooDeep(ValueError):
    """A JSON value with lists or objects nested deeper than ``MAX_DEPTH``."""


def _is_plane_nonchar(char: str) -> bool:
    return ord(char) > 0xFFFF and (ord(char) & 0xFFFE) == 0xFFFE


def clean_text(value: str) -> str:
    """``value`` made storable by the rule above (unchanged if it already is)."""
    if value.isascii():
        return _REMOVED.sub("", value) if _REMOVED.search(value) else value
    value = _REMOVED_BEYOND_ASCII.sub("", _REPLACED.sub(REPLACEMENT, value))
    if any(ord(c) > 0xFFFF for c in value):
        value = "".join(REPLACEMENT if _is_plane_nonchar(c) else c for c in value)
    return value


def clean_json(value: Any) -> Any:
    """Every string (keys included) of a decoded JSON value, cleaned; raises
    ``TooDeep`` for a value nested deeper than ``MAX_DEPTH``."""
    return _clean_json(value, MAX_DEPTH)


def _clean_json(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if not isinstance(value, (list, dict)):
        return value
    if depth == 0:
        raise TooDeep(f"JSON nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, list):
        return [_clean_json(item, depth - 1) for item in value]
    return {
        clean_text(k) if isinstance(k, str) else k: _clean_json(v, depth - 1)
        for k, v in value.items()
    }
