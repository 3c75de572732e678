"""CPF and CNPJ (numeric and alphanumeric, IN RFB 2.229/2024) in
handoff/domain/brazil.py: what is accepted, how it is stored and shown, and
the check digits cross-checked against validate-docbr on random documents."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from validate_docbr import CNPJ, CPF

from handoff.domain.brazil import (
    InvalidDocument,
    document_number,
    format_document,
    valid_cnpj,
    valid_cpf,
)

QUICK = settings(max_examples=300, deadline=None)
DIGITS = string.digits
CNPJ_CHARACTERS = string.digits + string.ascii_uppercase


@pytest.mark.parametrize(
    ("typed", "stored", "shown"),
    [
        ("529.982.247-25", "52998224725", "529.982.247-25"),
        ("52998224725", "52998224725", "529.982.247-25"),
        (" 529 982 247 25 ", "52998224725", "529.982.247-25"),
        ("11.222.333/0001-81", "11222333000181", "11.222.333/0001-81"),
        ("12.ABC.345/01DE-35", "12ABC34501DE35", "12.ABC.345/01DE-35"),
        ("12ABC34501DE35", "12ABC34501DE35", "12.ABC.345/01DE-35"),
        ("12.abc.345/01de-35", "12ABC34501DE35", "12.ABC.345/01DE-35"),
        # Stored as an unrelated CPF by the old digits-only rule.
        ("52.761.1MH/4E48-05", "527611MH4E4805", "52.761.1MH/4E48-05"),
    ],
)
def test_documents_are_stored_bare_and_shown_formatted(typed: str, stored: str, shown: str):
    assert document_number(typed) == stored
    assert format_document(stored) == shown


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("362.580.504-92c", "Informe um CPF (11 números) ou um CNPJ (14 caracteres)."),
        ("4616879B2651", "Informe um CPF (11 números) ou um CNPJ (14 caracteres)."),
        ("529.982.247-2A", "O CPF só tem números"),
        ("5299822472B", "O CPF só tem números"),
        ("12.ABC.345/01DE-3A", "Os dois últimos caracteres do CNPJ são números."),
        ("529.982.247-24", "CPF inválido"),
        ("11.222.333/0001-80", "CNPJ inválido"),
        ("12.ABC.345/01DE-36", "CNPJ inválido"),
        ("111.111.111-11", "CPF inválido"),
        ("529_982_247_25", "Caractere não permitido no CPF/CNPJ: “_”"),
        ("529.982.247-25;", "Caractere não permitido no CPF/CNPJ: “;”"),
        ("１２.ABC.345/01DE-35", "“１”"),  # full-width digit
        ("52998224725\u200b", "“U+200B”"),  # zero-width space
        ("12.ABÇ.345/01DE-35", "“Ç”"),
        ("ııııııııııı", "“ı”"),  # upper-cases to "I" in Python
        ("...", "Informe um CPF"),
    ],
)
def test_what_is_not_a_document_is_refused_with_the_reason(typed: str, message: str):
    with pytest.raises(InvalidDocument) as refused:
        document_number(typed)
    assert message in str(refused.value)


# Cross-check with validate-docbr: for a random base, the check digits each
# implementation accepts among all 100 pairs are the same one pair; a copy
# with one character changed is judged alike.


def bases(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), min_size=size, max_size=size)


def candidates(base: str) -> list[str]:
    return [base + f"{n:02d}" for n in range(100)]


def agree_on_every_check_pair(base: str, ours, theirs) -> str | None:
    accepted = [c for c in candidates(base) if ours(c)]
    assert accepted == [c for c in candidates(base) if theirs(c)]
    # Only a base of one repeated digit can lack a valid pair (its pair
    # repeats the digit: 111.111.111-11 is refused by both).
    assert len(accepted) == 1 or (len(accepted) == 0 and len(set(base)) == 1)
    return accepted[0] if accepted else None


def mutated(document: str, position: int, replacement: str) -> str:
    return document[:position] + replacement + document[position + 1 :]


KINDS = {
    "cpf": (DIGITS, 9, valid_cpf, CPF().validate),
    "numeric cnpj": (DIGITS, 12, valid_cnpj, CNPJ().validate),
    "alphanumeric cnpj": (CNPJ_CHARACTERS, 12, valid_cnpj, CNPJ().validate),
}


@pytest.mark.parametrize("kind", KINDS)
def test_check_digits_agree_with_validate_docbr(kind: str):
    alphabet, size, ours, theirs = KINDS[kind]

    @QUICK
    @given(bases(alphabet, size), st.data())
    def check(base: str, data: st.DataObject) -> None:
        document = agree_on_every_check_pair(base, ours, theirs)
        if document is None:
            return
        # Written as people write it, in lower case: both read the same document.
        assert theirs(format_document(document).lower())
        assert document_number(format_document(document).lower()) == document
        position = data.draw(st.integers(0, len(document) - 1))
        allowed = alphabet if position < size else DIGITS
        changed = mutated(document, position, data.draw(st.sampled_from(allowed)))
        assert ours(changed) == theirs(changed)

    check()


TYPED = set(CNPJ_CHARACTERS + string.ascii_lowercase + ".-/ ")


@QUICK
@given(
    bases(CNPJ_CHARACTERS, 12).filter(lambda b: not b.isdigit()),
    st.characters().filter(lambda c: c not in TYPED),
    st.data(),
)
def test_an_alphanumeric_cnpj_is_read_whole_and_a_stray_character_refused(
    base: str, stray: str, data: st.DataObject
):
    """The old rule kept the digits: 3 letters out of 14 left a CPF's 11."""
    cnpj = next(c for c in candidates(base) if valid_cnpj(c))
    written = format_document(cnpj)
    assert document_number(written) == cnpj
    position = data.draw(st.integers(0, len(written)))
    with pytest.raises(InvalidDocument, match="Caractere não permitido"):
        document_number(written[:position] + stray + written[position:])
