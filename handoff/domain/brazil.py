"""Brazilian identifiers: CPF and CNPJ (numeric and alphanumeric), phone
numbers to E.164, and the accent-free form of names used for searching."""

from __future__ import annotations

import re
import string
import unicodedata

from textrules.whatsapp_ids import canonical_phone


def digits(value: str) -> str:
    """The ASCII digits of ``value`` (``\\d`` would also keep "١٢٣")."""
    return re.sub(r"[^0-9]", "", value)


def search_key(text: str) -> str:
    """Lower case without accents: "João" and "joao" match."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


# CPF and CNPJ. A CNPJ issued since July 2026 (IN RFB 2.229/2024) may have
# letters in its first 12 characters; its two check digits stay digits and
# are computed as before, each character counting as its ASCII code minus 48
# (so "0".."9" count 0..9, as they always did, and "A".."Z" 17..42).
#
# The check digits are ours, not validate-docbr's (which implements the same
# rule and is the oracle of tests/test_brazil.py, a test dependency): the
# arithmetic is a dozen lines fixed by regulation, while the library's input
# rules are not ours (it pads a short CPF with zeros as if it were a number,
# takes non-ASCII digits through ``str.isdigit`` and cannot say which rule a
# document broke), so it would add a runtime dependency without removing the
# parsing below.

CPF_LENGTH, CNPJ_LENGTH = 11, 14
_SEPARATORS = ".-/ "
_CNPJ_WEIGHTS = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
_ASCII_DIGITS = frozenset("0123456789")
_CNPJ_CHARACTERS = _ASCII_DIGITS | frozenset(string.ascii_uppercase)
# What a person may type: digits, letters of either case, separators.
_TYPED_CHARACTERS = _CNPJ_CHARACTERS | frozenset(string.ascii_lowercase + _SEPARATORS)


class InvalidDocument(ValueError):
    """Not a CPF or CNPJ; the message tells the person who typed it why (pt-BR)."""


def _check_digit(characters: str, weights: list[int]) -> int:
    total = sum((ord(c) - 48) * w for c, w in zip(characters, weights, strict=True))
    remainder = total % 11
    return 0 if remainder < 2 else 11 - remainder


def _check_digits_right(value: str, first_weights: list[int]) -> bool:
    body = len(first_weights)
    first = _check_digit(value[:body], first_weights)
    second = _check_digit(value[: body + 1], [first_weights[0] + 1, *first_weights])
    return value[body:] == f"{first}{second}"


def valid_cpf(value: str) -> bool:
    """11 ASCII digits, not all equal, with both check digits right."""
    if len(value) != CPF_LENGTH or not set(value) <= _ASCII_DIGITS or len(set(value)) == 1:
        return False
    return _check_digits_right(value, list(range(10, 1, -1)))


def valid_cnpj(value: str) -> bool:
    """12 characters 0-9 or A-Z (upper case), then 2 check digits right;
    not all 14 equal."""
    if (
        len(value) != CNPJ_LENGTH
        or not set(value[:12]) <= _CNPJ_CHARACTERS
        or not set(value[12:]) <= _ASCII_DIGITS
        or len(set(value)) == 1
    ):
        return False
    return _check_digits_right(value, _CNPJ_WEIGHTS)


def document_number(value: str) -> str:
    """The CPF or CNPJ written in ``value``, as stored: its 11 digits or its
    14 characters in upper case, without separators.

    Accepts digits, letters (lower case too) and the separators ". - /" and
    spaces anywhere; refuses anything else, letters outside a CNPJ's first
    12 characters and wrong check digits, raising :class:`InvalidDocument`.
    """
    for character in value:
        if character not in _TYPED_CHARACTERS:
            shown = character if character.isprintable() else f"U+{ord(character):04X}"
            raise InvalidDocument(
                f"Caractere não permitido no CPF/CNPJ: “{shown}”. "
                "Use números, . / - e, no CNPJ, letras."
            )
    number = "".join(c for c in value if c not in _SEPARATORS).upper()
    letters = not set(number) <= _ASCII_DIGITS
    if len(number) == CPF_LENGTH and letters:
        raise InvalidDocument("O CPF só tem números; letras, só no CNPJ.")
    if len(number) == CPF_LENGTH:
        if not valid_cpf(number):
            raise InvalidDocument("CPF inválido: confira os números.")
        return number
    if len(number) == CNPJ_LENGTH and not set(number[12:]) <= _ASCII_DIGITS:
        raise InvalidDocument("Os dois últimos caracteres do CNPJ são números.")
    if len(number) == CNPJ_LENGTH:
        if not valid_cnpj(number):
            raise InvalidDocument("CNPJ inválido: confira os caracteres.")
        return number
    raise InvalidDocument("Informe um CPF (11 números) ou um CNPJ (14 caracteres).")


def format_document(number: str) -> str:
    """A stored CPF or CNPJ as people write it: 529.982.247-25, 12.ABC.345/01DE-35."""
    if len(number) == CPF_LENGTH:
        return f"{number[:3]}.{number[3:6]}.{number[6:9]}-{number[9:]}"
    return f"{number[:2]}.{number[2:5]}.{number[5:8]}/{number[8:12]}-{number[12:]}"


def phone_e164(value: str) -> str | None:
    """A Brazilian phone in any usual writing, as +55DDDNUMBER; None if it is not one.

    Accepts "+55 (11) 98765-4321", "011 98765-4321", "0 21 11 98765-4321"
    (with a carrier code), "11987654321", "5511987654321" and landlines; a
    mobile without its ninth digit ("5511 8765-4321") gets it.
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
    if len(subscriber) == 8 and subscriber[0] in "01":
        return None
    # A landline (2-5) stays as it is; a mobile written without its ninth
    # digit (WhatsApp's older ids) is its 13-digit form.
    return "+" + canonical_phone(f"55{number}")
