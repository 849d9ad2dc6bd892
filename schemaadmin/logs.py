"""What `make run` prints: one line per event, and a traceback only for a real error."""

from __future__ import annotations

import logging

__all__ = ["OneLinePerEvent"]


class OneLinePerEvent(logging.Filter):
    """Drop the traceback of an expected outcome, keep the line.

    A request refused with 4xx (a 403 for a role that may not open a page, a 404) is the answer working as meant,
    and so is a job the user cancelled: procrastinate logs its ``JobAborted`` with the traceback of the abort.
    Errors keep theirs: a 5xx, a failed job, anything else logged with exc_info.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and _expected(record):
            record.exc_info = None
            record.exc_text = None
        return True


def _expected(record: logging.LogRecord) -> bool:
    status = getattr(record, "status_code", None)
    if record.name.startswith("django.") and isinstance(status, int) and status < 500:
        return True
    error = record.exc_info[1] if record.exc_info else None
    return type(error).__name__ == "JobAborted" and type(error).__module__.startswith("procrastinate")
