"""Disk and memory estimates at preview time, from the expected load in settings.

`estimate` is computed once per Settings: `parse()` calls it to refuse a volume the load cannot fit,
and the program reports the same (cached) estimate as its `capacity` output and warnings.

Formulas and constants (docs/operations.md, "Capacity", explains them with worked examples):
- Prometheus blocks: retention seconds x samples/s x BYTES_PER_SAMPLE. Prometheus's storage docs give
  1-2 bytes per sample after compression; we take the upper bound.
- WAL and head chunks: the WAL holds at least the last ~2h before compaction cuts a block (kept up to
  3h), WAL_BYTES_PER_SAMPLE each (assumption: ~16-byte records, snappy-compressed as by default).
- Prometheus memory: HEAD_BYTES_PER_SERIES per active series in the head (an assumption in line with
  published measurements of 2.x/3.x heads) plus QUERY_HEADROOM for queries and GC, plus a base.
- Loki disk: raw log volume/day / LOKI_COMPRESSION x retention days, plus LOKI_OVERHEAD for the TSDB
  index and compaction, plus a WAL of ~LOKI_WAL_HOURS of raw volume.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from settings.errors import SettingsError
from settings.model import Settings
from settings.validators import duration_seconds, prometheus_size_bytes, volume_size_bytes

BYTES_PER_SAMPLE = 2.0
WAL_BYTES_PER_SAMPLE = 6.0
WAL_HOURS = 3
HEAD_BYTES_PER_SERIES = 4 * 1024
QUERY_HEADROOM = 1.5
PROMETHEUS_BASE_MEMORY = 200 * 2**20
RECORDING_RULE_OVERHEAD = 1.10  # recorded series on top of scraped ones
LOKI_COMPRESSION = 5.0
LOKI_OVERHEAD = 1.10
LOKI_WAL_HOURS = 2
WARN_SHARE = 0.85  # warn when an estimate uses more than this share of what is provisioned
GIB = 2**30


@dataclass(frozen=True)
class Finding:
    level: str  # "warning" | "error"
    key: str
    message: str


@dataclass(frozen=True)
class CapacityEstimate:
    series: int
    samples_per_second: float
    prometheus_blocks_bytes: int  # what retentionTime alone would need
    prometheus_wal_bytes: int
    prometheus_disk_bytes: int  # expected use, capped by retentionSize
    prometheus_history_days: float  # history retentionSize actually allows
    prometheus_memory_bytes: int
    loki_disk_bytes: int
    findings: tuple[Finding, ...] = field(default=())

    def as_output(self) -> dict:
        gib = lambda value: round(value / GIB, 2)  # noqa: E731
        return {
            "activeSeries": self.series,
            "samplesPerSecond": round(self.samples_per_second, 1),
            "prometheusDiskGiB": gib(self.prometheus_disk_bytes),
            "prometheusWalGiB": gib(self.prometheus_wal_bytes),
            "prometheusHistoryDays": round(self.prometheus_history_days, 1),
            "prometheusMemoryGiB": gib(self.prometheus_memory_bytes),
            "lokiDiskGiB": gib(self.loki_disk_bytes),
            "warnings": [f"{f.key}: {f.message}" for f in self.findings if f.level == "warning"],
        }

    def summary(self) -> str:
        out = self.as_output()
        return (f"{out['activeSeries']} series, {out['samplesPerSecond']} samples/s; Prometheus disk {out['prometheusDiskGiB']} GiB "
                f"(history {out['prometheusHistoryDays']} d), memory {out['prometheusMemoryGiB']} GiB; Loki disk {out['lokiDiskGiB']} GiB")

    def raise_errors(self) -> None:
        for finding in self.findings:
            if finding.level == "error":
                raise SettingsError(finding.key, finding.message)


def active_series(settings: Settings) -> int:
    per_job = settings.capacity.series
    nodes = settings.capacity.nodes
    daemons = nodes if settings.platform == "kubernetes" else 1
    scraped = (per_job.ngx_api + per_job.node * nodes + per_job.redis + per_job.prometheus * settings.prometheus.replicas
               + per_job.alertmanager * settings.alertmanager.replicas + per_job.loki + per_job.grafana + per_job.proxy
               + per_job.alloy * daemons + per_job.pushgateway)
    if settings.platform == "kubernetes":
        scraped += per_job.kube_state_metrics + (per_job.kubelet + per_job.cadvisor) * nodes
    return int(scraped * RECORDING_RULE_OVERHEAD)


# Settings is a frozen (hashable) dataclass and the estimate a pure function of it: one computation
# serves parse(), the program's output and synth's report.
@functools.cache
def estimate(settings: Settings) -> CapacityEstimate:
    prom = settings.prometheus
    series = active_series(settings)
    rate = series / duration_seconds(prom.scrape_interval)
    blocks = rate * duration_seconds(prom.retention_time) * BYTES_PER_SAMPLE
    wal = rate * WAL_HOURS * 3600 * WAL_BYTES_PER_SAMPLE
    retention_cap = prometheus_size_bytes(prom.retention_size)
    disk = min(blocks + wal, retention_cap)
    history_days = max(0.0, (retention_cap - wal) / (rate * BYTES_PER_SAMPLE) / 86400) if rate else float("inf")
    memory = series * HEAD_BYTES_PER_SERIES * QUERY_HEADROOM + PROMETHEUS_BASE_MEMORY
    raw_per_day = prometheus_size_bytes(settings.capacity.log_volume_per_day)
    loki = raw_per_day / LOKI_COMPRESSION * (duration_seconds(settings.loki.retention) / 86400) * LOKI_OVERHEAD \
        + raw_per_day / 24 * LOKI_WAL_HOURS
    findings = []
    retention_days = duration_seconds(prom.retention_time) / 86400
    if blocks + wal > retention_cap:
        findings.append(Finding("warning", "prometheus.retentionSize",
                                f"{prom.retention_size} holds about {history_days:.1f} days at {rate:.0f} samples/s, less than retentionTime "
                                f"{prom.retention_time} ({retention_days:.0f} days); raise retentionSize (and storageSize) to keep the full history"))
    memory_limit = volume_size_bytes(settings.resources.prometheus.memory)
    if memory > memory_limit:
        findings.append(Finding("warning", "resources.prometheus.memory",
                                f"{settings.resources.prometheus.memory} is below the estimated {memory / GIB:.2f} GiB for {series} series; Prometheus may be OOM-killed"))
    loki_volume = volume_size_bytes(settings.loki.storage_size)
    need_gib = -(-loki // GIB)
    if loki > loki_volume:
        findings.append(Finding("error", "loki.storageSize",
                                f"{settings.loki.storage_size} is smaller than the estimated {loki / GIB:.1f} GiB for {settings.capacity.log_volume_per_day}/day kept "
                                f"{settings.loki.retention}; raise loki.storageSize to at least {need_gib:.0f}Gi or shorten loki.retention"))
    elif loki > loki_volume * WARN_SHARE:
        findings.append(Finding("warning", "loki.storageSize",
                                f"the estimated {loki / GIB:.1f} GiB uses over {WARN_SHARE:.0%} of {settings.loki.storage_size}"))
    prom_volume = volume_size_bytes(prom.storage_size)
    if disk > prom_volume:
        findings.append(Finding("error", "prometheus.storageSize",
                                f"{prom.storage_size} is smaller than the estimated {disk / GIB:.1f} GiB; raise it"))
    return CapacityEstimate(series, rate, int(blocks), int(wal), int(disk), history_days, int(memory), int(loki), tuple(findings))
