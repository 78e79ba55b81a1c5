import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0001_initial"),
        ("scheduling", "0004_shift_code_name_and_retired"),
    ]

    operations = [
        migrations.AddField(
            model_name="holidayoverride",
            name="from_file",
            field=models.BooleanField(default=False, verbose_name="from a file"),
        ),
        migrations.AddField(
            model_name="holidayoverride",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="people.employee",
                verbose_name="entered by",
            ),
        ),
        migrations.CreateModel(
            name="HolidayYear",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created")),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated")),
                ("year", models.PositiveSmallIntegerField(verbose_name="year")),
                ("file_name", models.CharField(blank=True, max_length=200, verbose_name="file")),
                ("loaded_at", models.DateTimeField(blank=True, null=True, verbose_name="loaded")),
                (
                    "confirmed_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="confirmed"),
                ),
                (
                    "confirmed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="people.employee",
                        verbose_name="confirmed by",
                    ),
                ),
                (
                    "loaded_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="people.employee",
                        verbose_name="loaded by",
                    ),
                ),
                (
                    "organisation",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="people.organisation",
                    ),
                ),
            ],
            options={
                "verbose_name": "holiday year",
                "verbose_name_plural": "holiday years",
                "ordering": ["year"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("organisation", "year"), name="holiday_year_unique"
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("organisation__isnull", True)),
                        fields=("year",),
                        name="holiday_year_national_unique",
                    ),
                ],
            },
        ),
    ]
