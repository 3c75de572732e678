"""The satisfaction survey after a finished attendance (issue 20, item 4).

The closing flow of a room that asks for it ends with ``utter_survey_rating``
(five buttons: a list on WhatsApp, stars in the widget) whose payloads are
``/survey_rating{"rating": N}``. The rating goes to the handoff service;
if it was taken, the customer is asked for a comment (``utter_survey_comment``,
with a "Pular" button, ``/survey_skip``) and their next message is the
comment (``action_route_message`` hands it here while
``survey_comment_pending`` is set). Repeated or late answers are thanked
and changed nothing. The attendance is the one the closing named (slot
``protocol``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff_client import HandoffUnavailable, answer_survey

logger = logging.getLogger(__name__)

PENDING_SLOT = "survey_comment_pending"
SKIP_INTENT = "survey_skip"
# What the customer hears after each outcome of a rating.
AFTER_RATING = {
    "stored": "utter_survey_comment",
    "already_answered": "utter_survey_already_answered",
}


def _answer(tracker: Tracker, kind: str, **fields: Any) -> str:
    """The handoff service's outcome, or ``closed`` if it cannot be reached
    (the customer is thanked all the same; nothing is asked again)."""
    body = {"protocol": tracker.get_slot("protocol"), "conversation_id": tracker.sender_id}
    try:
        return answer_survey(kind, {**body, **fields})
    except HandoffUnavailable as error:
        logger.error("survey %s of %s not stored: %s", kind, tracker.sender_id, error)
        return "closed"


def rate(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    rating = next(tracker.get_latest_entity_values("rating"), None)
    outcome = _answer(tracker, "rating", rating=rating)
    dispatcher.utter_message(response=AFTER_RATING.get(outcome, "utter_survey_thanks"))
    return [SlotSet(PENDING_SLOT, outcome == "stored")]


def comment(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """The customer's message after the rating (or "Pular") is its comment."""
    latest = tracker.latest_message or {}
    if (latest.get("intent") or {}).get("name") == SKIP_INTENT:
        _answer(tracker, "comment", skip=True)
    else:
        _answer(tracker, "comment", comment=str(latest.get("text") or ""))
    dispatcher.utter_message(response="utter_survey_thanks")
    return [SlotSet(PENDING_SLOT, False)]


def comment_pending(tracker: Tracker) -> bool:
    return tracker.get_slot(PENDING_SLOT) is True


class ActionSurveyRating(Action):
    """The customer tapped a rating (1-5)."""

    def name(self) -> str:
        return "action_survey_rating"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        return await asyncio.to_thread(rate, dispatcher, tracker)


class ActionSurveyComment(Action):
    """The comment after a rating, or its "Pular"."""

    def name(self) -> str:
        return "action_survey_comment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        if not comment_pending(tracker):
            dispatcher.utter_message(response="utter_survey_thanks")
            return []
        return await asyncio.to_thread(comment, dispatcher, tracker)
