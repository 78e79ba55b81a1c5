"""Seals the free text of talks stored before the columns were sealed, in batches; reversed, it
opens it again (in its own transaction, before the columns change back)."""

from django.db import migrations

from miantan.core.fields import seal_existing


class Migration(migrations.Migration):
    dependencies = [
        ("interviews", "0004_sealed_free_text_columns"),
    ]

    operations = [
        seal_existing("interviews", "talk", ["message", "closing_reason", "agenda"]),
        seal_existing("interviews", "talkactivity", ["note"]),
    ]
