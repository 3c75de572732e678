"""The closing classification (Finalizar): the organisation's list of
subjects, kept by content editors in one Markdown file, one subject a line::

    # Assuntos do encerramento
    - IPTU e taxas
    - Alvará de funcionamento

Lines that start with ``- `` are subjects, in the order shown to the
operator; every other line (titles, explanations) is ignored. No file, no
subjects: Finalizar then asks for none.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from handoff.domain.errors import Invalid

MAX_SUBJECT_LENGTH = 120
MAX_COMMENT_LENGTH = 2000


def parse_subjects(path: Path) -> list[str]:
    """The subjects of the file, in order; an error names the file and the line."""
    if not path.is_file():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise Invalid(f"{path.name}: o arquivo não está em UTF-8") from error
    subjects: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.startswith("- "):
            continue
        subject = line[2:].strip()
        if not subject:
            raise Invalid(f"{path.name}:{number}: assunto vazio")
        if len(subject) > MAX_SUBJECT_LENGTH:
            raise Invalid(f"{path.name}:{number}: assunto com mais de {MAX_SUBJECT_LENGTH} letras")
        if subject in subjects:
            raise Invalid(f"{path.name}:{number}: assunto repetido '{subject}'")
        subjects.append(subject)
    return subjects


@dataclass(frozen=True)
class Classification:
    """What the operator chose on Finalizar: a subject of the list, a comment."""

    subject: str | None
    comment: str | None


def classification(subject: str | None, comment: str | None, subjects: list[str]) -> Classification:
    """Checked against the current list; both are optional (the console
    asks for a subject whenever the list has any)."""
    if not subject:
        subject = None
    elif subject not in subjects:
        raise Invalid("Escolha um assunto da lista.", field="subject")
    comment = comment.strip() if comment else None
    if comment and len(comment) > MAX_COMMENT_LENGTH:
        raise Invalid(f"O comentário tem mais de {MAX_COMMENT_LENGTH} caracteres.", field="comment")
    return Classification(subject, comment or None)
