"""Benchmarks (`make bench`): production-like request handling, fast hashing, tasks in-process."""

import os
import warnings

from .base import *

SECRET_KEY = "bench-secret-key-not-for-production-use-0123456789abcdef"  # noqa: S105
MIANTAN_DATA_KEYS = "bench:YmVuY2gtZGF0YS1rZXktMDEyMzQ1Njc4OWFiY2RlZiE="
# Checkpoints stay in the database: the file under var/ belongs to the development database.
MIANTAN_AUDIT_CHECKPOINT_FILE = ""
DEBUG = False
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
LOGGING["root"]["level"] = "WARNING"
# The page benchmarks run in one process and thread (django.test.Client), like a WSGI worker:
# its connection is kept. The ASGI server of bench/live_record.py closes them per request, or
# hands them back to its pool (MIANTAN_DB_POOL_SIZE).
if (
    DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"
    and not os.environ.get("MIANTAN_DB_CONN_MAX_AGE")
    and "pool" not in DATABASES["default"].get("OPTIONS", {})
):
    DATABASES["default"]["CONN_MAX_AGE"] = 60
WHITENOISE_USE_FINDERS = True
# Static files are served from the finders here; there is no collected directory to look at.
warnings.filterwarnings("ignore", message="No directory at")
