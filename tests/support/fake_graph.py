"""A local stand-in for Meta's Graph API (the only service this machine
cannot reach). It speaks the documented shapes of
``POST /{version}/{phone_number_id}/messages`` and records what it got
(texts, refused with 131047 to a recipient past the 24-hour window;
templates, checked against the ones the test approved: 132001 for one
unknown in that language, 132000 for a wrong number of parameters),
accepts the business's media uploads (``POST /{version}/{phone_number_id}/media``,
multipart, answered with a media id a message may then send),
and serves media as Meta does (``GET /{version}/{media-id}`` answers the
file's short-lived URL, type, hash and size; ``GET`` of that URL, with the
access token, the file);
once told where the webhook is (``send_statuses_to``) it also reports each
accepted message's ``sent`` status there, signed as Meta signs, with the
message's ``biz_opaque_callback_data``."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

ACCESS_TOKEN = "test-access-token"
PHONE_NUMBER_ID = "106540352242922"
# A second published number of the same business (several numbers, one desk).
SECOND_PHONE_NUMBER_ID = "106540352242923"
API_VERSION = "v25.0"  # the version the service desk is configured with by default
DISPLAY_PHONE_NUMBER = "15550783881"
MAX_CALLBACK_DATA = 512  # characters of biz_opaque_callback_data, as Meta documents
# Meta's limits of interactive messages: reply buttons (up to 3, titles of
# up to 20 characters, ids of up to 256) and lists (up to 10 rows in all,
# row titles up to 24, ids up to 200, the list's button label up to 20).
MAX_BUTTONS, BUTTON_TITLE, BUTTON_ID = 3, 20, 256
MAX_ROWS, ROW_TITLE, ROW_ID, LIST_BUTTON = 10, 24, 200, 20
MAX_BODY = 1024


def invalid(message: str, code: int = 131009) -> tuple[int, dict[str, Any]]:
    """Meta's answer to a parameter it refuses (131009: "Parameter value is
    not valid"; 100: "Invalid parameter", for one missing)."""
    return 400, {
        "error": {
            "message": f"(#{code}) {message}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": message},
        }
    }


