"""The files kept under ``HANDOFF_MEDIA_DIR``, one folder per attendance:
what citizens send on WhatsApp (``handoff/whatsapp_media.py``) and what
operators and visitors attach (``handoff/domain/uploads.py``)."""

from __future__ import annotations

import os
from pathlib import Path


def keep(media_dir: Path, key: str, data: bytes) -> str:
    """Write ``data`` as ``key`` under ``media_dir`` (atomically); the key."""
    path = media_dir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    partial_path = path.with_suffix(path.suffix + ".part")
    partial_path.write_bytes(data)
    os.replace(partial_path, path)
    return key


def path_of(media_dir: Path, key: str) -> Path | None:
    """The kept file ``key`` names, if it is there (and under ``media_dir``)."""
    folder = media_dir.resolve()
    path = (folder / key).resolve()
    return path if folder in path.parents and path.is_file() else None


def discard(media_dir: Path, key: str) -> None:
    """Remove a kept file nothing refers to (an upload refused or repeated)."""
    path = path_of(media_dir, key)
    if path is not None:
        path.unlink(missing_ok=True)
