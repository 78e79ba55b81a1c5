"""Test settings for `make mutation`: the test database is a file under var/mutation/, so that
the processes that test one mutant each reuse it instead of migrating a new one."""

from config.settings.test import *  # noqa: F403

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "mutation" / "test.sqlite3")}  # noqa: F405
