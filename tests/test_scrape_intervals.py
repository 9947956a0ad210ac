"""Per-job scrape intervals (prometheus.scrapeIntervals) and the `monitor` external label.

What would break without these: a job scraped slower than its rules' rate() windows allow records
nothing (rate() needs two samples in its window) and its alerts never fire; a 5m interval makes every
series go stale between scrapes and absent() fire on a healthy target; a timeout above the interval
makes Prometheus refuse the whole file; the capacity estimate would count a slowed job at full rate.
"""

from __future__ import annotations

import re

import pytest
import yaml

import catalog
from alerting.rules import all_groups
from components.grafana.datasources import datasource_configs
from dashboards.datasources import PROMETHEUS
from renderers.prometheus import render_prometheus_config
from settings import SettingsError, parse
from settings.capacity import estimate
from settings.scrape import RATE_WINDOWS
from settings.validators import duration_ms
from tests.test_render_prometheus import _sandbox_with_prometheus_files

DEV = {"platform": "docker"}
PROD = {"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1/32"}}


def _settings(base: dict, intervals: dict | None = None, **prometheus):
    raw = {**base, "prometheus": {**prometheus, **({"scrapeIntervals": intervals} if intervals else {})}}
    return parse(raw, stack="prod" if base["platform"] == "kubernetes" else "dev")


def _jobs(settings) -> dict[str, dict]:
    return {job["job_name"]: job for job in yaml.safe_load(render_prometheus_config(settings))["scrape_configs"]}


def test_unset_intervals_leave_every_job_on_the_global_interval():
    for base in (DEV, PROD):
        for name, job in _jobs(_settings(base)).items():
            assert "scrape_interval" not in job and "scrape_timeout" not in job, name


def test_a_job_interval_is_rendered_on_that_job_alone_with_a_timeout_within_it():
    settings = _settings(PROD, {"grafana": "1m", "redis": "5s", "cadvisor": "30s", "node": "60s"})
    jobs = _jobs(settings)
    assert (jobs["grafana"]["scrape_interval"], jobs["grafana"]["scrape_timeout"]) == ("1m", "10s")
    # Below the 10s default timeout: the timeout follows the interval, or Prometheus refuses the file.
    assert (jobs["redis"]["scrape_interval"], jobs["redis"]["scrape_timeout"]) == ("5s", "5s")
    # Node-proxy (cadvisor) and pod-discovered (node) jobs take it as well as static ones.
    assert jobs["cadvisor"]["scrape_interval"] == "30s" and jobs["node"]["scrape_interval"] == "60s"
    assert all("scrape_interval" not in job for name, job in jobs.items() if name not in ("grafana", "redis", "cadvisor", "node"))


def test_promtool_accepts_a_config_with_job_intervals(tmp_path):
    settings = _settings(DEV, {"redis": "5s", "loki": "2m", "node": "1m"})
    box = _sandbox_with_prometheus_files(tmp_path, settings, render_prometheus_config(settings))
    result = box.run(["promtool", "check", "config", "/etc/prometheus/prometheus.yml"])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("base", "intervals", "key", "says"),
    [
        (DEV, {"low-priority": "1m"}, "prometheus.scrapeIntervals.low-priority", "not a known key"),
        (DEV, {"grafana": "5m"}, "prometheus.scrapeIntervals.grafana", "series go stale between scrapes"),
        (DEV, {"grafana": "3m"}, "prometheus.scrapeIntervals.grafana", "use 2m or less"),
        (DEV, {"node": "2m"}, "prometheus.scrapeIntervals.node", "fewer than 4 samples in the 5m rate() window"),
        (PROD, {"ngx-api": "90s"}, "prometheus.scrapeIntervals.ngx-api", "use 75s or less"),
        (DEV, {"kubelet": "1m"}, "prometheus.scrapeIntervals.kubelet", "Kubernetes only"),
        (DEV, {"redis": "soon"}, "prometheus.scrapeIntervals.redis", "not a Prometheus duration"),
    ],
)
def test_bad_intervals_are_refused_naming_the_key(base, intervals, key, says):
    with pytest.raises(SettingsError) as caught:
        _settings(base, intervals)
    message = str(caught.value)
    assert key in message and says in message
    assert "\n" not in message


