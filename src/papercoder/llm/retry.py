"""Retrying faults that go away by themselves: rate limits, server errors, timeouts, drops.

Providers translate their SDK's exceptions into :class:`TransientError` (worth retrying) or
something final; :func:`call_with_retries` does the waiting, honouring ``retry-after``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class TransientError(Exception):
    """A fault worth retrying (429, 5xx, timeout, dropped connection).

    ``retry_after`` is the server's requested wait in seconds, when it said one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait: exponential backoff with jitter, capped."""

    attempts: int = 5  # total tries, the first included
    base_delay: float = 1.0  # seconds before the second try
    max_delay: float = 60.0  # no single wait is longer than this (retry-after included)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_delay)
        backoff = self.base_delay * (2 ** (attempt - 1))
        return min(backoff * (0.5 + random.random() / 2), self.max_delay)


class RetriesExhausted(Exception):
    """Every try failed with a transient fault; ``last`` is the final one."""

    def __init__(self, attempts: int, last: TransientError):
        super().__init__(f"{last} (after {attempts} tries)")
        self.attempts = attempts
        self.last = last


async def call_with_retries(make_call: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    """Await ``make_call()`` until it succeeds, retrying :class:`TransientError` per ``policy``."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await make_call()
        except TransientError as exc:
            if attempt >= policy.attempts:
                raise RetriesExhausted(attempt, exc) from exc
            await asyncio.sleep(policy.delay(attempt, exc.retry_after))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``retry-after`` (or ``retry-after-ms``) header value; None if absent or a date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
