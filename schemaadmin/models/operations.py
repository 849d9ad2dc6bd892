"""SchemaAdmin's own records: the audit log, EXPLAIN runs, index rebuilds, and the permissions roles hold."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from schemaadmin.pg.names import qualify

__all__ = [
    "ACTIVE_STATES",
    "PERMISSIONS",
    "AccessRule",
    "AuditEvent",
    "DriftCheck",
    "ExplainRun",
    "IndexRebuild",
    "JobState",
    "LoginThrottle",
    "MigrationApply",
    "RecallCheck",
    "WorkerJobRecord",
]

# (codename, description): what each role may do. Groups are made from these by migration 0002.
PERMISSIONS: tuple[tuple[str, str], ...] = (
    ("view_conversations", "Browse and search users' conversations (read-only)"),
    ("view_health", "See database, table and index health"),
    ("view_rebuilds", "Watch index rebuilds"),
    ("view_schema", "See migrations, lint and drift"),
    ("run_explain", "Run EXPLAIN ANALYZE"),
    ("rebuild_index", "Start and cancel index rebuilds"),
    ("apply_migrations", "Apply pending migrations"),
    ("view_audit", "Read the audit log"),
    ("view_query_text", "Read running queries' text, with the values in it"),
    ("signal_sessions", "Cancel queries and terminate database sessions"),
)


class AccessRule(models.Model):
    """Holds SchemaAdmin's custom permissions; it has no table."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = PERMISSIONS

    def __str__(self) -> str:
        return "SchemaAdmin permissions"


class AuditEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    # Who acted, kept as it was when their account goes: no constraint, and deleting an account touches no event.
    # With SET_NULL, deleting a support account that had read for a year rewrote its 386,243 events in one request
    # (9.1 s at 5 million events, against the 15 s web statement timeout). actor_username names them either way.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # Kept apart from the key, so the record still names who acted after their account is deleted.
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    target = models.TextField(blank=True)  # a migration's label has no length limit of its own
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        # The audit log's filters, each walked in the page's order (at, id) either way (views/audit.py); a target is
        # filtered by its start.
        indexes = [
            models.Index(fields=["action", "at", "id"], name="audit_action_at_id"),
            models.Index(fields=["actor_username", "at", "id"], name="audit_who_at_id"),
            models.Index(fields=["target"], opclasses=["text_pattern_ops"], name="audit_target_prefix"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_username or '-'} {self.action} {self.target}"


class LoginThrottle(models.Model):
    """Sign-in failures counted for one username from one address, or for one address across usernames.

    schemaadmin/services/login_throttle.py explains the schedule; rows are counters, the audit log is the record.
    """

    class Scope(models.TextChoices):
        PAIR = "pair", "One username from one address"
        ADDRESS = "address", "One address, any username"

    id = models.BigAutoField(primary_key=True)
    scope = models.TextField(choices=Scope.choices)
    # Case-folded; empty for an address's own counter.
    username = models.TextField(blank=True)
    # An IPv4 address or an IPv6 /64; empty when the request's address is unknown.
    address = models.TextField(blank=True)
    # Attempts let through to the password check since counting_since, less those whose password was right.
    failures = models.PositiveIntegerField(default=0)
    counting_since = models.DateTimeField()
    # No attempt reaches the password check before this.
    blocked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "address", "username"], name="loginthrottle_key")]
        indexes = [models.Index(fields=["counting_since"], name="loginthrottle_counting_since")]

    def __str__(self) -> str:
        who = f"{self.username} from {self.address or '?'}" if self.scope == self.Scope.PAIR else self.address
        return f"{who}: {self.failures} failures"


class ExplainRun(models.Model):
    class Outcome(models.TextChoices):
        # Recorded before the query runs, so a run whose process dies stays on record.
        RUNNING = "running", "Running"
        OK = "ok", "Completed"
        REFUSED = "refused", "Refused"
        ERROR = "error", "Error"
        TIMEOUT = "timeout", "Timed out"
        # Stopped by another session (a cancel or terminate, e.g. from the Activity page), not by its own limits.
        CANCELLED = "cancelled", "Cancelled"

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    database_alias = models.CharField(max_length=64, default="default")
    sql = models.TextField()
    options = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    plan = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="explainrun_user_created")]

    def __str__(self) -> str:
        return f"EXPLAIN run {self.pk} ({self.outcome})"

    @property
    def interrupted(self) -> bool:
        """Return whether the run is still marked running long after any run could have ended: its process died."""
        if self.outcome != self.Outcome.RUNNING or self.created_at is None:
            return False
        # Every run ends, or is stopped by the console's watchdog, inside the web server's request timeout.
        limit = timedelta(seconds=getattr(settings, "SCHEMAADMIN_REQUEST_TIMEOUT_SECONDS", 90) + 30)
        return timezone.now() - self.created_at > limit


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING)
# The condition of every one_active_per() constraint, spelled as the migrations recorded it.
_ACTIVE_CONDITION = models.Q(state__in=["queued", "running"])


def one_active_per(*fields: str, name: str, message: str) -> models.UniqueConstraint:
    """Return the partial unique constraint that lets one queued or running job record exist per value of fields."""
    return models.UniqueConstraint(
        fields=list(fields),
        condition=_ACTIVE_CONDITION,
        name=name,
        violation_error_message=message,
    )


def active_record_fields(model: type[models.Model]) -> tuple[str, ...]:
    """Return the fields of model's one_active_per() constraint: one active record per their values (none: any)."""
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.condition == _ACTIVE_CONDITION:
            return tuple(constraint.fields)
    return ()


