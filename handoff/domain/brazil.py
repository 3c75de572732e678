"""Brazilian identifiers: CPF and CNPJ check digits, phone numbers to E.164,
and the accent-free form of names used for searching."""

from __future__ import annotations

import re
import unicodedata


def digits(value: str) -> str:
    """The ASCII digits of ``value`` (``\\d`` would also keep "١٢٣")."""
    return re.sub(r"[^0-9]", "", value)


def _all_digits(value: str, length: int) -> bool:
    return len(value) == length and value.isascii() and value.isdigit()


def search_key(text: str) -> str:
    """Lower case without accents: "João" and "joao" match."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def _check_digit(numbers: str, weights: list[int]) -> int:
    remainder = sum(int(n) * w for n, w in zip(numbers, weights, strict=True)) % 11
    return 0 if remainder < 2 else 11 - remainder


def valid_cpf(value: str) -> bool:
    """11 digits, not all equal, with both check digits right."""
    if not _all_digits(value, 11) or len(set(value)) == 1:
        return False
    first = _check_digit(value[:9], list(range(10, 1, -1)))
    second = _check_digit(value[:10], list(range(11, 1, -1)))
    return value[9:] == f"{first}{second}"


def valid_cnpj(value: str) -> bool:
    """14 digits, not all equal, with both check digits right."""
    if not _all_digits(value, 14) or len(set(value)) == 1:
        return False
    weights = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    first = _check_digit(value[:12], weights)
    second = _check_digit(value[:13], [6, *weights])
    return value[12:] == f"{first}{second}"


def phone_e164(value: str) -> str | None:
    """A Brazilian phone in any usual writing, as +55DDDNUMBER; None if it is not one.

    Accepts "+55 (11) 98765-4321", "011 98765-4321", "0 21 11 98765-4321"
    (with a carrier code), "11987654321", "5511987654321" and landlines.
    """
    number = digits(value)
    if value.strip().startswith("+") and not number.startswith("55"):
        return None
    if number.startswith("55") and len(number) in (12, 13):
        number = number[2:]
    elif number.startswith("0"):
        number = number.lstrip("0")
        if len(number) in (12, 13):  # carrier selection code before the area code
            number = number[2:]
    if len(number) not in (10, 11):
        return None
    area, subscriber = number[:2], number[2:]
    if area[0] == "0" or area[1] == "0":
        return None
    if len(subscriber) == 9 and subscriber[0] != "9":
        return None
    if len(subscriber) == 8 and subscriber[0] not in "2345":
        return None
    return f"+55{number}"
