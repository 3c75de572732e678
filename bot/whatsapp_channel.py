"""WhatsApp Cloud API channel for Rasa (Z1-Z3).

Register in credentials.yml as ``bot.whatsapp_channel.WhatsAppInput``; Meta
calls ``/webhooks/whatsapp/webhook``.

- GET answers Meta's verification (``hub.verify_token`` -> ``hub.challenge``).
- POST is accepted only with a valid ``X-Hub-Signature-256`` (HMAC-SHA256 of
  the raw body with the app secret, compared in constant time); a missing
  or wrong signature, or a body already accepted (a replay, remembered 24
  hours), gets 401 and nothing is written. Bodies over 3 MB get 413,
  bodies that are not a JSON object 400.
- Each message is handed to Rasa once (``bot.once``): Meta's re-deliveries
  are recognised by message id (``wamid``), also after a restart of Rasa
  (looked up in the tracker); it is Rasa's message id too, so the handoff
  service stores it once.
- Text, interactive replies (buttons, lists) and template buttons become
  user messages; media the bot cannot read gets a polite answer; unknown
  message types are logged and skipped.
- Delivery statuses and the ids of sent operator messages are reported to
  the handoff service, which shows them to the operator.
- Replies go out through the Graph API at a configurable base URL, retried
  with back-off (0.5, 1, 2 s) on network errors, time-outs (3 s), 429 and
  5xx, all within 8 s; then the send fails and the operator sees it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Dict, List, Optional

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.once import OncePerConversation

logger = logging.getLogger(__name__)

UNSUPPORTED_MEDIA_REPLY = (
    "Desculpe, ainda não consigo abrir imagens, áudios ou arquivos por aqui. "
    "Por favor, escreva sua mensagem em texto."
)
# Graph API error: more than 24 hours since the customer's last message.
OUTSIDE_WINDOW_CODE = 131047
RETRY_DELAYS_SECONDS = (0.5, 1.0, 2.0)
# One Graph API request waits at most this long (a hung connection is given up).
SEND_ATTEMPT_TIMEOUT_SECONDS = 3.0
# All the tries of one message end within this budget: the handoff service
# waits 10 s (HANDOFF_RASA_TIMEOUT_SECONDS) for Rasa to take an operator
# message, so it learns whether the message went out or failed, and a
# message it marks failed was never sent behind its back.
SEND_BUDGET_SECONDS = 8.0
# Meta documents webhook payloads of up to 3 MB; anything larger is not Meta's.
MAX_BODY_BYTES = 3 * 1024 * 1024
# A signed body already accepted is a replay for this long (Meta re-delivers
# only deliveries we did not accept, for up to 7 days, and a replay of an
# older body still writes nothing: its wamids are already in the tracker).
REPLAY_WINDOW_SECONDS = 24 * 3600
REMEMBERED_BODIES = 100_000
# Media the bot cannot read: the customer gets UNSUPPORTED_MEDIA_REPLY.
MEDIA_TYPES = {"image", "audio", "video", "document", "sticker", "voice", "location", "contacts"}


class WhatsAppSendError(Exception):
    """The Graph API refused a message; ``code`` is Meta's error code."""

    def __init__(self, message: str, code: Optional[int] = None) -> None:
        super().__init__(message)
        self.code = code


def signature_is_valid(app_secret: str, body: bytes, header: Optional[str]) -> bool:
    expected = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return bool(header) and hmac.compare_digest(header.encode(), expected.encode())


def message_text(message: Dict[str, Any]) -> Optional[str]:
    """What the customer said, or None for content the bot cannot read."""
    kind = message.get("type")
    if kind == "text":
        return (message.get("text") or {}).get("body")
    if kind == "interactive":
        interactive = message.get("interactive") or {}
        reply = interactive.get(interactive.get("type", ""), {})
        return reply.get("title") or reply.get("id")
    if kind == "button":
        button = message.get("button") or {}
        return button.get("text") or button.get("payload")
    return None


