"""WhatsApp Cloud API channel for Rasa (Z1-Z3).

Register in credentials.yml as ``bot.whatsapp_channel.WhatsAppInput``; Meta
calls ``/webhooks/whatsapp/webhook``.

- GET answers Meta's verification (``hub.verify_token`` -> ``hub.challenge``).
- POST is accepted only with a valid ``X-Hub-Signature-256`` (HMAC-SHA256 of
  the raw body with the app secret, compared in constant time); a missing,
  wrong or non-ASCII signature gets 401 and nothing is written. Bodies over
  3 MB get 413, bodies that are not a JSON object (nested past Python's
  stack included) 400; parts of a signed object of another shape than
  Meta's are ignored.
- Meta delivers at least once: a body it re-delivers (byte for byte, when
  it did not get our 200 in time) is answered 200 like the first and has
  no further effect. Each message is handed to Rasa once (``bot.once``, by
  wamid, also after a restart of Rasa: looked up in the tracker; it is
  Rasa's message id too, so the handoff service stores it once), and the
  handoff service applies a status only if it moves a message forward.
- A citizen is one conversation: the canonical phone (a Brazilian mobile
  without its ninth digit gets it, ``textrules.whatsapp_ids``), else the
  business-scoped user id of a citizen who came with a username and no
  phone. Replies go to the address Meta last sent: ``to`` the ``wa_id`` as
  sent, else ``recipient`` the user id.
- Text, interactive replies (buttons, lists) and template buttons become
  user messages, cleaned by ``textrules.clean_text`` (as is the profile
  name). Media (photos, voice notes, video, documents, stickers, locations,
  contacts) become user messages too: the caption or a pt-BR label as
  text, and ``metadata.attachment`` saying what the handoff service fetches
  (by media id) and shows the operator (``media_message``). Unknown message
  types are logged and skipped.
- The webhook answers 200 once Rasa has stored the message, whatever the
  replies do. Replies go out through ``bot.whatsapp_graph`` (what may be
  tried again and what not). An operator message Meta did not take makes
  Rasa's route answer 502; one whose outcome is unknown 202, and it is not
  sent again for UNKNOWN_RESEND_AFTER_SECONDS. A bot message (welcome,
  transfer notice, closing) is tried once: if Meta did not take it for a
  passing reason it goes to the handoff service's outbox (``POST
  /api/channel/undelivered``), which sends it again through
  ``POST /webhooks/whatsapp/resend`` (service token) in order with the
  conversation's other messages; while some wait there, the
  conversation's next bot messages join them.
- An operator's file (``attachment``) is fetched from the handoff service
  (``GET /api/channel/files/<id>``, service token), uploaded to Meta
  (``POST /{number}/media``) and sent as an image or a document with the
  text as its caption (docs/whatsapp.md, "Files from the operator").
- Every operator message carries ``biz_opaque_callback_data``
  ``{"handoff_message_id": id}``; Meta echoes it in the message's status
  webhooks, which go to the handoff service (``POST
  /api/channel/receipts``) with the id, so a status settles a message
  whose send had no answer.
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
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handed_off import relaying
from bot.once import OncePerConversation
from bot.operator_messages import TEMPLATE_KEY, DeliveryUnknown
from bot.service_channel import (
    is_plain_id,
    json_object,
    refuse,
    same_secret,
    service_refusal,
)
from bot.tracker_queries import latest_user_metadata
from bot.whatsapp_graph import (
    RETRY_DELAYS_SECONDS,
    GraphClient,
    WhatsAppSendError,
    buttons_of,
    interactive_content,
    template_content,
    text_content,
)
from textrules import clean_text
from textrules.whatsapp_ids import conversation_key, is_phone_id, is_user_id

logger = logging.getLogger(__name__)

# Meta documents webhook payloads of up to 3 MB; anything larger is not Meta's.
MAX_BODY_BYTES = 3 * 1024 * 1024
# Files Meta hands over by media id, and what the operator reads when the
# citizen wrote no caption.
FILE_LABELS = {
    "image": "Foto",
    "video": "Vídeo",
    "audio": "Áudio",
    "document": "Documento",
    "sticker": "Figurinha",
}
# An operator message whose send had no answer is not sent again for this
# long, however often the handoff service asks (it asks again when its own
# wait for Rasa ran out); its status webhook normally settles it in
# seconds. The handoff service offers "Tentar novamente" after the same
# time (handoff/domain/conversation.py, UNKNOWN_RETRY_AFTER).
UNKNOWN_RESEND_AFTER_SECONDS = 15 * 60
REMEMBERED_UNKNOWN = 10_000
# The largest operator file fetched from the handoff service (Meta's limit
# for a document is 100 MB; the service's own is HANDOFF_UPLOAD_MAX_BYTES).
MAX_FILE_BYTES = 100 * 1024 * 1024
# Conversations whose reply address (the wa_id as Meta sent it) is remembered.
REMEMBERED_ADDRESSES = 100_000


def signature_is_valid(app_secret: str, body: bytes, header: Optional[str]) -> bool:
    expected = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return same_secret(header, expected)


def _dict(value: Any) -> Dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (a signed body
    may still hold anything where Meta puts an object)."""
    return value if isinstance(value, dict) else {}


