"""Who a WhatsApp citizen is, as one key (dependency-free: Rasa's channel
and the handoff service both use it).

Brazil added a ninth digit, always 9, in front of every mobile number
(completed in 2016), but WhatsApp accounts older than that still arrive
from Meta with the old 12-digit ``wa_id`` (55 DD XXXX-XXXX) while the same
person types or registers the 13-digit form (55 DD 9XXXX-XXXX). Both are
one citizen: the 13-digit form is the canonical one. A landline (subscriber
number starting with 2 to 5) has 8 digits and no ninth digit.

Citizens who adopted a WhatsApp username may arrive without a phone at
all, with only their business-scoped user id (BSUID, ``BR.1502576394655843``:
a two-letter country code, a period, up to 128 alphanumerics); that id is
then their key.
"""

from __future__ import annotations

import re

_OLD_BRAZILIAN_MOBILE = re.compile(r"55([1-9][1-9])([6-9][0-9]{7})")
_BSUID = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}")
_WA_ID = re.compile(r"[0-9]{6,20}")


def canonical_phone(wa_id: str) -> str:
    """A WhatsApp phone id (digits, country code first) in its canonical
    form: a Brazilian mobile without its ninth digit gets it; any other
    number is returned as it is."""
    old = _OLD_BRAZILIAN_MOBILE.fullmatch(wa_id)
    return f"55{old.group(1)}9{old.group(2)}" if old else wa_id


def is_phone_id(value: object) -> bool:
    """A ``wa_id`` as Meta sends it: digits only."""
    return isinstance(value, str) and _WA_ID.fullmatch(value) is not None


def is_user_id(value: object) -> bool:
    """A business-scoped user id (or a parent one, with ``ENT``)."""
    return isinstance(value, str) and _BSUID.fullmatch(value) is not None


def conversation_key(wa_id: object, user_id: object) -> str | None:
    """The conversation of a citizen: the canonical phone when Meta sent
    one, else the business-scoped user id; None when neither is valid."""
    if is_phone_id(wa_id):
        return canonical_phone(str(wa_id))
    if is_user_id(user_id):
        return str(user_id)
    return None
