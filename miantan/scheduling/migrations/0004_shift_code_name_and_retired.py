from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0003_shift_kind_clinic"),
    ]

    operations = [
        migrations.AddField(
            model_name="shiftcode",
            name="name",
            field=models.CharField(blank=True, max_length=100, verbose_name="name"),
        ),
        migrations.AddField(
            model_name="shiftcode",
            name="retired_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="retired"),
        ),
    ]
