"""The satisfaction survey after a finished attendance (issue 20, item 4).

A room whose supervisor turned it on (``room.survey_enabled``) asks the
customer of each attendance it finished (not cancelled, not abandoned) for
a rating of 1 to 5 and then an optional comment, on both channels. The
question is asked with the closing flow (``closing.queue_closing``); the
answers come from the bot's actions (``POST /api/surveys/rating`` and
``/comment``, service token), named by the attendance's protocol and its
conversation. A rating is taken once, within ``ANSWER_WINDOW`` of the end;
a repeated or late answer changes nothing and says so (the bot thanks the
customer kindly either way)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff.db import UnitOfWork
from handoff.domain.errors import Invalid
from handoff.domain.views import iso
from handoff.models import FINISHED, Attendance, Room, SurveyAnswer, utcnow
from textrules import clean_text

# Answers later than this after the attendance ended are ignored.
ANSWER_WINDOW = timedelta(hours=24)
RATINGS = range(1, 6)
# A comment is kept up to this many characters (the rest is cut).
MAX_COMMENT_CHARS = 1000

# What became of an answer (the action's reply to the customer depends on it).
STORED = "stored"
ALREADY_ANSWERED = "already_answered"
CLOSED = "closed"  # not asked, too late, or the comment after its time


def ask(uow: UnitOfWork, attendance: Attendance) -> bool:
    """Whether the customer of this attendance, which just ended, is asked
    for the survey: a finished one in a room that asks. The survey row is
    written then, so an answer can only be for a survey that was asked."""
    if attendance.status != FINISHED:
        return False
    room = uow.session.get(Room, attendance.room_id)
    if room is None or not room.survey_enabled:
        return False
    if _survey(uow.session, attendance.id) is None:
        uow.session.add(SurveyAnswer(attendance_id=attendance.id))
    return True


def _survey(session: Session, attendance_id: int) -> SurveyAnswer | None:
    return session.scalar(select(SurveyAnswer).where(SurveyAnswer.attendance_id == attendance_id))


def _open_survey(session: Session, data: Any) -> SurveyAnswer | None:
    """The survey of the attendance ``data`` names (protocol and
    conversation, both required), if it was asked and is still open."""
    if not isinstance(data, dict):
        raise Invalid("survey answer must be an object")
    protocol, conversation_id = data.get("protocol"), data.get("conversation_id")
    if not isinstance(protocol, str) or not protocol:
        raise Invalid("protocol is required", field="protocol")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise Invalid("conversation_id is required", field="conversation_id")
    attendance = session.scalar(
        select(Attendance).where(
            Attendance.protocol == protocol, Attendance.conversation_id == conversation_id
        )
    )
    if attendance is None or attendance.ended_at is None:
        return None
    if utcnow() - attendance.ended_at > ANSWER_WINDOW:
        return None
    return _survey(session, attendance.id)


def record_rating(uow: UnitOfWork, data: Any) -> str:
    """Store the customer's 1-5 rating, once per attendance."""
    rating = data.get("rating") if isinstance(data, dict) else None
    if isinstance(rating, str) and rating.strip() in {str(n) for n in RATINGS}:
        rating = int(rating)  # Rasa may hand an entity's value over as text
    if isinstance(rating, bool) or not isinstance(rating, int) or rating not in RATINGS:
        raise Invalid("rating must be a whole number from 1 to 5", field="rating")
    survey = _open_survey(uow.session, data)
    if survey is None:
        return CLOSED
    if survey.rating is not None:
        return ALREADY_ANSWERED
    survey.rating, survey.rated_at = rating, utcnow()
    return STORED


def record_comment(uow: UnitOfWork, data: Any) -> str:
    """Store the comment that follows a rating (or close the survey if the
    customer skipped it, ``skip: true``); one comment, after a rating."""
    skip = isinstance(data, dict) and data.get("skip") is True
    comment = data.get("comment") if isinstance(data, dict) else None
    if not skip and not isinstance(comment, str):
        raise Invalid("comment must be text, or skip true", field="comment")
    survey = _open_survey(uow.session, data)
    if survey is None or survey.rating is None:
        return CLOSED
    if survey.comment_closed_at is not None:
        return ALREADY_ANSWERED
    survey.comment_closed_at = utcnow()
    if not skip and isinstance(comment, str):
        words = " ".join(clean_text(comment).split())
        if len(words) > MAX_COMMENT_CHARS:
            words = words[: MAX_COMMENT_CHARS - 1].rstrip() + "…"
        survey.comment = words or None
    return STORED


def survey_view(survey: SurveyAnswer | None) -> dict[str, Any] | None:
    """The answers as the protocol record shows them (None: not asked)."""
    if survey is None:
        return None
    return {"rating": survey.rating, "comment": survey.comment, "rated_at": iso(survey.rated_at)}


def surveys_of(session: Session, attendance_ids: list[int]) -> dict[int, SurveyAnswer]:
    """The surveys of these attendances, by attendance id (one query)."""
    if not attendance_ids:
        return {}
    rows = session.scalars(
        select(SurveyAnswer).where(SurveyAnswer.attendance_id.in_(attendance_ids))
    )
    return {s.attendance_id: s for s in rows}
