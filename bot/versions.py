"""The versions this project's patches of Rasa's internals were written for.

``bot/schema_cache.py`` and ``bot/event_type_cache.py`` replace functions
inside Rasa 3.6 and jsonschema 4; on another version the replaced function
may mean something else, so importing a patch there fails loudly, naming
the version found, instead of changing what Rasa does in silence.
"""

from __future__ import annotations

from importlib.metadata import version

WRITTEN_FOR = {"rasa": "3.6.", "jsonschema": "4."}


class UnsupportedVersion(RuntimeError):
    """An installed package is not the version a patch was written for."""


def require(package: str) -> None:
    """Refuse to go on unless ``package`` is the version in ``WRITTEN_FOR``."""
    found, expected = version(package), WRITTEN_FOR[package]
    if not found.startswith(expected):
        raise UnsupportedVersion(
            f"bot/ patches {package} {expected}x internals, but {package} {found} is installed;"
            " check the patch against that version and update bot/versions.py"
        )
