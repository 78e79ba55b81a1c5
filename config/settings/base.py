"""Settings shared by every environment; every value that differs comes from the environment."""

import os
import warnings
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("MIANTAN_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "")
DEBUG = False
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "csp",
    "ninja",
    "rules.apps.AutodiscoverRulesConfig",
    "django_tasks",
    "django_tasks_db",
    "channels",
    "miantan.core",
    "miantan.audit",
    "miantan.people",
    "miantan.metrics",
    "miantan.scheduling",
    "miantan.interviews",
    "miantan.records",
    "miantan.archive",
    "miantan.nudges",
    "miantan.plans",
    "miantan.notifications",
    "miantan.accounts",
    "miantan.web",
    "miantan.api",
]

MIDDLEWARE = [
    # First: times every request for /metrics; answers /healthz, /readyz and /metrics itself.
    "miantan.web.middleware.OpsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "miantan.audit.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "miantan.accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# The live record's rooms (Django Channels): in the server's memory when one process serves
# everything; with REDIS_URL, in Redis, so that several server processes share the rooms.
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
CHANNEL_LAYERS = (
    {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 500, "expiry": 30},
        }
    }
    if REDIS_URL
    else {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
)
# How often a record page without a WebSocket asks for changes (the polling fallback).
MIANTAN_LIVE_POLL_SECONDS = float(os.environ.get("MIANTAN_LIVE_POLL_SECONDS", "5"))

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "miantan.web.context_processors.navigation",
                "miantan.web.context_processors.talks_waiting",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# SQLite is the embedded default; DATABASE_URL selects PostgreSQL (or another SQLite file).
SILENCED_SYSTEM_CHECKS: list[str] = []
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'miantan.sqlite3'}"
# Connections are closed at the end of each request by default: under the ASGI server (make run,
# the /ws/ processes) every request runs in a thread of its own, so connections kept open would
# pile up to the server's limit. WSGI workers (gunicorn) may keep them: MIANTAN_DB_CONN_MAX_AGE=60.
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=int(os.environ.get("MIANTAN_DB_CONN_MAX_AGE", "0"))
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The covering indexes (INCLUDE) are for PostgreSQL; SQLite uses them as plain indexes.
    SILENCED_SYSTEM_CHECKS.append("models.W040")
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue instead of
        # failing with "database is locked" half-way through a transaction.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
            " PRAGMA foreign_keys=ON;"
        ),
    }
# MIANTAN_DB_POOL_SIZE=N (PostgreSQL): each process draws its connections from a pool of at
# most N (psycopg_pool), one while a request or a live room's message reads or writes, back to
# the pool after; a request finding none free waits for one instead of PostgreSQL refusing a
# new connection. The pool keeps them, so CONN_MAX_AGE (persistent connections) is off.
MIANTAN_DB_POOL_SIZE = int(os.environ.get("MIANTAN_DB_POOL_SIZE", "0"))
if MIANTAN_DB_POOL_SIZE > 0 and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": MIANTAN_DB_POOL_SIZE,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication -------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "accounts:login"
SESSION_COOKIE_AGE = int(os.environ.get("MIANTAN_SESSION_SECONDS", 8 * 3600))
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Password checks are counted before they are made: at most MIANTAN_LOGIN_MAX_FAILURES per
# account name (from any address) and MIANTAN_LOGIN_MAX_FAILURES_PER_ADDRESS per client address
# (over all names) within MIANTAN_LOGIN_LOCKOUT_SECONDS; the last one starts a lock of that
# length. A successful sign-in clears the name's count and gives the address its check back.
MIANTAN_LOGIN_MAX_FAILURES = int(os.environ.get("MIANTAN_LOGIN_MAX_FAILURES", 5))
MIANTAN_LOGIN_MAX_FAILURES_PER_ADDRESS = int(
    os.environ.get("MIANTAN_LOGIN_MAX_FAILURES_PER_ADDRESS", 50)
)
MIANTAN_LOGIN_LOCKOUT_SECONDS = int(os.environ.get("MIANTAN_LOGIN_LOCKOUT_SECONDS", 15 * 60))