class GraphClient:
    """Sends messages with the Graph API: ``POST {base}/{phone_number_id}/messages``."""

    def __init__(self, base_url: str, phone_number_id: str, access_token: str) -> None:
        self.url = f"{base_url.rstrip('/')}/{phone_number_id}/messages"
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._session: Optional[aiohttp.ClientSession] = None

    async def send_text(self, to: str, text: str) -> str:
        """Send a text; returns its wamid. Raises WhatsAppSendError."""
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": {"preview_url": False, "body": text},
        }
        if self._session is None:
            self._session = aiohttp.ClientSession()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SEND_BUDGET_SECONDS
        last_error = "no attempt"
        for delay in (0.0, *RETRY_DELAYS_SECONDS):
            if loop.time() + delay >= deadline:
                break
            await asyncio.sleep(delay)
            timeout = min(SEND_ATTEMPT_TIMEOUT_SECONDS, deadline - loop.time())
            try:
                async with self._session.post(
                    self.url,
                    json=payload,
                    headers=self._headers,
                    timeout=aiohttp.ClientTimeout(total=timeout),
                ) as reply:
                    body = await reply.json(content_type=None)
                    if reply.status < 300:
                        return body["messages"][0]["id"]
                    error = (body or {}).get("error") or {}
                    last_error = f"HTTP {reply.status}: {error.get('message', body)}"
                    if reply.status != 429 and reply.status < 500:
                        raise WhatsAppSendError(last_error, error.get("code"))
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as problem:
                last_error = repr(problem)
            logger.warning("whatsapp: sending to %s failed (%s)", to, last_error)
        logger.error("whatsapp: giving up on a message to %s: %s", to, last_error)
        raise WhatsAppSendError(last_error)


class HandoffReceipts:
    """Tells the handoff service which wamid an operator message got, and
    what Meta says about its delivery afterwards."""

    def __init__(self, handoff_url: str, token: str) -> None:
        self.url = handoff_url.rstrip("/") + "/api/channel/receipts"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._session: Optional[aiohttp.ClientSession] = None
        self._tasks: set = set()

    def report(self, receipts: List[Dict[str, Any]]) -> None:
        task = asyncio.ensure_future(self._post(receipts))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, receipts: List[Dict[str, Any]]) -> None:
        for delay in (0.0, *RETRY_DELAYS_SECONDS):
            await asyncio.sleep(delay)
            if self._session is None:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
            try:
                async with self._session.post(
                    self.url, json=receipts, headers=self._headers
                ) as reply:
                    if reply.status < 300:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
        logger.error(
            "whatsapp: could not report %d receipt(s) to the handoff service", len(receipts)
        )


class WhatsAppOutput(OutputChannel):
    def __init__(self, graph: GraphClient, receipts: HandoffReceipts) -> None:
        self.graph = graph
        self.receipts = receipts

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        wamid = await self.graph.send_text(recipient_id, text)
        handoff_message_id = kwargs.get("handoff_message_id")
        if handoff_message_id is not None:
            self.receipts.report(
                [{"handoff_message_id": handoff_message_id, "channel_message_id": wamid}]
            )


class AcceptedBodies:
    """Digests of the signed bodies accepted lately: the same body again is a
    replay (Meta's signature carries no time, so the body is all there is)."""

    def __init__(self) -> None:
        self._at: OrderedDict[str, float] = OrderedDict()

    def claim(self, body: bytes) -> Optional[str]:
        """The body's digest if it is new (now claimed), None for a replay."""
        now = time.monotonic()
        while self._at and (
            next(iter(self._at.values())) < now - REPLAY_WINDOW_SECONDS
            or len(self._at) > REMEMBERED_BODIES
        ):
            self._at.popitem(last=False)
        digest = hashlib.sha256(body).hexdigest()
        if digest in self._at:
            return None
        self._at[digest] = now
        return digest

    def release(self, digest: str) -> None:
        """Processing failed: Meta's retry of this body must get through."""
        self._at.pop(digest, None)


def _refuse(status: int, code: str, message: str) -> HTTPResponse:
    return response.json({"error": {"code": code, "message": message}}, status=status)


class WhatsAppInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        credentials = credentials or {}
        missing = [
            key
            for key in (
                "verify_token",
                "app_secret",
                "access_token",
                "phone_number_id",
                "api_base_url",
                "handoff_url",
                "handoff_token",
            )
            if not credentials.get(key)
        ]
        if missing:
            raise ValueError(f"whatsapp channel: missing credentials {', '.join(missing)}")
        return cls(**{key: str(credentials[key]) for key in credentials})

    def __init__(
        self,
        verify_token: str,
        app_secret: str,
        access_token: str,
        phone_number_id: str,
        api_base_url: str,
        handoff_url: str,
        handoff_token: str,
    ) -> None:
        self.verify_token = verify_token
        self.app_secret = app_secret
        self.phone_number_id = phone_number_id
        self.output = WhatsAppOutput(
            GraphClient(api_base_url, phone_number_id, access_token),
            HandoffReceipts(handoff_url, handoff_token),
        )
        self.accepted = AcceptedBodies()
        self.once = OncePerConversation()

    def get_output_channel(self) -> OutputChannel:
        return self.output

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("whatsapp_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if request.args.get("hub.mode") == "subscribe" and hmac.compare_digest(
                str(request.args.get("hub.verify_token", "")), self.verify_token
            ):
                return response.text(request.args.get("hub.challenge", ""))
            return _refuse(403, "forbidden", "verification failed")

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.body or b""
            if len(body) > MAX_BODY_BYTES:
                return _refuse(413, "too_large", f"body over {MAX_BODY_BYTES} bytes")
            if not signature_is_valid(
                self.app_secret, body, request.headers.get("X-Hub-Signature-256")
            ):
                return _refuse(401, "unauthorized", "invalid signature")
            try:
                payload = json.loads(body)
            except ValueError:
                return _refuse(400, "invalid", "body is not JSON")
            if not isinstance(payload, dict):
                return _refuse(400, "invalid", "body is not a JSON object")
            digest = self.accepted.claim(body)
            if digest is None:
                logger.warning("whatsapp: replayed webhook body refused")
                return _refuse(401, "unauthorized", "replayed delivery")
            tracker_store = request.app.ctx.agent.tracker_store
            try:
                for value in _values(payload):
                    await self._handle(value, tracker_store, on_new_message)
            except BaseException:
                self.accepted.release(digest)
                raise
            return response.json({"status": "ok"})

        return webhook

    async def _handle(
        self,
        value: Dict[str, Any],
        tracker_store: Any,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        statuses = [
            {"channel_message_id": s.get("id"), "status": s.get("status")}
            for s in _dicts(value.get("statuses"))
            if isinstance(s.get("id"), str)
        ]
        if statuses:
            self.output.receipts.report(statuses)
        names = {
            c.get("wa_id"): (c.get("profile") or {}).get("name")
            for c in _dicts(value.get("contacts"))
            if isinstance(c.get("profile") or {}, dict)
        }
        for message in _dicts(value.get("messages")):
            sender, message_id, kind = message.get("from"), message.get("id"), message.get("type")
            if not isinstance(sender, str) or not isinstance(message_id, str):
                continue
            text = message_text(message)
            if text is None and kind not in MEDIA_TYPES:
                logger.warning("whatsapp: message %s of unknown type %r skipped", message_id, kind)
                continue
            metadata = {
                "name": names.get(sender),
                "whatsapp_message_id": message_id,
                # Which published number was written to: routes to a room.
                "phone_number_id": (value.get("metadata") or {}).get("phone_number_id"),
            }
            await self.once.run(
                tracker_store,
                sender,
                message_id,
                functools.partial(
                    self._deliver, sender, message_id, text, metadata, on_new_message
                ),
            )

    async def _deliver(
        self,
        sender: str,
        message_id: str,
        text: Optional[str],
        metadata: Dict[str, Any],
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        if text is None:
            await self.output.send_text_message(sender, UNSUPPORTED_MEDIA_REPLY)
            return
        await on_new_message(
            UserMessage(
                text,
                self.output,
                sender,
                input_channel=self.name(),
                message_id=message_id,
                metadata=metadata,
            )
        )


def _dicts(items: Any) -> List[Dict[str, Any]]:
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _values(payload: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The ``value`` objects of a webhook's ``messages`` changes; anything
    else in Meta's envelope is ignored."""
    return [
        change["value"]
        for entry in _dicts(payload.get("entry"))
        for change in _dicts(entry.get("changes"))
        if change.get("field") == "messages" and isinstance(change.get("value"), dict)
    ]
