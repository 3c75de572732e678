"""Content editors' Markdown files with a small header (knowledge-base
articles, ready replies)::

    ---
    title: Segunda via do IPTU
    category: Tributos
    ---
    The text...
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from handoff.domain.errors import Invalid

T = TypeVar("T")


def read_front_matter(path: Path, required: tuple[str, ...]) -> tuple[dict[str, str], str]:
    """The header's fields and the text of one file; an error names the file
    and the line. ``required`` fields and the text must not be empty."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise Invalid(f"{path.name}: o arquivo não está em UTF-8") from error
    if not lines or lines[0].strip() != "---":
        raise Invalid(f"{path.name}:1: o arquivo deve começar com uma linha '---'")
    try:
        end = 1 + [line.strip() for line in lines[1:]].index("---")
    except ValueError as error:
        raise Invalid(f"{path.name}:1: o cabeçalho aberto aqui não é fechado com '---'") from error
    header = {}
    for number, line in enumerate(lines[1:end], start=2):
        key, sep, value = line.partition(":")
        if not sep:
            raise Invalid(f"{path.name}:{number}: esperado 'campo: valor'")
        header[key.strip()] = value.strip()
    for field in required:
        if not header.get(field):
            raise Invalid(f"{path.name}:{end + 1}: o cabeçalho não tem '{field}'")
    body = "\n".join(lines[end + 1 :]).strip()
    if not body:
        raise Invalid(f"{path.name}:{end + 2}: o arquivo não tem texto")
    return header, body


def parse_each(folder: Path, parse: Callable[[Path], T]) -> list[T]:
    """``parse`` of every ``*.md`` file of the folder (none if it is missing),
    or Invalid listing every broken file."""
    parsed, errors = [], []
    for path in sorted(folder.glob("*.md")) if folder.is_dir() else []:
        try:
            parsed.append(parse(path))
        except Invalid as error:
            errors.append(error.message)
    if errors:
        raise Invalid("; ".join(errors))
    return parsed


def folder_signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times: changes when an editor saves a file."""
    if not folder.is_dir():
        return ()
    return tuple(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.md"))
    )
