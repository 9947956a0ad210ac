"""Which rule group each alert is evaluated in: after the recordings it reads, in their own group.

Prometheus evaluates the rules of one group in order, each at the same timestamp, and sends an alert's
notifications as soon as that rule is evaluated. An alert in the group of its recordings therefore
compares values recorded a moment earlier in the same evaluation: it becomes active one evaluation
after its inputs are scraped. Read from another group, the recordings are those of that group's last
run, up to one evaluation interval old, and every page waits that much longer (HighErrorRate did,
measured by the bench: docs/performance.md).

So placement is derived, not written by hand: an alert that reads recorded series joins the end of the
group that records them; one that reads raw series only stays in the plain alert group. An alert that
would read recordings of two groups is refused: move the recordings into one group (their order in it
is their dependency order) or split the alert.
"""

from __future__ import annotations

import re
from dataclasses import replace

from alerting.model import Alert, RuleGroup

# A recorded series name as a whole word of an expression (level:metric:operations has colons).
_NAME = r"(?<![\w:]){}(?![\w:])"


def reads(expr: str, name: str) -> bool:
    """Whether `expr` reads the series `name` (as a whole name, not a prefix of a longer one)."""
    return re.search(_NAME.format(re.escape(name)), expr) is not None


def recording_group_of(alert: Alert, groups: tuple[RuleGroup, ...]) -> RuleGroup | None:
    """The one group recording what `alert` reads; None when it reads raw series only."""
    found = [group for group in groups if any(reads(alert.expr, rule.record) for rule in group.recordings)]
    if len(found) > 1:
        names = ", ".join(group.name for group in found)
        raise ValueError(
            f"alert {alert.name} reads recordings of several groups ({names}): an alert is evaluated after its recordings in their group, "
            "so record its inputs in one group (alerting/recording.py) or split the alert"
        )
    return found[0] if found else None


def place(groups: tuple[RuleGroup, ...], alerts: tuple[Alert, ...]) -> tuple[tuple[RuleGroup, ...], tuple[Alert, ...]]:
    """(`groups`, each followed by the alerts that read its recordings in their given order; the alerts
    that read no recording)."""
    placed: dict[str, list[Alert]] = {group.name: [] for group in groups}
    unplaced = []
    for alert in alerts:
        group = recording_group_of(alert, groups)
        if group is None:
            unplaced.append(alert)
        else:
            placed[group.name].append(alert)
    return tuple(replace(group, rules=group.rules + tuple(placed[group.name])) for group in groups), tuple(unplaced)
