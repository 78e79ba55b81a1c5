"""Free text about people sealed at rest (PRODUCT.md I2): evidence notes, peer feedback and
project results. The values stored before are sealed by the next migration."""

from django.db import migrations

import miantan.core.fields


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0004_import_leases"),
    ]

    operations = [
        migrations.AlterField(
            model_name="evidenceentry",
            name="text",
            field=miantan.core.fields.EncryptedTextField(verbose_name="what happened"),
        ),
        migrations.AlterField(
            model_name="peerfeedback",
            name="text",
            field=miantan.core.fields.EncryptedTextField(verbose_name="feedback"),
        ),
        migrations.AlterField(
            model_name="projectcontribution",
            name="result",
            field=miantan.core.fields.EncryptedTextField(blank=True, verbose_name="result"),
        ),
    ]
