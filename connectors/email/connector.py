"""The email connector: an IMAP mailbox in, SMTP replies out.

Position: the cursor is ``"<UIDVALIDITY>:<last UID>"`` per mailbox, stored by the daemon with
each message. UIDs only grow while UIDVALIDITY stays the same; when the server changes
UIDVALIDITY (mailbox re-created or migrated) every old UID is meaningless, so the connector
re-scans the way it does on a first start (``initial_scan``, by default the unseen mail) and
relies on the daemon's UNIQUE(channel, Message-ID) to drop what it already stored.
Messages are fetched with BODY.PEEK, so \\Seen is only set in :meth:`committed`, after the
daemon stored the message and its cursor.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import ClassVar, ParamSpec, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from bot.errors import AuthError, ConnectorError, TransientError
from connectors.base import (
    BaseConnector,
    ConnectorContext,
    Cursor,
    Inbound,
    Outbound,
    SentRef,
)
from connectors.email.imap import ImapSession
from connectors.email.inbound import to_inbound, unparseable
from connectors.email.outbound import reply_context
from connectors.email.settings import EmailSettings
from connectors.email.smtp import build_reply, outgoing_message_id, send_message
from connectors.email.types import FetchedMessage, MailboxState

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class EmailConnector(BaseConnector):
    """One IMAP mailbox (polled by UID) and the SMTP relay that answers it."""

    settings_model: ClassVar[type[EmailSettings]] = EmailSettings
    max_length = 20_000
    # SMTP providers limit per minute and per day (Exchange Online 30 a minute, Gmail 500 or
    # 2,000 a day): a conservative 10 a minute; [bot] send_rate_overrides adjusts it.
    send_rate_per_minute = 10.0

    def __init__(self, settings: EmailSettings, ctx: ConnectorContext) -> None:
        super().__init__(settings, ctx)
        self.settings: EmailSettings = settings
        self._inbox = ImapSession(settings, settings.imap_credentials, settings.mailbox)
        self._sent = ImapSession(
            settings, settings.imap_credentials, settings.sent_mailbox or "Sent", readonly=True
        )
        self._cursor_key = f"imap:{settings.mailbox}"
        self._position: tuple[int, int] | None = None  # (UIDVALIDITY, last UID handed out)
        self._cursor_loaded = False

    # -- lifecycle ----------------------------------------------------------------------------

    async def connect(self) -> None:
        """Log in, select the mailbox and read back where the last run stopped."""
        state = await self._guarded(self._inbox.select)
        stored = await self._load_cursor()
        if self._position and self._position[0] != state.uidvalidity:
            log.warning(
                "email %s: UIDVALIDITY of %r changed (%s -> %s): re-scanning",
                self.name,
                self.settings.mailbox,
                self._position[0],
                state.uidvalidity,
            )
        log.info(
            "email %s: connected to %s, resuming after %s",
            self.name,
            self._inbox.host,
            stored or "nothing (first start)",
        )

    async def _load_cursor(self) -> str | None:
        stored = await self.ctx.cursors.get_cursor(self.name, self._cursor_key)
        self._position = parse_cursor(stored)
        self._cursor_loaded = True
        return stored

    async def close(self) -> None:
        await asyncio.to_thread(self._inbox.close)
        await asyncio.to_thread(self._sent.close)
        await super().close()

    # -- inbound ------------------------------------------------------------------------------

    async def listen(self, *, follow: bool = True) -> AsyncIterator[Inbound]:
        """Poll the mailbox; yield each new message once, in UID order."""
        while True:
            try:
                async for item in self._poll():
                    yield item
            except AuthError:
                raise
            except ConnectorError as exc:
                if not follow:
                    raise
                log.warning(
                    "email %s: poll failed, next try in %ss: %s",
                    self.name,
                    self.settings.poll_interval,
                    exc,
                )
            if not follow:
                return
            await asyncio.sleep(self.settings.poll_interval)

    async def _poll(self) -> AsyncIterator[Inbound]:
        if not self._cursor_loaded:
            await self._load_cursor()
        state = await self._guarded(self._inbox.select)
        rescan = self._position is None or self._position[0] != state.uidvalidity
        if rescan:
            uids = await self._initial_uids(state)
        else:
            assert self._position is not None
            uids = await self._guarded(self._inbox.uids_after, self._position[1])
        baseline = (state.uidnext or 1) - 1 if rescan else 0
        for index, uid in enumerate(uids):
            fetched = await self._guarded(self._inbox.fetch, uid, self.settings.max_message_bytes)
            if fetched is None:
                continue  # expunged between SEARCH and FETCH
            if fetched.uidvalidity != state.uidvalidity:
                log.warning("email %s: UIDVALIDITY changed mid-poll: re-scanning", self.name)
                self._position = None
                return
            last = index == len(uids) - 1
            position = max(uid, baseline) if last else uid
            item = await asyncio.to_thread(self._inbound, fetched, position)
            self._position = (state.uidvalidity, position)  # the daemon never drops an item
            yield item
        if rescan and not uids:
            self._position = (state.uidvalidity, baseline)
        self._health.success()

    async def _initial_uids(self, state: MailboxState) -> list[int]:
        """What a first start (or a UIDVALIDITY change) picks up, per ``initial_scan``."""
        scan = self.settings.initial_scan
        if scan == "new":
            return []
        return await self._guarded(self._inbox.search, "UNSEEN" if scan == "unseen" else "ALL")

    def _inbound(self, fetched: FetchedMessage, position: int) -> Inbound:
        cursor = Cursor(self._cursor_key, f"{fetched.uidvalidity}:{position}")
        try:
            return to_inbound(fetched, self.settings, channel=self.name, cursor=cursor)
        except Exception:  # a parser bug must not wedge the mailbox on one poison message
            log.exception("email %s: uid %s could not be parsed", self.name, fetched.uid)
            return unparseable(fetched, self.settings, channel=self.name, cursor=cursor)

    async def committed(self, item: Inbound) -> None:
        """The daemon stored ``item`` and its cursor: now, and only now, mark it \\Seen."""
        uid, validity = item.meta.get("imap_uid"), item.meta.get("uidvalidity")
        if not (uid and validity and uid.isdigit() and validity.isdigit()):
            return
        try:
            done = await self._retrying(self._inbox.mark_seen, int(uid), int(validity))
        except ConnectorError as exc:  # \Seen is a courtesy: the message is safe in the database
            log.warning("email %s: could not mark uid %s seen: %s", self.name, uid, exc)
            return
        if not done:
            log.info("email %s: uid %s is from an older UIDVALIDITY, not marked", self.name, uid)

    # -- outbound -----------------------------------------------------------------------------

    async def send(self, reply: Outbound) -> SentRef:
        """Send by SMTP, threaded under the customer's message; keep a copy in Sent."""
        context = await reply_context(reply, self.settings, self._lookup_original)
        message_id = self._message_id(reply)
        text = reply.text if len(reply.text) <= self.max_length else reply.text[: self.max_length]
        msg = build_reply(
            self.settings,
            to=context.to,
            subject=context.subject,
            text=text,
            message_id=message_id,
            in_reply_to=context.in_reply_to,
            references=context.references,
            purpose=reply.meta.get("purpose", ""),
        )
        credentials = self.settings.smtp_credentials()
        await self._guarded(send_message, self.settings, msg, context.to, credentials)
        if self.settings.save_sent and self.settings.sent_mailbox:
            try:
                await self._retrying(self._sent.append, self.settings.sent_mailbox, msg.as_bytes())
            except ConnectorError as exc:  # the mail went out: never fail (and resend) for this
                log.warning(
                    "email %s: sent %s but could not file it in %r: %s",
                    self.name,
                    message_id,
                    self.settings.sent_mailbox,
                    exc,
                )
        return SentRef(external_id=message_id)

    async def find_sent(self, reply: Outbound) -> SentRef | None:
        """Was this outbox row already mailed? Its Message-ID is deterministic: look in Sent."""
        if not self.settings.sent_mailbox:
            return None  # no Sent folder to look in: the daemon sends again (documented)
        message_id = self._message_id(reply)
        try:
            uid = await self._retrying(self._sent.find_message_id, message_id)
        except (TransientError, AuthError):
            raise
        except ConnectorError:  # no Sent mailbox yet: nothing was ever filed there
            return None
        return SentRef(external_id=message_id) if uid is not None else None

    def _message_id(self, reply: Outbound) -> str:
        return outgoing_message_id(self.name, reply.idempotency_key, self.settings.address)

    async def _lookup_original(self, message_id: str) -> bytes | None:
        """Header of the message being answered, when the outbox row lacks its facts."""
        uid = await self._retrying(self._inbox.find_message_id, message_id)
        return None if uid is None else await self._retrying(self._inbox.header_of, uid)

    # -- plumbing -----------------------------------------------------------------------------

    async def _guarded(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """:meth:`_retrying`, with the outcome reflected in health (auth failures are fatal)."""
        try:
            result = await self._retrying(fn, *args, **kwargs)
        except AuthError as exc:
            self._health.token_valid = False
            self._health.error(str(exc), fatal=True)
            log.error("email %s: %s", self.name, exc)
            raise
        except ConnectorError as exc:
            self._health.error(str(exc))
            raise
        self._health.token_valid = True
        self._health.success()
        return result

    async def _retrying(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking call in a thread; retry transient failures with jittered backoff."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.settings.retry_attempts),
            wait=wait_random_exponential(multiplier=0.5, max=self.settings.retry_max_wait),
            before_sleep=self._before_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await asyncio.to_thread(fn, *args, **kwargs)
        raise AssertionError("unreachable: tenacity reraises the last error")

    def _before_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        self._health.error(str(error))
        log.warning("email %s: %s (attempt %d, retrying)", self.name, error, state.attempt_number)


def parse_cursor(value: str | None) -> tuple[int, int] | None:
    """``"UIDVALIDITY:UID"`` → a pair; anything unreadable means "no position" (re-scan)."""
    if not value:
        return None
    validity, _, uid = value.partition(":")
    if validity.isdigit() and uid.isdigit():
        return int(validity), int(uid)
    log.warning("email: ignoring unreadable cursor %r", value[:40])
    return None
