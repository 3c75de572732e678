"""Tables of the handoff service. Only the handoff service writes them."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Attendance states. Queued and active ones are "open"; the others are ended.
# Abandoned: the customer went silent after the operator's last message
# (HANDOFF_ABANDON_AFTER_SECONDS) and the service closed the attendance.
QUEUED, ACTIVE, FINISHED, CANCELLED = "queued", "active", "finished", "cancelled"
ABANDONED = "abandoned"
OPEN_STATES = (QUEUED, ACTIVE)
ENDED_STATES = (FINISHED, CANCELLED, ABANDONED)

# Operator availability.
AVAILABLE, PAUSED, OFFLINE = "available", "paused", "offline"

# How a room's queued calls reach operators: taken by hand from the queue, or
# given at once to the least-busy available operator of the room.
MANUAL, AUTOMATIC = "manual", "automatic"
ASSIGNMENTS = (MANUAL, AUTOMATIC)

# Message directions: from the customer, from an operator, from the bot.
FROM_CUSTOMER, FROM_OPERATOR, FROM_BOT = "customer", "operator", "bot"
# A private note of an operator or supervisor in an attendance: stored with
# the messages (in their order), never delivered to the customer.
NOTE = "note"

# Delivery of operator messages to the customer's channel, in order; a
# failure can end any of them. UNKNOWN: handed to the channel, which could
# not learn whether it went out (Meta did not answer in time); the
# channel's status report settles it.
PENDING, SENT, DELIVERED, READ, FAILED = "pending", "sent", "delivered", "read", "failed"
UNKNOWN = "unknown"
DELIVERY_ORDER = (PENDING, UNKNOWN, SENT, DELIVERED, READ)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every engine (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime")
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Room(Base):
    __tablename__ = "room"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    assignment: Mapped[str] = mapped_column(String(16), default=MANUAL, server_default=MANUAL)
    # The widget's pre-chat form (name, e-mail) may be left empty: a citizen
    # reaches an attendant without giving personal data first.
    prechat_optional: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    # Opening hours set in Supervisão (handoff/domain/opening_hours.py, one
    # interval a line; "" = always open) and what happens to a message while
    # closed ("keep" or "message"). None: the hours file's, if it names the room.
    opening_hours: Mapped[str | None] = mapped_column(Text)
    outside_hours: Mapped[str | None] = mapped_column(String(16))
    # After a finished attendance the customer is asked for a 1-5 rating
    # and a comment (handoff/domain/surveys.py); off unless a supervisor turns it on.
    survey_enabled: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Operator(Base):
    __tablename__ = "operator"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="operator")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    active_for_chat: Mapped[bool] = mapped_column(Boolean, default=True)
    max_concurrent: Mapped[int] = mapped_column(Integer, default=5)
    status: Mapped[str] = mapped_column(String(16), default=OFFLINE)
    status_reason: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EntryPoint(Base):
    """Where customers come in (a widget key, a WhatsApp number) and the room it feeds."""

    __tablename__ = "entry_point"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "widget" or "whatsapp"
    key: Mapped[str] = mapped_column(String(120))
    room_id: Mapped[int] = mapped_column(ForeignKey("room.id"))


class Holiday(Base):
    """A holiday of the organisation added in Supervisão (the holidays file
    holds the others): rooms with opening hours stay closed on it."""

    __tablename__ = "holiday"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    name: Mapped[str] = mapped_column(String(120))


class PauseReason(Base):
    __tablename__ = "pause_reason"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(120), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class OperatorRoom(Base):
    __tablename__ = "operator_room"

    operator_id: Mapped[int] = mapped_column(ForeignKey("operator.id"), primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("room.id"), primary_key=True)


class OperatorStatusChange(Base):
    __tablename__ = "operator_status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operator.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OperatorSession(Base):
    __tablename__ = "operator_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operator.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Customer(Base):
    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Lower-case, accent-free copy of the name for searching.
    name_key: Mapped[str] = mapped_column(String(200), index=True)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    # CPF (11 digits) or CNPJ (14 digits), digits only.
    document: Mapped[str | None] = mapped_column(String(14), unique=True)
    # E.164, e.g. +5511987654321.
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Attendance(Base):
    __tablename__ = "attendance"
    __table_args__ = (
        # At most one open attendance per conversation, even under races.
        Index(
            "uq_attendance_open_conversation",
            "conversation_id",
            unique=True,
            sqlite_where=text("status IN ('queued', 'active')"),
            postgresql_where=text("status IN ('queued', 'active')"),
        ),
        Index("ix_attendance_room_status", "room_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Rasa's sender id: the widget's session id or the WhatsApp number.
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    room_id: Mapped[int] = mapped_column(ForeignKey("room.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"), index=True)
    protocol: Mapped[str | None] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    # WhatsApp (2026): the business-scoped user id and the username, for a
    # citizen who may come without a phone.
    contact_user_id: Mapped[str | None] = mapped_column(String(140))
    contact_username: Mapped[str | None] = mapped_column(String(64))
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When Rasa accepted the closing flow (protocol and closing message, Z3).
    closing_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The closing classification chosen on Finalizar (the subjects file) and
    # the operator's comment.
    subject: Mapped[str | None] = mapped_column(String(120), index=True)
    closing_comment: Mapped[str | None] = mapped_column(Text)
    # When the retention job removed its personal data (past the period).
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # It joined the queue while its room was closed (outside hours, a holiday).
    queued_outside_hours: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    # Ended as "pendente" (Decreto 11.034 art. 13): the demand's due date and
    # what is pending; then when, by whom and with which answer it was concluded.
    pending_until: Mapped[date | None] = mapped_column(Date, index=True)
    pending_reason: Mapped[str | None] = mapped_column(Text)
    concluded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    concluded_by_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    conclusion: Mapped[str | None] = mapped_column(Text)


class SurveyAnswer(Base):
    """The satisfaction survey of one finished attendance: written when the
    customer is asked, then its rating (once) and optional comment."""

    __tablename__ = "survey_answer"

    id: Mapped[int] = mapped_column(primary_key=True)
    attendance_id: Mapped[int] = mapped_column(ForeignKey("attendance.id"), unique=True)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rating: Mapped[int | None] = mapped_column(Integer)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    comment: Mapped[str | None] = mapped_column(Text)
    # Set when the customer commented or skipped: no comment is taken after it.
    comment_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# How an operator's hold of an attendance ended.
HOLD_TRANSFERRED, HOLD_REQUEUED = "transferred", "requeued"


class AttendanceHold(Base):
    """One operator's part of an attendance: from when it became theirs
    (taken, assigned, transferred to them) to when it stopped being theirs
    (ended, transferred, requeued). The history and the reports read these."""

    __tablename__ = "attendance_hold"

    id: Mapped[int] = mapped_column(primary_key=True)
    attendance_id: Mapped[int] = mapped_column(ForeignKey("attendance.id"), index=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operator.id"), index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("room.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # finished, cancelled, abandoned (the attendance's end), transferred, requeued.
    outcome: Mapped[str | None] = mapped_column(String(16))
    # The note the operator left for the next one when transferring.
    transfer_note: Mapped[str | None] = mapped_column(Text)


class TransferRequest(Base):
    """A customer asked for a human while the action server was away: Rasa
    told them to wait, and the handoff service asks Rasa to retry the
    transfer until the attendance is open (then the row is deleted)."""

    __tablename__ = "transfer_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(255), unique=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Message(Base):
    __tablename__ = "message"
    # Ids are scoped to their attendance: two conversations (or two
    # operators) may use the same client ids.
    __table_args__ = (UniqueConstraint("attendance_id", "dedup_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attendance_id: Mapped[int] = mapped_column(ForeignKey("attendance.id"), index=True)
    direction: Mapped[str] = mapped_column(String(16))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    text: Mapped[str] = mapped_column(Text)
    # Makes every hand-over idempotent within the attendance:
    # "op:<operator id>:<client id>" for operator messages, "rasa:<message
    # id>" for customer messages, "bot:<Rasa timestamp>" for the bot's.
    dedup_key: Mapped[str] = mapped_column(String(255))
    delivery: Mapped[str | None] = mapped_column(String(16))
    # The channel's own id of a sent operator message (WhatsApp's wamid).
    channel_message_id: Mapped[str | None] = mapped_column(String(128), index=True)
    # What a customer sent besides text (a WhatsApp photo, voice note,
    # document, location...): handoff/domain/attachments.py.
    attachment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A WhatsApp template message: {name, language, parameters}
    # (handoff/domain/whatsapp_templates.py); ``text`` is its body filled in.
    template: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Why the channel refused it (Meta's error code), shown to the operator.
    delivery_error: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EarlyReceipt(Base):
    """A channel's delivery status for a message id it has not yet told us
    it gave (Meta may report "delivered" before its answer to the send has
    reached us): held until the id arrives, then applied
    (handoff/domain/receipts.py)."""

    __tablename__ = "early_receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_message_id: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class ProtocolCounter(Base):
    """The last protocol sequence number handed out in a year."""

    __tablename__ = "protocol_counter"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class KbArticle(Base):
    __tablename__ = "kb_article"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable key: the content file's name without extension.
    key: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(120), index=True)
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReadyReply(Base):
    """A short answer an operator inserts in the composer ("respostas
    prontas"), for one room or every room (``room_id`` NULL). ``key`` is the
    content file's name for replies loaded from files; replies written in
    Supervisão have none."""

    __tablename__ = "ready_reply"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str | None] = mapped_column(String(120), unique=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Registration(Base):
    """An article that an operator gave the customer in an attendance (O10)."""

    __tablename__ = "registration"
    __table_args__ = (UniqueConstraint("attendance_id", "article_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attendance_id: Mapped[int] = mapped_column(ForeignKey("attendance.id"), index=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_article.id"))
    operator_id: Mapped[int] = mapped_column(ForeignKey("operator.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    action: Mapped[str] = mapped_column(String(64))
    attendance_id: Mapped[int | None] = mapped_column(ForeignKey("attendance.id"))
    # The customer the entry is about (who saw or changed their data).
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    details: Mapped[str | None] = mapped_column(Text)


# Outbox job states: waiting to be done (or being done), or set aside after
# too many failures (a dead letter, for a supervisor to retry or discard).
JOB_PENDING, JOB_DEAD = "pending", "dead"


class OutboxJob(Base):
    """Work that leaves the service after a commit (handoff/outbox.py),
    written in the same transaction as the change that causes it."""

    __tablename__ = "outbox_job"
    __table_args__ = (
        Index("ix_outbox_job_due", "status", "next_try_at"),
        Index("ix_outbox_job_key", "key", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    # Jobs of one key are done one at a time, in id order.
    key: Mapped[str] = mapped_column(String(300))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=JOB_PENDING)
    # At most one pending job per dedup value (e.g. one closing flow per attendance).
    dedup: Mapped[str | None] = mapped_column(String(300), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# A record request (Decreto 11.034/2022 art. 12 §1-2): waiting for a
# supervisor to check who asked (the requester is not the demand's
# customer), waiting to be delivered (retried until it is), delivered, or
# refused by a supervisor.
RECORD_VERIFICATION, RECORD_PENDING = "verification", "pending"
RECORD_DELIVERED, RECORD_REFUSED = "delivered", "refused"


class RecordRequest(Base):
    """A request for the record of a demand (its attendance), and its
    delivery on the requester's channel or by e-mail within the deadline."""

    __tablename__ = "record_request"
    __table_args__ = (Index("ix_record_request_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attendance_id: Mapped[int] = mapped_column(ForeignKey("attendance.id"), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # requested_at + 5 calendar days.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The conversation that asked (the bot), or NULL when an operator registered it.
    conversation_id: Mapped[str | None] = mapped_column(String(255))
    channel: Mapped[str | None] = mapped_column(String(32))
    # The operator or supervisor who registered the request in the console.
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operator.id"))
    # "channel" (the conversation's own channel) or "email".
    means: Mapped[str] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
