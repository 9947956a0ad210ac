"""Per-job scrape intervals (prometheus.scrapeIntervals): a slower interval for low-priority jobs.

Keys are the scrape jobs' names, as the `job` label and Prometheus's Targets page show them; an unset
job is scraped every prometheus.scrapeInterval. Three limits keep every rule and panel valid:
- MAX_INTERVAL: Prometheus looks back 5m for the latest sample of a series. At 5m (the seed guide's
  low-priority example) a series is stale whenever one scrape is late or fails, and `absent()` and the
  down alerts fire on a healthy target; 2m leaves room for a failed scrape, as the global key does.
- RATE_WINDOWS: the recording and alert rules apply `rate()` over raw series of these jobs, with at
  least this window; a window must hold four scrapes (Grafana's $__rate_interval rule), so one missed
  scrape still leaves two samples to compute a rate from. tests/test_scrape_intervals.py derives the
  windows from the rendered rules and fails when a rule shortens one.
- Kubernetes-only jobs cannot be set on Docker, where they do not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import catalog
from settings import validators as v
from settings.errors import SettingsError
from settings.schema import setting

if TYPE_CHECKING:
    from settings.model import Settings

MAX_INTERVAL = "2m"
SAMPLES_PER_WINDOW = 4
# The shortest `rate()`/`*_over_time()` window any rule applies to a raw series of the job.
RATE_WINDOWS = {
    catalog.JOB_API: "5m",
    catalog.JOB_NODE: "5m",
    catalog.JOB_NODE_NETDEV: "5m",
    catalog.JOB_PROMETHEUS: "5m",
    catalog.JOB_ALERTMANAGER: "5m",
    catalog.JOB_KUBE_STATE_METRICS: "5m",
    catalog.JOB_CADVISOR: "5m",
    catalog.JOB_KUBELET: "6h",
}
KUBERNETES_ONLY_JOBS = (catalog.JOB_KUBE_STATE_METRICS, catalog.JOB_KUBELET, catalog.JOB_CADVISOR)
# The capacity estimate's series terms (settings/capacity.py, keys of capacity.series) and their jobs.
TERM_JOBS = {
    "ngxApi": catalog.JOB_API,
    "node": catalog.JOB_NODE,
    "nodeNetdev": catalog.JOB_NODE_NETDEV,
    "redis": catalog.JOB_REDIS,
    "prometheus": catalog.JOB_PROMETHEUS,
    "alertmanager": catalog.JOB_ALERTMANAGER,
    "loki": catalog.JOB_LOKI,
    "grafana": catalog.JOB_GRAFANA,
    "proxy": catalog.JOB_PROXY,
    "alloy": catalog.JOB_ALLOY,
    "pushgateway": catalog.JOB_PUSHGATEWAY,
    "kubeStateMetrics": catalog.JOB_KUBE_STATE_METRICS,
    "kubelet": catalog.JOB_KUBELET,
    "cadvisor": catalog.JOB_CADVISOR,
}


def _interval(job: str):
    doc = f"Scrape interval of job `{job}`; unset means prometheus.scrapeInterval. At most {MAX_INTERVAL}"
    if job in RATE_WINDOWS:
        doc += f", and at most a quarter of the {RATE_WINDOWS[job]} rate window its rules use"
    if job in KUBERNETES_ONLY_JOBS:
        doc += " (Kubernetes only)"
    return setting(job, v.duration, doc + ".", None)


@dataclass(frozen=True)
class ScrapeIntervals:
    """One optional interval per scrape job (catalog.JOBS), keyed by the job's name."""

    ngx_api: str | None = _interval(catalog.JOB_API)
    node: str | None = _interval(catalog.JOB_NODE)
    node_netdev: str | None = _interval(catalog.JOB_NODE_NETDEV)
    redis: str | None = _interval(catalog.JOB_REDIS)
    prometheus: str | None = _interval(catalog.JOB_PROMETHEUS)
    alertmanager: str | None = _interval(catalog.JOB_ALERTMANAGER)
    loki: str | None = _interval(catalog.JOB_LOKI)
    grafana: str | None = _interval(catalog.JOB_GRAFANA)
    proxy: str | None = _interval(catalog.JOB_PROXY)
    alloy: str | None = _interval(catalog.JOB_ALLOY)
    pushgateway: str | None = _interval(catalog.JOB_PUSHGATEWAY)
    kube_state_metrics: str | None = _interval(catalog.JOB_KUBE_STATE_METRICS)
    kubelet: str | None = _interval(catalog.JOB_KUBELET)
    cadvisor: str | None = _interval(catalog.JOB_CADVISOR)

    def overrides(self) -> dict[str, str]:
        """The jobs given their own interval, by job name."""
        return {item.metadata["spec"].key: getattr(self, item.name) for item in fields(self) if getattr(self, item.name) is not None}


def job_interval(settings: Settings, job: str) -> str:
    """The interval `job` is scraped at."""
    return settings.prometheus.scrape_intervals.overrides().get(job, settings.prometheus.scrape_interval)


def slowest_interval(settings: Settings) -> str:
    """The longest interval of any job (Grafana's $__rate_interval must cover it)."""
    intervals = [settings.prometheus.scrape_interval, *settings.prometheus.scrape_intervals.overrides().values()]
    return max(intervals, key=v.duration_ms)


def check(settings: Settings) -> None:
    """Refuse an interval that would make a series go stale, or a rule's rate window too short (the
    global interval too: it is the interval of every job not set here)."""
    for job, interval in settings.prometheus.scrape_intervals.overrides().items():
        key = f"prometheus.scrapeIntervals.{job}"
        if settings.platform != "kubernetes" and job in KUBERNETES_ONLY_JOBS:
            raise SettingsError(key, f"job {job} is scraped on Kubernetes only; remove it from the {settings.platform} stack's settings")
        if v.duration_ms(interval) > v.duration_ms(MAX_INTERVAL):
            raise SettingsError(
                key,
                f"{interval} is longer than {MAX_INTERVAL}; series go stale between scrapes (Prometheus looks back 5m, so one failed scrape "
                f"leaves a gap and absent() fires), use {MAX_INTERVAL} or less",
            )
    # Every job scraped here against its rules' windows, at its own interval or at the global one.
    overrides = settings.prometheus.scrape_intervals.overrides()
    for job, window in RATE_WINDOWS.items():
        if settings.platform != "kubernetes" and job in KUBERNETES_ONLY_JOBS:
            continue
        interval = job_interval(settings, job)
        if v.duration_ms(interval) * SAMPLES_PER_WINDOW > v.duration_ms(window):
            longest = v.duration_ms(window) // SAMPLES_PER_WINDOW // 1000
            own = job in overrides
            raise SettingsError(
                f"prometheus.scrapeIntervals.{job}" if own else "prometheus.scrapeInterval",
                f"{interval} leaves fewer than {SAMPLES_PER_WINDOW} samples in the {window} rate() window the rules apply to job {job}; "
                f"use {longest}s or less" + ("" if own else f", or set that job's own interval in prometheus.scrapeIntervals.{job}"),
            )
