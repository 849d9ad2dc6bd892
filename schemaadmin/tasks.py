"""Jobs the procrastinate worker runs. Each is thin: it calls a service, and the service records the outcome."""

from __future__ import annotations

from procrastinate.contrib.django import app

__all__ = ["app"]
