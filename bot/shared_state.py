"""Where Rasa's processes keep what they must share.

One Rasa process keeps its locks, the message ids it has seen and the
widget's sockets in its own memory. Several processes (behind the front
door of docs/deploy.md) share them in Redis: set ``RASA_REDIS_URL``
(e.g. ``redis://127.0.0.1:6379/2``) for every Rasa process and

- Rasa's lock of a conversation is Rasa's ``RedisLockStore``
  (``bot.lock_store``);
- the message ids of ``bot.once`` and its lock per conversation live in
  Redis, so a copy that reaches another process is still handled once;
- the widget's socket.io server uses python-socketio's ``AsyncRedisManager``,
  so a reply sent by any process reaches the visitor's socket, wherever it
  is connected;
- the widget's count of new conversations per address is kept in Redis.
"""

from __future__ import annotations

import os
from typing import Optional

import redis.asyncio

_client: Optional[redis.asyncio.Redis] = None


def redis_url() -> Optional[str]:
    """``RASA_REDIS_URL``, or None for one process keeping all in memory."""
    return os.environ.get("RASA_REDIS_URL") or None


def shared_redis() -> Optional[redis.asyncio.Redis]:
    """One asyncio Redis client per process, when ``RASA_REDIS_URL`` is set."""
    global _client
    url = redis_url()
    if url and _client is None:
        _client = redis.asyncio.Redis.from_url(url)
    return _client if url else None