def is_payload(value: Any) -> bool:
    """Whether an interactive reply's id is a Rasa payload the bot sent
    (``interactive_content``: "/intent" or "/intent{json}")."""
    return isinstance(value, str) and len(value) > 1 and value.startswith("/")


def _reply(message: Dict[str, Any]) -> Dict[str, Any]:
    """An interactive reply's ``{id, title}`` (button or list row)."""
    interactive = _dict(message.get("interactive"))
    kind_of_reply = interactive.get("type")
    return _dict(interactive.get(kind_of_reply) if isinstance(kind_of_reply, str) else None)


def button_title(message: Dict[str, Any]) -> Optional[str]:
    """The title of the bot's button the citizen tapped (what the operator
    reads instead of its payload), else None."""
    reply = _reply(message) if message.get("type") == "interactive" else {}
    return _name(reply.get("title")) if is_payload(reply.get("id")) else None


def message_text(message: Dict[str, Any]) -> Optional[str]:
    """What the customer said (cleaned), or None for content the bot cannot read."""
    kind = message.get("type")
    said: Any = None
    if kind == "text":
        said = _dict(message.get("text")).get("body")
    elif kind == "interactive":
        reply = _reply(message)
        # A tap on one of the bot's buttons or list rows: its id is the
        # button's Rasa payload ("/request_human"), which wins over the title.
        payload = reply.get("id")
        said = payload if is_payload(payload) else reply.get("title") or payload
    elif kind == "button":
        button = _dict(message.get("button"))
        said = button.get("text") or button.get("payload")
    return clean_text(said) if isinstance(said, str) else None


def media_message(message: Dict[str, Any]) -> Optional[Tuple[str, Dict[str, Any]]]:
    """A media message as ``(text, attachment)``: the caption (or a pt-BR
    label) and what the handoff service fetches and shows; None for any
    other type. Meta's shapes: ``image``/``video``/``audio``/``document``/
    ``sticker`` ``{id, mime_type, sha256, caption?, filename?, voice?}``,
    ``location {latitude, longitude, name?, address?}``, ``contacts [{name:
    {formatted_name}, phones: [{phone}]}]``."""
    kind = message.get("type")
    if not isinstance(kind, str):
        return None
    if kind in FILE_LABELS:
        media = _dict(message.get(kind))
        media_id = media.get("id")
        if not is_plain_id(media_id):
            return None
        voice = kind == "audio" and media.get("voice") is True
        file_name = _name(media.get("filename"))
        label = "Mensagem de voz" if voice else FILE_LABELS[kind]
        caption = _name(media.get("caption"))
        text = caption or (f"{label}: {file_name}" if file_name else label)
        return text, {
            "kind": kind,
            "voice": voice,
            "media_id": media_id,
            "mime_type": _name(media.get("mime_type")),
            "file_name": file_name,
        }
    if kind == "location":
        place = _dict(message.get("location"))
        latitude, longitude = place.get("latitude"), place.get("longitude")
        if not all(isinstance(v, (int, float)) for v in (latitude, longitude)):
            return None
        words = [w for w in (_name(place.get("name")), _name(place.get("address"))) if w]
        text = "Localização: " + (" — ".join(words) if words else f"{latitude}, {longitude}")
        return text, {"kind": kind, "latitude": latitude, "longitude": longitude}
    if kind == "contacts":
        cards = []
        for card in _dicts(message.get("contacts")):
            name = _name(_dict(card.get("name")).get("formatted_name")) or "Sem nome"
            phones = [_name(p.get("phone")) for p in _dicts(card.get("phones"))]
            cards.append(f"{name} ({', '.join(p for p in phones if p)})" if any(phones) else name)
        return ("Contato: " + "; ".join(cards), {"kind": kind}) if cards else None
    return None


