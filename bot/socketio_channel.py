"""The widget's socket.io channel: Rasa's, with the visitor protocol of
docs/architecture.md ("Visitor protocol").

- **Token, not id.** The widget keeps a secret conversation token (at least
  128 random bits). ``session_request {session_id: token}`` binds the socket
  to the conversation ``conversation_id(token)`` (SHA-256 of the token,
  first 128 bits in hex), which is Rasa's sender id, the room replies go to
  and the id operators see. Knowing a conversation id gives no way back to
  its token, so it lets nobody join, write into or read a conversation.
- **Bound socket.** ``user_uttered`` writes into the socket's bound
  conversation; a ``session_id`` in its payload is ignored.
- **At least once, stored once.** Each message carries a ``client_id``; it
  is acknowledged ``{"ok": true, "client_id"}`` only after Rasa stored it in
  the tracker, and handled once per conversation however often it is sent
  (``bot.once``). The client id is Rasa's ``message_id``.
- **Storable input, checked before the ack.** The text and every string of
  the metadata (name, e-mail, anything else) are cleaned by the shared
  rule (``textrules``: lone surrogates and non-characters become U+FFFD,
  NUL and other controls go) before Rasa sees them, so what Rasa
  acknowledges the handoff service can store. A payload that is not an
  object, a message that is not text or is empty, metadata that is not an
  object or whose name, e-mail or room is not text or too long get an error
  ack in pt-BR (``invalid``; ``too_long`` past 4096 characters), never
  silence; so do packets the server cannot read and unknown events
  (``socketguard``).
- **Standard shapes out, visitor data in the common places.** Replies are
  Rasa's own shapes; an operator's message is ``{"text", "metadata":
  {"handoff_message_id"}}``, which standard web chats (rasa-webchat) show as
  text and our widget uses to show a message it gets twice once; an
  operator's file adds ``metadata.attachment`` ``{kind, mime_type,
  file_name, size}`` (the widget fetches it from the handoff service). A
  visitor's file is uploaded to the handoff service first and the message
  names it in ``metadata.attachment.upload_id``. The
  visitor's data is read from Rasa's ``metadata_key`` (credentials.yml,
  default ``metadata``), else from ``metadata`` or rasa-webchat's
  ``customData``.
- **Origins and rate.** Only the configured sites may open the connection;
  one address may start a limited number of new conversations.

It also fixes RasaHQ/rasa#13027 (``enter_room`` not awaited, so replies
never reached the visitor) and keeps the channel's name ``socketio``
(trackers, ``output_channel=latest`` and the actions rely on it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import uuid
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Dict, List, Optional

from limits import parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer

from bot.handed_off import relaying
from bot.once import OncePerConversation
from bot.shared_state import redis_url
from bot.tracker_queries import conversation_exists
from socketguard import TolerantPacket, answer_the_rest
from textrules import clean_json, clean_text

logger = logging.getLogger(__name__)

# A conversation token: at least 128 bits, URL-safe (the widget sends 128, in hex).
TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Longest visitor message, as in the handoff service (WhatsApp's limit).
MAX_MESSAGE_LENGTH = 4096
# Conversations remembered as already started (so reconnecting is not "new"),
# per process: one another process has not met is looked up in the tracker store.
REMEMBERED_CONVERSATIONS = 10_000
# When credentials.yml names no limit (it reads WIDGET_NEW_CONVERSATIONS_PER_ADDRESS).
DEFAULT_NEW_CONVERSATIONS = "20 per 10 minutes"

RATE_LIMITED = (
    "Muitas conversas novas foram iniciadas a partir da sua rede. "
    "Tente novamente em alguns minutos."
)
# The widget asks again by itself after this answer (``retry``).
SESSION_UNAVAILABLE = "Atendimento temporariamente indisponível. Tentando novamente…"
NO_SESSION = "Conversa não iniciada. Recarregue a página."
TOO_LONG = f"Mensagem muito longa: o máximo é {MAX_MESSAGE_LENGTH} caracteres."
NOT_AN_OBJECT = "Mensagem em formato inválido."
NOT_TEXT = "A mensagem precisa ser um texto."
EMPTY = "A mensagem está vazia."
BAD_METADATA = "Dados do visitante em formato inválido."
# Where common web chats put the visitor's data when Rasa's ``metadata_key``
# is absent: Rasa's own key and rasa-webchat's.
CLIENT_METADATA_KEYS = ("metadata", "customData")
# Metadata the handoff service takes from a visitor (labels, its length limits).
METADATA_FIELDS = {"name": ("Nome", 200), "email": ("E-mail", 254), "room": ("Sala", 64)}
UNAVAILABLE = "Não foi possível registrar a mensagem agora; ela será reenviada."


def conversation_id(token: str) -> str:
    """The conversation a token opens. The handoff service's widget history
    route derives it the same way (``handoff/routes/widget.py``)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def new_token() -> str:
    return secrets.token_hex(16)


