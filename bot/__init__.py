"""Rasa extensions of the service desk: channels and the event broker."""

from bot import (
    event_type_cache,  # noqa: F401 - faster tracker loads in Rasa
    schema_cache,  # noqa: F401 - faster payload checks in Rasa
)
