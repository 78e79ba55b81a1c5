"""Valid ranges of KPI values, and how the numbers of a per cent KPI in a file are read.

Every KPI has a range (`Kpi.min_value`, `Kpi.max_value`, either end open). Per cent KPIs get
0–100 unless set otherwise, counts (visits, surgeries, patents) 0 or more, other units no limit.
An import refuses every value or target outside its KPI's range, naming the row and the range.

Per cent KPIs arrive in three spellings: `92`, `92%` (or an Excel cell formatted as a
percentage, which holds 0.92) and `0.92`. The first two are unambiguous. The third is decided
per KPI and file by `fraction_reading`: the KPI's numbers in the file are read as fractions
(0.92 → 92 %) when

1. every one of them written as a plain number (values and targets) lies between 0 and 1,
2. at least one of them is not a whole number (a column of 0 and 1 stays as written), and
3. their average is below a tenth of the KPI's smallest assigned target, when the catalogue
   has a target above 0 for it: a defect rate of 0.3 next to a target of 2 % is a small per
   cent, not a fraction, while a satisfaction of 0.92 next to a target of 90 % is a fraction.

The import reports either outcome for each such KPI, so nobody has to guess which was taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from miantan.core.errors import InvalidFields

# The value columns' precision (numeric(18, 4)).
_PLACES = 4
_LIMIT = Decimal(10) ** (18 - _PLACES)

PERCENT_UNITS = frozenset({"%", "％", "百分比", "百分率", "percent", "per cent"})
# Units that count things or people: a negative number of them is a mistake.
COUNT_UNITS = frozenset(
    {
        "人次",
        "人",
        "例",
        "例次",
        "台",
        "台次",
        "项",
        "件",
        "次",
        "个",
        "份",
        "篇",
        "单",
        "位",
        "家",
        "天",
        "日",
        "小时",
        "分钟",
        "级",
    }
)
PERCENT_RANGE = (Decimal(0), Decimal(100))
COUNT_RANGE = (Decimal(0), None)
# Plain numbers of a per cent KPI at most this far apart from the target are not fractions.
FRACTION_TARGET_SHARE = 10


class InvalidRange(InvalidFields):
    error_code = "invalid_range"


def is_percent(unit: str) -> bool:
    return unit.strip().lower() in PERCENT_UNITS


def default_range(unit: str) -> tuple[Decimal | None, Decimal | None]:
    """The range a KPI gets from its unit: per cent 0–100, counts 0 or more, else open."""
    if is_percent(unit):
        return PERCENT_RANGE
    if unit.strip().lower() in COUNT_UNITS:
        return COUNT_RANGE
    return (None, None)


def plain(number: Decimal | float | int) -> str:
    """100.0000 as 100, 0.5000 as 0.5, 92.0 as 92."""
    text = format(Decimal(str(number)) if isinstance(number, float) else Decimal(number), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True, slots=True)
class ValueRange:
    """Where a KPI's values may lie; None is an open end. Compared as floats, which is exact
    enough for bounds with at most four decimal places."""

    minimum: Decimal | None = None
    maximum: Decimal | None = None

    @classmethod
    def of(cls, kpi: Any) -> ValueRange:
        return cls(kpi.min_value, kpi.max_value)

    @property
    def is_open(self) -> bool:
        return self.minimum is None and self.maximum is None

    def bounds(self) -> tuple[float, float]:
        """The ends as floats, open ends as infinities (what the import compares against)."""
        low = float("-inf") if self.minimum is None else float(self.minimum)
        high = float("inf") if self.maximum is None else float(self.maximum)
        return low, high

    def contains(self, number: float | Decimal) -> bool:
        low, high = self.bounds()
        return low <= float(number) <= high

    def __str__(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f"{plain(self.minimum)}–{plain(self.maximum)}"
        if self.minimum is not None:
            return f"≥ {plain(self.minimum)}"
        if self.maximum is not None:
            return f"≤ {plain(self.maximum)}"
        return str(_("any value"))


def out_of_range_message(kpi_name: str, written: str, valid: ValueRange) -> str:
    return _("%(kpi)s: %(value)s is outside the valid range %(range)s.") % {
        "kpi": kpi_name,
        "value": written,
        "range": valid,
    }


def read_range(minimum: Any, maximum: Any) -> ValueRange:
    """A range from two inputs (numbers, text or empty for an open end), checked: each end a
    number that fits the value columns, the lowest not above the highest."""
    errors: dict[str, str] = {}
    ends = {}
    for name, value in (("min_value", minimum), ("max_value", maximum)):
        try:
            ends[name] = _end(value)
        except ValueError:
            errors[name] = _("Write a number, or leave it empty for no limit.")
    if errors:
        raise InvalidRange(errors)
    low, high = ends["min_value"], ends["max_value"]
    if low is not None and high is not None and low > high:
        raise InvalidRange(
            {"max_value": _("The highest valid value must not be below the lowest.")}
        )
    return ValueRange(low, high)


def _end(value: Any) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation as error:
        raise ValueError(value) from error
    if not number.is_finite() or abs(number) >= _LIMIT:
        raise ValueError(value)
    return number.quantize(Decimal(1).scaleb(-_PLACES))


# --- fractions in a per cent KPI ---------------------------------------------------------------


class Reading(Enum):
    AS_WRITTEN = "as_written"  # not a column of fractions: read as written, nothing to say
    FRACTIONS = "fractions"  # read as fractions: 0.92 → 92 %
    SMALL_PERCENTS = "small_percents"  # looked like fractions, but the target says per cents


@dataclass
class PercentColumn:
    """What the import has seen of one per cent KPI's plain numbers in one file."""

    name: str
    # The KPI's smallest assigned target above 0, if the catalogue has one.
    reference: float | None = None
    plain_numbers: int = 0
    total: float = 0.0
    all_between_0_and_1: bool = True
    any_fraction: bool = False
    example: str = ""

    def see(self, number: float, written: str) -> bool:
        """Count one plain number; True when it could be a fraction (0 to 1)."""
        self.plain_numbers += 1
        self.total += number
        if not 0 <= number <= 1:
            self.all_between_0_and_1 = False
            return False
        if not number.is_integer():
            self.any_fraction = True
            if not self.example:
                self.example = written
        return True

    def reading(self) -> Reading:
        return fraction_reading(
            plain_numbers=self.plain_numbers,
            all_between_0_and_1=self.all_between_0_and_1,
            any_fraction=self.any_fraction,
            average=self.total / self.plain_numbers if self.plain_numbers else 0.0,
            reference=self.reference,
        )

    def note(self) -> str | None:
        """What the report says about how this column was read, or None."""
        reading = self.reading()
        if reading is Reading.FRACTIONS:
            return ngettext(
                "%(kpi)s: read as fractions, %(example)s → %(percent)s %% (%(count)s number).",
                "%(kpi)s: read as fractions, %(example)s → %(percent)s %% (%(count)s numbers).",
                self.plain_numbers,
            ) % {
                "kpi": self.name,
                "example": self.example,
                "percent": plain(Decimal(self.example) * 100),
                "count": self.plain_numbers,
            }
        if reading is Reading.SMALL_PERCENTS:
            return _(
                "%(kpi)s: every number lies between 0 and 1, but next to the target of "
                "%(target)s %% they are small per cents, so they were read as written "
                "(%(example)s is %(example)s %%)."
            ) % {
                "kpi": self.name,
                "target": plain(self.reference or 0),
                "example": self.example,
            }
        return None


def fraction_reading(
    *,
    plain_numbers: int,
    all_between_0_and_1: bool,
    any_fraction: bool,
    average: float,
    reference: float | None,
) -> Reading:
    """The rule of the module docstring, for one per cent KPI in one file."""
    if not plain_numbers or not all_between_0_and_1 or not any_fraction:
        return Reading.AS_WRITTEN
    if reference is not None and reference > 0 and average >= reference / FRACTION_TARGET_SHARE:
        return Reading.SMALL_PERCENTS
    return Reading.FRACTIONS
