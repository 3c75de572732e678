"""Custom actions of the service desk bot (run by `rasa run actions`).

The action server answers only Rasa through the ``rasa_sdk_plugins``
package beside this one (rasa-sdk loads it by name from ``sys.path``); an
action server started where that package cannot be found would answer
anyone, so it refuses to start instead."""

import importlib.util

if importlib.util.find_spec("rasa_sdk_plugins") is None:
    raise RuntimeError(
        "rasa_sdk_plugins (the action server's token check) is not importable:"
        " start the action server from the repository root"
    )
