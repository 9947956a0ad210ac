"""Scenario 3: half of the API's requests fail. HighErrorRate and the fast SLOErrorBudgetBurn page
oncall-pager; the latency warning of the same job is inhibited, while other warnings are mailed.

The stack (fixture error_burst_stack) started its burst before the first live test. The tests that
wait for the fast burn alert's `for` (alerting.slo.pageBurnFor) and for the e-mail route's group_wait
(alerting.routes.opsEmail.groupWait) are marked slow: seconds in the livetest stack, minutes elsewhere.
"""

from __future__ import annotations

import calendar
import time

import pytest

import catalog
from tests.live import progress
from tests.live.clients import wait_until
from tests.live.deployment import LIVE_SECRETS
from tests.live.timings import patience

pytestmark = pytest.mark.live

JOB = catalog.JOB_API


def _am_alerts(stack, alertname: str) -> list[dict]:
    return [a for a in stack.alertmanager.alerts() if a["labels"]["alertname"] == alertname]


def test_high_error_rate_pages_oncall_pager(error_burst_stack, timings):
    stack = error_burst_stack
    labels = {"alertname": "HighErrorRate", "severity": "critical", "job": JOB}
    bound = timings.first_notification_bound("HighErrorRate", labels)
    page = stack.sink.wait_for(patience(bound), integration="pagerduty", alertname="HighErrorRate", status="firing")
    stack.sink.wait_for(patience(bound), integration="slack", alertname="HighErrorRate", status="firing")
    print(f"HighErrorRate paged {page.arrived - stack.fault_at:.1f}s after the burst began (bound {bound:.0f}s)")
    alert = _am_alerts(stack, "HighErrorRate")[0]
    assert [r["name"] for r in alert["receivers"]] == ["oncall-pager"]
    assert alert["status"]["state"] == "active"


def test_warnings_of_the_same_job_are_inhibited_by_its_page(error_burst_stack, timings):
    """HighResponseTime (warning, job ngx-api) fires too, slow requests being part of the burst, and is
    suppressed by a critical alert of the same job; a warning of another job is not."""
    stack = error_burst_stack
    bound = timings.first_notification_bound("HighResponseTime", {"alertname": "HighResponseTime", "severity": "warning"})
    warning = wait_until(
        lambda: [a for a in _am_alerts(stack, "HighResponseTime") if a["status"]["inhibitedBy"]], patience(bound), what="HighResponseTime inhibited"
    )[0]
    assert warning["labels"]["job"] == JOB and warning["labels"]["severity"] == "warning"
    assert warning["status"]["state"] == "suppressed"
    sources = {a["fingerprint"]: a for a in stack.alertmanager.alerts()}
    inhibitors = [sources[fp]["labels"] for fp in warning["status"]["inhibitedBy"] if fp in sources]
    assert inhibitors, "inhibited by an alert Alertmanager does not list"
    assert all(labels["severity"] == "critical" and labels["job"] == JOB for labels in inhibitors), inhibitors
    # The control: warnings of other jobs (GrafanaDown and the like: services not run here) are active,
    # and not inhibited. They fire after their own `for`, which may not have passed yet.
    others_bound = timings.scrape_interval + 2 * timings.evaluation_interval + timings.for_("GrafanaDown")
    others = wait_until(
        lambda: [a for a in stack.alertmanager.alerts() if a["labels"].get("severity") == "warning" and a["labels"].get("job") != JOB],
        patience(others_bound),
        what="a warning of another job in Alertmanager",
    )
    assert all(not a["status"]["inhibitedBy"] for a in others), "warnings of other jobs are not inhibited"


@pytest.mark.slow
def test_fast_slo_burn_pages_oncall_pager(error_burst_stack, timings):
    stack = error_burst_stack
    labels = {"alertname": "SLOErrorBudgetBurn", "severity": "critical", "job": JOB}
    bound = timings.first_notification_bound("SLOErrorBudgetBurn", labels, severity="critical")
    remaining = stack.fault_at + patience(bound) - time.time()
    page = stack.sink.wait_for(max(remaining, 30), integration="pagerduty", alertname="SLOErrorBudgetBurn", status="firing")
    print(f"SLOErrorBudgetBurn (fast burn) paged {page.arrived - stack.fault_at:.1f}s after the burst began (bound {bound:.0f}s)")
    burns = [a for a in _am_alerts(stack, "SLOErrorBudgetBurn") if a["labels"]["severity"] == "critical"]
    assert burns and [r["name"] for r in burns[0]["receivers"]] == ["oncall-pager"]


@pytest.mark.slow
def test_the_inhibited_warning_is_never_mailed_while_another_warning_is(error_burst_stack, timings):
    """Absence needs a control: GrafanaDown (a warning of a job that is not run here) is mailed to
    ops-email through STARTTLS and AUTH, so the mail path works, and HighResponseTime never is, even
    once its group_wait has passed."""
    stack = error_burst_stack
    control_labels = {"alertname": "GrafanaDown", "severity": "warning", "job": catalog.JOB_GRAFANA}
    route = timings.route(control_labels)
    assert route.receiver == "ops-email" and timings.receiver_integrations("ops-email") == {"email"}
    bound = timings.first_notification_bound("GrafanaDown", control_labels)
    remaining = stack.fault_at + patience(bound) - time.time()
    mail = stack.sink.wait_for(max(remaining, 30), integration="email", alertname="GrafanaDown", status="firing")
    email_settings = stack.settings.receivers.email
    assert mail.meta["tls"], "the mail went out without STARTTLS"
    assert mail.meta["auth"] == (email_settings.username, LIVE_SECRETS["receivers.email.password"])
    assert mail.meta["to"] == list(email_settings.to) and mail.meta["from"] == email_settings.sender

    warning_bound = timings.scrape_interval + 2 * timings.evaluation_interval_of("HighResponseTime") + timings.for_("HighResponseTime")
    warning = wait_until(lambda: _am_alerts(stack, "HighResponseTime"), patience(warning_bound), what="HighResponseTime in Alertmanager")[0]
    active_since = calendar.timegm(time.strptime(warning["startsAt"][:19], "%Y-%m-%dT%H:%M:%S"))
    # Past its route's group_wait (plus a delivery margin) it would have been mailed, were it not inhibited.
    wait = active_since + timings.route(warning["labels"]).group_wait + 15 - time.time()
    progress.sleep(min(wait, 300), "HighResponseTime's group_wait passes; an inhibited warning must not be mailed")
    assert not stack.sink.notifications(alertname="HighResponseTime"), "an inhibited warning was notified"
    assert _am_alerts(stack, "HighResponseTime")[0]["status"]["state"] == "suppressed"
