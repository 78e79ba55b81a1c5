"""Test settings: fast hashing, tasks run in-process, the same database choice as production."""

import tempfile

from .base import *

SECRET_KEY = "test-secret-key-not-for-production-use-0123456789abcdef"  # noqa: S105
MIANTAN_DATA_KEYS = "test:dGVzdC1kYXRhLWtleS0wMTIzNDU2Nzg5YWJjZGVmISE="
# Checkpoints stay in the database: the file under var/ belongs to the development database.
MIANTAN_AUDIT_CHECKPOINT_FILE = ""
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
ALLOWED_HOSTS = ["*"]
MEDIA_ROOT = VAR_DIR / "test-media"
STORAGES["default"]["OPTIONS"] = {"location": MEDIA_ROOT}
# Attachments of test records go to the machine's temporary folder, never under var/.
MIANTAN_ATTACHMENT_ROOT = Path(tempfile.gettempdir()) / "miantan-test-attachments"
LOGGING["root"]["level"] = "WARNING"
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None  # tests serve static files through the finders; nothing is collected
# No quiet hours by default, so that a test which sends mail does not depend on the time of day
# it runs at; the tests of quiet hours choose them.
MIANTAN_DEFAULT_QUIET_HOURS = ""
