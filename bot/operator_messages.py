"""Operator messages into Rasa, once each, however often they are sent.

The handoff service delivers each operator message at least once: after a
time-out it cannot know whether Rasa took the message, so it sends it again.
Rasa's ``POST /conversations/{id}/tracker/events`` would append it twice.
This route appends the ``bot`` event only if the conversation's tracker has
no event with the same ``handoff_message_id``, under the conversation's lock,
stores the tracker, and only then sends it on the customer's latest channel
(a message that is in the tracker reaches the widget on its next history
reload even if the process dies before the push).

A message in the tracker that did not go out on the channel (Meta's Graph
API refused it after its own retries) is sent again on the next request
for it, without a second ``bot`` event; one that went out is not sent
again while this process lives (after a restart of Rasa a repeated request
sends it again: at least once on the channel, once in the tracker). A
channel that refuses answers 502 with ``error.code`` ``channel_refused``,
which the handoff service shows the operator as failed. A channel that
cannot know whether the message went out (``DeliveryUnknown``: Meta may
have taken it and did not answer in time) answers 202 ``{"delivered":
"unknown"}``: the handoff service shows it unconfirmed and the channel's
status report settles it.

An operator's file comes as ``attachment {kind: image|document, mime_type,
file_name, size}`` beside the text (its caption, which may be empty); it is
kept in the ``bot`` event's metadata and passed to the channel as the
``attachment`` keyword of ``send_text_message``; the channel fetches the
file from the handoff service by the message's id.

``POST /webhooks/operator_messages/typing`` ``{conversation_id}`` passes the
operator's typing to the widget's sockets of the conversation.

Registered in ``credentials.yml`` as an input channel (it needs Rasa's
agent); ``POST /webhooks/operator_messages/deliver`` with the service token.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import (
    CollectingOutputChannel,
    OutputChannel,
    UserMessage,
)
from rasa.shared.core.events import BotUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.service_channel import ServiceInput, is_plain_id, json_object, refuse
from bot.tracker_queries import (
    conversation_exists,
    has_operator_message,
    innermost,
    latest_input_channel,
)
from bot.tracker_store import LeanSQLTrackerStore
from textrules import clean_text

logger = logging.getLogger(__name__)
# The metadata keys of the service's messages: an operator's, a notice.
MESSAGE_KEY, NOTICE_KEY = "handoff_message_id", "handoff_notice"
# The metadata key of a message that goes as a WhatsApp template.
TEMPLATE_KEY = "whatsapp_template"
# The widget's event for "the operator is typing" (widget/frame.js).
OPERATOR_TYPING = "operator_typing"
# How many (conversation, message) pairs known to have gone out are kept.
REMEMBERED_SENDS = 10_000


class DeliveryUnknown(Exception):
    """A channel's answer when a message may or may not have gone out."""


class ChannelBusy(Exception):
    """A channel's answer when its provider asks to slow down (WhatsApp's
    throughput and pair rate limits): not sent, to be sent in
    ``retry_after`` seconds, not failed."""

    retry_after: float = 1.0


async def _append_once(
    agent: Any, conversation_id: str, message_id: int, event: BotUttered, key: str = MESSAGE_KEY
) -> Optional[str]:
    """Append ``event`` unless the conversation has it; the channel the
    customer last wrote on. On this project's SQL store (``bot/tracker_store.py``)
    that is three indexed queries and one insert, whatever the conversation's
    length; another store rebuilds the tracker as Rasa does."""
    store = agent.tracker_store
    lean = innermost(store)
    if isinstance(lean, LeanSQLTrackerStore) and await conversation_exists(store, conversation_id):
        if not await has_operator_message(store, conversation_id, message_id, key):
            await lean.append(conversation_id, event)
        return await latest_input_channel(store, conversation_id)
    tracker = await agent.processor.fetch_tracker_with_initial_session(conversation_id)
    if not await has_operator_message(store, conversation_id, message_id, key):
        tracker.update(event, agent.domain)
        await store.save(tracker)
    return tracker.get_latest_input_channel()


# Longest operator name shown to the customer (the handoff service's limit).
MAX_OPERATOR_NAME = 120


