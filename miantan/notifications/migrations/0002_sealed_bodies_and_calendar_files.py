"""Notifications keep what they copy from a talk sealed (PRODUCT.md I2): the worded text (a
request's message, a reason) and the calendar file (the agenda). The values stored before are
sealed by the next migration."""

from django.db import migrations

import miantan.core.fields


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="notification",
            name="body",
            field=miantan.core.fields.EncryptedTextField(blank=True, verbose_name="text"),
        ),
        migrations.AlterField(
            model_name="notification",
            name="ics",
            field=miantan.core.fields.EncryptedTextField(blank=True, verbose_name="calendar file"),
        ),
    ]