def _handoff_message_id(status: Dict[str, Any]) -> Optional[int]:
    """Our id of the message a status is about, from its callback data."""
    try:
        data = json.loads(status.get("biz_opaque_callback_data") or "null")
    except (TypeError, ValueError, RecursionError):
        return None
    found = data.get("handoff_message_id") if isinstance(data, dict) else None
    return found if isinstance(found, int) and not isinstance(found, bool) else None


class HandoffClient:
    """The handoff service's routes for this channel: what Meta reports
    about operator messages, and bot messages to send again later."""

    def __init__(self, handoff_url: str, token: str) -> None:
        self.url = handoff_url.rstrip("/") + "/api/channel"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._session: Optional[aiohttp.ClientSession] = None
        self._tasks: set = set()

    def report(self, receipts: List[Dict[str, Any]]) -> None:
        task = asyncio.ensure_future(self._post("receipts", receipts))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def undelivered(self, conversation_id: str, message: Dict[str, Any]) -> bool:
        """Hand a bot message to the outbox; False if the service is away."""
        body = {"conversation_id": conversation_id, "channel": "whatsapp", "message": message}
        return await self._post("undelivered", body)

    async def file(self, message_id: int, max_bytes: int = MAX_FILE_BYTES) -> bytes:
        """An operator message's file (``GET /api/channel/files/<id>``);
        WhatsAppSendError (to be tried again) when the service does not
        hand it over."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        try:
            async with self._session.get(
                f"{self.url}/files/{message_id}", headers=self._headers
            ) as reply:
                if reply.status == 200:
                    data = await reply.content.read(max_bytes + 1)
                    if len(data) <= max_bytes:
                        return data
                raise WhatsAppSendError(f"file of {message_id}: HTTP {reply.status}", None, True)
        except (aiohttp.ClientError, asyncio.TimeoutError) as problem:
            raise WhatsAppSendError(f"file of {message_id}: {problem!r}", None, True) from problem

    async def _post(self, route: str, body: Any) -> bool:
        for delay in (0.0, *RETRY_DELAYS_SECONDS):
            await asyncio.sleep(delay)
            if self._session is None:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
            try:
                async with self._session.post(
                    f"{self.url}/{route}", json=body, headers=self._headers
                ) as reply:
                    if reply.status < 500:  # a 4xx is ours to fix, not to repeat
                        return reply.status < 300
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
        logger.error("whatsapp: the handoff service did not take %s: %s", route, body)
        return False


class WhatsAppOutput(OutputChannel):
    def __init__(self, graph: GraphClient, handoff: HandoffClient, numbers: List[str]) -> None:
        self.graph = graph
        self.handoff = handoff
        # The published numbers (phone_number_id) this deployment serves;
        # the first answers a conversation whose number is not known.
        self.numbers = numbers
        # Rasa's app, once serving: the tracker store, for the number a
        # conversation last wrote to (after a restart of Rasa).
        self.app: Any = None
        # Conversations -> the published number the citizen last wrote to.
        self._numbers: OrderedDict[str, str] = OrderedDict()
        # Conversations -> how many of their bot messages wait in the outbox.
        self._waiting: Dict[str, int] = {}
        # Operator messages whose send had no answer -> when.
        self._unknown: OrderedDict[int, float] = OrderedDict()
        # Conversations -> Meta's address of the citizen, as last written from.
        self._addresses: OrderedDict[str, Dict[str, str]] = OrderedDict()

    def remember_address(self, key: str, wa_id: Any, user_id: Any, number: str) -> None:
        """Reply as Meta knows the citizen: from the published number they
        wrote to, to the phone id exactly as Meta sent it (an old Brazilian
        id without its ninth digit stays so), else to the business-scoped
        user id (``recipient``)."""
        _remember(self._numbers, key, number)
        if is_phone_id(wa_id):
            _remember(self._addresses, key, {"to": str(wa_id)})
        elif is_user_id(user_id):
            _remember(self._addresses, key, {"recipient": str(user_id)})

    async def number(self, key: str) -> str:
        """The published number conversation ``key`` last wrote to: as
        remembered, else as its latest message in the tracker says (Rasa
        restarted since), else the first one served."""
        found = self._numbers.get(key)
        if found is None and self.app is not None:
            metadata = await latest_user_metadata(self.app.ctx.agent.tracker_store, key)
            found = metadata.get("phone_number_id")
        return found if found in self.numbers else self.numbers[0]

    def address(self, key: str) -> Dict[str, str]:
        """Where a message of conversation ``key`` goes; a key not seen since
        Rasa started is its own address (Meta resolves the canonical phone
        to the account, and a BSUID key is the user id)."""
        found = self._addresses.get(key)
        if found is not None:
            return found
        return {"recipient": key} if is_user_id(key) else {"to": key}

    async def mark_read(self, key: str, typing: bool) -> bool:
        """The operator opened the conversation or is writing: the citizen's
        latest message is marked read and, ``typing``, their phone shows
        "digitando…" (from the number they wrote to). False if there is no
        message of theirs to mark."""
        if self.app is None:
            return False
        metadata = await latest_user_metadata(self.app.ctx.agent.tracker_store, key)
        wamid = metadata.get("whatsapp_message_id")
        if not is_plain_id(wamid):
            return False
        return await self.graph.mark_read(await self.number(key), wamid, typing)

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        handoff_message_id = kwargs.get("handoff_message_id")
        if handoff_message_id is None:
            await self._send_bot_message(recipient_id, text, kwargs.get("timestamp"))
        else:
            template = kwargs.get(TEMPLATE_KEY)
            await self._send_operator_message(
                recipient_id,
                text,
                handoff_message_id,
                kwargs.get("attachment"),
                template if isinstance(template, dict) else None,
            )

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: List[Dict[str, Any]], **kwargs: Any
    ) -> None:
        """A bot message with buttons: Meta's reply buttons (up to 3) or a
        list (4 to 10); the text alone when they do not fit Meta's limits
        (logged: the content's buttons need changing)."""
        content = interactive_content(text, buttons)
        if content is None:
            logger.warning("whatsapp: buttons of %r do not fit Meta's limits: text only", text)
            await self.send_text_message(recipient_id, text, **kwargs)
            return
        await self._send_bot_message(recipient_id, text, kwargs.get("timestamp"), content)

    async def _send_operator_message(
        self,
        recipient_id: str,
        text: str,
        message_id: int,
        attachment: Optional[Dict[str, Any]],
        template: Optional[Dict[str, Any]],
    ) -> None:
        """Raises WhatsAppSendError (not sent) or DeliveryUnknown. A file
        (``attachment``) is fetched from the handoff service, uploaded to
        Meta and sent with the text as its caption; a ``template`` (outside
        the 24-hour window) goes as Meta's template message."""
        since = self._unknown.get(message_id)
        if since is not None and time.monotonic() - since < UNKNOWN_RESEND_AFTER_SECONDS:
            raise DeliveryUnknown("an earlier send of this message had no answer")
        callback = json.dumps({"handoff_message_id": message_id})
        number, address = await self.number(recipient_id), self.address(recipient_id)
        try:
            if attachment:
                file = {
                    **attachment,
                    "file_name": attachment.get("file_name") or "arquivo",
                    "data": await self.handoff.file(message_id),
                    "caption": text,
                }
                wamid = await self.graph.send_file(number, address, file, callback)
            else:
                content = template_content(template) if template else text_content(text)
                wamid = await self.graph.send(number, address, content, callback)
        except DeliveryUnknown:
            self._unknown[message_id] = time.monotonic()
            while len(self._unknown) > REMEMBERED_UNKNOWN:
                self._unknown.popitem(last=False)
            raise
        self._unknown.pop(message_id, None)
        self.handoff.report([{"handoff_message_id": message_id, "channel_message_id": wamid}])

    async def _send_bot_message(
        self,
        recipient_id: str,
        text: str,
        timestamp: Optional[float],
        content: Optional[Dict[str, Any]] = None,
    ) -> None:
        """Never raises: what Meta did not take for a passing reason goes to
        the outbox (with its buttons), after the conversation's messages
        already there."""
        if not self._waiting.get(recipient_id):
            try:
                await self._send_once(recipient_id, text, content)
                return
            except WhatsAppSendError:
                pass
        message: Dict[str, Any] = {"text": text, "timestamp": timestamp}
        if content is not None:
            message["buttons"] = buttons_of(content)
        if await self.handoff.undelivered(recipient_id, message):
            self._waiting[recipient_id] = self._waiting.get(recipient_id, 0) + 1

    async def _send_once(
        self, recipient_id: str, text: str, content: Optional[Dict[str, Any]] = None
    ) -> str:
        """One try of a bot message (``content``: interactive, else the
        text): ``sent``, ``unknown`` or ``refused`` (for good), the last two
        logged and never sent again; raises WhatsAppSendError if Meta did
        not take it for a passing reason."""
        try:
            await self.graph.send(
                await self.number(recipient_id),
                self.address(recipient_id),
                content or text_content(text),
                retry_delays=(),
            )
        except DeliveryUnknown as error:
            logger.warning("whatsapp: bot message to %s, outcome unknown: %s", recipient_id, error)
            return "unknown"
        except WhatsAppSendError as error:
            if error.retryable:
                raise
            logger.error("whatsapp: bot message to %s refused: %s", recipient_id, error)
            return "refused"
        return "sent"

    async def resend(
        self, recipient_id: str, text: str, buttons: Optional[List[Dict[str, Any]]] = None
    ) -> str:
        """The outbox's next bot message for the conversation, as
        ``_send_once``; once it is done the conversation has one less waiting."""
        content = interactive_content(text, buttons) if buttons else None
        outcome = await self._send_once(recipient_id, text, content)
        left = self._waiting.get(recipient_id, 0) - 1
        if left > 0:
            self._waiting[recipient_id] = left
        else:
            self._waiting.pop(recipient_id, None)
        return outcome

    def settled(self, handoff_message_id: int) -> None:
        """Meta reported on an operator message: it is no longer unknown."""
        self._unknown.pop(handoff_message_id, None)


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
        api_version: str = "",
    ) -> None:
        self.verify_token = verify_token
        self.app_secret = app_secret
        # One published number, or several (comma-separated phone_number_ids).
        self.numbers = [n.strip() for n in phone_number_id.split(",") if n.strip()]
        if not self.numbers:
            raise ValueError("whatsapp channel: phone_number_id names no number")
        self.handoff_token = handoff_token
        self.output = WhatsAppOutput(
            GraphClient(api_base_url, api_version, access_token),
            HandoffClient(handoff_url, handoff_token),
            self.numbers,
        )
        self.once = OncePerConversation()

    def get_output_channel(self) -> OutputChannel:
        return self.output

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("whatsapp_webhook", __name__)

        @webhook.listener("after_server_start")
        async def serving(app: Any, _loop: Any) -> None:
            self.output.app = app

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if request.args.get("hub.mode") == "subscribe" and same_secret(
                request.args.get("hub.verify_token"), self.verify_token
            ):
                return response.text(request.args.get("hub.challenge", ""))
            return refuse(403, "forbidden", "verification failed")

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.body or b""
            if len(body) > MAX_BODY_BYTES:
                return refuse(413, "too_large", f"body over {MAX_BODY_BYTES} bytes")
            if not signature_is_valid(
                self.app_secret, body, request.headers.get("X-Hub-Signature-256")
            ):
                return refuse(401, "unauthorized", "invalid signature")
            payload = json_object(body)
            if payload is None:
                return refuse(400, "invalid", "body is not a JSON object")
            agent = request.app.ctx.agent
            handle = relaying(agent, on_new_message)
            for value in _values(payload):
                await self._handle(value, agent.tracker_store, handle)
            return response.json({"status": "ok"})

        @webhook.route("/resend", methods=["POST"])
        async def resend(request: Request) -> HTTPResponse:
            """A bot message from the handoff service's outbox: 200 once it
            is done with (sent, or not to be sent again), 503 while Meta
            does not take it."""
            refused = service_refusal(request, self.handoff_token)
            if refused is not None:
                return refused
            body = json_object(request.body) or {}
            conversation_id, message = body.get("conversation_id"), body.get("message")
            text = message.get("text") if isinstance(message, dict) else None
            if not is_plain_id(conversation_id) or not isinstance(text, str) or not text:
                return refuse(400, "invalid", "conversation_id and message.text are required")
            buttons = _dicts(message.get("buttons")) if isinstance(message, dict) else []
            try:
                outcome = await self.output.resend(conversation_id, clean_text(text), buttons)
            except WhatsAppSendError as error:
                return refuse(503, "channel_unavailable", str(error))
            return response.json({"outcome": outcome})

        return webhook

    async def _handle(
        self,
        value: Dict[str, Any],
        tracker_store: Any,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
        number = _dict(value.get("metadata")).get("phone_number_id")
        if number not in self.numbers:
            # Not one of ours (a number of another deployment of the same
            # Meta app): refused, never answered from one of ours.
            logger.warning("whatsapp: change for number %r, not served here: ignored", number)
            return
        statuses = [self._receipt(s) for s in _dicts(value.get("statuses"))]
        receipts = [receipt for receipt in statuses if receipt is not None]
        if receipts:
            self.output.handoff.report(receipts)
        contacts = _dicts(value.get("contacts"))
        for message in _dicts(value.get("messages")):
            wa_id, user_id = message.get("from"), message.get("from_user_id")
            message_id, kind = message.get("id"), message.get("type")
            sender = conversation_key(wa_id, user_id)
            if sender is None or not is_plain_id(message_id):
                logger.warning("whatsapp: message %r without a sender Meta documents", message_id)
                continue
            text, attachment = message_text(message), None
            if text is None:
                text, attachment = media_message(message) or (None, None)
            if text is None:
                logger.warning("whatsapp: message %s of unknown type %r skipped", message_id, kind)
                continue
            profile = _dict(_contact_of(contacts, wa_id, user_id).get("profile"))
            metadata = {
                "name": _name(profile.get("name")),
                # Business-scoped user id and username (Meta, 2026): a citizen
                # with a username may come without a phone.
                "whatsapp_user_id": user_id if is_user_id(user_id) else None,
                "username": _name(profile.get("username")),
                "whatsapp_message_id": message_id,
                # Which published number was written to: routes to a room.
                "phone_number_id": number,
            }
            if attachment is not None:
                metadata["attachment"] = attachment
            title = button_title(message)
            if title:
                metadata["button_title"] = title
            self.output.remember_address(sender, wa_id, user_id, number)
            await self.once.run(
                tracker_store,
                sender,
                message_id,
                functools.partial(
                    self._deliver, sender, message_id, text, metadata, on_new_message
                ),
            )

    def _receipt(self, status: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """A status webhook, as the handoff service's receipt."""
        wamid = status.get("id")
        if not isinstance(wamid, str):
            return None
        receipt: Dict[str, Any] = {"channel_message_id": wamid, "status": status.get("status")}
        handoff_message_id = _handoff_message_id(status)
        if handoff_message_id is not None:
            receipt["handoff_message_id"] = handoff_message_id
            self.output.settled(handoff_message_id)
        if status.get("status") == "failed":
            logger.warning("whatsapp: message %s failed: %s", wamid, status.get("errors"))
            errors = _dicts(status.get("errors"))
            if errors and isinstance(errors[0].get("code"), int):
                receipt["error_code"] = errors[0]["code"]
        return receipt

    async def _deliver(
        self,
        sender: str,
        message_id: str,
        text: str,
        metadata: Dict[str, Any],
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> None:
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


def _contact_of(contacts: List[Dict[str, Any]], wa_id: Any, user_id: Any) -> Dict[str, Any]:
    """The ``contacts`` entry of a message's sender (by phone id or user id)."""
    for contact in contacts:
        if (wa_id is not None and contact.get("wa_id") == wa_id) or (
            user_id is not None and contact.get("user_id") == user_id
        ):
            return contact
    return {}


def _name(value: Any) -> Optional[str]:
    return clean_text(value) if isinstance(value, str) else None


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


def _remember(memory: OrderedDict[str, Any], key: str, value: Any) -> None:
    """Keep ``value`` for ``key``, forgetting the oldest past REMEMBERED_ADDRESSES."""
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > REMEMBERED_ADDRESSES:
        memory.popitem(last=False)
