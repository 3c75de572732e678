"""The content editors' files: check them, and load them into the running
system without a restart.

    python -m handoff content check  [--project DIR]
    python -m handoff content reload [--project DIR]

``check`` reads every knowledge-base file, ready reply, WhatsApp template,
the closing subjects, the opening hours and the holidays (errors name the
file and line) and runs ``rasa data validate`` on the responses and
training data. ``reload`` checks, trains the Rasa model when its inputs
changed, tells the running Rasa server to load it (``PUT /model``), and
loads the knowledge base and the ready replies into the database. Nothing
changes if a check fails.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from handoff.db import Database
from handoff.domain import ready_replies, whatsapp_templates
from handoff.domain.errors import Invalid
from handoff.domain.knowledge_base import load_articles, parse_folder
from handoff.domain.room_hours import HoursFiles, parse_holidays_file, parse_hours_file
from handoff.domain.subjects import parse_subjects
from handoff.settings import PROJECT_ROOT, Settings

RASA = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
RASA_ENV = {
    **os.environ,
    "RASA_TELEMETRY_ENABLED": "false",
    "PYTHONWARNINGS": "ignore",
    # config.yml names the product's own policy (bot/transfer_policy.py),
    # found from any content folder.
    "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
}


class ContentError(Exception):
    """A content file is broken; the message says where."""


def _rasa(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RASA), *args], cwd=project, env=RASA_ENV, capture_output=True, text=True, check=False
    )


def check(project: Path) -> int:
    """Every file is readable and valid; returns how many articles there are."""
    data = project / "data"
    try:
        articles = parse_folder(data / "knowledge_base")
        ready_replies.parse_folder(data / "ready_replies")
        parse_subjects(data / "assuntos.md")
        parse_hours_file(data / "horarios.md")
        parse_holidays_file(data / "feriados.md")
        whatsapp_templates.parse_folder(data / "whatsapp_templates")
    except Invalid as error:
        raise ContentError(error.message) from error
    result = _rasa(
        project,
        "data",
        "validate",
        "--fail-on-warnings",
        "--domain",
        "domain.yml",
        "--data",
        "data",
        "--config",
        "config.yml",
    )
    if result.returncode != 0:
        lines = [ln for ln in (result.stdout + result.stderr).splitlines() if ln.strip()]
        raise ContentError("rasa data validate:\n" + "\n".join(lines[-15:]))
    return len(articles)


def _inputs_hash(project: Path) -> str:
    digest = hashlib.sha256()
    for path in [
        project / "config.yml",
        project / "domain.yml",
        *sorted((project / "data").glob("*.yml")),
    ]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def train_if_changed(project: Path) -> Path:
    """The model for the current files, trained only when they changed."""
    models = project / "models"
    model, stamp = models / "servicedesk.tar.gz", models / ".inputs"
    inputs = _inputs_hash(project)
    if model.exists() and stamp.exists() and stamp.read_text().strip() == inputs:
        return model
    result = _rasa(
        project,
        "train",
        "--quiet",
        "--fixed-model-name",
        "servicedesk",
        "--out",
        "models",
        "--config",
        "config.yml",
        "--domain",
        "domain.yml",
        "--data",
        "data",
    )
    if result.returncode != 0:
        raise ContentError("rasa train failed:\n" + (result.stdout + result.stderr)[-2000:])
    stamp.write_text(inputs)
    return model


def reload(project: Path, settings: Settings) -> str:
    """Check, train if needed, load the model into Rasa and the articles into the database."""
    articles = check(project)
    data = project / "data"
    model = train_if_changed(project)
    response = requests.put(
        f"{settings.rasa_url}/model",
        params={"token": settings.rasa_token},
        json={"model_file": str(model.resolve())},
        timeout=120,
    )
    if response.status_code != 204:
        raise ContentError(
            f"Rasa did not load the model: HTTP {response.status_code} {response.text}"
        )
    db = Database(settings.database_url)
    try:
        with db.unit_of_work() as uow:
            load_articles(uow.session, project / "data" / "knowledge_base")
            ready_replies.load_replies(uow.session, project / "data" / "ready_replies")
            hours = HoursFiles(
                data / "horarios.md", data / "feriados.md", ZoneInfo(settings.timezone)
            )
            hours.check(uow.session)  # every room the hours file names exists
    except Invalid as error:  # a reply naming a room the database does not have
        raise ContentError(error.message) from error
    finally:
        db.dispose()
    return f"Content reloaded: model {model.name}, {articles} articles."
