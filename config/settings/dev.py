"""Local development and the embedded single-machine setup started by `make run`."""

from .base import *

DEBUG = env_bool("DEBUG", True)
if not SECRET_KEY:
    # A per-checkout key kept under var/ so sessions survive restarts; never used in production.
    _key_file = VAR_DIR / "secret_key"
    if not _key_file.exists():
        import secrets

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        _key_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = _key_file.read_text().strip()
if not MIANTAN_DATA_KEYS:
    MIANTAN_DATA_KEYS = "dev:ZGV2LWRhdGEta2V5LW5vdC1mb3ItcHJvZHVjdGlvbiE="
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
WHITENOISE_USE_FINDERS = True
