"""Rasa extensions of the service desk: channels and the event broker."""

from bot import schema_cache  # noqa: F401 - faster payload checks in Rasa
