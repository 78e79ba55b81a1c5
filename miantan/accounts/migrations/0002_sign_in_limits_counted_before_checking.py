from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.DeleteModel(
            name="FailedLogin",
        ),
        migrations.CreateModel(
            name="SignInLimit",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=64, unique=True)),
                ("checks", models.PositiveIntegerField(default=0)),
                ("window_ends_at", models.DateTimeField(db_index=True)),
            ],
            options={
                "verbose_name": "sign-in limit",
                "verbose_name_plural": "sign-in limits",
            },
        ),
    ]
