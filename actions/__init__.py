"""Custom actions of the service desk bot (run by `rasa run actions`)."""
