"""Production: everything secret or site-specific must come from the environment."""

from django.core.exceptions import ImproperlyConfigured

from miantan.core.secret_strength import data_keys_problem, secret_key_problem

from .base import *

# Refused at start, not only by `check --deploy`: an example or weak secret would sign the
# sessions and encrypt the data of a real installation. The same rules as the deploy checks.
if _problem := secret_key_problem(SECRET_KEY):
    raise ImproperlyConfigured(
        f"SECRET_KEY is refused: {_problem}. Generate one with: python3 -c 'import secrets;"
        " print(secrets.token_urlsafe(50))'"
    )
if _problem := data_keys_problem(MIANTAN_DATA_KEYS):
    raise ImproperlyConfigured(
        f"MIANTAN_DATA_KEYS is refused: {_problem}. Expected id:base64-key[,older-id:key…]"
        " with random keys of 32 bytes; see .env.example."
    )

DEBUG = False
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# Submitting the domain to browsers' HSTS preload list is the operator's decision; until they
# opt in with SECURE_HSTS_PRELOAD=true the deploy check's reminder about it is not a defect.
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS = [*SILENCED_SYSTEM_CHECKS, "security.W021"]
