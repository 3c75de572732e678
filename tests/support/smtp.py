"""A real SMTP server for the tests (aiosmtpd), keeping what it received."""

from __future__ import annotations

import email
import email.policy
import threading
from email.message import EmailMessage
from typing import Any


class Inbox:
    """What a real SMTP server (aiosmtpd's ``Controller(Inbox(), ...)``) received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(
                email.message_from_bytes(envelope.content, policy=email.policy.default)
            )
        return "250 OK"

    def attachments(self, message: EmailMessage) -> dict[str, bytes]:
        """A message's attached files by name."""
        return {
            str(part.get_filename()): part.get_payload(decode=True)
            for part in message.iter_attachments()
        }