class WorkerJobRecord(models.Model):
    """What a job run by the procrastinate worker did: who asked, when it ran, how it ended, its log."""

    State = JobState

    id = models.BigAutoField(primary_key=True)
    database_alias = models.CharField(max_length=64, default="default")
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The procrastinate job running it, and the PostgreSQL backend doing the work (for progress and cancel).
    job_id = models.BigIntegerField(null=True, blank=True)
    backend_pid = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    log = models.TextField(blank=True)

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


class IndexRebuild(WorkerJobRecord):
    class Kind(models.TextChoices):
        REINDEX = "reindex", "REINDEX CONCURRENTLY with the same parameters"
        REPLACE = "replace", "Build a new index concurrently, then swap it in"

    schema_name = models.CharField(max_length=63, default="public")
    index_name = models.CharField(max_length=63)
    table_name = models.CharField(max_length=63, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.REINDEX)
    method = models.CharField(max_length=16, help_text="Access method: hnsw, ivfflat, btree, gin, ...")
    parameters = models.JSONField(default=dict, blank=True)
    settings_used = models.JSONField(default=dict, blank=True)
    # The index being built (REINDEX's *_ccnew or the replacement's temporary name), to clean up after a failure.
    new_index_name = models.CharField(max_length=63, blank=True)
    estimate = models.JSONField(default=dict, blank=True)
    # The last progress row seen, kept after the build ends.
    progress = models.JSONField(default=dict, blank=True)
    retry_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retries")
    size_before_bytes = models.BigIntegerField(null=True, blank=True)
    size_after_bytes = models.BigIntegerField(null=True, blank=True)
    # pg_class oid of the replacement the job built (a "replace" rebuild): after a stop, the index under the old name
    # with this oid is that replacement, swapped in before the stop, not the old index left untouched.
    built_oid = models.BigIntegerField(null=True, blank=True)
    # pg_class oid of the index when the job claimed it (a "reindex" rebuild): REINDEX CONCURRENTLY swaps its new
    # index in under the name and leaves this one as <name>_ccold until its last step drops it, so after a stop that
    # leftover with this oid says the swap had committed.
    original_oid = models.BigIntegerField(null=True, blank=True)
    # The plan's fingerprint when it was started (services/rebuilds/script.script_fingerprint: the index's definition
    # and the DDL): the one the review showed and the DBA confirmed; the job runs only a plan with the same one.
    # Empty for a rebuild recorded before fingerprints were kept.
    fingerprint = models.CharField(max_length=64, blank=True, default="", db_default="")

    class Meta:
        indexes = [models.Index(fields=["state", "-created_at"], name="indexrebuild_state_created")]
        constraints = [
            one_active_per(
                "database_alias",
                "schema_name",
                "index_name",
                name="indexrebuild_one_active_per_index",
                message="A rebuild of this index is already queued or running.",
            )
        ]

    def __str__(self) -> str:
        return f"Rebuild of {qualify(self.schema_name, self.index_name)} ({self.state})"


class RecallCheck(WorkerJobRecord):
    """A measurement of an ANN index's recall@k against exact search, with the search settings it tried."""

    schema_name = models.CharField(max_length=63, default="public")
    index_name = models.CharField(max_length=63)
    rebuild = models.ForeignKey(
        IndexRebuild, on_delete=models.SET_NULL, null=True, blank=True, related_name="recall_checks"
    )
    k = models.PositiveIntegerField(default=10)
    samples = models.PositiveIntegerField(default=100)
    target_recall = models.FloatField(default=0.95)
    result = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["schema_name", "index_name", "-created_at"], name="recallcheck_index_created")]

    def __str__(self) -> str:
        return f"Recall check of {self.schema_name}.{self.index_name} ({self.state})"


class MigrationApply(WorkerJobRecord):
    """One run of `migrate` from the schema page: the plan confirmed, the timeouts, and where it failed."""

    plan = models.JSONField(default=list, help_text="The migrations to apply, as 'app_label.name', in order.")
    # The plan's fingerprint as confirmed (its migrations' files too): the job runs only that text of them.
    fingerprint = models.CharField(max_length=64, blank=True, default="", db_default="")
    target = models.TextField(blank=True)
    lock_timeout_ms = models.PositiveIntegerField(default=5_000)
    statement_timeout_ms = models.PositiveIntegerField(default=0)
    failed_migration = models.TextField(blank=True)
    failed_statement = models.TextField(blank=True)

    class Meta:
        constraints = [
            one_active_per(
                "database_alias",
                name="migrationapply_one_active_per_database",
                message="Migrations are already being applied to this database.",
            )
        ]

    def __str__(self) -> str:
        return f"Apply of {len(self.plan)} migrations ({self.state})"


class DriftCheck(WorkerJobRecord):
    """The applied migrations replayed in a shadow database by the worker, and the schema they build there."""

    # Hash of the applied migrations, their files and the schemas read: the replay is reused until it changes.
    fingerprint = models.CharField(max_length=64)
    applied_count = models.PositiveIntegerField(default=0)
    snapshot = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["database_alias", "fingerprint", "-id"], name="driftcheck_fingerprint")]
        constraints = [
            one_active_per(
                "database_alias",
                name="driftcheck_one_active_per_database",
                message="A drift check of this database is already queued or running.",
            )
        ]

    def __str__(self) -> str:
        return f"Drift check {self.pk} ({self.state})"
