"""One key per WhatsApp citizen (textrules.whatsapp_ids): the canonical
Brazilian mobile, else the business-scoped user id."""

from __future__ import annotations

import pytest

from textrules.whatsapp_ids import canonical_phone, conversation_key


@pytest.mark.parametrize(
    ("wa_id", "canonical"),
    [
        ("556198765432", "5561998765432"),  # old mobile id: the ninth digit added
        ("5561998765432", "5561998765432"),  # already canonical
        ("551187654321", "5511987654321"),
        ("556133445566", "556133445566"),  # a landline (2-5) has no ninth digit
        ("15550783881", "15550783881"),  # not Brazilian
        ("5501987654321", "5501987654321"),  # no area code 01: left alone
    ],
)
def test_canonical_phone(wa_id: str, canonical: str):
    assert canonical_phone(wa_id) == canonical


def test_conversation_key_prefers_the_phone_then_the_user_id():
    bsuid = "BR.1502576394655843"
    assert conversation_key("556198765432", bsuid) == "5561998765432"
    assert conversation_key(None, bsuid) == bsuid
    assert conversation_key(None, "BR.ENT.11815799212886844830") == "BR.ENT.11815799212886844830"
    assert conversation_key("+55 61", "not a bsuid") is None
    assert conversation_key(None, None) is None
