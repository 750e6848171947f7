"""Workers: score a stored message, route it, and record the decision with its reply."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from bot.config import TicketSettings
from bot.scoring_pool import InlineScoring, Scoring
from bot.stats import RunStats
from responders.calendar import BusinessCalendar
from responders.routing import Router
from responders.scoring import Scorer, Scores
from responders.templates import Templates
from storage.decisions import DecisionInput, DecisionRepo, Outcome
from storage.inbound import InboundRepo, StoredInbound

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        *,
        inbound: InboundRepo,
        decisions: DecisionRepo,
        scorer: Scorer,
        router: Router,
        templates: Templates,
        calendar: BusinessCalendar,
        tickets: TicketSettings,
        connector_limits: dict[str, int],
        stats: RunStats,
        on_reply: Callable[[], None] = lambda: None,
        scoring: Scoring | None = None,
    ) -> None:
        self.inbound = inbound
        self.decisions = decisions
        self.scorer = scorer
        self.router = router
        self.templates = templates
        self.calendar = calendar
        self.tickets = tickets
        self.limits = connector_limits
        self.stats = stats
        self.on_reply = on_reply
        self.scoring = scoring or InlineScoring(scorer)

    async def handle(self, interaction_id: int) -> Outcome | None:
        return (await self.handle_many([interaction_id]))[0]

    async def handle_many(self, interaction_ids: Sequence[int]) -> list[Outcome | None]:
        """Process a batch: one load, scoring, one decision transaction. Outcomes in order.

        None for a message processed before (a replay, another worker), gone, or ignored.
        """
        items = [i for i in await self.inbound.load_many(interaction_ids) if i.status == "pending"]
        ignored = {
            item.id: f"written by {'our own account' if item.author_is_self else 'a bot'}: "
            "never answered"
            for item in items
            if item.author_is_self or item.author_is_bot
        }
        if ignored:
            self.stats.ignored += len(await self.inbound.mark_ignored_many(ignored))
        todo = [item for item in items if item.id not in ignored]
        scores = await self.scoring.score_many([item.text for item in todo])
        inputs = [self._input(item, s) for item, s in zip(todo, scores, strict=True)]
        outcomes = await self.decisions.apply_many(inputs)
        found: dict[int, Outcome] = {}
        for item, outcome in zip(todo, outcomes, strict=True):
            if outcome is None:
                continue
            found[item.id] = outcome
            self._count(outcome)
            log.debug(
                "processed interaction=%s channel=%s label=%s ticket=%s reply=%s",
                item.id,
                item.channel,
                outcome.label,
                outcome.ticket_id,
                outcome.outbox_id,
            )
        replies = sum(o.outbox_id is not None for o in found.values())
        if found:
            log.info("processed %d message(s), %d repl(ies) queued", len(found), replies)
        if replies:
            self.on_reply()
        return [found.get(i) for i in interaction_ids]

    def _input(self, item: StoredInbound, scores: Scores) -> DecisionInput:
        return DecisionInput(
            interaction_id=item.id,
            scores=scores,
            decision=self.router.route(item.text, scores),
            join_window=timedelta(hours=self.tickets.join_window_hours),
            ack_cooldown=timedelta(minutes=self.tickets.ack_cooldown_minutes),
            render=lambda template, ticket: self._render(item, template, ticket),
            due_at=self._due_at,
        )

    def _count(self, outcome: Outcome) -> None:
        self.stats.processed += 1
        self.stats.labels[outcome.label] += 1
        if outcome.label == "ignored":
            self.stats.ignored += 1
        self.stats.tickets_opened += int(outcome.ticket_opened)
        self.stats.tickets_joined += int(outcome.joined_ticket)

    def _due_at(self, received: datetime) -> datetime:
        hours = timedelta(hours=self.tickets.first_response_business_hours)
        return self.calendar.add_business_time(received, hours)

    def _render(self, item: StoredInbound, template: str, ticket: int | None) -> str:
        handle = item.author_handle or "there"
        values = {
            "name": handle if handle.startswith("@") or item.kind == "email" else f"@{handle}",
            "handle": handle,
            "ticket": ticket if ticket is not None else "",
            "sla_hours": f"{self.tickets.first_response_business_hours:g}",
            "channel": item.channel,
        }
        if item.kind in ("dm", "email"):
            values["name"] = handle  # no @-mention in private conversations
        return self.templates.render(
            template, values, channel=item.channel, connector_limit=self.limits.get(item.channel)
        )
