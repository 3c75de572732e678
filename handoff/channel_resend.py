"""Bot messages a customer's channel could not send (the welcome, the
transfer notice, a closing message while Meta's Graph API is away): Rasa's
channel hands them over (``POST /api/channel/undelivered``); each becomes
an outbox job on the conversation's ``to_customer`` key, so it goes out in
order with what follows it (the transfer notice after the welcome, operator
messages after both), through the channel's route in Rasa
(``POST /webhooks/<channel>/resend``, service token)."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from handoff import outbox
from handoff.db import UnitOfWork
from handoff.domain.errors import Invalid
from handoff.domain.views import required_text
from handoff.rasa_client import RasaClient, RasaUnavailable
from handoff.settings import MAX_MESSAGE_LENGTH

log = logging.getLogger(__name__)

KIND = "channel_resend"
# The channels whose Rasa input channel has a ``resend`` route.
CHANNELS = ("whatsapp",)
# The most buttons a bot message keeps (WhatsApp's list: 10 rows).
MAX_BUTTONS = 10


def enqueue_undelivered(uow: UnitOfWork, data: dict[str, Any]) -> None:
    """Queue one bot message for its conversation; the same message handed
    over twice (the channel retried after a lost answer) is queued once."""
    conversation_id = required_text(data.get("conversation_id"), "conversation_id", 255)
    channel = data.get("channel")
    if channel not in CHANNELS:
        raise Invalid(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    message = data.get("message")
    if not isinstance(message, dict):
        raise Invalid("message must be an object", field="message")
    text = required_text(message.get("text"), "message.text", MAX_MESSAGE_LENGTH)
    timestamp = message.get("timestamp")
    if timestamp is not None and not isinstance(timestamp, int | float):
        raise Invalid("message.timestamp must be a number", field="message.timestamp")
    buttons = _buttons(message.get("buttons"))
    digest = hashlib.sha256(text.encode(errors="surrogatepass")).hexdigest()[:16]
    outbox.enqueue(
        uow,
        kind=KIND,
        key=outbox.to_customer(conversation_id),
        payload={
            "conversation_id": conversation_id,
            "channel": channel,
            "message": {"text": text, "timestamp": timestamp, **buttons},
        },
        dedup=f"resend:{conversation_id}:{timestamp}:{digest}" if timestamp else None,
    )


def _buttons(value: Any) -> dict[str, list[dict[str, str]]]:
    """A bot message's buttons (``[{title, payload}]``, up to
    ``MAX_BUTTONS``), kept to send again with it; none if absent."""
    if value is None:
        return {}

    def usable(button: Any) -> bool:
        fields = [button.get(k) for k in ("title", "payload")] if isinstance(button, dict) else []
        return bool(fields) and all(isinstance(f, str) and 0 < len(f) <= 256 for f in fields)

    if not isinstance(value, list) or len(value) > MAX_BUTTONS or not all(map(usable, value)):
        raise Invalid(
            f"message.buttons: up to {MAX_BUTTONS} of {{title, payload}}", field="message.buttons"
        )
    return {"buttons": [{"title": b["title"], "payload": b["payload"]} for b in value]}


async def resend(rasa: RasaClient, job: dict[str, Any]) -> None:
    """The job's handler: done once the channel is done with the message
    (sent, or refused for good); Rasa or the channel away: later."""
    try:
        outcome = await rasa.resend_on_channel(
            job["channel"], job["conversation_id"], job["message"]
        )
    except RasaUnavailable as error:
        raise outbox.Unavailable(str(error)) from error
    log.info("bot message to %s re-sent on %s: %s", job["conversation_id"], job["channel"], outcome)
