"""SchemaAdmin's settings: one dict, SCHEMAADMIN, merged over these defaults."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

__all__ = ["DEFAULTS", "app_settings"]

DEFAULTS: dict[str, Any] = {
    # Sign-in throttling: refuse further attempts after this many failures in the window.
    "LOGIN_FAILURES_PER_USERNAME": 5,
    "LOGIN_FAILURES_PER_ADDRESS": 20,
    "LOGIN_THROTTLE_WINDOW_SECONDS": 15 * 60,
    # Row estimates below this are replaced by an exact count (cheap on small tables).
    "EXACT_COUNT_BELOW": 10_000,
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
