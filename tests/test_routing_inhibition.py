"""Pages go out without a group_wait (alerting.routes.oncallPager.groupWait 0s): safe only while every
alert that inhibits a page fires no later than that page (alerting.inhibition_order says why)."""

from __future__ import annotations

import pytest

from alerting.inhibition_order import inhibited_pages, late_inhibitors
from synth import main as synth_main
from tests.alerting_helpers import dev_settings, kubernetes_settings


@pytest.mark.parametrize("make", [dev_settings, kubernetes_settings], ids=["docker", "kubernetes"])
def test_every_inhibitor_of_a_page_fires_no_later_than_the_page(make):
    settings = make()
    assert settings.alerting.routes.oncall_pager.group_wait == "0s"
    pairs = {(source.name, page.name) for source, page in inhibited_pages(settings)}
    # The pairs the rules exist for, so the check below cannot pass by finding nothing to check.
    assert {("APIDown", "HighErrorRate"), ("APIDown", "SLOErrorBudgetBurn")} <= pairs
    assert late_inhibitors(settings) == []


def test_an_inhibitor_held_longer_than_its_page_is_reported_with_the_fix():
    settings = dev_settings(alerting={"thresholds": {"apiDownFor": "10m"}})
    lines = late_inhibitors(settings)
    assert any(line.startswith("APIDown (for 10m) silences the page HighErrorRate (for 5m)") for line in lines), lines
    assert all("raise groupWait" in line for line in lines)
    # A group_wait covering the difference lets the inhibitor arrive first.
    waited = dev_settings(alerting={"thresholds": {"apiDownFor": "10m"}, "routes": {"oncallPager": {"groupWait": "8m"}}})
    assert late_inhibitors(waited) == []


def test_synth_warns_about_a_late_inhibitor(capsys):
    assert synth_main(["--stack", "dev", "--config", "alerting.thresholds.apiDownFor=10m"]) == 0
    out = capsys.readouterr().out
    assert "synth: warning: ngx-monitoring:alerting.routes.oncallPager.groupWait: APIDown (for 10m) silences the page HighErrorRate" in out
