"""manage.py rebuild_index: refusals exit 2, the job is queued and audited, --wait follows it to its end."""

# ruff: noqa: F811 -- `worker` is a fixture

from __future__ import annotations

import io
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from schemaadmin.models import AuditEvent, IndexRebuild, JobState
from schemaadmin.services.rebuilds import cancel_rebuild
from tests.blocking import holding
from tests.conftest import make_user
from tests.worker import wait_for, worker  # noqa: F401


@pytest.fixture
def items(planter, transactional_db):
    table = planter.table(
        "items",
        "id bigint, embedding vector(16)",
        rows=10_000,
        fill="i, (SELECT array_agg(random())::vector(16) FROM generate_series(1, 16) WHERE i > 0)",
    )
    planter.sql(f"CREATE INDEX items_hnsw ON {table} USING hnsw (embedding vector_l2_ops) WITH (m = 8)")
    planter.sql(f"ANALYZE {table}")
    return planter


def _lock_timeout() -> str:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        return cursor.fetchone()[0]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("rebuild_index", *args, "--interval", "0.2", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("{s}.missing",), "There is no index {s}.missing"),
        (("{s}.items_hnsw", "--lists", "5"), "lists is an IVFFlat option"),
        (("{s}.items_hnsw", "--m", "500"), "m must be a whole number from 2 to 100; got 500"),
        # An empty method queued a replacement of the index by its own copy.
        (("{s}.items_hnsw", "--method", " "), "--method names the new access method"),
    ],
)
def test_refused_rebuilds_say_why_and_exit_2(items, args, message):
    with pytest.raises(CommandError, match=message.format(s=items.schema)) as refused:
        run(*(arg.format(s=items.schema) for arg in args))
    assert refused.value.returncode == 2
    assert not IndexRebuild.objects.exists()


@pytest.mark.parametrize("interval", ["-1", "0", "nan"])
def test_a_wait_interval_that_is_no_time_is_refused_before_anything_is_queued(items, interval):
    # It used to queue the rebuild, then stop on sleep()'s ValueError.
    with pytest.raises(CommandError, match="--interval is a number of seconds above 0") as refused:
        call_command("rebuild_index", f"{items.schema}.items_hnsw", "--wait", "--interval", interval)
    assert refused.value.returncode == 2
    assert not IndexRebuild.objects.exists()


def test_a_locked_table_is_said_after_a_while_not_waited_on_for_ever(items, monkeypatch):
    # It never returned, and its backend went on waiting after it was killed.
    monkeypatch.setattr("schemaadmin.management.locks.COMMAND_LOCK_TIMEOUT_MS", 300)
    before = _lock_timeout()
    with holding(f"LOCK TABLE {items.schema}.items IN ACCESS EXCLUSIVE MODE"):
        with pytest.raises(CommandError, match="locked by another session, still after 0.3 s") as refused:
            run(f"{items.schema}.items_hnsw")
    assert refused.value.returncode == 1
    assert _lock_timeout() == before  # the session's own setting is given back
    assert not IndexRebuild.objects.exists()
    assert "items_hnsw" in run(f"{items.schema}.items_hnsw")  # free again: queued


def test_queues_the_job_and_audits_the_command_line(items):
    output = run(f"{items.schema}.items_hnsw", "--ef-construction", "80")
    rebuild = IndexRebuild.objects.get()
    assert output.startswith(f"Queued rebuild {rebuild.pk} of {items.schema}.items_hnsw (replace, hnsw, m=8")
    assert rebuild.requested_by is None and rebuild.job_id is not None
    assert rebuild.parameters == {"m": 8, "ef_construction": 80}
    event = AuditEvent.objects.get(action="rebuild.requested")
    assert event.detail["source"] == "command line" and event.actor is None
    assert event.actor_username.startswith("os:")  # who ran it, as `activity` records it (it was empty)


def test_wait_prints_progress_until_it_succeeds(items, worker):
    output = run(f"{items.schema}.items_hnsw", "--wait")
    assert "building index: loading tuples" in output
    assert output.rstrip().splitlines()[-1].startswith(f"Rebuild {IndexRebuild.objects.get().pk} succeeded in ")


def test_wait_exits_non_zero_when_the_rebuild_does_not_succeed(items, worker):
    dba = make_user("dba-cli")
    outcome: list[BaseException] = []

    def follow() -> None:
        try:
            run(f"{items.schema}.items_hnsw", "--ef-construction", "500", "--wait")
        except BaseException as exc:
            outcome.append(exc)
        finally:
            connections.close_all()  # this thread's own connection

    thread = threading.Thread(target=follow)
    thread.start()
    rebuild = wait_for(
        lambda: IndexRebuild.objects.filter(progress__blocks_done__gt=0).first(), timeout=60, what="the build"
    )
    cancel_rebuild(rebuild, user=dba)
    thread.join(timeout=60)
    (error,) = outcome
    assert isinstance(error, CommandError) and error.returncode == 1
    assert f"Rebuild {rebuild.pk} cancelled" in str(error) and "Cancelled by dba-cli." in str(error)
    assert IndexRebuild.objects.get().state == JobState.CANCELLED
