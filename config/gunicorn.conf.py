"""gunicorn's settings for SchemaAdmin: `gunicorn -c config/gunicorn.conf.py` (the Dockerfile and docker-compose)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from config.serving import REQUEST_TIMEOUT_SECONDS

wsgi_app = "config.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
# The settings' SCHEMAADMIN_REQUEST_TIMEOUT_SECONDS: the console caps its runs below it, so no request is cut.
timeout = REQUEST_TIMEOUT_SECONDS
graceful_timeout = 30
accesslog = "-"
