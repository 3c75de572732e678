"""Rasa 3.6 checks JSON payloads with ``jsonschema.validate``, which first
validates the *schema* against its meta-schema on every call. On the
handoff path that costs tens of milliseconds of Rasa's CPU per operator
message (``rasa.server.validate_events_in_request_body``) and per custom
action result (``RemoteAction._validate_action_result``): measured with
py-spy under `make bench`, about 60% of Rasa's time. This module replaces
``jsonschema.validate`` with the same check done by a validator built once
per schema. Imported by ``bot/__init__.py``, so it is active in every Rasa
process that loads this project's channels or broker.
"""

from __future__ import annotations

import json
from typing import Any, Dict

import jsonschema
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator

from bot.versions import require

require("rasa")
require("jsonschema")

_original = jsonschema.validate
_validators: Dict[str, Validator] = {}


def validate(instance: Any, schema: Any, cls: Any = None, *args: Any, **kwargs: Any) -> None:
    """``jsonschema.validate`` with the schema checked (and compiled) once."""
    if cls is not None or args or kwargs:
        return _original(instance, schema, cls, *args, **kwargs)
    key = json.dumps(schema, sort_keys=True, default=repr)
    validator = _validators.get(key)
    if validator is None:
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
        validator = _validators[key] = validator_class(schema)
    error = best_match(validator.iter_errors(instance))
    if error is not None:
        raise error
    return None


jsonschema.validate = validate
