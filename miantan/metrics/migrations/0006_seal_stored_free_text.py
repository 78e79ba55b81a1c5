"""Seals the evidence notes, peer feedback and project results stored before the columns were
sealed, in batches; reversed, it opens them again (in its own transaction, before the columns
change back)."""

from django.db import migrations

from miantan.core.fields import seal_existing


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0005_sealed_free_text_columns"),
    ]

    operations = [
        seal_existing("metrics", "evidenceentry", ["text"]),
        seal_existing("metrics", "peerfeedback", ["text"]),
        seal_existing("metrics", "projectcontribution", ["result"]),
    ]
