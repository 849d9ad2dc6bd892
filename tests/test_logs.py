"""What a person watching `make run` reads: one line per event, a traceback only for a real error."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.utils.log import configure_logging
from procrastinate.exceptions import JobAborted

from schemaadmin.demo.progress import Progress


@contextmanager
def console() -> Iterator[io.StringIO]:
    """Point every stream handler at one buffer while the block runs, logging set up as Django sets it up."""
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)  # Django's defaults, then ours
    out = io.StringIO()
    handlers = {h for name in [None, *logging.root.manager.loggerDict] for h in logging.getLogger(name).handlers}
    streams = [(h, h.setStream(out)) for h in handlers if isinstance(h, logging.StreamHandler)]
    try:
        yield out
    finally:
        for handler, stream in streams:
            handler.setStream(stream)


def raised(error: BaseException):
    try:
        raise error
    except BaseException:
        return sys.exc_info()


def test_a_403_is_one_line_without_a_traceback(client_as, settings):
    settings.DEBUG = True  # as under make run, where Django's own console handler is active too
    support = client_as("support")
    with console() as out:
        assert support.get("/audit/").status_code == 403
    assert out.getvalue() == "Forbidden (Permission denied): /audit/\n"


def test_a_500_keeps_its_traceback():
    request_log = logging.getLogger("django.request")
    with console() as out:
        request_log.error(
            "Internal Server Error: /boom/", exc_info=raised(ValueError("broken")), extra={"status_code": 500}
        )
    assert out.getvalue().count("Internal Server Error: /boom/") == 1
    assert "Traceback" in out.getvalue() and "ValueError: broken" in out.getvalue()


def test_a_cancelled_job_is_one_line_and_a_failed_one_keeps_its_traceback():
    worker = logging.getLogger("procrastinate.worker")
    with console() as out:
        worker.info("Job rebuild_index[7] ended with status: Aborted, lasted 1.000 s", exc_info=JobAborted())
    assert out.getvalue() == "Job rebuild_index[7] ended with status: Aborted, lasted 1.000 s\n"
    with console() as out:
        worker.error("Job rebuild_index[8] ended with status: Error", exc_info=raised(RuntimeError("disk full")))
    assert "Traceback" in out.getvalue() and "RuntimeError: disk full" in out.getvalue()


@pytest.mark.parametrize("terminal", [False, True])
def test_demo_progress_is_a_line_per_table_unless_on_a_terminal(terminal, capsys):
    with Progress({"users": 2500, "messages": 3000}, terminal=terminal) as bars:
        for batch in (range(1500), range(1500)):
            list(bars.counted("messages", batch))
        list(bars.counted("users", range(2500)))
        bars.note("Analyzing the loaded tables.")
    err = capsys.readouterr().err
    if terminal:
        assert "\r" in err  # tqdm's bars
    else:
        assert "\r" not in err
        lines = err.splitlines()
        assert [line.split(" in ")[0] for line in lines[:2]] == ["Loaded 3,000 messages", "Loaded 2,500 users"]
        assert lines[2] == "Analyzing the loaded tables."
