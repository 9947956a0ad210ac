"""Five-field cron schedules (`backup.schedule`): validation, and the longest gap between two runs.

The accepted syntax is what a Kubernetes CronJob accepts, restricted to numbers: in each of minute,
hour, day of month, month and day of week, `*`, a value, a range `a-b`, a step `*/n`, `a-b/n` or
`a/n` (a to the field's maximum), or a comma-separated list of those. Names (MON, JAN), `?` and
descriptors (@daily) are refused, so the schedule means the same to the CronJob controller and to a
host crontab running the dev script. Day of week is 0-6 (Sunday is 0; Kubernetes refuses 7).

As in Kubernetes (robfig/cron), when both day of month and day of week are restricted a day matches
either; a field counts as unrestricted only when it is `*` (a step such as `*/2` restricts it).

The BackupTooOld alert needs the longest time a correct schedule can leave between two backups.
`longest_gap_seconds` finds it by walking the schedule day by day over 28 years (a full cycle of
weekdays and leap years from 2001 to 2099), in UTC, which is the time zone the CronJob is given.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from settings.errors import SettingsError

# (name, minimum, maximum) of each field, in order.
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 6))
_ITEM = re.compile(r"^(?:(?P<star>\*)|(?P<low>\d+)(?:-(?P<high>\d+))?)(?:/(?P<step>\d+))?$")
# 28 years repeat the calendar (weekdays and leap years) anywhere from 1901 to 2099.
_WINDOW_START = date(2001, 1, 1)
_WINDOW_DAYS = (date(2029, 1, 1) - _WINDOW_START).days
# Backups further apart than this lose too much; a schedule that allows it is refused.
MAX_GAP_SECONDS = 31 * 86400
# Backups closer together than this would snapshot Prometheus continuously.
MIN_GAP_SECONDS = 3600


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    def runs_on(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays  # isoweekday: Monday 1 .. Sunday 7 -> cron 0 is Sunday
        if self.days_restricted and self.weekdays_restricted:
            return dom or dow
        return dom and dow


def _field(text: str, name: str, low: int, high: int, key: str, expression: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        match = _ITEM.match(item)
        if not match:
            raise SettingsError(key, f"{expression!r}: {item!r} is not a {name} (use numbers, *, a-b, */n or lists); e.g. '0 3 * * *' for 03:00 UTC daily")
        if match["star"]:
            start, end = low, high
        else:
            start = int(match["low"])
            end = int(match["high"]) if match["high"] is not None else (high if match["step"] else start)
        step = int(match["step"]) if match["step"] is not None else 1
        if not (low <= start <= high and low <= end <= high) or start > end or step < 1:
            raise SettingsError(key, f"{expression!r}: {item!r} is outside the {name} range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def parse(expression: str, key: str = "backup.schedule") -> Schedule:
    fields = expression.split()
    if len(fields) != len(FIELDS):
        raise SettingsError(key, f"{expression!r} has {len(fields)} fields; write five (minute hour day-of-month month day-of-week), e.g. '0 3 * * *'")
    parsed = [_field(text, name, low, high, key, expression) for text, (name, low, high) in zip(fields, FIELDS)]
    return Schedule(*parsed, days_restricted=fields[2] != "*", weekdays_restricted=fields[4] != "*")


def gaps_seconds(expression: str, key: str = "backup.schedule") -> tuple[int, int]:
    """(shortest, longest) time between two consecutive runs, in seconds.

    Every run day repeats the same times of day, so a gap is either between two times of one day or
    from the last time of a run day to the first time of the next run day."""
    schedule = parse(expression, key)
    times = sorted(hour * 60 + minute for hour in schedule.hours for minute in schedule.minutes)
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    run_days = [offset for offset in range(_WINDOW_DAYS) if schedule.runs_on(_WINDOW_START + timedelta(days=offset))]
    gaps += [(later - earlier) * 1440 + times[0] - times[-1] for earlier, later in zip(run_days, run_days[1:])]
    if len(run_days) * len(times) < 2:
        raise SettingsError(key, f"{expression!r} never runs (or runs once in 28 years); check day of month against month")
    return min(gaps) * 60, max(gaps) * 60


def longest_gap_seconds(expression: str) -> int:
    return gaps_seconds(expression)[1]


def _human(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return "".join(parts) or "0m"


def cron(value: object, key: str) -> str:
    """A five-field cron schedule (UTC) that runs at most every 31 days and at most hourly."""
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(key, f"{value!r} must be a cron schedule such as '0 3 * * *' (03:00 UTC daily)")
    expression = " ".join(value.split())
    shortest, longest = gaps_seconds(expression, key)
    if longest > MAX_GAP_SECONDS:
        raise SettingsError(key, f"{expression!r} leaves up to {_human(longest)} between backups; use a schedule that runs at least every 31 days")
    if shortest < MIN_GAP_SECONDS:
        raise SettingsError(key, f"{expression!r} runs {_human(shortest)} apart; backups more often than hourly would snapshot Prometheus continuously")
    return expression
