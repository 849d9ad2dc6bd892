"""How long one web request may take, shared by Django's settings and gunicorn's configuration."""

from __future__ import annotations

import os

# gunicorn kills a worker whose request runs longer than this; the EXPLAIN console fits its runs inside it.
REQUEST_TIMEOUT_SECONDS = int(os.environ.get("SCHEMAADMIN_REQUEST_TIMEOUT_SECONDS", "90"))
