"""Demo data for a first run: one room, one operator, the knowledge base;
and the demo page of an organisation's site with the widget."""

from __future__ import annotations

import html
import os
import string

from sqlalchemy import select

from handoff.db import Database
from handoff.domain.knowledge_base import load_articles
from handoff.domain.operators import create_operator
from handoff.models import Operator, Room
from handoff.settings import PROJECT_ROOT, Settings

DEMO_USERNAME = "operador"
DEMO_SUPERVISOR = "supervisor"
# Development only: `make run` prints it; production creates its own operators.
DEMO_PASSWORD = os.environ.get("HANDOFF_DEMO_PASSWORD", "atendimento123")
# Served at /widget/ with this installation's addresses filled in.
DEMO_PAGE = PROJECT_ROOT / "widget" / "index.html"


def seed(db: Database, settings: Settings) -> bool:
    """Fill an empty database; returns whether it did. Always reloads the KB."""
    with db.unit_of_work() as uow:
        session = uow.session
        load_articles(session, settings.kb_dir)
        if session.scalar(select(Operator.id).limit(1)) is not None:
            return False
        room = Room(slug=settings.default_room, name="Atendimento ao cidadão")
        session.add(room)
        session.flush()
        create_operator(
            session,
            username=DEMO_USERNAME,
            name="Operador de demonstração",
            password=DEMO_PASSWORD,
            rooms=[room],
        )
        create_operator(
            session,
            username=DEMO_SUPERVISOR,
            name="Supervisora de demonstração",
            password=DEMO_PASSWORD,
            rooms=[room],
            role="supervisor",
        )
        return True


def demo_page(settings: Settings) -> str:
    """The demo page, its widget dialling the configured Rasa and its snippet
    showing the tag to paste for this installation."""
    page = string.Template(DEMO_PAGE.read_text(encoding="utf-8"))
    return page.substitute(
        widget_url=html.escape(f"{settings.base_url}/widget/widget.js"),
        rasa_url=html.escape(settings.visitor_rasa_url),
    )