def interactive_problem(body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """Meta's error for an interactive message beyond its documented
    limits, or None if it is valid."""
    interactive = body.get("interactive")
    if not isinstance(interactive, dict):
        return invalid("interactive is required", 100)
    text = (interactive.get("body") or {}).get("text")
    if not isinstance(text, str) or not text or len(text) > MAX_BODY:
        return invalid("body.text is required, up to 1024 characters")
    action = interactive.get("action") or {}

    def bad(options: list[Any], title_limit: int, id_limit: int) -> bool:
        titles = [o.get("title") for o in options]
        ids = [o.get("id") for o in options]
        return (
            not all(isinstance(t, str) and 0 < len(t) <= title_limit for t in titles)
            or not all(isinstance(i, str) and 0 < len(i) <= id_limit for i in ids)
            or len(set(titles)) < len(titles)
            or len(set(ids)) < len(ids)
        )

    if interactive.get("type") == "button":
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 0 < len(buttons) <= MAX_BUTTONS:
            return invalid("buttons: between 1 and 3 reply buttons")
        if bad([b.get("reply") or {} for b in buttons], BUTTON_TITLE, BUTTON_ID):
            return invalid("button title up to 20 characters, id up to 256, both unique")
        return None
    if interactive.get("type") == "list":
        label, sections = action.get("button"), action.get("sections")
        if not isinstance(label, str) or not 0 < len(label) <= LIST_BUTTON:
            return invalid("action.button is required, up to 20 characters")
        if not isinstance(sections, list) or not sections:
            return invalid("sections: at least one", 100)
        rows = [r for section in sections for r in section.get("rows") or []]
        if not 0 < len(rows) <= MAX_ROWS:
            return invalid("rows: between 1 and 10 in all")
        if bad(rows, ROW_TITLE, ROW_ID):
            return invalid("row title up to 24 characters, id up to 200, both unique")
        return None
    return invalid("interactive.type must be button or list (as used here)", 100)


def text_of(message: dict[str, Any]) -> str:
    """The words of a sent message: a text's body, an interactive's body
    text, a file's caption; a template as ``template <name>: <parameters>``."""
    kind = message.get("type")
    if kind == "template":
        template = message["template"]
        bodies = [c for c in template.get("components", []) if c.get("type") == "body"]
        values = [p["text"] for p in bodies[0]["parameters"]] if bodies else []
        return f"template {template['name']}: {' | '.join(values)}"
    if kind == "interactive":
        return str(message["interactive"]["body"]["text"])
    if kind in ("image", "document", "audio", "video"):
        return str(message[kind].get("caption", ""))
    return str(message.get("text", {}).get("body", ""))


def envelope(value: dict[str, Any], phone_number_id: str = PHONE_NUMBER_ID) -> dict[str, Any]:
    """Meta's webhook envelope around one ``messages`` change, to the
    published number ``phone_number_id``."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": DISPLAY_PHONE_NUMBER,
                                "phone_number_id": phone_number_id,
                            },
                            **value,
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


# Meta's limits for uploaded media, by the message type they may be sent as
# (Cloud API, "Supported media types"): images 5 MB, documents 100 MB.
UPLOAD_LIMITS = {"image": 5 * 1024 * 1024, "document": 100 * 1024 * 1024}
UPLOAD_TYPES = {
    "image/jpeg": "image",
    "image/png": "image",
    "application/pdf": "document",
    "text/plain": "document",
}


def _kind_of(mime_type: str) -> str | None:
    return UPLOAD_TYPES.get(mime_type)


def _multipart(content_type: str, raw: bytes) -> dict[str, tuple[bytes, str | None, str]]:
    """A multipart/form-data body's fields: name -> (content, file name, type)."""
    if not content_type.startswith("multipart/form-data"):
        return {}
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    fields: dict[str, tuple[bytes, str | None, str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            content = part.get_payload(decode=True)
            fields[name] = (content or b"", part.get_filename(), part.get_content_type())
    return fields


def _error(code: int, message: str, details: str = "") -> dict[str, Any]:
    """Meta's error object."""
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": error}


def _recipient(message: dict[str, Any]) -> Any:
    """Who a sent message is for: its phone (``to``) or its user id."""
    return message.get("to") or message.get("recipient")


class FakeGraph:
    def __init__(self) -> None:
        # What was sent: the request bodies, with the wamid given ("id") and
        # the published number it was sent from ("from_number").
        self.sent: list[dict[str, Any]] = []
        # The business's published numbers (phone_number_id).
        self.numbers = {PHONE_NUMBER_ID, SECOND_PHONE_NUMBER_ID}
        # Citizens' messages marked read: (number, wamid, with typing indicator).
        self.read_marks: list[tuple[str, str, bool]] = []
        self.failures_left = 0  # answer this many sends with HTTP 500 first
        self.hangs_left = 0  # then hold this many sends unanswered ...
        self.hang_seconds = 30.0  # ... this long (past the client's time-out)
        # Accept each message at once, answer this much later (a slow Meta).
        self.answer_after_seconds = 0.0
        self._webhook: tuple[str, str] | None = None  # (url, app secret)
        self.hold_statuses = False  # keep the statuses in ``held`` until released
        self.held: list[dict[str, Any]] = []
        # Each failed send: (monotonic time it arrived, recipient, HTTP status;
        # 0 for a hang). Successful ones are in ``sent``.
        self.attempts: list[tuple[float, str, int]] = []
        self._released = threading.Event()
        self.outside_window: set[str] = set()  # recipients past the 24-hour window
        # Approved templates: (name, language code) -> number of body parameters.
        self.templates: dict[tuple[str, str], int] = {}
        # Recipient -> monotonic time until which Meta answers 131056 (pair rate limit).
        self.pair_limited_until: dict[str, float] = {}
        self.media: dict[str, tuple[bytes, str]] = {}  # media id -> (content, MIME type)
        # The business's uploads (POST /{number}/media): {id, number, type, file_name, content}.
        self.uploads: list[dict[str, Any]] = []
        self.upload_failures_left = 0  # answer this many uploads with HTTP 500 first
        self.media_failures_left = 0  # answer this many downloads with HTTP 500 first
        self.downloads: list[tuple[str, int]] = []  # (media id, HTTP status) of each download
        self._lock = threading.Condition()
        graph = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path.rstrip("/").endswith("/media"):
                    status, answer = graph._upload(self.path, self.headers, raw)
                else:
                    status, answer = graph._answer(self.path, self.headers, json.loads(raw))
                if status == 0:
                    return  # hung: the client gave up long ago
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up on a hung request

            def do_GET(self) -> None:
                status, content_type, data = graph._get(self.path, self.headers)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        # WHATSAPP_API_BASE_URL; the version is WHATSAPP_API_VERSION's.
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"

    def _answer(self, path: str, headers: Any, body: dict) -> tuple[int, dict]:
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != API_VERSION or parts[2] != "messages":
            return 404, {"error": {"message": "Unknown path", "code": 100}}
        if parts[1] not in self.numbers:
            return 400, {"error": {"message": "(#100) Invalid phone number id", "code": 100}}
        if headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            return 401, {"error": {"message": "Invalid OAuth access token.", "code": 190}}
        if body.get("status") == "read":  # a read mark (and typing indicator)
            if not isinstance(body.get("message_id"), str):
                return 400, {"error": {"message": "(#100) message_id is required", "code": 100}}
            typing = body.get("typing_indicator") == {"type": "text"}
            with self._lock:
                self.read_marks.append((parts[1], body["message_id"], typing))
                self._lock.notify_all()
            return 200, {"success": True}
        if len(str(body.get("biz_opaque_callback_data", ""))) > MAX_CALLBACK_DATA:
            return 400, {"error": {"message": "(#100) Invalid parameter", "code": 100}}
        # A user is named by ``to`` (phone) or, for a business-scoped user id,
        # ``recipient``; ``to`` takes precedence (Meta's BSUID guide).
        to = body.get("to") or body.get("recipient")
        if not isinstance(to, str):
            return 400, {"error": {"message": "(#100) The parameter to is required.", "code": 100}}
        if body.get("type") == "interactive":
            problem = interactive_problem(body)
            if problem is not None:
                return problem
        status, answer = self._fault(to)
        if status is not None:
            return status, answer
        if body.get("type") == "template":
            refused = self._refused_template(body.get("template"))
            if refused is not None:
                return 400, refused
        elif to in self.outside_window:
            return 400, {
                "error": {
                    "message": "Re-engagement message",
                    "type": "OAuthException",
                    "code": 131047,
                    "error_data": {"details": "More than 24 hours have passed"},
                }
            }
        kind = body.get("type")
        if kind in UPLOAD_LIMITS and self._uploaded(body.get(kind)) is None:
            return 400, {"error": {"message": "(#100) Invalid parameter", "code": 100}}
        wamid = f"wamid.{uuid.uuid4().hex}"
        with self._lock:
            self.sent.append({**body, "id": wamid, "from_number": parts[1]})
            self._lock.notify_all()
        self._status({**body, "id": wamid}, "sent")
        time.sleep(self.answer_after_seconds)
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [
                {"input": to, "wa_id": to} if "to" in body else {"input": to, "user_id": to}
            ],
            "messages": [{"id": wamid}],
        }

    def _uploaded(self, media: Any) -> dict[str, Any] | None:
        """The upload a media message names by id (Meta sends only those)."""
        media_id = media.get("id") if isinstance(media, dict) else None
        return next((u for u in self.uploads if u["id"] == media_id), None)

    def _upload(self, path: str, headers: Any, raw: bytes) -> tuple[int, dict]:
        """``POST /{version}/{phone-number-id}/media`` as Meta documents it:
        multipart ``messaging_product=whatsapp``, ``type`` (the MIME type)
        and ``file``, of a supported type within its size limit; answers
        ``{"id"}``. Each upload is recorded in ``uploads``."""
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != API_VERSION or parts[1] not in self.numbers:
            return 400, {"error": {"message": "(#100) Invalid phone number id", "code": 100}}
        if headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            return 401, {"error": {"message": "Invalid OAuth access token.", "code": 190}}
        with self._lock:
            failing = self.upload_failures_left > 0
            self.upload_failures_left -= 1 if failing else 0
        if failing:
            return 500, {"error": {"message": "(#131016) Service unavailable", "code": 131016}}
        form = _multipart(headers.get("Content-Type", ""), raw)
        file = form.get("file")
        if form.get("messaging_product", (b"",))[0] != b"whatsapp" or file is None:
            return 400, {"error": {"message": "(#100) Param file is required", "code": 100}}
        mime_type = form.get("type", (b"",))[0].decode()
        content, file_name, part_type = file
        limit = UPLOAD_LIMITS.get(_kind_of(mime_type))
        if limit is None or part_type != mime_type:
            message = f"(#100) Param file must be a file of a supported type, not {mime_type}"
            return 400, {"error": {"message": message, "code": 100}}
        if len(content) > limit:
            return 400, {"error": {"message": "(#131053) Media upload error", "code": 131053}}
        media_id = str(uuid.uuid4().int % 10**16)
        with self._lock:
            self.uploads.append(
                {
                    "id": media_id,
                    "number": parts[1],
                    "type": mime_type,
                    "file_name": file_name,
                    "content": content,
                }
            )
            self._lock.notify_all()
        return 200, {"id": media_id}

    def wait_for_send(self, recipient: str, kind: str, timeout: float = 30) -> dict[str, Any]:
        """The first message of type ``kind`` sent to ``recipient``."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [m for m in self.messages_to(recipient) if m.get("type") == kind]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                assert left > 0, f"no {kind} to {recipient}; sent: {self.messages_to(recipient)}"
                self._lock.wait(left)

    def approve(self, name: str, language: str, parameters: int) -> None:
        """A template the business has approved at Meta: its name, language
        and how many body parameters it takes."""
        self.templates[(name, language)] = parameters

    def _refused_template(self, template: Any) -> dict[str, Any] | None:
        """Meta's error object for a template send it would refuse: one not
        approved in that language (132001), or a different number of body
        parameters (132000); None when it takes it."""
        if not isinstance(template, dict) or not isinstance(template.get("language"), dict):
            return _error(100, "(#100) Invalid parameter")
        key = (template.get("name"), template["language"].get("code"))
        if key not in self.templates:
            return _error(
                132001,
                "(#132001) Template name does not exist in the translation",
                f"template name ({key[0]}) does not exist in {key[1]}",
            )
        bodies = [c for c in template.get("components", []) if c.get("type") == "body"]
        given = len(bodies[0].get("parameters", [])) if bodies else 0
        if given != self.templates[key]:
            return _error(
                132000,
                "(#132000) Number of parameters does not match the expected number of params",
                f"body: number of localizable_params ({given}) does not match the expected "
                f"number of params ({self.templates[key]})",
            )
        return None

    def add_media(self, content: bytes, mime_type: str) -> str:
        """A file a citizen sent; its media id, as in Meta's webhook."""
        media_id = str(uuid.uuid4().int % 10**16)
        self.media[media_id] = (content, mime_type)
        return media_id

    def _get(self, path: str, headers: Any) -> tuple[int, str, bytes]:
        def error(status: int, message: str, code: int) -> tuple[int, str, bytes]:
            body = {"error": {"message": message, "type": "OAuthException", "code": code}}
            return status, "application/json", json.dumps(body).encode()

        if headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            return error(401, "Invalid OAuth access token.", 190)
        parts = path.split("?")[0].strip("/").split("/")
        if len(parts) == 2 and parts[0] == API_VERSION and parts[1] in self.media:
            content, mime_type = self.media[parts[1]]
            url = f"{self.base_url}/whatsapp_business/attachments/?mid={parts[1]}&ext=1"
            answer = {
                "messaging_product": "whatsapp",
                "url": url,
                "mime_type": mime_type,
                "sha256": hashlib.sha256(content).hexdigest(),
                "file_size": str(len(content)),  # Meta sends it as text
                "id": parts[1],
            }
            return 200, "application/json", json.dumps(answer).encode()
        if parts[:2] == ["whatsapp_business", "attachments"] and "mid=" in path:
            media_id = path.split("mid=")[1].split("&")[0]
            with self._lock:
                failing = self.media_failures_left > 0 and media_id in self.media
                self.media_failures_left -= 1 if failing else 0
                self.downloads.append((media_id, 500 if failing else 200))
                self._lock.notify_all()
            if failing:
                return error(500, "(#131016) Service unavailable", 131016)
            if media_id in self.media:
                content, mime_type = self.media[media_id]
                return 200, mime_type, content
        return error(404, "(#100) Unsupported get request.", 100)

    def _fault(self, recipient: str) -> tuple[int | None, dict]:
        """A 500, Meta's pair rate limit or a hang (never answered) while
        some are left; None otherwise."""
        with self._lock:
            arrived = time.monotonic()
            if self.failures_left > 0:
                self.failures_left -= 1
                self.attempts.append((arrived, recipient, 500))
                return 500, {
                    "error": {
                        "message": "(#131000) Something went wrong",
                        "type": "OAuthException",
                        "code": 131000,
                        "error_data": {
                            "details": "Message failed to send due to an unknown error."
                        },
                    }
                }
            if arrived < self.pair_limited_until.get(recipient, 0.0):
                self.attempts.append((arrived, recipient, 400))
                return 400, {
                    "error": {
                        "message": "(#131056) (Business Account, Consumer Account) "
                        "pair rate limit hit",
                        "type": "OAuthException",
                        "code": 131056,
                        "error_data": {
                            "details": "Message failed to send because there were too many "
                            "messages sent from this phone number to the same phone number "
                            "in a short period of time."
                        },
                    }
                }
            if self.hangs_left <= 0:
                return None, {}
            self.hangs_left -= 1
            self.attempts.append((arrived, recipient, 0))
        self._released.wait(self.hang_seconds)
        return 0, {}

    def send_statuses_to(self, webhook_url: str, app_secret: str) -> None:
        self._webhook = (webhook_url, app_secret)

    def status(self, message: dict[str, Any], status: str, **extra: Any) -> dict[str, Any]:
        """Meta's status object for a message it accepted (as in ``sent``)."""
        found = {
            "id": message["id"],
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": _recipient(message),
            **extra,
        }
        if "biz_opaque_callback_data" in message:
            found["biz_opaque_callback_data"] = message["biz_opaque_callback_data"]
        return found

    def _status(self, message: dict[str, Any], status: str) -> None:
        if self._webhook is None:
            return
        found = self.status(message, status)
        with self._lock:
            if self.hold_statuses:
                self.held.append(found)
                return
        # As Meta's, the webhook comes apart from the answer to the send.
        threading.Thread(target=self.post_statuses, args=([found],), daemon=True).start()

    def release_statuses(self) -> int:
        with self._lock:
            held, self.held, self.hold_statuses = self.held, [], False
        return self.post_statuses(held)

    def post_statuses(self, statuses: list[dict[str, Any]]) -> int:
        """One webhook delivery with these statuses, signed with the app
        secret; the webhook's HTTP status."""
        assert self._webhook is not None, "send_statuses_to() first"
        url, secret = self._webhook
        body = json.dumps(envelope({"statuses": statuses})).encode()
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        answer = requests.post(
            url,
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": f"sha256={signature}",
            },
            timeout=30,
        )
        return answer.status_code

    def messages_to(self, recipient: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.sent if _recipient(m) == recipient]

    def attempts_to(self, recipient: str) -> list[tuple[float, int]]:
        """When each failed send to ``recipient`` arrived, and its status (0: hung)."""
        with self._lock:
            return [(at, status) for at, to, status in self.attempts if to == recipient]

    def texts_to(self, recipient: str) -> list[str]:
        """What was sent to ``recipient``, as ``text_of`` reads each."""
        return [text_of(m) for m in self.sent if _recipient(m) == recipient]

    def wait_for_text(self, recipient: str, fragment: str, timeout: float = 20) -> dict:
        """The first message to ``recipient`` containing ``fragment``."""
        with self._lock:
            found = self._lock.wait_for(
                lambda: next(
                    (m for m in self.sent if _recipient(m) == recipient and fragment in text_of(m)),
                    None,
                ),
                timeout,
            )
        if found is None:
            raise TimeoutError(f"no '{fragment}' to {recipient}; sent: {self.texts_to(recipient)}")
        return found

    def close(self) -> None:
        self._released.set()
        self.server.shutdown()
