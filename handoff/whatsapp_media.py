"""Fetching what a citizen sent on WhatsApp (the outbox's ``fetch_media``
jobs, handoff/domain/attachments.py).

Meta's two steps, both with the access token as a Bearer header:
``GET {base}/{version}/{media-id}`` answers ``{url, mime_type, sha256,
file_size, id}`` (the URL lasts five minutes; the media id about thirty
days), then ``GET url`` gives the file. The type and size are checked
against the limits before the download, and the download stops past the
size limit whatever Meta announced.

Meta away (no connection, a time-out, HTTP 429 or 5xx, an expired token:
401) is ``outbox.Unavailable``: the file shows as unavailable and the job
tries again without limit. Meta's other 4xx (the media id unknown or
expired: error 100, 131052 media download error) settle it as unavailable
for good.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import secrets
import shutil
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp

from handoff import media_files, outbox
from handoff.db import UnitOfWork
from handoff.domain import attachments
from handoff.settings import Settings

log = logging.getLogger(__name__)
Reader = Callable[[Callable[[UnitOfWork], Any]], Awaitable[Any]]

TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10)
CHUNK = 64 * 1024
UNAVAILABLE = "Arquivo indisponível: o WhatsApp não o entregou."


class MediaUnavailable(Exception):
    """Meta did not hand the file over now; later it may."""


class MediaGone(Exception):
    """Meta says the file does not exist (any more)."""


class TooLarge(Exception):
    """The download went past the size limit."""


class WhatsAppMedia:
    def __init__(self, settings: Settings) -> None:
        self.api = f"{settings.whatsapp_api_base_url.rstrip('/')}/{settings.whatsapp_api_version}"
        self._headers = {"Authorization": f"Bearer {settings.whatsapp_access_token}"}
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session

    async def info(self, media_id: str) -> dict[str, Any]:
        """Meta's description of a media id: its URL, type, hash and size."""
        try:
            async with self._client().get(f"{self.api}/{media_id}", headers=self._headers) as reply:
                _check(reply.status, await reply.read())
                found = await reply.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as problem:
            raise MediaUnavailable(f"media {media_id}: {problem!r}") from problem
        if not isinstance(found, dict) or not isinstance(found.get("url"), str):
            raise MediaUnavailable(f"media {media_id}: no url in {found!r}")
        return found

    async def download(self, url: str, max_bytes: int) -> bytes:
        """The file at Meta's short-lived URL; TooLarge past ``max_bytes``."""
        try:
            async with self._client().get(url, headers=self._headers) as reply:
                if reply.status >= 300:
                    _check(reply.status, await reply.read())
                data = bytearray()
                async for chunk in reply.content.iter_chunked(CHUNK):
                    data.extend(chunk)
                    if len(data) > max_bytes:
                        raise TooLarge(f"over {max_bytes} bytes")
                return bytes(data)
        except (aiohttp.ClientError, asyncio.TimeoutError) as problem:
            raise MediaUnavailable(f"download: {problem!r}") from problem


def _check(status: int, body: bytes) -> None:
    if status < 300:
        return
    if status in (401, 429) or status >= 500:
        raise MediaUnavailable(f"HTTP {status}: {body[:300]!r}")
    raise MediaGone(f"HTTP {status}: {body[:300]!r}")


def _size(value: Any) -> int:
    """Meta's ``file_size`` (a number, or a number as text)."""
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _keep(media_dir: Path, found: attachments.ToFetch, data: bytes, mime_type: str) -> str:
    """Write the file (atomically) and return its key under ``media_dir``."""
    extension = mimetypes.guess_extension(mime_type.split(";")[0].strip()) or ".bin"
    key = f"{found.attendance_id}/{found.message_id}-{secrets.token_hex(8)}{extension}"
    return media_files.keep(media_dir, key, data)


async def fetch(
    media: WhatsAppMedia, settings: Settings, read: Reader, job: dict[str, Any]
) -> outbox.Then | None:
    """The ``fetch_media`` job: fetch, check, keep; what it learnt is
    recorded in the transaction that settles the job."""
    found = await read(lambda uow: attachments.to_fetch(uow.session, job.get("message_id")))
    if found is None:
        return None
    failed = partial(_failed, found.message_id, UNAVAILABLE)
    try:
        info = await media.info(found.media_id)
        mime_type = str(info.get("mime_type") or "application/octet-stream")
        size = _size(info.get("file_size"))
        reason = attachments.refusal(
            mime_type, size, settings.media_types, settings.media_max_bytes
        )
        if reason is None:
            data = await media.download(info["url"], settings.media_max_bytes)
    except MediaUnavailable as error:
        log.warning("media of message %s not fetched yet: %s", found.message_id, error)
        raise outbox.Unavailable(str(error), then=failed) from error
    except MediaGone as error:
        log.warning("media of message %s is gone: %s", found.message_id, error)
        return failed
    except TooLarge:
        size = settings.media_max_bytes + 1
        reason = attachments.refusal(
            mime_type, size, settings.media_types, settings.media_max_bytes
        )
    if reason is not None:
        return partial(_refused, found.message_id, reason, mime_type, size)
    key = await asyncio.to_thread(_keep, settings.media_dir, found, data, mime_type)
    sha256 = info.get("sha256") if isinstance(info.get("sha256"), str) else None
    return partial(_stored, found.message_id, key, mime_type, len(data), sha256)


async def delete_files(media_dir: Path, job: dict[str, Any]) -> outbox.Then | None:
    """The ``delete_media`` job: the files kept for attendances whose
    personal data was erased (``attachments.delete_files_of``)."""
    for attendance_id in job.get("attendance_ids") or []:
        if isinstance(attendance_id, int) and not isinstance(attendance_id, bool):
            await asyncio.to_thread(shutil.rmtree, media_dir / str(attendance_id), True)
    return None


def _failed(message_id: int, reason: str, uow: UnitOfWork) -> None:
    attachments.record_failed(uow, message_id, reason)


def _refused(message_id: int, reason: str, mime_type: str, size: int, uow: UnitOfWork) -> None:
    attachments.record_refused(uow, message_id, reason, mime_type, size)


def _stored(
    message_id: int, key: str, mime_type: str, size: int, sha256: str | None, uow: UnitOfWork
) -> None:
    attachments.record_stored(uow, message_id, key, mime_type, size, sha256)
