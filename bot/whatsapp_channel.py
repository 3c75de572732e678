"""WhatsApp Cloud API channel for Rasa (Z1-Z3).

Register in credentials.yml as ``bot.whatsapp_channel.WhatsAppInput``; Meta
calls ``/webhooks/whatsapp/webhook``.

- GET answers Meta's verification (``hub.verify_token`` -> ``hub.challenge``).
- POST is accepted only with a valid ``X-Hub-Signature-256`` (HMAC-SHA256 of
  the raw body with the app secret, compared in constant time); anything
  else gets 401 and is not read.
- Each message is handed to Rasa once: Meta's retries are recognised by
  message id (``wamid``), which is also Rasa's message id, so the handoff
  service stores it once even after a restart of this process.
- Text, interactive replies (buttons, lists) and template buttons become
  user messages; media the bot cannot read gets a polite answer.
- Delivery statuses and the ids of sent operator messages are reported to
  the handoff service, which shows them to the operator.
- Replies go out through the Graph API at a configurable base URL, retried
  with back-off on network errors, 429 and 5xx.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Dict, List, Optional

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

UNSUPPORTED_MEDIA_REPLY = (
    "Desculpe, ainda não consigo abrir imagens, áudios ou arquivos por aqui. "
    "Por favor, escreva sua mensagem em texto."
)
# Graph API error: more than 24 hours since the customer's last message.
OUTSIDE_WINDOW_CODE = 131047
RETRY_DELAYS_SECONDS = (0.5, 1.0, 2.0)
REMEMBERED_MESSAGE_IDS = 10_000


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
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        last_error = "no attempt"
        for delay in (0.0, *RETRY_DELAYS_SECONDS):
            await asyncio.sleep(delay)
            try:
                async with self._session.post(
                    self.url, json=payload, headers=self._headers
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
            logger.warning("whatsapp: sending to %s failed (%s), retrying", to, last_error)
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
        self._seen: OrderedDict[str, None] = OrderedDict()

    def get_output_channel(self) -> OutputChannel:
        return self.output

    def _first_time(self, message_id: str) -> bool:
        if message_id in self._seen:
            return False
        self._seen[message_id] = None
        if len(self._seen) > REMEMBERED_MESSAGE_IDS:
            self._seen.popitem(last=False)
        return True

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
            return response.json({"error": "verification failed"}, status=403)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not signature_is_valid(
                self.app_secret, request.body, request.headers.get("X-Hub-Signature-256")
            ):
                return response.json({"error": "invalid signature"}, status=401)
            try:
                payload = json.loads(request.body)
            except ValueError:
                return response.json({"error": "body is not JSON"}, status=400)
            for value in _values(payload):
                await self._handle(value, on_new_message)
            return response.json({"status": "ok"})

        return webhook

    async def _handle(
        self, value: Dict[str, Any], on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> None:
        statuses = [
            {"channel_message_id": s.get("id"), "status": s.get("status")}
            for s in value.get("statuses") or []
            if isinstance(s, dict) and s.get("id")
        ]
        if statuses:
            self.output.receipts.report(statuses)
        names = {
            c.get("wa_id"): (c.get("profile") or {}).get("name")
            for c in value.get("contacts") or []
            if isinstance(c, dict)
        }
        for message in value.get("messages") or []:
            sender, message_id = message.get("from"), message.get("id")
            if not sender or not message_id or not self._first_time(message_id):
                continue
            text = message_text(message)
            try:
                if text is None:
                    await self.output.send_text_message(sender, UNSUPPORTED_MEDIA_REPLY)
                    continue
                await on_new_message(
                    UserMessage(
                        text,
                        self.output,
                        sender,
                        input_channel=self.name(),
                        message_id=message_id,
                        metadata={
                            "name": names.get(sender),
                            "whatsapp_message_id": message_id,
                            # Which published number was written to: routes to a room.
                            "phone_number_id": (value.get("metadata") or {}).get("phone_number_id"),
                        },
                    )
                )
            except Exception:
                self._seen.pop(message_id, None)  # let Meta's retry through
                raise


def _values(payload: Any) -> List[Dict[str, Any]]:
    """The ``value`` objects of a webhook's ``messages`` changes."""
    if not isinstance(payload, dict):
        return []
    return [
        change.get("value") or {}
        for entry in payload.get("entry") or []
        for change in entry.get("changes") or []
        if isinstance(change, dict) and change.get("field") == "messages"
    ]