# --- Internationalisation ---------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("MIANTAN_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static files (front-end libraries come from npm, never copied into the repository) ---
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/echarts", NODE_MODULES / "echarts" / "dist"),
]
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "media"},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
# WhiteNoise hands each static file to the ASGI server as a synchronous file iterator, which
# Django reads in a thread and warns about at the first file; the file is served either way.
warnings.filterwarnings(
    "ignore", message="StreamingHttpResponse must consume synchronous iterators", category=Warning
)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
# Files attached to talk records (records/attachments.py): sealed, under random names, outside
# the web root and MEDIA_ROOT; served only through the permission layer. Largest file in bytes.
MIANTAN_ATTACHMENT_ROOT = Path(os.environ.get("MIANTAN_ATTACHMENT_ROOT") or VAR_DIR / "attachments")
MIANTAN_ATTACHMENT_MAX_BYTES = int(os.environ.get("MIANTAN_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024))

# --- Background work ----------------------------------------------------------------------
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# An import claimed by a worker holds a lease that its worker renews while it runs; a lease
# left to run out (the worker was killed) sends the import back for another attempt, up to
# MIANTAN_IMPORT_ATTEMPTS, then marks it failed (core/leases.py).
MIANTAN_IMPORT_LEASE_SECONDS = int(os.environ.get("MIANTAN_IMPORT_LEASE_SECONDS", 300))
MIANTAN_IMPORT_ATTEMPTS = int(os.environ.get("MIANTAN_IMPORT_ATTEMPTS", 3))

# --- Health and metrics (miantan/web/health.py, docs/operations.md) ----------------------------
# /readyz fails when the oldest due notification or the oldest waiting background task has
# waited longer than this.
MIANTAN_READY_MAX_QUEUE_AGE_SECONDS = int(
    os.environ.get("MIANTAN_READY_MAX_QUEUE_AGE_SECONDS", 15 * 60)
)
# /metrics answers a request with "Authorization: Bearer <this>"; without it, or unset, only
# loopback addresses that no proxy relayed. Everyone else gets 404.
MIANTAN_METRICS_TOKEN = os.environ.get("MIANTAN_METRICS_TOKEN", "")

# --- Mail ---------------------------------------------------------------------------------
EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", 25))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "miantan@localhost")
# The right-hand side of every Message-ID (the notification's idempotency key goes on the left).
MIANTAN_MAIL_DOMAIN = os.environ.get("MIANTAN_MAIL_DOMAIN") or (
    DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
)
# Notification delivery: a worker's claim on due rows lasts this long on the database's clock
# and is renewed by its heartbeat while it works; a worker that died leaves its rows to the
# others once the lease has run out. A send (SMTP or webhook) gives up after a quarter of it.
MIANTAN_NOTIFICATION_LEASE_SECONDS = int(os.environ.get("MIANTAN_NOTIFICATION_LEASE_SECONDS", 60))
# The worker round runs the organisations' nudge rules at most once in this many minutes,
# whatever the number of workers (miantan/nudges/services.py).
MIANTAN_NUDGE_SCAN_MINUTES = int(os.environ.get("MIANTAN_NUDGE_SCAN_MINUTES", 5))
# Quiet hours of everyone who has not chosen their own ("HH:MM-HH:MM" in their time zone; empty
# for none). Messages that are not urgent wait for the end of them (notifications/preferences.py).
MIANTAN_DEFAULT_QUIET_HOURS = os.environ.get("MIANTAN_DEFAULT_QUIET_HOURS", "22:00-07:00")
# The local mailbox (miantan.notifications.mailbox.MailboxBackend, used by `make run`): one
# .eml file per mail in this folder.
EMAIL_FILE_PATH = Path(os.environ.get("EMAIL_FILE_PATH", VAR_DIR / "mail"))

# --- Encryption at rest: key ring "id:base64key,id:base64key", first is current -------------
MIANTAN_DATA_KEYS = os.environ.get("MIANTAN_DATA_KEYS", "")

# --- Audit trail: signing keys held outside the database (miantan/audit/keys.py) -------------
# "id:base64-32-byte-key[,older-id:key…]", first is current, or a file holding the same.
# Unset: a key derived from SECRET_KEY (development, tests); `check --deploy` refuses that.
MIANTAN_AUDIT_KEYS = os.environ.get("MIANTAN_AUDIT_KEYS", "")
MIANTAN_AUDIT_KEYS_FILE = os.environ.get("MIANTAN_AUDIT_KEYS_FILE", "")
# A signed checkpoint of the chain's head every this many events (0: only on command), also
# appended to this file, which should be copied off the machine (empty: database only).
MIANTAN_AUDIT_CHECKPOINT_EVERY = int(os.environ.get("MIANTAN_AUDIT_CHECKPOINT_EVERY", 1000))
MIANTAN_AUDIT_CHECKPOINT_FILE = os.environ.get(
    "MIANTAN_AUDIT_CHECKPOINT_FILE", str(VAR_DIR / "audit-checkpoints.jsonl")
)

# --- Signed records and the archive (miantan/core/signing.py, miantan/archive/pdf.py) --------
# The server's Ed25519 key: "id:base64-32-byte-seed[,older-id:base64-public-key…]", first is
# current, or a file holding the same. Unset: derived from SECRET_KEY (development, tests);
# `check --deploy` refuses that. Public keys: /.well-known/miantan-signing-keys.json.
MIANTAN_SIGNING_KEYS = os.environ.get("MIANTAN_SIGNING_KEYS", "")
MIANTAN_SIGNING_KEYS_FILE = os.environ.get("MIANTAN_SIGNING_KEYS_FILE", "")
# A licensed e-signature service instead of the built-in signer ("package.module.Class").
MIANTAN_SIGNATURE_PROVIDER = os.environ.get("MIANTAN_SIGNATURE_PROVIDER", "")
# The certificate (PEM, issuers after it) and key that sign exported PDFs; both or neither.
# Neither: a self-signed demo certificate made once in MIANTAN_PDF_CERTIFICATE_DIR.
MIANTAN_PDF_CERTIFICATE = os.environ.get("MIANTAN_PDF_CERTIFICATE", "")
MIANTAN_PDF_PRIVATE_KEY = os.environ.get("MIANTAN_PDF_PRIVATE_KEY", "")
MIANTAN_PDF_PRIVATE_KEY_PASSWORD = os.environ.get("MIANTAN_PDF_PRIVATE_KEY_PASSWORD", "")
MIANTAN_PDF_CERTIFICATE_DIR = os.environ.get(
    "MIANTAN_PDF_CERTIFICATE_DIR", str(VAR_DIR / "pdf-signing")
)

# --- Security -----------------------------------------------------------------------------
# Content-Security-Policy (django-csp): scripts, stylesheets, images, fonts and requests only
# from this site; no inline <script>, no eval, no event-handler attributes, no <style>
# elements, no framing. Inline style attributes are allowed (style-src-attr): progress bars
# and chart sizes are set with them and ECharts draws its tooltips with them; they run no code
# and, with every source limited to this site, load nothing from elsewhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

NINJA_PAGINATION_PER_PAGE = 50

# --- Gap analysis: which weaknesses are flagged (miantan/metrics/gaps.py) --------------------
# kind: completion_below (threshold in % of the target), worse_than_team (in % worse than the
# average of the same department and position), worsening_streak (periods in a row).
MIANTAN_GAP_RULES = [
    {"id": "completion", "kind": "completion_below", "threshold": 80},
    {"id": "team", "kind": "worse_than_team", "threshold": 15},
    {"id": "trend", "kind": "worsening_streak", "threshold": 3},
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("MIANTAN_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Follow-up plans (E4) -------------------------------------------------------------------
# How far from baseline to goal (per cent) a plan's KPIs must come for it to count as effective,
# or as partly effective, when it is evaluated.
MIANTAN_PLAN_EFFECTIVE_PERCENT = float(os.environ.get("MIANTAN_PLAN_EFFECTIVE_PERCENT", 100))
MIANTAN_PLAN_PARTLY_EFFECTIVE_PERCENT = float(
    os.environ.get("MIANTAN_PLAN_PARTLY_EFFECTIVE_PERCENT", 50)
)

# --- Notifications and calendars ------------------------------------------------------------
# Hours an open talk waits for an answer before the person it waits for is reminded (A5).
MIANTAN_REQUEST_SLA_HOURS = int(os.environ.get("MIANTAN_REQUEST_SLA_HOURS", 48))
# Hours an open talk waits for an answer before it expires (A3); a proposed time that passes
# expires it too.
MIANTAN_REQUEST_EXPIRY_HOURS = int(os.environ.get("MIANTAN_REQUEST_EXPIRY_HOURS", 168))
# Hours before a booked talk that both sides are reminded to prepare (A8).
MIANTAN_PREPARATION_HOURS = int(os.environ.get("MIANTAN_PREPARATION_HOURS", 24))

# --- Start pages ----------------------------------------------------------------------------
# A manager's start page lists the team members without a talk for this many weeks (F1).
MIANTAN_TEAM_TALK_WEEKS = int(os.environ.get("MIANTAN_TEAM_TALK_WEEKS", 12))
# Aggregates (executives) leave out groups of fewer people than this, so nobody is singled out.
MIANTAN_AGGREGATE_MIN_GROUP = int(os.environ.get("MIANTAN_AGGREGATE_MIN_GROUP", 5))
# Where people open Miantan: the links in mails and calendar entries are built on it. Unset,
# it is the address `make run` serves on (PORT, default 8000).
MIANTAN_BASE_URL = (
    os.environ.get("MIANTAN_BASE_URL") or f"http://127.0.0.1:{os.environ.get('PORT') or 8000}"
).rstrip("/")
