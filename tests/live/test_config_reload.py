"""Scenario 6: changed files reach the running Prometheus and Alertmanager without a restart, through
the reload mechanism the program renders; a broken file is refused and the old configuration goes on.

Files are replaced where the running process reads them (its mount namespace, as an updated ConfigMap
or files volume would be); nothing else is done by the test. Alertmanager is reloaded by the rendered
reloader sidecar itself (its shell script, in Alertmanager's PID and mount namespaces). Prometheus is
Debian's 2.42, which lacks 3.x's auto-reload, so the harness does what 3.5 does: SIGHUP when the
checksum of prometheus.yml and the globbed rule files differs from the last one that loaded
(tests/live/reloading.py). "No restart" is the same PID with the same start time.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from renderers import auth, paths
from settings.validators import duration_seconds
from tests.live.clients import wait_until
from tests.live.reloading import start_time
from tests.live.timings import patience
from topology import ALERTMANAGER, PROMETHEUS

pytestmark = pytest.mark.live

CONFIG = paths.config_path(PROMETHEUS, "prometheus.yml")
RULES = paths.config_path(PROMETHEUS, "rules/ngx-alerts.yml")
RECORDING_RULES = paths.config_path(PROMETHEUS, "rules/ngx-recording.yml")
ALERTMANAGER_CONFIG = paths.config_path(ALERTMANAGER, "alertmanager.yml")


def _reload_patience(stack) -> float:
    """One check of the reloader or of Prometheus's auto-reload (the slower of the two rendered
    intervals), plus the reload itself and a busy machine."""
    settings = stack.settings
    interval = max(duration_seconds(settings.prometheus.config_reload_interval), duration_seconds(settings.alertmanager.config_reload_interval))
    return patience(interval + 2)


def _identity(stack, service: str) -> tuple[int, int]:
    pid = stack.processes[service].pid
    return pid, start_time(pid)


def _last_scrape(stack, job: str) -> str:
    return next(t["lastScrape"] for t in stack.prometheus.targets() if t["labels"]["job"] == job)


def _last_evaluation(stack, group: str) -> str:
    return next(g["lastEvaluation"] for g in stack.prometheus.rules() if g["name"] == group)


def _own_metric(stack, service: str, name: str) -> float | None:
    """A gauge from the process's own /metrics (no scrape in between)."""
    body = stack.endpoint(service, user=auth.PROBE_USER).get("/metrics").body.decode()
    for line in body.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return None


def _break(text: str, path: str) -> str:
    if path == CONFIG:
        # A typo in a key: Prometheus refuses unknown fields.
        broken = text.replace("scrape_interval:", "scrape_intervall:", 1)
    else:
        # A rule whose expression does not parse.
        broken = text.replace("expr: ", "expr: sum(", 1)
    assert broken != text
    return broken


def _write(live_file: Path, text: str) -> None:
    """Replace the file in one step, as the kubelet's symlink swap does (Docker rewrites it in place)."""
    staged = live_file.with_name(f".{live_file.name}.new")
    staged.write_text(text)
    staged.replace(live_file)


def test_a_new_rule_is_loaded_by_the_running_prometheus(main_stack):
    stack = main_stack
    before = _identity(stack, PROMETHEUS)
    live_file = stack.file_in(PROMETHEUS, RECORDING_RULES)
    good = live_file.read_text()
    document = yaml.safe_load(good)
    document["groups"].append({"name": "reload.test", "rules": [{"record": "ngx_reload_test", "expr": "vector(1)"}]})
    try:
        _write(live_file, yaml.safe_dump(document))
        wait_until(lambda: "reload.test" in {g["name"] for g in stack.prometheus.rules()}, _reload_patience(stack), what="the new rule group loaded")
        assert _identity(stack, PROMETHEUS) == before, "Prometheus was restarted"
    finally:
        _write(live_file, good)
    wait_until(lambda: "reload.test" not in {g["name"] for g in stack.prometheus.rules()}, _reload_patience(stack), what="the rule group removed again")
    assert _identity(stack, PROMETHEUS) == before


