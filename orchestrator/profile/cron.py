"""Cron expressions as systemd OnCalendar= lines, exactly.

Every cron field is expanded to its set of values (lists, ranges, steps, month and
weekday names), then written as a systemd list. The day fields follow cron's own
rule: when neither day-of-month nor day-of-week starts with `*`, cron fires when
either matches, which is two OnCalendar= lines (systemd ORs them); when one starts
with `*` (even `*/2`), both must match, which is one line naming both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

MACROS = {
    "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
SYSTEMD_WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]


class CronError(ValueError):
    pass


@dataclass(frozen=True)
class Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0
    open_high: int | None = None  # where `*` and `N/step` end, when not at `high`


FIELDS = (
    Field("minute", 0, 59), Field("hour", 0, 23), Field("day of month", 1, 31),
    Field("month", 1, 12, tuple(MONTHS), 1),
    Field("day of week", 0, 7, tuple(WEEKDAYS), 0, open_high=6),
)


def expand(expression: str) -> list[set[int]]:
    """The five fields' value sets (day of week 7 counted as 0, Sunday)."""
    text = MACROS.get(expression.strip().lower(), expression)
    parts = text.split()
    if len(parts) != 5:
        raise CronError(f"{expression!r}: a cron expression has five fields "
                        "(minute hour day-of-month month day-of-week) or is @hourly, @daily, …")
    values = [_field(part, field) for part, field in zip(parts, FIELDS, strict=True)]
    values[4] = {0 if day == 7 else day for day in values[4]}
    return values


def _number(text: str, field: Field) -> int:
    lowered = text.lower()
    if lowered in field.names:
        return field.names.index(lowered) + field.name_base
    if not text.isdigit():
        raise CronError(f"{field.name}: {text!r} is not a number or a name")
    value = int(text)
    if not field.low <= value <= field.high:
        raise CronError(f"{field.name}: {value} is outside {field.low}-{field.high}")
    return value


def _field(text: str, field: Field) -> set[int]:
    result: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{field.name}: bad step in {item!r}")
            step = int(step_text)
        open_high = field.high if field.open_high is None else field.open_high
        if base == "*":
            low, high = field.low, open_high
        elif "-" in base:
            start, _, end = base.partition("-")
            low, high = _number(start, field), _number(end, field)
            if low > high:
                raise CronError(f"{field.name}: range {base!r} runs backwards")
        else:
            low = _number(base, field)
            high = open_high if step_text else low
        result |= set(range(low, high + 1, step))
    return result


def _join(values: set[int], width: int) -> str:
    return ",".join(f"{value:0{width}d}" for value in sorted(values))


def to_oncalendar(expression: str) -> list[str]:
    """The OnCalendar= values that fire exactly when cron fires."""
    minutes, hours, days, months, weekdays = expand(expression)
    either = days_either(expression)
    all_days, all_weekdays = days == set(range(1, 32)), weekdays == set(range(7))
    month = "*" if months == set(range(1, 13)) else _join(months, 2)
    hour = "*" if hours == set(range(24)) else _join(hours, 2)
    minute = "*" if minutes == set(range(60)) else _join(minutes, 2)
    time = f"{hour}:{minute}:00"
    dom = "*" if all_days else _join(days, 2)
    dow = ",".join(SYSTEMD_WEEKDAYS[day] for day in sorted(weekdays))
    if either:
        if all_days or all_weekdays:
            return [f"*-{month}-* {time}"]  # one of the two matches every day
        return [f"*-{month}-{dom} {time}", f"{dow} *-{month}-* {time}"]
    return [f"{'' if all_weekdays else dow + ' '}*-{month}-{dom} {time}"]


def days_either(expression: str) -> bool:
    """cron's rule: a day matches when either day field does only if neither field
    starts with `*`; otherwise it must match both."""
    parts = MACROS.get(expression.strip().lower(), expression).split()
    return not parts[2].startswith("*") and not parts[4].startswith("*")


def cron_times(expression: str, start: datetime) -> Any:
    """croniter over the expression with cron's day rule (croniter alone treats `*/2` in
    a day field as a restriction and ORs it with the other)."""
    from croniter import croniter  # type: ignore[import-untyped,unused-ignore]

    expand(expression)
    text = MACROS.get(expression.strip().lower(), expression)
    return croniter(text, start, day_or=days_either(text))
