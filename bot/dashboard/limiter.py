"""Brute-force protection for the dashboard token: failed attempts per client, sliding window.

A client that fails ``max_failures`` times within ``window`` seconds is refused every further
attempt, right or wrong, until the oldest of those failures is ``window`` seconds old: the
token is not even checked meanwhile, so a lucky guess cannot be told apart. Only failures
count, and only the failing client's; a success clears nothing (behind a proxy everybody
shares one address, and a colleague signing in must not hand an attacker fresh guesses).
The table holds at most ``max_addresses`` clients; the one that failed least recently goes
first. IPv6 clients count per /64 network: one host usually holds a whole /64.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_TRACKED_ADDRESSES = 10_000  # a few MB at most: a key and a few floats each
Clock = Callable[[], float]


def client_key(address: str | None) -> str:
    """The unit that is limited: the IPv4 address, or the /64 network of an IPv6 one."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an IP (a Unix socket's peer name): as it is
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class FailureLimiter:
    """In memory, per process: enough for one dashboard; a restart forgets everything."""

    def __init__(
        self,
        max_failures: int,
        window: float,
        *,
        max_addresses: int = MAX_TRACKED_ADDRESSES,
        clock: Clock = time.monotonic,
    ) -> None:
        if max_failures < 1 or window <= 0 or max_addresses < 1:
            raise ValueError("max_failures, window and max_addresses must be positive")
        self.max_failures = max_failures
        self.window = window
        self.max_addresses = max_addresses
        self._clock = clock
        self._failures: OrderedDict[str, list[float]] = OrderedDict()  # least recent first

    def __len__(self) -> int:
        return len(self._failures)

    def retry_after(self, address: str | None) -> int:
        """Whole seconds until ``address`` may try again; 0 when it may now."""
        now = self._clock()
        recent = self._recent(client_key(address), now)
        return self._wait(recent, now) if len(recent) >= self.max_failures else 0

    def failed(self, address: str | None) -> int:
        """Count a failure. Returns the lock-out in seconds when this one started it, else 0.

        Exactly one call returns non-zero per lock-out, so the caller can log it once.
        """
        key = client_key(address)
        now = self._clock()
        recent = self._recent(key, now)
        if len(recent) >= self.max_failures:
            return 0  # already locked out (a concurrent attempt): nothing more to count
        recent.append(now)
        self._failures[key] = recent
        self._failures.move_to_end(key)
        while len(self._failures) > self.max_addresses:
            self._failures.popitem(last=False)
        return self._wait(recent, now) if len(recent) == self.max_failures else 0

    def _recent(self, key: str, now: float) -> list[float]:
        """The failures of ``key`` still inside the window; forgets the client when none are."""
        failures = self._failures.get(key)
        if failures is None:
            return []
        recent = [t for t in failures if now - t < self.window]
        if recent:
            self._failures[key] = recent
        else:
            del self._failures[key]
        return recent

    def _wait(self, recent: list[float], now: float) -> int:
        return max(1, math.ceil(recent[0] + self.window - now))