def test_a_global_interval_too_long_for_the_rule_windows_is_refused_naming_the_global_key():
    with pytest.raises(SettingsError) as caught:
        parse({**DEV, "prometheus": {"scrapeInterval": "90s", "evaluationInterval": "90s"}}, stack="dev")
    assert "prometheus.scrapeInterval:" in str(caught.value) and "use 75s or less" in str(caught.value)
    # The jobs with 5m rule windows set back to 75s: the slow global interval serves the others.
    fast = {job: "75s" for job in ("ngx-api", "node", "node-netdev", "prometheus", "alertmanager")}
    settings = parse({**DEV, "prometheus": {"scrapeInterval": "90s", "evaluationInterval": "90s", "scrapeIntervals": fast}}, stack="dev")
    assert settings.prometheus.scrape_intervals.overrides() == fast


def test_the_longest_allowed_intervals_are_accepted():
    settings = _settings(PROD, {"grafana": "2m", "node": "75s", "kubelet": "2m"})
    assert settings.prometheus.scrape_intervals.overrides() == {"node": "75s", "grafana": "2m", "kubelet": "2m"}


def _shortest_raw_windows(settings) -> dict[str, int]:
    """The shortest range any rule applies to a raw (not recorded) series, per job, in ms."""
    windows: dict[str, int] = {}
    for group in all_groups(settings):
        for rule in group.recordings + group.alerts:
            for name, matchers, window in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\{([^}]*)\}\[([0-9a-z]+)\]", rule.expr):
                job = re.search(r'job="([^"]+)"', matchers)
                if ":" in name or not job:
                    continue
                windows[job.group(1)] = min(windows.get(job.group(1), 2**62), duration_ms(window))
    return windows


@pytest.mark.parametrize("base", [DEV, PROD], ids=["dev", "prod"])
def test_declared_rate_windows_are_the_shortest_the_rules_use(base):
    """settings.scrape.RATE_WINDOWS must follow the rules: a rule with a shorter window over a job's raw
    series would let an accepted interval leave it fewer than four samples."""
    settings = _settings(base)
    derived = _shortest_raw_windows(settings)
    assert derived, "no rule windows found: the pattern no longer matches the rendered expressions"
    declared = {job: duration_ms(window) for job, window in RATE_WINDOWS.items() if job in derived}
    assert declared == {job: window for job, window in derived.items() if job in catalog.JOBS}


def test_capacity_counts_each_job_at_its_own_interval():
    default = estimate(_settings(PROD))
    slowed = estimate(_settings(PROD, {"loki": "60s"}))
    series = _settings(PROD).capacity.series
    # Loki's series at 60s instead of 15s: three quarters of its samples are gone (recording overhead 1.1).
    expected_drop = series.loki * 1.10 * (1 / 15 - 1 / 60)
    assert default.samples_per_second - slowed.samples_per_second == pytest.approx(expected_drop, rel=1e-6)
    assert slowed.series == default.series  # the same series, scraped less often


def test_grafana_rate_interval_covers_the_slowest_job():
    def time_interval(settings):
        return next(config for config in datasource_configs(settings) if config.datasource.uid == PROMETHEUS.uid).json_data["timeInterval"]

    assert time_interval(_settings(DEV)) == "15s"
    assert time_interval(_settings(DEV, {"grafana": "1m", "redis": "5s"})) == "1m"


def test_monitor_external_label_defaults_to_the_seed_and_can_be_set():
    labels = yaml.safe_load(render_prometheus_config(_settings(DEV)))["global"]["external_labels"]
    assert labels["monitor"] == "ngx-monitor"
    labels = yaml.safe_load(render_prometheus_config(_settings(DEV, monitorLabel="ngx-monitor-eu")))["global"]["external_labels"]
    assert labels == {"env": "dev", "monitor": "ngx-monitor-eu", "replica": "${PROMETHEUS_REPLICA}"}
