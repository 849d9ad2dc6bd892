"""The demo's calendar: a fixed end date, a six-month window before it, and busy hours within each day."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

__all__ = ["DAY", "END", "HOUR", "MINUTE", "SECOND", "WINDOW_START", "at", "busy_moment"]

SECOND = 1_000_000  # times are whole microseconds since the epoch: exact, cheap to compare and add
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Fixed, not "now": the same seed must give the same timestamps on any day it is run.
END = int((datetime(2026, 11, 1, tzinfo=UTC) - _EPOCH).total_seconds()) * SECOND
WINDOW_START = END - 183 * DAY

# Relative traffic per hour of the day (UTC): quiet at night, busiest late morning and evening.
_HOURLY = (2, 1, 1, 1, 1, 2, 4, 6, 8, 10, 11, 11, 10, 10, 9, 9, 9, 10, 11, 12, 11, 8, 5, 3)
_HOURLY_MAX = max(_HOURLY)


def at(micros: int) -> datetime:
    """Return the aware UTC datetime of a time in microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=micros)


def busy_moment(rng: random.Random, low: int, high: int) -> int:
    """Return a time between low and high, more often in the day's busy hours than at night."""
    if high <= low:
        return low
    for _ in range(8):
        moment = rng.randrange(low, high)
        if rng.random() * _HOURLY_MAX < _HOURLY[moment // HOUR % 24]:
            return moment
    return moment
