"""The knowledge base (O9, O10), loaded from the content editors' files.

Each article is a Markdown file in ``data/knowledge_base/`` that starts with
a small header::

    ---
    title: Segunda via do IPTU
    category: Tributos
    ---
    Text shown to the operator...

The file name without ``.md`` is the article's stable key: loading again
updates articles in place and never deletes one (registrations point at it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff.domain.errors import Invalid
from handoff.models import KbArticle, utcnow


@dataclass(frozen=True)
class ArticleFile:
    key: str
    title: str
    category: str
    body: str


def parse_article(path: Path) -> ArticleFile:
    """Read one article file; a missing header field is an error naming the file."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---" or "---" not in [ln.strip() for ln in lines[1:]]:
        raise Invalid(f"{path.name}: must start with a '---' header block")
    end = 1 + [ln.strip() for ln in lines[1:]].index("---")
    header = {}
    for line in lines[1:end]:
        key, sep, value = line.partition(":")
        if sep:
            header[key.strip()] = value.strip()
    missing = [field for field in ("title", "category") if not header.get(field)]
    if missing:
        raise Invalid(f"{path.name}: header lacks {', '.join(missing)}")
    body = "\n".join(lines[end + 1 :]).strip()
    return ArticleFile(path.stem, header["title"], header["category"], body)


def load_articles(session: Session, folder: Path) -> int:
    """Upsert every article file of ``folder``; returns how many changed."""
    changed = 0
    for path in sorted(folder.glob("*.md")):
        article = parse_article(path)
        row = session.scalar(select(KbArticle).where(KbArticle.key == article.key))
        if row is None:
            row = KbArticle(key=article.key)
            session.add(row)
        elif (row.title, row.category, row.body) == (article.title, article.category, article.body):
            continue
        row.title, row.category, row.body = article.title, article.category, article.body
        row.updated_at = utcnow()
        changed += 1
    return changed