@pytest.mark.parametrize("path", [CONFIG, RULES], ids=["prometheus.yml", "rule file"])
def test_broken_config_is_rejected_and_the_old_one_keeps_working(main_stack, timings, path):
    stack = main_stack
    before = _identity(stack, PROMETHEUS)
    live_file = stack.file_in(PROMETHEUS, path)
    good = live_file.read_text()
    loaded_before = stack.prometheus.endpoint.get("/api/v1/status/config").json()["data"]["yaml"]
    successful = "prometheus_config_last_reload_successful"
    try:
        _write(live_file, _break(good, path))
        rejected_at = time.time()
        wait_until(lambda: _own_metric(stack, PROMETHEUS, successful) == 0, _reload_patience(stack), what="the failed reload recorded")
        assert stack.prometheus.endpoint.get("/api/v1/status/config").json()["data"]["yaml"] == loaded_before

        # The old configuration goes on: targets are scraped and rules evaluated after the rejection.
        scrape, evaluation = _last_scrape(stack, "node"), _last_evaluation(stack, "ngx.alerts")
        wait_until(
            lambda: _last_scrape(stack, "node") > scrape and _last_evaluation(stack, "ngx.alerts") > evaluation,
            patience(timings.scrape_interval + timings.evaluation_interval),
            what="scrapes and evaluations go on",
        )
        assert stack.prometheus.value('up{job="node"}') == 1
        assert stack.prometheus.query('up{job="node"}[5s]', time.time())[0]["values"][-1][0] > rejected_at
        assert _identity(stack, PROMETHEUS) == before
        # A corrected file is a change, so it is loaded (the same text as before the break would not be:
        # Prometheus 3.5 reloads only when the files differ from those it last loaded).
        _write(live_file, good + "# corrected\n")
        wait_until(lambda: _own_metric(stack, PROMETHEUS, successful) == 1, _reload_patience(stack), what="the corrected file loaded")
    finally:
        _write(live_file, good)
    assert _identity(stack, PROMETHEUS) == before


def _loaded_alertmanager_config(stack) -> str:
    return stack.alertmanager.endpoint.get("/api/v2/status").json()["config"]["original"]


def test_alertmanager_loads_a_changed_file_and_refuses_a_broken_one_without_a_restart(main_stack):
    """Through the rendered reloader sidecar: it sees the change and sends SIGHUP."""
    stack = main_stack
    assert stack.processes[ALERTMANAGER].reloader.poll() is None, "the reloader is not running"
    before = _identity(stack, ALERTMANAGER)
    live_file = stack.file_in(ALERTMANAGER, ALERTMANAGER_CONFIG)
    good = live_file.read_text()
    document = yaml.safe_load(good)
    changed = {**document, "global": {**document.get("global", {}), "resolve_timeout": "7m"}}
    successful = "alertmanager_config_last_reload_successful"
    try:
        _write(live_file, yaml.safe_dump(changed))
        wait_until(
            lambda: yaml.safe_load(_loaded_alertmanager_config(stack))["global"]["resolve_timeout"] == "7m",
            _reload_patience(stack),
            what="the changed alertmanager.yml loaded",
        )
        assert _own_metric(stack, ALERTMANAGER, successful) == 1
        loaded = _loaded_alertmanager_config(stack)

        _write(live_file, "route: [this is not a route\n")
        wait_until(lambda: _own_metric(stack, ALERTMANAGER, successful) == 0, _reload_patience(stack), what="the failed reload recorded")
        assert _loaded_alertmanager_config(stack) == loaded, "a broken file replaced the running configuration"
        assert stack.endpoint(ALERTMANAGER, user=auth.PROBE_USER).get("/-/ready").status == 200
        assert stack.alertmanager.silences() is not None  # the API goes on serving
        assert _identity(stack, ALERTMANAGER) == before
    finally:
        _write(live_file, good)
    wait_until(
        lambda: (
            _own_metric(stack, ALERTMANAGER, successful) == 1 and yaml.safe_load(_loaded_alertmanager_config(stack))["global"].get("resolve_timeout") != "7m"
        ),
        _reload_patience(stack),
        what="the original file loaded again",
    )
    assert _identity(stack, ALERTMANAGER) == before
    log = (stack.workdir / ALERTMANAGER / "reloader.log").read_text()
    assert log.count("sent SIGHUP") >= 3, log
