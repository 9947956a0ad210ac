"""Whether each page's inhibitors can arrive before it (alerting.routes.oncallPager.groupWait).

Alertmanager applies an inhibit rule when it notifies. A route's group_wait gives an inhibiting alert
time to arrive; without enough of it, a page whose inhibitor fires later than the page itself goes
out before the silence can apply. Both start with the same fault (an API that stops answering starts
APIDown's and its symptoms' conditions together), so the inhibitor's `for` may exceed the page's by
at most the pager route's group_wait. The defaults keep every inhibitor's `for` within the page's,
so pages need no group_wait (tests/test_routing_inhibition.py); a longer `for` set on an inhibitor is
reported by `pulumi up` and synth as a warning, with the fix.

Equal `for` in different groups (APIDown in ngx.alerts, the SLO page in ngx-api.rules, both 2m) could
still let the page lead by up to one evaluation interval if both conditions began at the same
instant. They cannot for the rules here: the pages APIDown silences measure the API's own 5xx
answers, and a down API answers nothing, so its error ratios and burn rates only fall; what they
silence is an error spell that began before the outage, which is never later than APIDown.
"""

from __future__ import annotations

from alerting.model import Alert
from alerting.routing import ONCALL_PAGER, inhibit_rules, matches, receivers_for, routing_tree
from alerting.rules import alerts
from settings import Settings
from settings.validators import duration_ms


def _labels(alert: Alert) -> dict[str, str]:
    return {"alertname": alert.name, **alert.labels}


def _for_ms(alert: Alert) -> int:
    return duration_ms(alert.for_) if alert.for_ else 0


def inhibited_pages(settings: Settings) -> list[tuple[Alert, Alert]]:
    """(inhibitor, page) for every page an inhibit rule can silence and every alert that can silence it."""
    tree = routing_tree(settings)
    every = alerts(settings)
    pages = [alert for alert in every if ONCALL_PAGER in receivers_for(_labels(alert), tree)]
    found = []
    for rule in inhibit_rules(settings):
        sources = [alert for alert in every if all(matches(m, _labels(alert)) for m in rule.source_matchers)]
        for page in pages:
            if all(matches(m, _labels(page)) for m in rule.target_matchers):
                found.extend((source, page) for source in sources if source.name != page.name)
    return found


def late_inhibitors(settings: Settings) -> list[str]:
    """One line per inhibitor that fires later than its page by more than the pager's group_wait."""
    wait = settings.alerting.routes.oncall_pager.group_wait
    lines = []
    for source, page in inhibited_pages(settings):
        if _for_ms(source) - _for_ms(page) > duration_ms(wait):
            lines.append(
                f"{source.name} (for {source.for_}) silences the page {page.name} (for {page.for_}) but fires later, and pages wait "
                f"only {wait}: {page.name} would page first; shorten {source.name}'s for or raise groupWait to the difference"
            )
    return lines
