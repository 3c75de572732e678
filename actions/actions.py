"""Actions that hand a conversation to a human (W2, Z1, Z2) and route the rest."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff_client import HandoffUnavailable, open_attendance

logger = logging.getLogger(__name__)

WHATSAPP = "whatsapp"


def _metadata(tracker: Tracker) -> Dict[str, Any]:
    """Channel metadata: the current message's, else the session's first."""
    latest = (tracker.latest_message or {}).get("metadata") or {}
    started = tracker.get_slot("session_started_metadata") or {}
    return {**started, **latest}


def _latest_user_message(tracker: Tracker) -> Optional[Dict[str, Any]]:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return {"message_id": event.get("message_id"), "text": event.get("text")}
    return None


def start_attendance(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """Queue the conversation in the handoff service and pause the bot.

    On a citizen's first WhatsApp message the welcome comes first (Z1).
    The pause is followed by ``action_listen`` so that after the attendance
    the rules start from a clean state (see docs/architecture.md).
    """
    channel = tracker.get_latest_input_channel() or "unknown"
    first_contact = not tracker.get_slot("handed_off_before")
    if first_contact and channel == WHATSAPP:
        dispatcher.utter_message(response="utter_welcome")
    metadata = _metadata(tracker)
    contact = {"name": metadata.get("name"), "email": metadata.get("email")}
    if channel == WHATSAPP:
        contact["phone"] = tracker.sender_id
    try:
        opened = open_attendance(
            tracker.sender_id,
            channel,
            contact,
            room=metadata.get("room"),
            first_message=_latest_user_message(tracker),
        )
    except HandoffUnavailable as error:
        logger.error("could not open an attendance for %s: %s", tracker.sender_id, error)
        dispatcher.utter_message(response="utter_handoff_unavailable")
        return []
    dispatcher.utter_message(
        response="utter_transferred" if opened.created else "utter_already_in_attendance"
    )
    return [
        SlotSet("handed_off_before", True),
        ConversationPaused(),
        ActionExecuted("action_listen"),
    ]


class ActionStartAttendance(Action):
    """The customer asked for a human."""

    def name(self) -> str:
        return "action_start_attendance"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        return start_attendance(dispatcher, tracker)


class ActionRouteMessage(Action):
    """Any other message: a first contact goes to a human, later ones get help."""

    def name(self) -> str:
        return "action_route_message"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        if not tracker.get_slot("handed_off_before"):
            return start_attendance(dispatcher, tracker)
        dispatcher.utter_message(response="utter_fallback_help")
        return []
