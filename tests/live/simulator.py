"""A stand-in for the NGX Voice Sales Agent: every catalog metric on /metrics, JSON logs, and a mode switch.

The real API is a FastAPI service; the monitoring stack only sees its /metrics endpoint and its log
files, so that is all this simulates. The metric families come from `catalog.app_metrics(naming)`
(names, types and labels), never from a list of our own, so a metric added to the catalog is exposed
here too and a rule or dashboard that names a metric the application lacks is caught by the live tests.
`naming` (app.metricNames) picks the API's HTTP metric names: the Spanish guide's `ngx` ones, or the
`instrumentator` ones of prometheus-fastapi-instrumentator (status classes 2xx/5xx, a `handler` label).

Traffic is simulated lazily: each scrape advances the counters by what `rate` requests per second would
have produced since the previous scrape, in the current mode. No background thread keeps running.

Modes (`Simulator.set_mode`):
  healthy      normal traffic: no 5xx, fast responses, 5% conversions, 10% drop-offs, accurate models
  error_burst  half of the requests fail with 500/503 (and are slow), as in a broken deploy
  slow         every response takes 2-3 s (p95 above the 1 s threshold), no errors
  dropped      most conversations are dropped before they end
  stopped      the HTTP server is closed: scrapes get "connection refused", as when the API is down
  flood        healthy, plus `flood_series` extra series (to push the target over sample_limit)
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

import catalog
from tests.live import simulator_product
from tests.live.simulator_product import ProductTraffic

MODES = ("healthy", "error_burst", "slow", "dropped", "stopped", "flood")

# Label values the simulated API uses (bounded, as a real FastAPI route table is).
ENDPOINTS = ("/api/conversation/start", "/api/conversation/message", "/api/conversation/end", "/api/predict", "/health")
METHODS = {"/health": "GET"}
MODEL_TYPES = ("objection", "conversion", "tier")
MODEL_NAMES = ("objection_prediction", "conversion_prediction", "tier_detection")
ARCHETYPES = ("prime", "longevity")
ERROR_STATUSES = ("500", "503")
CONFIDENCE_BUCKETS = (0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99)  # seed guide: ngx_prediction_confidence
# Histograms with buckets of their own (the instrumentator's defaults); the others use the client's defaults.
BUCKETS = {
    "ngx_prediction_confidence": CONFIDENCE_BUCKETS,
    "http_request_duration_highr_seconds": (0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 7.5, 10, 30, 60),
    "http_request_duration_seconds": (0.1, 0.5, 1),
    **simulator_product.BUCKETS,
}
# Values of every label the catalog declares, so each metric is exposed with exactly its catalog labels.
LABEL_VALUES = {
    "method": ("GET", "POST"),
    "endpoint": ENDPOINTS,
    "handler": ENDPOINTS,
    "status": ("200",),
    "tier": catalog.TIERS,
    "model_type": MODEL_TYPES,
    "model_name": MODEL_NAMES,
    "archetype": ARCHETYPES,
    **simulator_product.LABEL_VALUES,
}
FLOOD_METRIC = "ngx_simulated_flood"  # not in the catalog on purpose: it only exists to exceed sample_limit


@dataclass(frozen=True)
class Behaviour:
    error_share: float  # share of requests answered 5xx
    latency: tuple[float, float]  # uniform response time range in seconds
    conversion_share: float  # share of ended conversations that convert
    drop_share: float  # share of ended conversations that are dropped
    accuracy: float  # ngx_model_accuracy
    cache_hit_ratio: float


BEHAVIOURS = {
    "healthy": Behaviour(0.0, (0.02, 0.25), 0.05, 0.10, 0.92, 0.93),
    "error_burst": Behaviour(0.5, (0.05, 1.5), 0.01, 0.40, 0.92, 0.93),
    "slow": Behaviour(0.0, (2.0, 3.0), 0.05, 0.10, 0.92, 0.93),
    "dropped": Behaviour(0.0, (0.02, 0.25), 0.01, 0.70, 0.92, 0.93),
    "flood": Behaviour(0.0, (0.02, 0.25), 0.05, 0.10, 0.92, 0.93),
}


def _rfc3339nano(ns: int) -> str:
    seconds, fraction = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


def _flood_text(count: int) -> bytes:
    """`count` synthetic series that push the target over sample_limit (rendered once: it is constant)."""
    registry = CollectorRegistry(auto_describe=False)

    class Flood:
        def collect(self):
            family = GaugeMetricFamily(FLOOD_METRIC, "Synthetic series that push the target over sample_limit.", labels=["n"])
            for index in range(count):
                family.add_metric([str(index)], 1.0)
            return [family]

    registry.register(Flood())
    return generate_latest(registry)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A scraper that gave up (scrape timeout) closes the connection mid-answer; that is its business.
        pass


class Simulator:
    """One simulated API instance on `host:port`; use as a context manager or call start()/stop()."""

    def __init__(
        self, host: str, port: int, log_file: Path, rate: float = 20.0, flood_series: int = 25_000, seed: int = 7, naming: str = catalog.DEFAULT_API_NAMING
    ) -> None:
        self.host, self.port, self.log_file = host, port, log_file
        self.names = catalog.API_NAMINGS[naming]
        self.app_metrics = {metric.name: metric for metric in catalog.app_metrics(naming)}
        self.rate = rate  # simulated requests per second
        self.flood_series = flood_series
        self.mode = "healthy"
        self.scrapes = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._last = time.monotonic()
        self._carry = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.registry = CollectorRegistry(auto_describe=True)
        self.metrics = self._register(self.app_metrics.values())
        self._flood: bytes | None = None
        self._log = None
        # Its own random stream: the API traffic draws the same values as before the product metrics existed.
        self.product = ProductTraffic(self._child, random.Random(seed + 1))
        self._init_series()

    # --- metrics -----------------------------------------------------------------------------------

    def _register(self, metrics: Iterable[catalog.Metric]) -> dict[str, object]:
        made: dict[str, object] = {}
        for metric in metrics:
            # prometheus_client appends _total to counters itself; the catalog names the stored series.
            name = metric.name[: -len("_total")] if metric.type == "counter" else metric.name
            kwargs = {"registry": self.registry, "labelnames": metric.labels}
            if metric.type == "counter":
                made[metric.name] = Counter(name, metric.help, **kwargs)
            elif metric.type == "gauge":
                made[metric.name] = Gauge(name, metric.help, **kwargs)
            elif metric.type == "histogram":
                buckets = BUCKETS.get(metric.name, Histogram.DEFAULT_BUCKETS)
                made[metric.name] = Histogram(name, metric.help, buckets=buckets, **kwargs)
            else:
                raise ValueError(f"{metric.name}: the simulator has no {metric.type} support")
        return made

    def _child(self, name: str, **labels: str):
        metric = self.metrics[name]
        wanted = self.app_metrics[name].labels
        if set(labels) != set(wanted):
            raise KeyError(f"{name} takes labels {wanted}, got {sorted(labels)}")
        return metric.labels(**labels) if wanted else metric

    def _init_series(self) -> None:
        """Create every series at zero, so rates and absent() see them before the first event."""
        for metric in self.app_metrics.values():
            if not metric.labels:
                continue
            for values in itertools.product(*(self._values(metric, label) for label in metric.labels)):
                labels = dict(zip(metric.labels, values, strict=False))
                if "method" in labels and labels["method"] != METHODS.get(labels.get(self.names.route_label), "POST"):
                    continue  # each route has one method, as in the API's route table
                if not simulator_product.valid(labels):
                    continue
                self._child(metric.name, **labels)
        for name in MODEL_NAMES:
            self._child("ngx_model_accuracy", model_name=name).set(BEHAVIOURS["healthy"].accuracy)
        self._child("cache_hit_ratio").set(BEHAVIOURS["healthy"].cache_hit_ratio)
        self.product.tick()

    def _values(self, metric: catalog.Metric, label: str) -> tuple[str, ...]:
        if metric.name == "ngx_conversations_total" and label == "status":
            return catalog.CONVERSATION_STATUSES
        if metric.name == "ngx_predictions_total" and label == "status":
            return ("success", "error")
        if metric.name == self.names.requests and label == "status":
            return ("2xx",) if self.names.status_classes else ("200",)
        return LABEL_VALUES[label]

    def _api_labels(self, name: str, route: str, **values: str) -> dict[str, str]:
        """The labels of API metric `name` under this naming, the route under its route label."""
        values = {**values, self.names.route_label: route}
        return {label: values[label] for label in self.app_metrics[name].labels}

    def advance(self, now: float | None = None) -> int:
        """Simulate the requests since the last call; returns how many were simulated."""
        with self._lock:
            now = time.monotonic() if now is None else now
            elapsed = max(0.0, min(now - self._last, 60.0))  # at most a minute of catch-up per call
            self._last = now
            if self.mode == "stopped":
                return 0
            due = self.rate * elapsed + self._carry
            count = int(due)
            self._carry = due - count
            behaviour = BEHAVIOURS[self.mode]
            for _ in range(count):
                self._request(behaviour)
            self._child(self.names.active_conversations).set(40 + self._random.randint(0, 10))
            for name in MODEL_NAMES:
                self._child("ngx_model_accuracy", model_name=name).set(behaviour.accuracy)
            self._child("cache_hit_ratio").set(behaviour.cache_hit_ratio)
            self.product.tick()
            return count

    def _request(self, behaviour: Behaviour) -> None:
        rnd = self._random
        endpoint = rnd.choice(ENDPOINTS)
        method = METHODS.get(endpoint, "POST")
        failed = rnd.random() < behaviour.error_share
        status = rnd.choice(ERROR_STATUSES) if failed else "200"
        duration = rnd.uniform(*behaviour.latency)
        shown = status[0] + "xx" if self.names.status_classes else status
        self._child(self.names.requests, **self._api_labels(self.names.requests, endpoint, method=method, status=shown)).inc()
        for name in dict.fromkeys((self.names.latency, self.names.latency_by_route)):
            self._child(name, **self._api_labels(name, endpoint, method=method)).observe(duration)
        tier = rnd.choice(catalog.TIERS)
        conversation_id = f"conv-{uuid.UUID(int=rnd.getrandbits(128)).hex[:12]}"
        request_id = uuid.UUID(int=rnd.getrandbits(128)).hex
        self.product.request()
        if endpoint == "/api/conversation/start":
            self._child("ngx_conversations_total", status="started", tier=tier).inc()
            self.product.conversation_started()
            self._log_event("info", "conversation_started", conversation_id, request_id, tier)
        elif endpoint == "/api/conversation/end":
            outcome = rnd.random()
            experiment, variant, conversion_share = self.product.conversion_share(behaviour.conversion_share)
            if outcome < conversion_share:
                status_label = "converted"
                self._child("conversation_conversions_total", tier=tier, archetype=rnd.choice(ARCHETYPES)).inc()
            elif outcome < conversion_share + behaviour.drop_share:
                status_label = "dropped"
            else:
                status_label = "completed"
            self._child("ngx_conversations_total", status=status_label, tier=tier).inc()
            self.product.conversation_ended(tier, status_label == "converted", experiment, variant)
            self._log_event("info", f"conversation_{status_label}", conversation_id, request_id, tier)
        elif endpoint == "/api/predict":
            model = rnd.choice(MODEL_TYPES)
            self._child("ngx_predictions_total", model_type=model, status="error" if failed else "success").inc()
            self._child("ml_prediction_duration_seconds", model_type=model).observe(duration / 3)
            self._child("ngx_prediction_confidence", model_type=model).observe(rnd.uniform(0.5, 0.99))
            self._log_event("info", "ml_prediction", conversation_id, request_id, tier, model_type=model, duration=round(duration / 3 * 1000, 1))
        if failed:
            self._log_event(
                "error", "request_failed", conversation_id, request_id, tier, endpoint=endpoint, status=int(status), duration=round(duration * 1000, 1)
            )

    # --- logs --------------------------------------------------------------------------------------

    def _log_event(self, level: str, event: str, conversation_id: str, request_id: str, tier: str, **fields) -> None:
        """One structlog-style JSON line, with the fields the rendered Alloy pipeline parses."""
        if self._log is None:
            return
        record = {
            "timestamp": _rfc3339nano(time.time_ns()),
            "level": level,
            "event": event,
            "logger": "ngx.api",
            "conversation_id": conversation_id,
            "request_id": request_id,
            "tier": tier,
            **fields,
        }
        self._log.write(json.dumps(record, separators=(",", ":")) + "\n")

    # --- control -----------------------------------------------------------------------------------

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        self.advance()  # traffic so far belongs to the old mode
        previous, self.mode = self.mode, mode
        if mode == "stopped" and previous != "stopped":
            self._close()
        elif mode != "stopped" and previous == "stopped":
            self._last = time.monotonic()  # a stopped API served nothing while it was down
            self._open()
        if self._log is not None:
            self._log_event("warning", "simulator_mode_changed", "-", "-", "-", mode=mode, previous=previous)

    def exposition(self) -> bytes:
        self.advance()
        self.scrapes += 1
        text = generate_latest(self.registry)
        if self.mode == "flood":
            if self._flood is None:
                self._flood = _flood_text(self.flood_series)
            text += self._flood
        return text

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def bound_port(self) -> int:
        """The port actually listened on (differs from `port` when that was 0)."""
        return self._server.server_address[1] if self._server else self.port

    def start(self) -> Simulator:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_file.open("a", buffering=1)
        self._open()
        return self

    def stop(self) -> None:
        self._close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _open(self) -> None:
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                if self.path.split("?")[0] == "/metrics":
                    body, status, kind = simulator.exposition(), 200, CONTENT_TYPE_LATEST
                elif self.path == "/health":
                    body, status, kind = b'{"status":"ok"}', 200, "application/json"
                else:
                    body, status, kind = b"not found\n", 404, "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep pytest's output for failures
                pass

        self._server = _QuietServer((self.host, self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name=f"simulator-{self.address}", daemon=True)
        self._thread.start()

    def _close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None


if __name__ == "__main__":  # a quick look: python -m tests.live.simulator
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log", type=Path, default=Path("/tmp/ngx-simulator/api.log"))
    parser.add_argument("--mode", choices=MODES, default="healthy")
    parser.add_argument("--naming", choices=list(catalog.API_NAMINGS), default=catalog.DEFAULT_API_NAMING)
    parser.add_argument("--seconds", type=float, default=300, help="stop after this long")
    options = parser.parse_args()
    with Simulator(options.host, options.port, options.log, naming=options.naming) as sim:
        sim.set_mode(options.mode)
        print(f"serving http://{sim.address}/metrics in mode {sim.mode} for {options.seconds:.0f}s")
        time.sleep(options.seconds)
