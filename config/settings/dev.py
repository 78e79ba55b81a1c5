"""Local development: DEBUG on by default, a per-checkout secret key, the local mailbox.

`make run` uses `config.settings.demo`, which builds on this one with DEBUG off.
"""

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
# Static files are served by WhiteNoise from where they are (app folders, node_modules), with
# or without DEBUG; nothing is collected, so there is no STATIC_ROOT to look at.
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None
# Mail is written to the local mailbox (EMAIL_FILE_PATH, var/mail/), one .eml file per mail;
# EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend sends it to EMAIL_HOST instead.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "miantan.notifications.mailbox.MailboxBackend")
