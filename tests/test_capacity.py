"""Capacity estimate: worked examples of each formula, and the warn/fail thresholds."""
from __future__ import annotations

import pytest

from settings import SettingsError, capacity, parse


def settings_with(**sections):
    return parse({"platform": "docker", **sections}, stack="dev")


def test_worked_example_prometheus_disk_and_memory():
    """10,000 scraped series (+10% recorded) every 15s for 15d:
    11,000 / 15 = 733.3 samples/s; blocks = 733.3 x 1,296,000 s x 2 B = 1.90 GB;
    WAL = 733.3 x 10,800 s x 6 B = 47.5 MB; memory = 11,000 x 4 KiB x 1.5 + 200 MiB = 276 MiB."""
    series = {"ngxApi": 10000 - 1500 - 500 - 2000 - 300 - 3000 - 1500 - 50 - 800 - 150}
    s = settings_with(capacity={"series": series, "nodes": 1})
    estimate = capacity.estimate(s)
    assert estimate.series == 11000
    assert estimate.samples_per_second == pytest.approx(733.33, rel=1e-3)
    assert estimate.prometheus_blocks_bytes == pytest.approx(733.33 * 15 * 86400 * 2, rel=1e-3)
    assert estimate.prometheus_wal_bytes == pytest.approx(733.33 * 3 * 3600 * 6, rel=1e-3)
    assert estimate.prometheus_disk_bytes == pytest.approx(estimate.prometheus_blocks_bytes + estimate.prometheus_wal_bytes, rel=1e-6)
    assert estimate.prometheus_memory_bytes == pytest.approx(11000 * 4096 * 1.5 + 200 * 2**20, rel=1e-6)


def test_worked_example_loki_disk():
    """5 GB/day raw, kept 30 days: 5 GiB / 5 x 30 x 1.1 + 5 GiB / 24 x 2 = 33.0 + 0.42 = 33.4 GiB."""
    s = parse({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1/32"}}, stack="prod")
    estimate = capacity.estimate(s)
    assert estimate.loki_disk_bytes / 2**30 == pytest.approx(5 / 5 * 30 * 1.1 + 5 / 24 * 2, rel=1e-3)


def test_retention_size_caps_disk_and_warns_that_history_is_short():
    s = settings_with(prometheus={"retentionTime": "90d", "retentionSize": "2GB", "storageSize": "10Gi"},
                      capacity={"series": {"ngxApi": 50000}})
    estimate = capacity.estimate(s)
    assert estimate.prometheus_disk_bytes == 2 * 2**30
    assert estimate.prometheus_history_days < 90
    warnings = [f for f in estimate.findings if f.key == "prometheus.retentionSize"]
    assert warnings and warnings[0].level == "warning" and "90d" in warnings[0].message


def test_memory_limit_below_estimate_warns():
    s = settings_with(capacity={"series": {"ngxApi": 400000}}, resources={"prometheus": {"memory": "1Gi"}})
    keys = [f.key for f in capacity.estimate(s).findings if f.level == "warning"]
    assert "resources.prometheus.memory" in keys


def test_defaults_have_no_findings():
    for platform, stack in (("docker", "dev"), ("kubernetes", "prod")):
        assert capacity.estimate(parse({"platform": platform, "kubernetes": {"apiServerCidr": "10.96.0.1/32"}}, stack=stack)).findings == ()


def test_loki_volume_too_small_fails_with_the_size_needed():
    with pytest.raises(SettingsError) as error:
        settings_with(capacity={"logVolumePerDay": "50GB"})
    assert error.value.key == "loki.storageSize"
    assert "at least" in str(error.value) and "Gi" in str(error.value)


def test_loki_volume_nearly_full_warns():
    s = settings_with(capacity={"logVolumePerDay": "6GB"}, loki={"storageSize": "10Gi"})
    findings = {f.key: f.level for f in capacity.estimate(s).findings}
    assert findings.get("loki.storageSize") == "warning"


def test_every_scrape_job_has_an_expected_series_count():
    """A job missing here would be left out of the disk and memory estimate."""
    import dataclasses

    import catalog
    from settings.model import SeriesPerJob

    keys = {field.metadata["spec"].key for field in dataclasses.fields(SeriesPerJob)}
    expected = {job.replace("ngx-api", "ngxApi").replace("kube-state-metrics", "kubeStateMetrics") for job in catalog.JOBS}
    assert keys == expected


def test_the_estimate_is_computed_once_per_settings():
    """parse() refuses what the estimate cannot fit and the program reports the estimate: one
    computation serves both, so a deploy warns about exactly the estimate that passed validation."""
    s = settings_with(capacity={"series": {"ngxApi": 12345}})
    hits = capacity.estimate.cache_info().hits
    first = capacity.estimate(s)
    assert capacity.estimate.cache_info().hits == hits + 1  # parse() computed it already
    assert capacity.estimate(s) is first
