"""Scenario 6: a broken configuration pushed to a running Prometheus is rejected on reload, and the
old configuration keeps working (targets scraped, rules evaluated) until a good one is pushed.

The file is replaced where the running process reads it (its mount namespace, as an updated
ConfigMap or files volume would be) and reloaded through the lifecycle API the rendered flags enable.
"""
from __future__ import annotations

import time

import pytest

from renderers import paths
from tests.live.clients import wait_until
from tests.live.timings import patience
from topology import PROMETHEUS

pytestmark = pytest.mark.live

CONFIG = paths.config_path(PROMETHEUS, "prometheus.yml")
RULES = paths.config_path(PROMETHEUS, "rules/ngx-alerts.yml")


def _last_scrape(stack, job: str) -> str:
    return next(t["lastScrape"] for t in stack.prometheus.targets() if t["labels"]["job"] == job)


def _last_evaluation(stack, group: str) -> str:
    return next(g["lastEvaluation"] for g in stack.prometheus.rules() if g["name"] == group)


def _break(text: str, path: str) -> str:
    if path == CONFIG:
        # A typo in a key: Prometheus refuses unknown fields.
        broken = text.replace("scrape_interval:", "scrape_intervall:", 1)
    else:
        # A rule whose expression does not parse.
        broken = text.replace("expr: ", "expr: sum(", 1)
    assert broken != text
    return broken


@pytest.mark.parametrize("path", [CONFIG, RULES], ids=["prometheus.yml", "rule file"])
def test_broken_config_is_rejected_and_the_old_one_keeps_working(main_stack, timings, path):
    stack = main_stack
    admin = stack.endpoint(PROMETHEUS, user=stack.admin_user)
    live_file = stack.file_in(PROMETHEUS, path)
    good = live_file.read_text()
    loaded_before = stack.prometheus.endpoint.get("/api/v1/status/config").json()["data"]["yaml"]
    try:
        live_file.write_text(_break(good, path))
        rejected_at = time.time()
        reply = admin.post("/-/reload")
        assert reply.status == 500, (reply.status, reply.body)
        assert b"error" in reply.body.lower()

        successful = 'prometheus_config_last_reload_successful{job="prometheus"}'
        wait_until(lambda: stack.prometheus.value(successful) == 0, patience(timings.scrape_interval),
                   what="the failed reload recorded")
        assert stack.prometheus.endpoint.get("/api/v1/status/config").json()["data"]["yaml"] == loaded_before

        # The old configuration goes on: targets are scraped and rules evaluated after the rejection.
        scrape, evaluation = _last_scrape(stack, "node"), _last_evaluation(stack, "ngx.alerts")
        wait_until(lambda: _last_scrape(stack, "node") > scrape and _last_evaluation(stack, "ngx.alerts") > evaluation,
                   patience(timings.scrape_interval + timings.evaluation_interval), what="scrapes and evaluations go on")
        assert stack.prometheus.value('up{job="node"}') == 1
        assert stack.prometheus.query('up{job="node"}[5s]', time.time())[0]["values"][-1][0] > rejected_at
    finally:
        live_file.write_text(good)
    assert admin.post("/-/reload").status == 200
    wait_until(lambda: stack.prometheus.value(successful) == 1, patience(timings.scrape_interval),
               what="the good configuration reloaded")
