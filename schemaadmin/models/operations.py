"""SchemaAdmin's own records: the audit log, EXPLAIN runs, index rebuilds, and the permissions roles hold."""

from __future__ import annotations

from django.conf import settings
from django.db import models

__all__ = ["PERMISSIONS", "AccessRule", "AuditEvent", "ExplainRun", "IndexRebuild"]

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
    # Indexed through (actor_id, at DESC) below, which serves the foreign key too.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    # Kept apart from the key, so the record still names who acted after their account is deleted.
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["action", "-at"], name="audit_action_at"),
            models.Index(fields=["actor", "-at"], name="audit_actor_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_username or '-'} {self.action} {self.target}"


class ExplainRun(models.Model):
    class Outcome(models.TextChoices):
        OK = "ok", "Completed"
        REFUSED = "refused", "Refused"
        ERROR = "error", "Error"
        TIMEOUT = "timeout", "Timed out"

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


class IndexRebuild(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    id = models.BigAutoField(primary_key=True)
    database_alias = models.CharField(max_length=64, default="default")
    schema_name = models.CharField(max_length=63, default="public")
    index_name = models.CharField(max_length=63)
    method = models.CharField(max_length=16, help_text="Access method: hnsw, ivfflat, btree, gin, ...")
    parameters = models.JSONField(default=dict, blank=True)
    settings_used = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    size_before_bytes = models.BigIntegerField(null=True, blank=True)
    size_after_bytes = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    log = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "-created_at"], name="indexrebuild_state_created")]

    def __str__(self) -> str:
        return f"Rebuild of {self.schema_name}.{self.index_name} ({self.state})"
