"""The company's labelled history, for `socialbot train-triage`.

Only what a person confirmed counts as a label:

1. an agent's correction of a message (``/label N complaint|not_complaint``,
   ``socialbot label``): ``interactions.agent_label``;
2. a ticket a person worked to the end (resolved or closed) without correcting it: its
   outcome. Resolved with a refund or a replacement -> a complaint; otherwise the label the
   ticket was opened with (complaint, or question -> not a complaint) stands confirmed.

Messages the bot judged and nobody looked at are not labels: learning from them would only
teach the model its own mistakes. Erased messages (blank text) are skipped.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select

from storage.db import Database
from storage.models import Interaction, Ticket

COMPLAINT_RESOLUTIONS = frozenset({"refund", "replacement"})
FINISHED = ("resolved", "closed")


def _corrections(since: datetime | None) -> Select[int, str, str | None]:
    query = select(Interaction.id, Interaction.text, Interaction.agent_label).where(
        Interaction.direction == "in",
        Interaction.agent_label.is_not(None),
        Interaction.text != "",
    )
    return query if since is None else query.where(Interaction.created_at >= since)


def _outcomes(since: datetime | None) -> Select[int, str, str, str | None]:
    query = (
        select(Interaction.id, Interaction.text, Ticket.label, Ticket.resolution)
        .join(Ticket, Ticket.origin_interaction_id == Interaction.id)
        .where(
            Ticket.status.in_(FINISHED),
            Interaction.agent_label.is_(None),
            Interaction.text != "",
        )
    )
    return query if since is None else query.where(Interaction.created_at >= since)


async def labelled_history(db: Database, since: datetime | None = None) -> list[tuple[str, bool]]:
    """``(text, is_complaint)`` for every message a person labelled, oldest first."""
    found: dict[int, tuple[str, bool]] = {}
    async with db.session() as session:
        for row_id, text, agent_label in (await session.execute(_corrections(since))).all():
            found[row_id] = (text, agent_label == "complaint")
        for row_id, text, label, resolution in (await session.execute(_outcomes(since))).all():
            complaint = resolution in COMPLAINT_RESOLUTIONS or label == "complaint"
            found.setdefault(row_id, (text, complaint))
    return [found[key] for key in sorted(found)]
