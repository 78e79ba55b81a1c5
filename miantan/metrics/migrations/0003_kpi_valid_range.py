"""Valid ranges for KPIs. Existing KPIs get the range their unit implies (per cent 0–100,
counts 0 or more, other units none), and the industry packs' KPIs the range of their pack."""

from decimal import Decimal

from django.db import migrations, models

_PERCENT = {"%", "％", "百分比", "百分率", "percent", "per cent"}
_COUNTS = {
    "人次", "人", "例", "例次", "台", "台次", "项", "件", "次", "个", "份", "篇", "单", "位",
    "家", "天", "日", "小时", "分钟", "级",
}  # fmt: skip
# Pack KPIs whose range differs from their unit's (as the packs defined them at this point).
_PACK_RANGES = {
    "medical_record_quality": (Decimal(0), Decimal(100)),
    "capacity_utilisation": (Decimal(0), None),
    "sales_revenue": (Decimal(0), None),
    "average_transaction_value": (Decimal(0), None),
}


def _range(unit, pack, code):
    if pack and code in _PACK_RANGES:
        return _PACK_RANGES[code]
    unit = unit.strip().lower()
    if unit in _PERCENT:
        return Decimal(0), Decimal(100)
    if unit in _COUNTS:
        return Decimal(0), None
    return None, None


def set_ranges(apps, schema_editor):
    Kpi = apps.get_model("metrics", "Kpi")
    for kpi in Kpi.objects.filter(min_value__isnull=True, max_value__isnull=True).iterator():
        low, high = _range(kpi.unit, kpi.pack, kpi.code)
        if low is not None or high is not None:
            kpi.min_value, kpi.max_value = low, high
            kpi.save(update_fields=["min_value", "max_value"])


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0002_kpi_value_bulk_references"),
    ]

    operations = [
        migrations.AddField(
            model_name="kpi",
            name="min_value",
            field=models.DecimalField(
                blank=True,
                decimal_places=4,
                max_digits=18,
                null=True,
                verbose_name="lowest valid value",
            ),
        ),
        migrations.AddField(
            model_name="kpi",
            name="max_value",
            field=models.DecimalField(
                blank=True,
                decimal_places=4,
                max_digits=18,
                null=True,
                verbose_name="highest valid value",
            ),
        ),
        migrations.AddConstraint(
            model_name="kpi",
            constraint=models.CheckConstraint(
                condition=models.Q(min_value__isnull=True)
                | models.Q(max_value__isnull=True)
                | models.Q(min_value__lte=models.F("max_value")),
                name="kpi_range_ordered",
            ),
        ),
        migrations.RunPython(set_ranges, migrations.RunPython.noop),
    ]
