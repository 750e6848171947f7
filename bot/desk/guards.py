"""Who may run a desk command: composable predicates and one deny-by-default gate.

Guards combine with ``&``, ``|`` and ``~`` (as discord.py checks and PTB filters do) and
carry a description, so a refusal can say what was missing. The policy itself (role ids,
role names, user ids, the staff channel, whether the CLI counts as an agent) comes from
``[desk.agents]`` and ``[desk.staff]``; nothing here grants anything by default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot.desk.settings import AgentSettings, StaffSettings
from bot.errors import PermissionDenied


@dataclass(frozen=True, slots=True)
class Actor:
    """Whoever typed a command, as the platform vouches for them (never from message text)."""

    id: str  # what the event log records: "discord:<user id>" or "cli:<name>"
    name: str  # for people: display name or login
    source: str  # "discord" | "cli"
    role_ids: frozenset[int] = field(default_factory=frozenset)
    role_names: frozenset[str] = field(default_factory=frozenset)
    channel_id: int | None = None  # where a chat command was typed
    user_id: int | None = None  # the platform's user id, when there is one


class Guard:
    """A named predicate over an :class:`Actor`."""

    __slots__ = ("describe", "test")

    def __init__(self, test: Callable[[Actor], bool], describe: str) -> None:
        self.test = test
        self.describe = describe

    def __call__(self, actor: Actor) -> bool:
        return self.test(actor)

    def __and__(self, other: Guard) -> Guard:
        return Guard(lambda a: self(a) and other(a), f"({self.describe} and {other.describe})")

    def __or__(self, other: Guard) -> Guard:
        return Guard(lambda a: self(a) or other(a), f"({self.describe} or {other.describe})")

    def __invert__(self) -> Guard:
        return Guard(lambda a: not self(a), f"not {self.describe}")

    def __repr__(self) -> str:
        return f"<Guard {self.describe}>"


NOBODY = Guard(lambda a: False, "nobody")
ANYONE = Guard(lambda a: True, "anyone")


def from_source(source: str) -> Guard:
    return Guard(lambda a: a.source == source, f"from {source}")


def has_role(ids: Iterable[int] = (), names: Iterable[str] = ()) -> Guard:
    """Any of these roles, by id or by (case-insensitive) name."""
    wanted_ids, wanted_names = frozenset(ids), frozenset(n.casefold() for n in names)
    if not wanted_ids and not wanted_names:
        return NOBODY

    def test(actor: Actor) -> bool:
        names_held = {n.casefold() for n in actor.role_names}
        return bool(actor.role_ids & wanted_ids) or bool(names_held & wanted_names)

    return Guard(test, "has an agent role")


def is_user(ids: Iterable[int]) -> Guard:
    wanted = frozenset(ids)
    if not wanted:
        return NOBODY
    return Guard(lambda a: a.user_id is not None and a.user_id in wanted, "is a listed agent")


def in_channel(channel_id: int | None) -> Guard:
    """Commands typed in the staff channel only (answers there may show customer data)."""
    if channel_id is None:
        return ANYONE
    return Guard(lambda a: a.channel_id == channel_id, "in the staff channel")


def agent_guard(agents: AgentSettings, staff: StaffSettings) -> Guard:
    """The policy: a listed person or role member, in the staff channel; or the CLI."""
    person = has_role(agents.role_ids, agents.role_names) | is_user(agents.user_ids)
    chat = from_source("discord") & person & in_channel(staff.channel_id)
    cli = from_source("cli") if agents.cli else NOBODY
    return chat | cli


class Gate:
    """One place enforcing the policy; each command names the permission it needs."""

    def __init__(self, agents: AgentSettings, staff: StaffSettings) -> None:
        self.refusal = agents.refusal
        self._guards: dict[str, Guard] = {"agent": agent_guard(agents, staff)}

    def check(self, actor: Actor, permission: str) -> None:
        guard = self._guards.get(permission, NOBODY)  # an unknown permission grants nothing
        if not guard(actor):
            raise PermissionDenied(self.refusal)

    def allows(self, actor: Actor, permission: str) -> bool:
        return self._guards.get(permission, NOBODY)(actor)
