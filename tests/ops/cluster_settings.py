"""Settings of the processes the cluster test starts: the test settings, with tasks queued in the
database for `manage.py db_worker`, as in production."""

from config.settings.test import *  # noqa: F403

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
