"""Jobs the procrastinate worker runs. Each is thin: it calls a service, and the service records the outcome."""

from __future__ import annotations

from procrastinate.contrib.django import app

__all__ = ["app", "apply_migrations"]


@app.task(name="schemaadmin.apply_migrations")
def apply_migrations(apply_id: int) -> None:
    """Apply the confirmed plan of pending migrations (locked per database by the caller)."""
    from schemaadmin.services.migration_apply import run_apply

    run_apply(apply_id)
