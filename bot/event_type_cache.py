"""Rasa 3.6 turns every stored event back into an object through
``Event.resolve_by_type``, which walks the whole ``Event`` class tree
(``all_subclasses``, with an ``inspect.isabstract`` test per class) for
every event of every tracker it loads. Measured with py-spy while 200
widgets reconnected to a restarted Rasa, that walk was 14% of Rasa's CPU.
This module keeps the type name → class map instead, rebuilt when a name
is not in it (a subclass imported later), with Rasa's own answer for names
no class has. Imported by ``bot/__init__.py``.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses

from bot.versions import require

require("rasa")

_original = Event.resolve_by_type
_classes: Dict[str, Type[Event]] = {}


def resolve_by_type(type_name: str, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    """``Event.resolve_by_type`` from a map of the known event classes."""
    found = _classes.get(type_name)
    if found is None:
        for cls in reversed(all_subclasses(Event)):  # the first match wins, as in Rasa
            _classes[cls.type_name] = cls
        found = _classes.get(type_name)
    return found if found is not None else _original(type_name, default)


Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign]