def _operator_metadata(body: dict[str, Any], message_id: int) -> dict[str, Any]:
    """The ``bot`` event's metadata: the message's id and, when the service
    sends one, the name the customer is shown (cleaned and bounded), its
    file's description (``attachment``) and the WhatsApp template the
    message goes as."""
    metadata: dict[str, Any] = {"handoff_message_id": message_id}
    name = body.get("operator_name")
    if isinstance(name, str) and clean_text(name).strip():
        metadata["operator_name"] = clean_text(name).strip()[:MAX_OPERATOR_NAME]
    template = _template(body.get("whatsapp_template"))
    if template is not None:
        metadata[TEMPLATE_KEY] = template
    attachment = _attachment(body.get("attachment"))
    if attachment is not None:
        metadata["attachment"] = attachment
    return metadata


def _template(value: Any) -> Optional[dict[str, Any]]:
    """A WhatsApp template as the handoff service sends it ({name,
    language, parameters: [text]}), cleaned; None for anything else."""
    if not isinstance(value, dict):
        return None
    name, language, parameters = value.get("name"), value.get("language"), value.get("parameters")
    if not (is_plain_id(name) and is_plain_id(language) and isinstance(parameters, list)):
        return None
    if not all(isinstance(p, str) for p in parameters):
        return None
    return {"name": name, "language": language, "parameters": [clean_text(p) for p in parameters]}


# The files an operator sends (the handoff service's uploads).
FILE_KINDS = ("image", "document")


def _attachment(value: Any) -> Optional[dict[str, Any]]:
    """An operator message's file as the service describes it: its kind,
    type, name and size (the channel fetches it by the message's id)."""
    if not isinstance(value, dict) or value.get("kind") not in FILE_KINDS:
        return None
    name, mime_type, size = value.get("file_name"), value.get("mime_type"), value.get("size")
    return {
        "kind": value["kind"],
        "mime_type": mime_type if isinstance(mime_type, str) else "application/octet-stream",
        "file_name": clean_text(name)[:255] if isinstance(name, str) else None,
        "size": size if isinstance(size, int) and not isinstance(size, bool) else None,
    }


async def _send(output: OutputChannel, conversation_id: str, event: BotUttered) -> None:
    """Send an operator message (its text, or a file with an optional
    caption) as ``send_text_message`` with its metadata as keywords."""
    message = event.message()
    text = message.pop("text", None) or ""
    await output.send_text_message(conversation_id, text, **message)


def _widget_server(request: Request) -> Any:
    """The widget channel's socket.io server (``bot/socketio_channel.py``), if running."""
    for input_channel in getattr(request.app.ctx, "input_channels", None) or []:
        if input_channel.name() == "socketio" and getattr(input_channel, "sio", None):
            return input_channel.sio
    return None


def _output_of(request: Request, channel: Optional[str]) -> OutputChannel:
    """The output of the channel the customer last wrote on (as Rasa's
    ``output_channel=latest``)."""
    for input_channel in getattr(request.app.ctx, "input_channels", None) or []:
        if input_channel.name() == channel:
            output = input_channel.get_output_channel()
            if output is not None:
                return output
    return CollectingOutputChannel()


