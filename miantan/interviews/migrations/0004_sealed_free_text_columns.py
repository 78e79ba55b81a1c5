"""Free text of talks sealed at rest (PRODUCT.md I2): the request message, the closing reason,
the agenda and the reasons in the talk's activity become text columns holding tokens. The values
stored before are sealed by the next migration."""

from django.db import migrations

import miantan.core.fields


class Migration(migrations.Migration):
    dependencies = [
        ("interviews", "0003_talk_version"),
    ]

    operations = [
        migrations.AlterField(
            model_name="talk",
            name="message",
            field=miantan.core.fields.EncryptedTextField(blank=True, verbose_name="message"),
        ),
        migrations.AlterField(
            model_name="talk",
            name="closing_reason",
            field=miantan.core.fields.EncryptedTextField(blank=True, verbose_name="reason"),
        ),
        migrations.AlterField(
            model_name="talk",
            name="agenda",
            field=miantan.core.fields.EncryptedJSONField(
                blank=True, default=list, verbose_name="agenda"
            ),
        ),
        migrations.AlterField(
            model_name="talkactivity",
            name="note",
            field=miantan.core.fields.EncryptedTextField(blank=True),
        ),
    ]
