"""SchemaAdmin's settings: one dict, SCHEMAADMIN, merged over these defaults."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

__all__ = ["DEFAULTS", "app_settings"]

DEFAULTS: dict[str, Any] = {
    # Sign-in throttling (schemaadmin/services/login_throttle.py): failures are counted per username from one
    # address, and per address across usernames. Past a counter's free failures, each further failure makes the
    # next attempt wait, first LOGIN_FIRST_DELAY_SECONDS, doubling per failure up to LOGIN_MAX_DELAY_SECONDS.
    # A counter starts again from zero LOGIN_FAILURE_WINDOW_SECONDS after its first failure.
    "LOGIN_FREE_FAILURES_PER_USERNAME_AND_ADDRESS": 5,
    "LOGIN_FREE_FAILURES_PER_ADDRESS": 50,
    "LOGIN_FIRST_DELAY_SECONDS": 30,
    "LOGIN_MAX_DELAY_SECONDS": 60 * 60,
    "LOGIN_FAILURE_WINDOW_SECONDS": 24 * 60 * 60,
    # statement_timeout of the database sessions web requests use (SessionTimeoutsMiddleware; 0: none); a query
    # stopped by it is a page saying so (a search's asks to narrow it). The worker, migrations and commands keep
    # the server's.
    "WEB_STATEMENT_TIMEOUT_MS": 15_000,
    # lock_timeout of the same sessions (0: none): a page that would wait longer for a lock another session holds
    # (a migration, a VACUUM FULL, a LOCK TABLE left open) stops and says a table it reads is locked.
    "WEB_LOCK_TIMEOUT_MS": 3_000,
    # A phrase or an exclusion of common words whose bounded walk of the newest messages found no page is then read
    # through the GIN index, which offers every message holding its words ("the -the": every message with "the"),
    # each read again. Stopped after this many ms (or the web's timeout, if shorter), the page shows the hits the
    # walk found and says that only those messages were searched.
    "SEARCH_FALLBACK_TIMEOUT_MS": 4_000,
    # Totals estimated below this are replaced by an exact count, which then reads at most this many rows.
    "EXACT_COUNT_BELOW": 1_000,
    # Rows per page in the conversation browser: the choices offered and the default.
    "PAGE_SIZES": (25, 50, 100),
    # Pages of a chat table's list in Django's admin (schemaadmin/admin_chat.py): it pages by OFFSET, so only the
    # first pages are offered (100 rows each: OFFSET at most 1,900 rows); /conversations/ pages any depth by keyset.
    "ADMIN_PAGES": 20,
    # Messages per window of a thread view.
    "THREAD_WINDOW": 50,
    # Index health. Database aliases whose index usage counts: an index is "unused" only when no node scanned it.
    "NODES": ["default"],
    # unused_index: ignore indexes smaller than this, and say nothing until the counters are this old.
    "UNUSED_INDEX_MIN_BYTES": 1024 * 1024,
    "UNUSED_INDEX_MIN_STATS_AGE_DAYS": 7,
    # bloated_index: wasted space at least this many bytes and this share of the index.
    "BLOAT_MIN_BYTES": 10 * 1024 * 1024,
    "BLOAT_MIN_RATIO": 0.3,
    # ivfflat_lists_mismatch: lists more than this factor away from rows/1000 (√rows above a million rows).
    "IVFFLAT_LISTS_TOLERANCE": 4,
    # stale_statistics: changes since analyze above this multiple of the table's autovacuum analyze threshold; tables
    # with fewer rows than the floor are left alone (a sequential scan of a few dozen rows is as fast as any plan).
    "STALE_STATISTICS_FACTOR": 2,
    "STALE_STATISTICS_MIN_ROWS": 1_000,
    # vacuum_overdue: dead rows above this multiple of the vacuum threshold, or a changing table unvacuumed this long.
    "VACUUM_DEAD_TUPLES_FACTOR": 2,
    "VACUUM_MAX_AGE_DAYS": 7,
    # sequential_scan_heavy: tables of at least this many rows, scanned at least this often, mostly sequentially.
    "SEQUENTIAL_SCAN_MIN_ROWS": 10_000,
    "SEQUENTIAL_SCAN_MIN_SCANS": 100,
    "SEQUENTIAL_SCAN_MIN_SHARE": 0.5,
    # Framework tables (Django's, procrastinate's and SchemaAdmin's own: services/index_health/scope.py). Health lists
    # show the product's tables first; with this true, the framework's are left out of every health list, count
    # and chart (the overview, /indexes/, /tables/, /findings/, manage.py index_health) unless a page's "Whose
    # tables" filter asks for them.
    "HIDE_FRAMEWORK_TABLES": False,
    # table_bloat: heaps of at least this size whose wasted space is at least this share (pgstattuple_approx() when
    # the extension is installed and usable, else an estimate from statistics).
    "TABLE_BLOAT_MIN_BYTES": 10 * 1024 * 1024,
    "TABLE_BLOAT_MIN_RATIO": 0.4,
    # sequence_near_max: a sequence that used this share of its range (or of its column type's).
    "SEQUENCE_NEAR_MAX_SHARE": 0.9,
    # xid_wraparound: a table or database whose transaction (or multixact) ID age passed this multiple of
    # autovacuum_freeze_max_age (autovacuum_multixact_freeze_max_age), so its forced freeze is overdue; critical
    # past this share of the 2^31 hard limit, at which PostgreSQL stops accepting writes.
    "XID_AGE_WARNING_FACTOR": 1.25,
    "XID_AGE_CRITICAL_SHARE": 0.5,
    # index_on_mostly_null_column: a btree whose first column is NULL in at least this share of rows (pg_stats).
    "MOSTLY_NULL_MIN_FRACTION": 0.5,
    # inactive_replication_slot: critical once a slot no consumer reads holds this much WAL (warning below it).
    "REPLICATION_SLOT_CRITICAL_BYTES": 10 * 1024**3,
    # EXPLAIN console. The NOLOGIN role queries run as (migration 0005 creates it with read access only).
    "EXPLAIN_ROLE": "schemaadmin_explain",
    # statement_timeout of a run: the default, and the most a user may ask for; lock_timeout.
    "EXPLAIN_TIMEOUT_MS": 10_000,
    "EXPLAIN_MAX_TIMEOUT_MS": 60_000,
    "EXPLAIN_LOCK_TIMEOUT_MS": 1_000,
    # Longest query text accepted, and how many runs one user may have in progress at once.
    "EXPLAIN_MAX_SQL_CHARS": 20_000,
    "EXPLAIN_CONCURRENT_RUNS_PER_USER": 2,
    # A run's work_mem, and its temp_file_limit where the connecting role may set it (a superuser-only setting:
    # the console's login role carries its own); how long past its statement_timeout a run that does not stop
    # is waited for before the watchdog cancels it and ends its session.
    "EXPLAIN_WORK_MEM": "64MB",
    "EXPLAIN_TEMP_FILE_LIMIT": "1GB",
    "EXPLAIN_WATCHDOG_GRACE_MS": 5_000,
    # Plans with more nodes than this are not drawn by PEV2 when the page loads, only when asked: it draws every
    # node at once, nested as the plan is, and holds the browser meanwhile (900 nested subqueries' plan, 221 kB of
    # JSON served in 0.04 s, took Chromium ~65 s). A few hundred nodes is already more than one reads as a diagram;
    # the summary and the node list stay on the page.
    "EXPLAIN_DIAGRAM_MAX_NODES": 300,
    # Applying migrations from the schema page: the job's lock_timeout and statement_timeout (0: none) by default,
    # and the longest statement_timeout a DBA may choose.
    "MIGRATION_LOCK_TIMEOUT_MS": 5_000,
    "MIGRATION_STATEMENT_TIMEOUT_MS": 30 * 60 * 1000,
    "MIGRATION_MAX_STATEMENT_TIMEOUT_MS": 24 * 60 * 60 * 1000,
    # Migration lint. Our size rules (a non-concurrent index, SET NOT NULL) fire on tables with at least this many
    # estimated rows; squawk's executable (None: beside this Python, else on PATH) and how long one run may take.
    "MIGRATION_BIG_TABLE_ROWS": 100_000,
    # Apps whose every model is the product's (the EXPLAIN console must read its tables; the lint flags a new one
    # without GRANT SELECT to EXPLAIN_ROLE). PRODUCT_MODELS and models defined beside them always are.
    "PRODUCT_APPS": (),
    "SQUAWK_PATH": None,
    # Before an apply drops a table or column, the worker copies it (a column with the row's primary key) into
    # this schema, in the same run; False turns that off. Archives are listed on /schema/ and dropped from there.
    "ARCHIVE_SCHEMA": "schemaadmin_archive",
    "ARCHIVE_BEFORE_DROP": True,
    "SQUAWK_TIMEOUT_SECONDS": 30,
    # The live schema browser and the drift check: the database schemas the migrations own, and how long the
    # worker's replay of the applied migrations in a throwaway database may take.
    "APP_SCHEMAS": ("public",),
    "DRIFT_SHADOW_TIMEOUT_SECONDS": 300,
    # Index rebuilds. maintenance_work_mem is sized to the build's estimate (an HNSW graph plus a margin), never
    # below the server's own value nor above this cap; None for max_parallel_maintenance_workers keeps the server's.
    "REBUILD_MAX_MAINTENANCE_WORK_MEM": 4 * 1024**3,
    "REBUILD_MAINTENANCE_WORK_MEM_MARGIN": 1.25,
    "REBUILD_MAX_PARALLEL_MAINTENANCE_WORKERS": None,
    # The swap (drop the old index, rename the new one): lock_timeout of each attempt, and how many attempts.
    "REBUILD_SWAP_LOCK_TIMEOUT_MS": 2_000,
    "REBUILD_SWAP_ATTEMPTS": 30,
    # Seconds between two progress snapshots saved on the rebuild's record while it builds.
    "REBUILD_PROGRESS_INTERVAL_SECONDS": 1.0,
    # Recall checks: the most neighbours (k) and query vectors one check may ask for, the default target recall,
    # each query's statement_timeout, and the hnsw.ef_search values tried (those below k are skipped).
    "RECALL_MAX_K": 100,
    "RECALL_MAX_SAMPLES": 1_000,
    "RECALL_TARGET": 0.95,
    "RECALL_STATEMENT_TIMEOUT_MS": 60_000,
    "RECALL_HNSW_LADDER": (10, 20, 40, 80, 160, 320, 640),
    # Query statistics (/queries/, manage.py query_stats). When the worker snapshots pg_stat_statements (a cron
    # line, read when the worker starts), how many days of snapshots are kept, and at most how many statements
    # one snapshot stores (those that moved, costliest by time first).
    "QUERY_STATS_SNAPSHOT_CRON": "*/5 * * * *",
    "QUERY_STATS_RETENTION_DAYS": 14,
    "QUERY_STATS_MAX_STATEMENTS_PER_SNAPSHOT": 500,
    # Regressions compare mean times only for statements called at least this often in both windows.
    "QUERY_STATS_REGRESSION_MIN_CALLS": 5,
    # Live activity (/activity/, manage.py activity, and the health findings long_running_transaction,
    # idle_in_transaction, connections_near_max): an active session is long-running once its transaction has
    # run this many seconds; a session idle inside a transaction is flagged after this many; connections are near
    # the limit at this share of max_connections minus the reserved slots.
    "ACTIVITY_LONG_RUNNING_SECONDS": 60,
    "ACTIVITY_IDLE_IN_TRANSACTION_SECONDS": 10,
    "ACTIVITY_CONNECTIONS_NEAR_MAX_RATIO": 0.8,
    # Seconds between two refreshes of the activity page (each reads pg_blocking_pids(), which takes the lock
    # manager's locks: keep it at seconds, not less); the most sessions one read returns, each query cut (on the
    # server) to this many characters; how many relations the lock summary names.
    "ACTIVITY_REFRESH_SECONDS": 5,
    "ACTIVITY_MAX_SESSIONS": 1_000,
    "ACTIVITY_QUERY_CHARS": 2_000,
    "ACTIVITY_LOCKED_RELATIONS": 20,
    # Records kept this many days, then deleted by the worker's daily prune (services/retention.py), which audits
    # what it deleted; None keeps them for ever (the default: how long an audit log must be kept is the operator's
    # policy, not ours). Every thread view writes an audit event (~350 bytes); an EXPLAIN run keeps its plan.
    "AUDIT_RETENTION_DAYS": None,
    "EXPLAIN_RUN_RETENTION_DAYS": None,
    # procrastinate's rows of failed, cancelled and aborted jobs (a succeeded job's row goes when it ends) are deleted
    # this many days after the job ended; the job's record (a rebuild, a check, an apply) stays. None keeps them.
    "WORKER_JOB_RETENTION_DAYS": 30,
}

_cache: dict[str, Any] | None = None


def app_settings() -> dict[str, Any]:
    """Return the defaults merged with settings.SCHEMAADMIN (cached until settings change)."""
    global _cache
    if _cache is None:
        _cache = {**DEFAULTS, **getattr(settings, "SCHEMAADMIN", {})}
    return _cache


@receiver(setting_changed, dispatch_uid="schemaadmin.conf.reset")
def _reset(*, setting: str, **kwargs: Any) -> None:
    global _cache
    if setting == "SCHEMAADMIN":
        _cache = None