class OperatorMessagesInput(ServiceInput):
    """Register as ``bot.operator_messages.OperatorMessagesInput`` with ``token``."""

    @classmethod
    def name(cls) -> str:
        return "operator_messages"

    def __init__(self, token: str) -> None:
        super().__init__(token)
        # Messages that went out on the channel (bounded, oldest dropped).
        self._sent: OrderedDict[tuple[str, int], None] = OrderedDict()

    def _remember_sent(self, conversation_id: str, message_id: int) -> None:
        self._sent[(conversation_id, message_id)] = None
        while len(self._sent) > REMEMBERED_SENDS:
            self._sent.popitem(last=False)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = Blueprint("operator_messages", __name__)

        @blueprint.route("/deliver", methods=["POST"])
        async def deliver(request: Request) -> HTTPResponse:
            refused = self.refusal(request)
            if refused is not None:
                return refused
            body = json_object(request.body) or {}
            conversation_id, text = body.get("conversation_id"), body.get("text")
            message_id = body.get("handoff_message_id")
            if not (
                is_plain_id(conversation_id)
                and isinstance(text, str)
                and isinstance(message_id, int)
            ):
                return refuse(
                    400, "invalid", "conversation_id, text and handoff_message_id are required"
                )
            text = clean_text(text)
            if not text and _attachment(body.get("attachment")) is None:
                return refuse(400, "invalid", "text or attachment is required")
            agent = request.app.ctx.agent
            async with agent.lock_store.lock(conversation_id):
                if (conversation_id, message_id) in self._sent:
                    return response.json({"delivered": False, "already_there": True})
                event = BotUttered(text or None, metadata=_operator_metadata(body, message_id))
                channel = await _append_once(agent, conversation_id, message_id, event)
                output = _output_of(request, channel)
                try:
                    await _send(output, conversation_id, event)
                except DeliveryUnknown as error:
                    logger.warning("operator message %s: outcome unknown: %s", message_id, error)
                    return response.json({"delivered": "unknown"}, status=202)
                except ChannelBusy as error:
                    logger.info("operator message %s paced: %s", message_id, error)
                    busy = refuse(429, "channel_busy", str(error))
                    busy.headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
                    return busy
                except Exception as error:  # noqa: BLE001 - any channel's refusal
                    logger.warning(
                        "operator message %s to %s refused by the channel: %r",
                        message_id,
                        conversation_id,
                        error,
                    )
                    reason: dict[str, Any] = {"code": "channel_refused", "message": str(error)}
                    if isinstance(getattr(error, "code", None), int):
                        reason["provider_code"] = error.code  # Meta's error code
                    return response.json({"error": reason}, status=502)
                self._remember_sent(conversation_id, message_id)
            return response.json({"delivered": True})

        @blueprint.route("/notice", methods=["POST"])
        async def notice(request: Request) -> HTTPResponse:
            """A notice of the service (the queue position): a bot message,
            appended once by ``notice_id`` and sent as the bot's messages are
            (the WhatsApp channel queues one Meta did not take)."""
            refused = self.refusal(request)
            if refused is not None:
                return refused
            body = json_object(request.body) or {}
            conversation_id, text = body.get("conversation_id"), body.get("text")
            notice_id = body.get("notice_id")
            if not is_plain_id(conversation_id) or not isinstance(text, str):
                return refuse(400, "invalid", "conversation_id, text and notice_id are required")
            if not isinstance(notice_id, int):
                return refuse(400, "invalid", "conversation_id, text and notice_id are required")
            agent = request.app.ctx.agent
            async with agent.lock_store.lock(conversation_id):
                if await has_operator_message(
                    agent.tracker_store, conversation_id, notice_id, NOTICE_KEY
                ):
                    return response.json({"delivered": False, "already_there": True})
                event = BotUttered(clean_text(text), metadata={NOTICE_KEY: notice_id})
                channel = await _append_once(agent, conversation_id, notice_id, event, NOTICE_KEY)
                try:
                    await _output_of(request, channel).send_response(
                        conversation_id, event.message()
                    )
                except Exception as error:  # noqa: BLE001 - a notice is not sent twice
                    logger.warning("notice %s to %s: %r", notice_id, conversation_id, error)
            return response.json({"delivered": True})

        @blueprint.route("/typing", methods=["POST"])
        async def typing(request: Request) -> HTTPResponse:
            """The operator is typing (``typing``, the default) or has
            opened the conversation: the widget's sockets get
            ``operator_typing``; on WhatsApp the citizen's latest message is
            marked read and, typing, their phone shows the indicator
            (nothing is stored)."""
            refused = self.refusal(request)
            if refused is not None:
                return refused
            body = json_object(request.body) or {}
            conversation_id, typing = body.get("conversation_id"), body.get("typing") is not False
            if not is_plain_id(conversation_id):
                return refuse(400, "invalid", "conversation_id is required")
            store = request.app.ctx.agent.tracker_store
            if await latest_input_channel(store, conversation_id) == "whatsapp":
                show = getattr(_output_of(request, "whatsapp"), "mark_read", None)
                sent = bool(show is not None and await show(conversation_id, typing))
                return response.json({"sent": sent})
            sio = _widget_server(request)
            if sio is not None and typing:
                await sio.emit(OPERATOR_TYPING, {}, room=conversation_id)
            return response.json({"sent": sio is not None})

        return blueprint
