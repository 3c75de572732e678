"""Rasa extensions of the service desk: channels and the event broker."""
