"""Settings for the test suite: the real settings plus a small app whose migrations tests unapply and re-apply."""

from __future__ import annotations

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.schema_fixtures"]
