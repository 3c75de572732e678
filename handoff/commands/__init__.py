"""Typed commands at the edge: the operator's commands, each parsed once
into its model and served alike by REST (``routes/attendances.py``) and
socket.io (``realtime.py``) from one table, :data:`COMMANDS`, as rasa_sdk's
``ActionExecutor`` serves HTTP and gRPC.

The models are pydantic v2 (pinned in ``requirements/handoff.txt``):
maintained, typed for ``mypy --strict`` (its models are dataclass
transforms), strict about JSON types (a bool or a float is not an id), and
its errors are structured (kind, field, limits), so each becomes the
domain's :class:`~handoff.domain.errors.Invalid` worded in pt-BR, where
msgspec only gives an English sentence to parse.
"""

from handoff.commands.parsing import ClientId, Input, parse
from handoff.commands.table import COMMANDS, Command, SendFile

__all__ = ["COMMANDS", "ClientId", "Command", "Input", "SendFile", "parse"]
