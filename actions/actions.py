"""Actions that hand a conversation to a human (W2, Z1, Z2), route the rest,
and keep the bot silent while a human attends, whatever happens to the
Rasa session."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import (
    ActionExecuted,
    ConversationPaused,
    EventType,
    ReminderScheduled,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
)
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff_client import (
    HandoffUnavailable,
    RecordRefused,
    has_open_attendance,
    open_attendance,
    request_record,
)
from actions.survey import PENDING_SLOT, comment, comment_pending
from textrules import clean_json
from textrules.whatsapp_ids import is_phone_id

logger = logging.getLogger(__name__)

WHATSAPP = "whatsapp"
RETRY_INTENT = "EXTERNAL_retry_handoff"


def _retry_seconds() -> float:
    """How long to wait before asking the handoff service again."""
    return float(os.environ.get("HANDOFF_RETRY_SECONDS", "30"))


def _metadata(tracker: Tracker) -> Dict[str, Any]:
    """Channel metadata: the customer's latest message's, else the session's
    first (a retried transfer runs on an external intent, without any).
    Cleaned by the shared rule again: the channels already did, but a
    tracker written before they did (or by another channel) may not be."""
    latest = (_latest_user_event(tracker) or {}).get("metadata") or {}
    started = tracker.get_slot("session_started_metadata") or {}
    return clean_json({**started, **latest})


def _text(value: Any) -> Optional[str]:
    """A metadata value the handoff service takes as text, else nothing."""
    return value if isinstance(value, str) else None


def _latest_user_event(tracker: Tracker) -> Optional[Dict[str, Any]]:
    for event in reversed(tracker.events):
        # Skip intents triggered from outside (their text is "EXTERNAL: <intent>").
        if event.get("event") == "user" and not str(event.get("text") or "").startswith("EXTERNAL"):
            return event
    return None


def _latest_user_message(tracker: Tracker) -> Optional[Dict[str, Any]]:
    event = _latest_user_event(tracker)
    if event is None:
        return None
    message: Dict[str, Any] = {"message_id": event.get("message_id"), "text": event.get("text")}
    metadata = event.get("metadata") or {}
    kept = {
        # a tapped button: the service stores the title the customer saw
        "button_title": metadata.get("button_title"),
        # a WhatsApp photo, voice note... that starts the attendance
        "attachment": metadata.get("attachment"),
        # the message the widget's leave-a-message form left (room closed)
        "left_message": metadata.get("left_message") is True or None,
    }
    if any(value is not None for value in kept.values()):
        message["metadata"] = {k: v for k, v in kept.items() if v is not None}
    return clean_json(message)


def _paused() -> List[EventType]:
    # action_listen after the pause: once resumed, the rules start clean.
    return [ConversationPaused(), ActionExecuted("action_listen")]


def start_attendance(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """Queue the conversation in the handoff service and pause the bot.

    On a citizen's first WhatsApp message the welcome comes first (Z1). If
    the handoff service cannot be reached, the customer is told once and a
    reminder asks again later, until it answers.
    """
    channel = tracker.get_latest_input_channel() or "unknown"
    retrying = (tracker.latest_message or {}).get("intent", {}).get("name") == RETRY_INTENT
    first_contact = not tracker.get_slot("handed_off_before")
    if first_contact and channel == WHATSAPP and not retrying:
        dispatcher.utter_message(response="utter_welcome")
    metadata = _metadata(tracker)
    contact = {"name": _text(metadata.get("name")), "email": _text(metadata.get("email"))}
    if channel == WHATSAPP:
        # The conversation is the canonical phone, or the business-scoped
        # user id of a citizen who came without one (bot/whatsapp_channel.py).
        contact["phone"] = tracker.sender_id if is_phone_id(tracker.sender_id) else None
        contact["whatsapp_user_id"] = _text(metadata.get("whatsapp_user_id"))
        contact["username"] = _text(metadata.get("username"))
        entry_point = {"kind": "whatsapp", "key": str(metadata.get("phone_number_id") or "")}
    else:
        # The widget's key names the site (an entry point the organisation
        # configured); the room comes only from that configuration, never
        # from the visitor's metadata, which the visitor writes.
        entry_point = {"kind": "widget", "key": str(metadata.get("widget_key") or "")}
    try:
        opened = open_attendance(
            tracker.sender_id,
            channel,
            contact,
            first_message=_latest_user_message(tracker),
            entry_point=entry_point,
        )
    except HandoffUnavailable as error:
        logger.error("could not open an attendance for %s: %s", tracker.sender_id, error)
        if not retrying:
            dispatcher.utter_message(response="utter_handoff_unavailable")
        return [
            ReminderScheduled(
                RETRY_INTENT,
                trigger_date_time=datetime.now(timezone.utc) + timedelta(seconds=_retry_seconds()),
                name="retry_handoff",
                kill_on_user_message=False,
            )
        ]
    # The transfer message ends with the customer's place in the queue.
    queue = f" {opened.queue_text}" if opened.queue_text else ""
    dispatcher.utter_message(
        response="utter_transferred" if opened.created else "utter_already_in_attendance",
        queue=queue,
    )
    # A survey comment still awaited is not asked for any more.
    return [SlotSet("handed_off_before", True), SlotSet(PENDING_SLOT, False), *_paused()]


def _in_attendance(tracker: Tracker) -> bool:
    try:
        return has_open_attendance(tracker.sender_id)
    except HandoffUnavailable as error:
        logger.warning("could not ask about %s: %s", tracker.sender_id, error)
        return False


# The handoff client uses `requests`: each action runs it in a worker thread
# so that one slow call does not hold up the action server's other work.


class ActionStartAttendance(Action):
    """The customer asked for a human (or a retry of that is due)."""

    def name(self) -> str:
        return "action_start_attendance"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        return await asyncio.to_thread(start_attendance, dispatcher, tracker)


class ActionRouteMessage(Action):
    """Any other message: a first contact goes to a human, later ones get help."""

    def name(self) -> str:
        return "action_route_message"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        if _leaving(tracker):
            # The widget's "Encerrar conversa" with no attendance open: there
            # is nothing to end, and nothing to hand off.
            dispatcher.utter_message(response="utter_customer_left")
            return []
        if not tracker.get_slot("handed_off_before"):
            return await asyncio.to_thread(start_attendance, dispatcher, tracker)
        if comment_pending(tracker):  # the satisfaction survey asked for a comment
            return await asyncio.to_thread(comment, dispatcher, tracker)
        dispatcher.utter_message(response="utter_fallback_help")
        return []


def ask_for_record(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """The citizen asks for the record of a demand (Decreto 11.034/2022
    art. 12): the handoff service checks the protocol and whose it is."""
    text = str((tracker.latest_message or {}).get("text") or "")
    channel = tracker.get_latest_input_channel() or "unknown"
    try:
        made = request_record(tracker.sender_id, channel, text)
    except RecordRefused as refused:
        dispatcher.utter_message(text=refused.message)
        return []
    except HandoffUnavailable as error:
        logger.error("record request of %s not taken: %s", tracker.sender_id, error)
        dispatcher.utter_message(response="utter_record_unavailable")
        return []
    if made["status"] == "verification":
        response = "utter_record_needs_verification"
    elif made["means"] == "email":
        response = "utter_record_requested_by_email"
    else:
        response = "utter_record_requested"
    dispatcher.utter_message(
        response=response, protocol=made["protocol"], due=made["due_date"], email=made["email"]
    )
    return []


class ActionRequestRecord(Action):
    """The record of a demand, asked for by its protocol."""

    def name(self) -> str:
        return "action_request_record"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        return await asyncio.to_thread(ask_for_record, dispatcher, tracker)


# The widget's "Encerrar conversa" marks its message with this metadata key
# (the handoff service ends an open attendance on it).
LEAVE_METADATA = "leave_conversation"


def _leaving(tracker: Tracker) -> bool:
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    return isinstance(metadata, dict) and metadata.get(LEAVE_METADATA) is True


class ActionSessionStart(Action):
    """Rasa's session start, plus: a session that starts while a human is
    attending stays paused (a new session would otherwise un-pause it)."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        events: List[EventType] = [SessionStarted()]
        events.extend(
            SlotSet(name, value)
            for name, value in tracker.slots.items()
            if value is not None and name != "requested_slot"
        )
        if await asyncio.to_thread(_in_attendance, tracker):
            events.append(ConversationPaused())
        events.append(ActionExecuted("action_listen"))
        return events


class ActionRestart(Action):
    """`/restart` during an attendance must not wake the bot: the customer
    stays with the human. Outside an attendance it restarts as usual."""

    def name(self) -> str:
        return "action_restart"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        if await asyncio.to_thread(_in_attendance, tracker):
            # Forget the restart request itself: the conversation stays paused
            # and Rasa stops predicting (a paused tracker runs no action).
            return [UserUtteranceReverted()]
        return [Restarted()]
