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
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff.db import UnitOfWork
from handoff.domain import audiences
from handoff.domain.access import is_row_id, own_attendance
from handoff.domain.audit import audit
from handoff.domain.brazil import search_key
from handoff.domain.errors import Conflict, NotFound
from handoff.domain.front_matter import parse_each, read_front_matter
from handoff.models import ACTIVE, KbArticle, Operator, Registration, utcnow


@dataclass(frozen=True)
class ArticleFile:
    key: str
    title: str
    category: str
    body: str


def parse_article(path: Path) -> ArticleFile:
    """Read one article file; an error names the file and the line."""
    header, body = read_front_matter(path, ("title", "category"))
    return ArticleFile(path.stem, header["title"], header["category"], body)


def parse_folder(folder: Path) -> list[ArticleFile]:
    """Every article of the folder, or Invalid listing every broken file."""
    return parse_each(folder, parse_article)


def load_articles(session: Session, folder: Path) -> int:
    """Upsert every article file of ``folder``; returns how many changed.

    All files are checked first: one broken file changes nothing.
    """
    changed = 0
    for article in parse_folder(folder):
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


def article_view(article: KbArticle, registered: bool = False) -> dict[str, Any]:
    return {
        "id": article.id,
        "key": article.key,
        "title": article.title,
        "category": article.category,
        "body": article.body,
        "registered": registered,
    }


def list_articles(
    session: Session, category: Any = None, text: Any = None, attendance_id: int | None = None
) -> dict[str, Any]:
    """All articles (O9), by category then title, optionally filtered.

    ``text`` matches title or body ignoring case and accents. With an
    attendance, each article says whether it was registered in it.
    """
    registered: set[int] = set()
    if attendance_id is not None:
        registered = set(
            session.scalars(
                select(Registration.article_id).where(Registration.attendance_id == attendance_id)
            )
        )
    articles = session.scalars(select(KbArticle).order_by(KbArticle.category, KbArticle.title))
    key = search_key(text) if isinstance(text, str) and text.strip() else None
    all_articles = list(articles)
    chosen = [
        a
        for a in all_articles
        if (not category or a.category == category)
        and (key is None or key in search_key(a.title) or key in search_key(a.body))
    ]
    return {
        "categories": sorted({a.category for a in all_articles}),
        "articles": [article_view(a, a.id in registered) for a in chosen],
    }


def register_information(
    uow: UnitOfWork, operator: Operator, attendance_id: Any, article_id: Any
) -> tuple[Registration, bool]:
    """REGISTRAR (O10): this article was given in this attendance. Idempotent."""
    attendance = own_attendance(uow.session, operator, attendance_id)
    if attendance.status != ACTIVE:
        raise Conflict("Este atendimento já foi encerrado.")
    article = uow.session.get(KbArticle, article_id) if is_row_id(article_id) else None
    if article is None:
        raise NotFound("Informação não encontrada na base de conhecimento.")
    existing = uow.session.scalar(
        select(Registration).where(
            Registration.attendance_id == attendance.id, Registration.article_id == article.id
        )
    )
    if existing is not None:
        return existing, False
    registration = Registration(
        attendance_id=attendance.id, article_id=article.id, operator_id=operator.id
    )
    uow.session.add(registration)
    uow.session.flush()
    audit(
        uow.session,
        "registered",
        operator_id=operator.id,
        attendance_id=attendance.id,
        article_id=article.id,
    )
    uow.notify(
        audiences.operator(operator.id),
        "attendance:registration",
        {"attendance_id": attendance.id, "article_id": article.id, "title": article.title},
    )
    return registration, True
