"""Seals the worded texts and calendar files of notifications stored before the columns were
sealed, in batches; reversed, it opens them again (in its own transaction, before the columns
change back)."""

from django.db import migrations

from miantan.core.fields import seal_existing


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_sealed_bodies_and_calendar_files"),
    ]

    operations = [
        seal_existing("notifications", "notification", ["body", "ics"]),
    ]