def _error(code: str, message: str) -> Dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


class VisitorOutput(SocketIOOutput):
    """Replies to the conversation's room; an operator's message goes whole,
    with its id in the message's ``metadata`` (standard clients ignore it)."""

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        handoff_message_id = kwargs.get("handoff_message_id")
        notice = kwargs.get("handoff_notice")
        if notice is not None:  # the queue position, told by the handoff service
            metadata = {"handoff_notice": notice, "timestamp": kwargs.get("timestamp")}
            await self._send_message(recipient_id, {"text": text, "metadata": metadata})
            return
        if handoff_message_id is None:
            await super().send_text_message(recipient_id, text, **kwargs)
            return
        metadata = {"handoff_message_id": handoff_message_id, "timestamp": kwargs.get("timestamp")}
        if kwargs.get("operator_name"):
            metadata["operator_name"] = kwargs["operator_name"]
        if kwargs.get("attachment"):
            # An operator's file: the widget fetches it from the handoff
            # service by the message's id, with the conversation's token.
            metadata["attachment"] = kwargs["attachment"]
        await self._send_message(recipient_id, {"text": text, "metadata": metadata})


class PersistentSocketIOInput(SocketIOInput):
    """Register as ``bot.socketio_channel.PersistentSocketIOInput``."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
            metadata_key=credentials.get("metadata_key") or "metadata",
            allowed_origins=str(credentials.get("allowed_origins") or ""),
            new_conversations_per_address=str(
                credentials.get("new_conversations_per_address") or DEFAULT_NEW_CONVERSATIONS
            ),
        )

    def __init__(
        self,
        user_message_evt: str = "user_uttered",
        bot_message_evt: str = "bot_uttered",
        socketio_path: str = "/socket.io",
        metadata_key: str = "metadata",
        allowed_origins: str = "",
        new_conversations_per_address: str = DEFAULT_NEW_CONVERSATIONS,
    ) -> None:
        super().__init__(
            user_message_evt,
            bot_message_evt,
            session_persistence=True,
            socketio_path=socketio_path,
            metadata_key=metadata_key,
        )
        self.allowed_origins: List[str] = [
            origin for origin in re.split(r"[\s,]+", allowed_origins) if origin
        ]
        self.new_conversation_limit = parse(new_conversations_per_address)
        # limits 1.x keeps only a weak reference to its storage: hold it here.
        url = redis_url()
        self._counts: Storage = storage_from_string(url) if url else MemoryStorage()
        self.limiter = MovingWindowRateLimiter(self._counts)
        self.once = OncePerConversation()
        self._started: OrderedDict[str, None] = OrderedDict()

    def get_output_channel(self) -> Optional[OutputChannel]:
        return VisitorOutput(self.sio, self.bot_message_evt) if self.sio else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        url = redis_url()
        sio = AsyncServer(
            async_mode="sanic",
            # Several Rasa processes: a reply reaches the socket wherever it is.
            client_manager=AsyncRedisManager(url, channel="rasa-widget") if url else None,
            cors_allowed_origins=self._origin_allowed,
            serializer=TolerantPacket,  # a packet it cannot read is answered (socketguard)
        )
        answer_the_rest(sio, logger)
        self.sio = sio
        webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("session_request")
        async def session_request(sid: str, data: Any = None, *_ignored: Any) -> None:
            token = data.get("session_id") if isinstance(data, dict) else None
            if not isinstance(token, str) or not TOKEN.match(token):
                token = new_token()
            conversation = conversation_id(token)
            request = sio.get_environ(sid)["sanic.request"]
            try:
                allowed = await self._may_start(request, conversation)
            except Exception:  # the tracker store (its database) is away
                logger.exception("socketio: session of %s not confirmed", conversation)
                refusal = {"code": "unavailable", "message": SESSION_UNAVAILABLE, "retry": True}
                await sio.emit("session_refused", refusal, room=sid)
                return
            if not allowed:
                refusal = {"code": "rate_limited", "message": RATE_LIMITED, "retry": False}
                await sio.emit("session_refused", refusal, room=sid)
                return
            bound = (await sio.get_session(sid)).get("conversation_id")
            if bound and bound != conversation:
                await sio.leave_room(sid, bound)
            await sio.save_session(sid, {"conversation_id": conversation})
            await sio.enter_room(sid, conversation)
            await sio.emit("session_confirm", token, room=sid)

        @sio.on(self.user_message_evt)
        async def user_uttered(sid: str, data: Any = None, *_ignored: Any) -> Dict[str, Any]:
            conversation = (await sio.get_session(sid)).get("conversation_id")
            if not conversation:
                return _error("no_session", NO_SESSION)
            if not isinstance(data, dict):
                return _error("invalid", NOT_AN_OBJECT)
            text = data.get("message")
            if not isinstance(text, str):
                return _error("invalid", NOT_TEXT)
            text = clean_text(text)
            if len(text) > MAX_MESSAGE_LENGTH:
                return _error("too_long", TOO_LONG)
            if not text.strip():
                return _error("invalid", EMPTY)
            metadata = _metadata(self._visitor_data(data))
            problem = _metadata_problem(metadata)
            if problem:
                return _error("invalid", problem)
            client_id = data.get("client_id")
            if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
                client_id = uuid.uuid4().hex
            message = UserMessage(
                text,
                VisitorOutput(sio, self.bot_message_evt),
                conversation,
                input_channel=self.name(),
                metadata=metadata,
                message_id=client_id,
            )
            agent = sio.get_environ(sid)["sanic.request"].app.ctx.agent
            handle = relaying(agent, on_new_message)
            try:
                await self.once.run(
                    agent.tracker_store, conversation, client_id, lambda: handle(message)
                )
            except Exception:
                logger.exception("socketio: message %s of %s not stored", client_id, conversation)
                return _error("unavailable", UNAVAILABLE)
            return {"ok": True, "client_id": client_id}

        return webhook

    def _visitor_data(self, data: Dict[str, Any]) -> Any:
        """The message's visitor data: under ``metadata_key``, else where the
        common clients put it."""
        for key in dict.fromkeys((self.metadata_key, *CLIENT_METADATA_KEYS)):
            if data.get(key) is not None:
                return data[key]
        return None

    def _origin_allowed(self, origin: str, environ: Dict[str, Any]) -> bool:
        """A configured site, or Rasa's own origin (it serves no page; non-browser
        clients such as websocket-client send it). A handshake without an
        ``Origin`` header is not a browser's and is not checked."""
        own = f"{environ.get('wsgi.url_scheme')}://{environ.get('HTTP_HOST')}"
        return origin in self.allowed_origins or origin == own

    async def _may_start(self, request: Request, conversation: str) -> bool:
        """Reconnecting to a conversation is always allowed; starting one
        counts against the address's limit."""
        if conversation in self._started:
            self._started.move_to_end(conversation)
            return True
        if not await conversation_exists(request.app.ctx.agent.tracker_store, conversation):
            address = request.remote_addr or request.ip
            if not self.limiter.hit(self.new_conversation_limit, address):
                logger.warning("socketio: new conversations from %s refused (rate)", address)
                return False
        self._started[conversation] = None
        if len(self._started) > REMEMBERED_CONVERSATIONS:
            self._started.popitem(last=False)
        return True


def _metadata(value: Any) -> Optional[Dict[str, Any]]:
    """The message's metadata (an object, or its JSON text), every string
    cleaned; None when it is something else (nested too deeply included)."""
    if value is None:
        return {}
    try:
        if isinstance(value, str):
            value = json.loads(value)
        return clean_json(value) if isinstance(value, dict) else None
    except (ValueError, RecursionError):  # textrules.TooDeep is a ValueError
        return None


def _metadata_problem(metadata: Optional[Dict[str, Any]]) -> Optional[str]:
    """Why the handoff service could not take this metadata, in pt-BR."""
    if metadata is None:
        return BAD_METADATA
    for key, (label, limit) in METADATA_FIELDS.items():
        value = metadata.get(key)
        if value is not None and not isinstance(value, str):
            return BAD_METADATA
        if value is not None and len(value) > limit:
            return f"{label}: use no máximo {limit} caracteres."
    return None
