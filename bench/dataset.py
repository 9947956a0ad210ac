"""A realistic NGX TSDB as OpenMetrics text, for `promtool tsdb create-blocks-from openmetrics`.

Every series is a catalog metric (catalog.APP_METRICS) of one API instance, with the labels the catalog
declares (the product metrics and the database pool in bench/dataset_product.py), plus `up`, a node's
CPU and memory, and the Redis, disk and network series of the Overview's System rows
(bench/exporter_series.py). The size comes from instances x endpoints: with 100
instances and 40 endpoints, about 1,100 series per instance and 108k in all, which is what a fleet of
API pods with a wide route table produces (the response-time histogram, per endpoint, dominates).

Values follow a daily-like swing (+-30% over the window), Zipf-distributed traffic over endpoints and a
20-minute incident (5xx x30, latency x4) a third of the way through, so rates, ratios and quantiles
have something to compute. Counters are integers, as the API's are.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import catalog
from bench import dataset_product, exporter_series

RESPONSE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)  # prometheus_client's
CONFIDENCE_BUCKETS = (0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99)
STATUSES = {"200": 0.95, "400": 0.03, "404": 0.015, "500": 0.004, "503": 0.001}
MODEL_TYPES = ("objection", "conversion", "tier")
MODEL_NAMES = ("objection_prediction", "conversion_prediction", "tier_detection")
ARCHETYPES = ("prime", "longevity")
CONVERSATION_SHARES = {"started": 0.5, "completed": 0.35, "converted": 0.05, "dropped": 0.10}
NODE_MODES = ("idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user")
NODE_MODE_SHARE = {"idle": 0.62, "iowait": 0.02, "irq": 0.005, "nice": 0.005, "softirq": 0.01, "steal": 0.0, "system": 0.09, "user": 0.25}


@dataclass(frozen=True)
class Dataset:
    instances: int = 100
    endpoints: int = 40
    hours: float = 6.0
    step: int = 15  # seconds: dev's scrape interval
    requests_per_second: float = 20.0  # per instance
    seed: int = 42

    def series_per_instance(self) -> int:
        histogram = len(RESPONSE_BUCKETS) + 3  # +Inf, _sum, _count
        return (
            1
            + self.endpoints * len(STATUSES)
            + self.endpoints * histogram
            + 4 * len(catalog.TIERS)
            + len(MODEL_TYPES) * 2
            + len(MODEL_TYPES) * (len(CONFIDENCE_BUCKETS) + 3)
            + 1
            + len(MODEL_NAMES)
            + len(catalog.TIERS) * len(ARCHETYPES)
            + len(MODEL_TYPES) * histogram
            + 1
            + dataset_product.series_per_instance()
        )

    def total_series(self) -> int:
        return self.instances * self.series_per_instance() + 1 + 2 * len(NODE_MODES) + 2 + exporter_series.series_count()

    def samples(self) -> int:
        return self.total_series() * int(self.hours * 3600 / self.step)


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{key}="{value}"' for key, value in labels.items()) + "}"


class Writer:
    """Writes one window [start, end) of the dataset; call `write(path)`."""

    def __init__(self, dataset: Dataset, start: int, end: int, series_start: int) -> None:
        self.d = dataset
        self.times = list(range(start, end, dataset.step))
        first = (start - series_start) // dataset.step  # steps since the dataset began
        total = int(dataset.hours * 3600 / dataset.step)
        incident = range(total // 3, total // 3 + 1200 // dataset.step)
        swing = [1 + 0.3 * math.sin(2 * math.pi * i / total) for i in range(first + len(self.times))]
        self.swing = swing[first:]
        self.incident = [first + i in incident for i in range(len(self.times))]
        # What the steps before this window accumulated, so counters continue across windows.
        self.before_normal = sum(w for i, w in enumerate(swing[:first]) if i not in incident)
        self.before_incident = sum(w for i, w in enumerate(swing[:first]) if i in incident)

    def _counter(self, out: list[str], name: str, labels: str, per_step: float, kind: str = "plain") -> None:
        factor = 30 if kind == "error" else 1  # errors x30 during the incident
        acc = per_step * (self.before_normal + factor * self.before_incident)
        for t, swing, incident in zip(self.times, self.swing, self.incident, strict=False):
            acc += per_step * swing * (factor if incident else 1)
            out.append(f"{name}{labels} {int(acc)} {t}\n")

    def _histogram(self, out: list[str], name: str, labels: dict, per_step: float, buckets: tuple[float, ...], median: float, slow_in_incident: bool) -> None:
        def shares(m: float) -> list[float]:  # log-logistic latency distribution with median m
            return [1.0 / (1.0 + (m / le) ** 3) for le in buckets] + [1.0]

        normal = shares(median)
        slow = shares(median * 4) if slow_in_incident else normal
        slow_mean = 4.4 if slow_in_incident else 1.1
        bn, bi = self.before_normal, self.before_incident
        cumulative = [per_step * (bn * n + bi * s) for n, s in zip(normal, slow, strict=False)]
        total = per_step * median * (1.1 * bn + slow_mean * bi)
        label_texts = [_labels(**labels, le=le) for le in [*(f"{b:g}" for b in buckets), "+Inf"]]
        plain = _labels(**labels)
        last = len(cumulative) - 1
        for t, swing, incident in zip(self.times, self.swing, self.incident, strict=False):
            inc = per_step * swing
            current = slow if incident else normal
            total += inc * median * (slow_mean if incident else 1.1)
            for index, share in enumerate(current):
                cumulative[index] += inc * share
                out.append(f"{name}_bucket{label_texts[index]} {int(cumulative[index])} {t}\n")
            out.append(f"{name}_count{plain} {int(cumulative[last])} {t}\n")
            out.append(f"{name}_sum{plain} {total:.3f} {t}\n")

    def _gauge(self, out: list[str], name: str, labels: str, value: float, jitter: float, rnd: random.Random) -> None:
        for t in self.times:
            out.append(f"{name}{labels} {value + rnd.uniform(-jitter, jitter):.4f} {t}\n")

    def write(self, path: Path) -> int:
        """Write the window to `path`; returns the number of samples."""
        d = self.d
        rnd = random.Random(d.seed)
        instances = [f"api-{i:03d}:8000" for i in range(d.instances)]
        endpoints = [f"/api/v1/route{e:02d}" for e in range(d.endpoints)]
        zipf = [1 / (rank + 1) for rank in range(d.endpoints)]
        weight = [z / sum(zipf) for z in zipf]
        per_instance_step = d.requests_per_second * d.step
        samples = 0
        with path.open("w", buffering=1 << 22) as file:

            def flush(out: list[str]) -> None:
                nonlocal samples
                samples += len(out)
                file.write("".join(out))

            job = catalog.JOB_API
            file.write("# TYPE up gauge\n")
            for instance in instances:
                flush([f'up{{job="{job}",instance="{instance}"}} 1 {t}\n' for t in self.times])
            flush([f'up{{job="node",instance="node-0:9100"}} 1 {t}\n' for t in self.times])

            file.write("# TYPE ngx_api_requests counter\n")
            for instance in instances:
                out: list[str] = []
                for endpoint, w in zip(endpoints, weight, strict=False):
                    for status, share in STATUSES.items():
                        labels = _labels(job=job, instance=instance, method="POST", endpoint=endpoint, status=status)
                        kind = "error" if status.startswith("5") else "plain"
                        self._counter(out, "ngx_api_requests_total", labels, per_instance_step * w * share, kind)
                flush(out)

            file.write("# TYPE ngx_response_time_seconds histogram\n")
            for instance in instances:
                out = []
                for index, (endpoint, w) in enumerate(zip(endpoints, weight, strict=False)):
                    self._histogram(
                        out,
                        "ngx_response_time_seconds",
                        {"job": job, "instance": instance, "endpoint": endpoint},
                        per_instance_step * w,
                        RESPONSE_BUCKETS,
                        0.05 + 0.01 * (index % 10),
                        True,
                    )
                flush(out)

            file.write("# TYPE ngx_conversations counter\n")
            for instance in instances:
                out = []
                for status, share in CONVERSATION_SHARES.items():
                    for tier in catalog.TIERS:
                        labels = _labels(job=job, instance=instance, status=status, tier=tier)
                        self._counter(out, "ngx_conversations_total", labels, per_instance_step * 0.05 * share / 3)
                flush(out)

            file.write("# TYPE ngx_predictions counter\n")
            for instance in instances:
                out = []
                for model in MODEL_TYPES:
                    for status, share in (("success", 0.99), ("error", 0.01)):
                        labels = _labels(job=job, instance=instance, model_type=model, status=status)
                        self._counter(out, "ngx_predictions_total", labels, per_instance_step * 0.1 * share)
                flush(out)

            file.write("# TYPE ngx_prediction_confidence histogram\n")
            for instance in instances:
                out = []
                for model in MODEL_TYPES:
                    self._histogram(
                        out,
                        "ngx_prediction_confidence",
                        {"job": job, "instance": instance, "model_type": model},
                        per_instance_step * 0.1,
                        CONFIDENCE_BUCKETS,
                        0.8,
                        False,
                    )
                flush(out)

            file.write("# TYPE ngx_active_conversations gauge\n")
            for instance in instances:
                out = []
                self._gauge(out, "ngx_active_conversations", _labels(job=job, instance=instance), 45, 5, rnd)
                flush(out)

            file.write("# TYPE ngx_model_accuracy gauge\n")
            for instance in instances:
                out = []
                for name in MODEL_NAMES:
                    self._gauge(out, "ngx_model_accuracy", _labels(job=job, instance=instance, model_name=name), 0.9, 0.02, rnd)
                flush(out)

            file.write("# TYPE conversation_conversions counter\n")
            for instance in instances:
                out = []
                for tier in catalog.TIERS:
                    for archetype in ARCHETYPES:
                        labels = _labels(job=job, instance=instance, tier=tier, archetype=archetype)
                        self._counter(out, "conversation_conversions_total", labels, per_instance_step * 0.05 * 0.05 / 6)
                flush(out)

            file.write("# TYPE ml_prediction_duration_seconds histogram\n")
            for instance in instances:
                out = []
                for model in MODEL_TYPES:
                    self._histogram(
                        out,
                        "ml_prediction_duration_seconds",
                        {"job": job, "instance": instance, "model_type": model},
                        per_instance_step * 0.1,
                        RESPONSE_BUCKETS,
                        0.03,
                        False,
                    )
                flush(out)

            file.write("# TYPE cache_hit_ratio gauge\n")
            for instance in instances:
                out = []
                self._gauge(out, "cache_hit_ratio", _labels(job=job, instance=instance), 0.9, 0.03, rnd)
                flush(out)

            dataset_product.write(self, file.write, flush, instances, per_instance_step, rnd)

            file.write("# TYPE node_cpu_seconds counter\n")
            out = []
            for cpu in ("0", "1"):
                for mode in NODE_MODES:
                    labels = _labels(job="node", instance="node-0:9100", cpu=cpu, mode=mode)
                    self._counter(out, "node_cpu_seconds_total", labels, d.step * NODE_MODE_SHARE[mode] + 1e-9)
            flush(out)
            for name, value in (("node_memory_MemTotal_bytes", 8e9), ("node_memory_MemAvailable_bytes", 5e9)):
                file.write(f"# TYPE {name} gauge\n")
                out = []
                self._gauge(out, name, _labels(job="node", instance="node-0:9100"), value, 1e8, rnd)
                flush(out)
            exporter_series.write(file.write, flush, self._counter, self._gauge, _labels, d.step, rnd)
            file.write("# EOF\n")
        return samples
