"""Planning a batch of decisions in memory, in message order (storage.decisions does the I/O).

Each message sees the tickets opened and the acknowledgements queued by the messages
before it in the batch, exactly as if they had been processed one transaction at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from storage.models import Ticket, now_utc
from storage.sla import to_company

if TYPE_CHECKING:
    from storage.decisions import DecisionInput

OutcomeT = TypeVar("OutcomeT")


@dataclass(frozen=True, slots=True)
class RowFacts:
    """The columns of a claimed inbound message that deciding about it needs."""

    id: int
    channel: str
    kind: str
    external_id: str | None
    thread: str
    customer_id: int | None
    meta: dict[str, Any]
    created_at: datetime
    received_at: datetime
    text: str

    @classmethod
    def from_row(cls, row: Any) -> RowFacts:
        return cls(
            id=row["id"],
            channel=row["channel"],
            kind=row["kind"],
            external_id=row["external_id"],
            thread=row["thread"],
            customer_id=row["customer_id"],
            meta=dict(row["meta"] or {}),
            created_at=row["created_at"],
            received_at=row["received_at"],
            text=row["text"],
        )


@dataclass(eq=False)
class NewTicket:
    """A ticket opened by this batch: a plain row until the batch inserts it (set-based).

    It is open with a running clock, so a later message of the batch joining it changes
    only ``updated_at`` — what storage.sla.to_company does to such a ticket.
    """

    values: dict[str, Any]
    id: int | None = None

    @property
    def channel(self) -> str:
        return str(self.values["channel"])

    @property
    def thread(self) -> str:
        return str(self.values["thread"])

    @property
    def customer_id(self) -> int | None:
        return self.values["customer_id"]  # type: ignore[no-any-return]

    @property
    def status(self) -> str:
        return str(self.values["status"])

    @property
    def updated_at(self) -> datetime:
        return self.values["updated_at"]  # type: ignore[no-any-return]

    def joined(self, now: datetime) -> None:
        self.values["updated_at"] = now


AnyTicket = Ticket | NewTicket


class TicketIndex:
    """Candidate tickets (loaded for the batch, then the batch's new ones), newest last."""

    def __init__(self, existing: list[Ticket]) -> None:
        self._order: dict[int, tuple[int, int]] = {}  # id(ticket) -> (new?, id or sequence)
        self._by_thread: dict[tuple[str, str, int | None], list[AnyTicket]] = {}
        self._by_customer: dict[int | None, list[AnyTicket]] = {}
        self.created: list[NewTicket] = []
        for ticket in sorted(existing, key=lambda t: t.id):
            self._add(ticket, (0, ticket.id))

    def _add(self, ticket: AnyTicket, order: tuple[int, int]) -> None:
        self._order[id(ticket)] = order
        key = (ticket.channel, ticket.thread, ticket.customer_id)
        self._by_thread.setdefault(key, []).append(ticket)
        self._by_customer.setdefault(ticket.customer_id, []).append(ticket)

    def add_new(self, ticket: NewTicket) -> None:
        self.created.append(ticket)
        self._add(ticket, (1, len(self.created)))

    def find(
        self, row: RowFacts, window: timedelta, open_statuses: tuple[str, ...]
    ) -> AnyTicket | None:
        """The ticket this message continues: same customer, same thread, or recently."""
        same_thread = self._by_thread.get((row.channel, row.thread, row.customer_id))
        if same_thread:
            return same_thread[-1]
        if row.customer_id is None:
            return None
        since = row.created_at - window
        recent = [
            t
            for t in self._by_customer.get(row.customer_id, [])
            if t.status in open_statuses and (t.updated_at is None or t.updated_at >= since)
        ]
        return max(recent, key=lambda t: self._order[id(t)]) if recent else None


@dataclass
class _Entry:
    row: RowFacts
    data: DecisionInput
    ticket: AnyTicket | None = None
    opened: bool = False
    joined: bool = False
    reopened: bool = False
    template: str | None = None
    decision_text: str = ""
    csat: bool = False
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    outbox_row: dict[str, Any] | None = None


# (channel, thread, customer's platform id, purpose): several customers can share a public
# thread, and each is acknowledged (or thanked) once per cool-down.
ReplyKey = tuple[str, str, str, str]
AUTOMATIC_REPLIES = ("ack", "thanks")


def reply_key(channel: str, thread: str, author_id: object, purpose: str) -> ReplyKey:
    return (channel, thread, str(author_id or ""), purpose)


class BatchPlan:
    def __init__(
        self,
        tickets: TicketIndex,
        recent_acks: dict[ReplyKey, datetime],
        open_statuses: tuple[str, ...],
    ) -> None:
        self.tickets = tickets
        self.acks = recent_acks
        self.open_statuses = open_statuses
        self.entries: list[_Entry] = []
        self._csat_ticket_ids: dict[int, int | None] = {}

    def decide(self, row: RowFacts, data: DecisionInput) -> None:
        decision = data.decision
        entry = _Entry(row, data, decision_text=decision.reason[:255])
        self.entries.append(entry)
        existing = self.tickets.find(row, data.join_window, self.open_statuses)
        if existing is not None and (decision.open_ticket or existing.status in self.open_statuses):
            # Back with the company; the scheduler (it has the calendar) restarts a paused clock.
            entry.ticket, entry.joined = existing, True
            if isinstance(existing, NewTicket):
                existing.joined(now_utc())
            else:
                entry.reopened = to_company(existing, now_utc(), None)
            kind = "reopened_by_customer" if entry.reopened else "customer_followup"
            entry.events.append(("customer", kind, {}))
        elif decision.open_ticket:
            entry.ticket, entry.opened = self._open(row, data), True
            details = {"label": str(decision.label), "priority": decision.priority}
            entry.events.append(("bot", "ticket_opened", details))
        scored = {
            "label": str(decision.label),
            "reason": decision.reason,
            "scorer": data.scores.scorer_version,
        }
        entry.events.append(("bot", "scored", scored))
        template = decision.reply_template
        # A follow-up in a thread already acknowledged gets no second acknowledgement, and a
        # customer gets the same automatic reply in one thread once per cool-down.
        wants_reply = template is not None and (not entry.joined or entry.reopened)
        if template is not None and wants_reply:
            key = reply_key(row.channel, row.thread, row.meta.get("author_id"), template)
            if not self._replied_recently(key, data.ack_cooldown):
                entry.template = template
                self.acks[key] = now_utc()

    def record_csat(self, row: RowFacts, data: DecisionInput, ticket_id: int | None) -> None:
        """The message answered a survey (storage.csat wrote the answer on the ORM rows)."""
        entry = _Entry(row, data, decision_text="csat answer", csat=True, joined=True)
        self.entries.append(entry)
        self._csat_ticket_ids[row.id] = ticket_id

    def _open(self, row: RowFacts, data: DecisionInput) -> NewTicket:
        decision = data.decision
        ticket = NewTicket(
            {
                "customer_id": row.customer_id,
                "origin_interaction_id": row.id,
                "channel": row.channel,
                "thread": row.thread,
                "priority": decision.priority,
                "label": str(decision.label),
                "topic": data.scores.topic,
                "opened_at": row.received_at,
                "first_response_due_at": data.due_at(row.received_at),
                "status": "open",
                "updated_at": now_utc(),
            }
        )
        self.tickets.add_new(ticket)
        return ticket

    def _replied_recently(self, key: ReplyKey, cooldown: timedelta) -> bool:
        last = self.acks.get(key)
        return last is not None and last >= now_utc() - cooldown

    def _ticket_id(self, entry: _Entry) -> int | None:
        if entry.csat:
            return self._csat_ticket_ids.get(entry.row.id)
        return entry.ticket.id if entry.ticket is not None else None

    # -- rows to write (after the flush gave new tickets their ids) -----------------------

    def interaction_updates(self, now: datetime) -> list[dict[str, Any]]:
        updates = []
        for entry in self.entries:
            scores, decision = entry.data.scores, entry.data.decision
            updates.append(
                {
                    "b_id": entry.row.id,
                    "b_polarity": scores.polarity,
                    "b_subjectivity": scores.subjectivity,
                    "b_complaint_score": scores.complaint,
                    "b_language": scores.language,
                    "b_topic": scores.topic,
                    "b_scorer_version": scores.scorer_version,
                    "b_label": str(decision.label),
                    "b_decision": entry.decision_text,
                    "b_status": "processed",
                    "b_processed_at": now,
                    "b_ticket_id": self._ticket_id(entry),
                }
            )
        return updates

    def outbox_rows(self) -> list[dict[str, Any]]:
        rows = []
        for entry in self.entries:
            if entry.template is None:
                continue
            ticket_id = self._ticket_id(entry)
            text = entry.data.render(entry.template, ticket_id)
            if not text:
                entry.template = None
                continue
            row = entry.row
            rows.append(
                {
                    "inbound_id": row.id,
                    "purpose": "ack" if entry.template == "ack" else entry.template,
                    "ticket_id": ticket_id,
                    "channel": row.channel,
                    "kind": row.kind,
                    "thread": row.thread,
                    "in_reply_to": row.external_id,
                    "recipient_id": row.meta.get("author_id"),
                    "text": text,
                    "meta": {k: v for k, v in row.meta.items() if not k.startswith("author_is")},
                }
            )
        return rows

    def event_rows(self) -> list[dict[str, Any]]:
        rows = []
        for entry in self.entries:
            ticket_id = self._ticket_id(entry)
            for actor, kind, data in entry.events:
                rows.append(
                    {
                        "actor": actor,
                        "type": kind,
                        "ticket_id": ticket_id,
                        "interaction_id": entry.row.id,
                        "data": data,
                    }
                )
        return rows

    def outcomes(
        self, outbox_ids: dict[int, int], make: Callable[..., OutcomeT]
    ) -> dict[int, OutcomeT]:
        found = {}
        for entry in self.entries:
            row_id = entry.row.id
            found[row_id] = make(
                row_id,
                str(entry.data.decision.label),
                self._ticket_id(entry),
                entry.opened,
                outbox_ids.get(row_id) if entry.template else None,
                entry.joined,
                entry.reopened,
            )
        return found
