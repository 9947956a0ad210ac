"""Five-field cron schedules (`backup.schedule`): validation, and the longest gap between two runs.

The accepted syntax is what both schedulers that run the backups accept, restricted to numbers: in
each of minute, hour, day of month, month and day of week, `*`, a value, a range `a-b`, a step `*/n`
or `a-b/n`, or a comma-separated list of those. Names (MON, JAN), `?`, descriptors (@daily) and `a/n`
(robfig reads it as a-max/n, cronie refuses it) are refused. Day of week is 0-6 (Sunday is 0;
Kubernetes refuses 7).

Two schedulers run the schedule: Kubernetes' CronJob controller in prod (robfig/cron v3) and the dev
host's crontab (cronie, whose day rule is Vixie cron's). Both run on a day when its month matches and,
if either day field is "starred", when day of month AND day of week match, otherwise when EITHER
matches. They disagree on what starts a star:
- robfig (parser.go getRange, spec.go dayMatches): any item of the field that is `*` with no step or
  step 1 (`*`, `*/1`, `1,*`); `*/2` is not starred.
- cronie (entry.c, DOM_STAR/DOW_STAR): the field's first character is `*` (`*`, `*/1`, `*/2`, `*,1`);
  `1,*` is not starred.
So `0 3 */1 * 1` runs on Mondays only under both, while `0 3 */2 * 1` runs on odd days or Mondays under
Kubernetes and on odd-day Mondays under cronie. A schedule whose run days differ between the two is
refused with the portable spelling, so the days it names, and the BackupTooOld alert computed from
them, hold on both backends.

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
DAY_OF_MONTH, DAY_OF_WEEK = 2, 4
_ITEM = re.compile(r"^(?:(?P<star>\*)|(?P<low>\d+)(?:-(?P<high>\d+))?)(?:/(?P<step>\d+))?$")
# 28 years repeat the calendar (weekdays and leap years) anywhere from 1901 to 2099.
_WINDOW_START = date(2001, 1, 1)
_WINDOW_DAYS = (date(2029, 1, 1) - _WINDOW_START).days
# Backups further apart than this lose too much; a schedule that allows it is refused.
MAX_GAP_SECONDS = 31 * 86400
# Backups closer together than this would snapshot Prometheus continuously.
MIN_GAP_SECONDS = 3600


def _robfig_star(field: str) -> bool:
    """robfig/cron v3 getRange: a `*` item keeps its star bit unless its step is above 1."""
    for item in field.split(","):
        base, _, step = item.partition("/")
        if base == "*" and (not step or int(step) <= 1):
            return True
    return False


def _cronie_star(field: str) -> bool:
    """cronie load_entry: DOM_STAR/DOW_STAR are set when the field's first character is `*`."""
    return field.startswith("*")


# The scheduler of each backend, and how it decides that a day field is starred.
SCHEDULERS = {"Kubernetes (robfig/cron)": _robfig_star, "the dev host's crontab (cronie)": _cronie_star}


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_field: str
    weekday_field: str

    def both_days_must_match(self, star) -> bool:
        return star(self.day_field) or star(self.weekday_field)

    def runs_on(self, day: date, both_days: bool) -> bool:
        """Whether the schedule runs on `day`, given whether the scheduler needs both day fields to match."""
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays  # isoweekday: Monday 1 .. Sunday 7 -> cron 0 is Sunday
        return (dom and dow) if both_days else (dom or dow)


def _field(text: str, name: str, low: int, high: int, key: str, expression: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        match = _ITEM.match(item)
        if not match:
            raise SettingsError(
                key, f"{expression!r}: {item!r} is not a {name} (use numbers, *, a-b, */n, a-b/n or lists); e.g. '0 3 * * *' for 03:00 UTC daily"
            )
        if match["low"] is not None and match["high"] is None and match["step"] is not None:
            raise SettingsError(
                key,
                f"{expression!r}: {item!r} means {match['low']}-{high}/{match['step']} to Kubernetes and is refused by cron on the dev host; write {match['low']}-{high}/{match['step']}",
            )
        if match["star"]:
            start, end = low, high
        else:
            start = int(match["low"])
            end = int(match["high"]) if match["high"] is not None else start
        step = int(match["step"]) if match["step"] is not None else 1
        if not (low <= start <= high and low <= end <= high) or start > end or step < 1:
            raise SettingsError(key, f"{expression!r}: {item!r} is outside the {name} range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _portable(field: str, low: int, high: int) -> str:
    """The spelling of a day field that both schedulers star alike: `*` alone, or steps as ranges."""
    if _robfig_star(field):
        return "*"
    return ",".join(f"{low}-{high}/{item[2:]}" if item.startswith("*/") else item for item in field.split(","))


def parse(expression: str, key: str = "backup.schedule") -> Schedule:
    fields = expression.split()
    if len(fields) != len(FIELDS):
        raise SettingsError(key, f"{expression!r} has {len(fields)} fields; write five (minute hour day-of-month month day-of-week), e.g. '0 3 * * *'")
    parsed = [_field(text, name, low, high, key, expression) for text, (name, low, high) in zip(fields, FIELDS, strict=False)]
    return Schedule(*parsed, day_field=fields[DAY_OF_MONTH], weekday_field=fields[DAY_OF_WEEK])


def run_days(expression: str, key: str = "backup.schedule") -> list[int]:
    """Days (offsets from 2001-01-01, over a 28-year calendar cycle) on which the schedule runs; refuses
    a schedule whose days differ between the two schedulers, naming the spelling both read alike."""
    schedule = parse(expression, key)
    by_scheduler = {
        name: [offset for offset in range(_WINDOW_DAYS) if schedule.runs_on(_WINDOW_START + timedelta(days=offset), schedule.both_days_must_match(star))]
        for name, star in SCHEDULERS.items()
    }
    (first, first_days), (second, second_days) = by_scheduler.items()
    if first_days != second_days:
        fields = expression.split()
        for index in (DAY_OF_MONTH, DAY_OF_WEEK):
            _, low, high = FIELDS[index]
            fields[index] = _portable(fields[index], low, high)
        portable = parse(" ".join(fields), key)
        rule = {True: "day of month AND day of week", False: "day of month OR day of week"}
        raise SettingsError(
            key,
            f"{expression!r} runs on {rule[schedule.both_days_must_match(SCHEDULERS[first])]} under {first} "
            f"but on {rule[schedule.both_days_must_match(SCHEDULERS[second])]} under {second}; "
            f"write {' '.join(fields)!r}, which both run on {rule[portable.both_days_must_match(SCHEDULERS[first])]}",
        )
    return first_days


def gaps_seconds(expression: str, key: str = "backup.schedule") -> tuple[int, int]:
    """(shortest, longest) time between two consecutive runs, in seconds.

    Every run day repeats the same times of day, so a gap is either between two times of one day or
    from the last time of a run day to the first time of the next run day."""
    schedule = parse(expression, key)
    days = run_days(expression, key)
    times = sorted(hour * 60 + minute for hour in schedule.hours for minute in schedule.minutes)
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    gaps += [(later - earlier) * 1440 + times[0] - times[-1] for earlier, later in zip(days, days[1:], strict=False)]
    if len(days) * len(times) < 2:
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
