"""Alert latency: from fault injection to the page arriving at the receiver, on the real pipeline.

For each configuration, `trials` stacks run side by side (Prometheus and Alertmanager from the rendered
files, the simulated API, the sink; tests/live/stack.py). Each stack stops its API (APIDown), waits for
the page, brings the API back, then starts an error burst (HighErrorRate) and waits for that page.
Faults are injected at a random phase of the scrape and evaluation cycles.

Configurations:
- "dev": the dev stack's own settings (plus a PagerDuty routing key, so pages have a receiver).
- "kube-prometheus-stack": the same rendered files with kube-prometheus-stack's defaults: 30s scrape
  and evaluation intervals (as settings) and a 30s group_wait (not a setting: the rendered
  alertmanager.yml is edited for this comparison only).
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

import catalog
from tests.live.clients import wait_until
from tests.live.deployment import Deployment, deploy
from tests.live.stack import LiveStack
from tests.live.timings import RenderedTimings
from topology import ALERTMANAGER, PROMETHEUS

ROUTING_KEY = {"receivers.pagerduty.routingKey": "bench-routing-key"}
KPS_GROUP_WAIT = "30s"
CONFIGS = {
    "dev": [],
    "kube-prometheus-stack": ["prometheus.scrapeInterval=30s", "prometheus.evaluationInterval=30s"],
}
ALERTS = {"APIDown": "stopped", "HighErrorRate": "error_burst"}
FIRST_INDEX = 101  # loopback blocks 127.0.101.0/24 and up


@dataclass
class Trial:
    config: str
    alert: str
    for_: float
    bound: float  # scrape + evaluation interval + group_wait
    latency: float | None = None
    error: str | None = None

    @property
    def overhead(self) -> float | None:
        return None if self.latency is None else self.latency - self.for_


def _with_group_wait(deployment: Deployment, group_wait: str) -> Deployment:
    """The deployment with every route's group_wait set to `group_wait` (kube-prometheus-stack's default)."""
    path = "/etc/alertmanager/alertmanager.yml"
    service = deployment.services[ALERTMANAGER]
    document = yaml.safe_load(service.files[path])

    def visit(route: dict) -> None:
        route["group_wait"] = group_wait
        for child in route.get("routes", []):
            visit(child)

    visit(document["route"])
    text = yaml.safe_dump(document, sort_keys=False)
    services = {**deployment.services, ALERTMANAGER: replace(service, files={**service.files, path: text})}
    files = {**deployment.result.files, "alertmanager/alertmanager.yml": text}
    return replace(deployment, services=services, result=replace(deployment.result, files=files))


def deployments() -> dict[str, Deployment]:
    made = {}
    for name, config in CONFIGS.items():
        deployment = deploy("dev", config, ROUTING_KEY)
        made[name] = _with_group_wait(deployment, KPS_GROUP_WAIT) if name == "kube-prometheus-stack" else deployment
    return made


def _run_stack(name: str, deployment: Deployment, workdir: Path, index: int, seed: int, results: list[Trial], log=print) -> None:
    timings = RenderedTimings(deployment.result.files)
    rnd = random.Random(seed)
    cycle = max(timings.scrape_interval, timings.evaluation_interval)
    with LiveStack(deployment, workdir, index) as stack:
        stack.start([ALERTMANAGER, PROMETHEUS])
        wait_until(lambda: stack.prometheus.value(f'up{{job="{catalog.JOB_API}"}}') == 1, 120, interval=1, what=f"{name}: first scrape")
        time.sleep(3 * cycle)  # a few healthy scrapes and evaluations first
        for alert, mode in ALERTS.items():
            labels = {"alertname": alert, "severity": "critical", "job": catalog.JOB_API}
            route = timings.route(labels)
            trial = Trial(name, alert, timings.for_(alert), timings.scrape_interval + timings.evaluation_interval_of(alert) + route.group_wait)
            results.append(trial)
            time.sleep(rnd.uniform(0, cycle))  # a random phase of the scrape / evaluation cycle
            fault = time.time()
            stack.simulator.set_mode(mode)
            try:
                page = stack.sink.wait_for(
                    trial.for_ + 10 * cycle + route.group_wait + 120, integration="pagerduty", alertname=alert, status="firing", since=fault
                )
                trial.latency = page.arrived - fault
                log(
                    f"latency: {name} (stack {index}): {alert} paged {trial.latency:.1f}s after the fault (for {trial.for_:g}s, overhead {trial.overhead:.1f}s)"
                )
            except TimeoutError as error:
                trial.error = str(error)[:200]
                log(f"latency: {name} (stack {index}): {alert} not paged: {trial.error}")
            stack.simulator.set_mode("healthy")
            if alert == list(ALERTS)[-1]:
                break
            # The next trial starts once this alert is over, so it neither inhibits nor joins the next one.
            wait_until(
                lambda alert=alert: not [a for a in stack.prometheus.alerts() if a["labels"]["alertname"] == alert],
                trial.for_ + 20 * cycle + 600,
                interval=1,
                what=f"{name}: {alert} resolved",
            )


def run(workdir: Path, trials: int = 4, log=print) -> dict:
    made = deployments()
    results: list[Trial] = []
    errors: list[str] = []
    threads = []
    index = FIRST_INDEX
    for name, deployment in made.items():
        for number in range(trials):

            def target(name=name, deployment=deployment, index=index, number=number):
                try:
                    _run_stack(name, deployment, workdir / f"{name}-{number}", index, seed=index, results=results, log=log)
                except Exception as error:  # noqa: BLE001 - reported in the results
                    errors.append(f"{name} trial {number}: {error!r}"[:400])

            threads.append(threading.Thread(target=target, name=f"latency-{name}-{number}", daemon=True))
            index += 1
    log(f"latency: {len(threads)} stacks ({trials} per configuration), each APIDown then HighErrorRate")
    for thread in threads:
        thread.start()
    longest = max(RenderedTimings(d.result.files).for_(a) for d in made.values() for a in ALERTS)
    for thread in threads:
        thread.join(timeout=2 * longest + 1800)
    summary = []
    for name, deployment in made.items():
        timings = RenderedTimings(deployment.result.files)
        for alert in ALERTS:
            done = [t for t in results if t.config == name and t.alert == alert]
            overheads = [t.overhead for t in done if t.overhead is not None]
            route = timings.route({"alertname": alert, "severity": "critical", "job": catalog.JOB_API})
            summary.append(
                {
                    "config": name,
                    "alert": alert,
                    "scrape_interval_s": timings.scrape_interval,
                    "evaluation_interval_s": timings.evaluation_interval_of(alert),
                    "group_wait_s": route.group_wait,
                    "for_s": timings.for_(alert),
                    "bound_s": timings.scrape_interval + timings.evaluation_interval_of(alert) + route.group_wait,
                    "overhead_s": overheads,
                    "overhead_median_s": statistics.median(overheads) if overheads else None,
                    "overhead_max_s": max(overheads) if overheads else None,
                    "failed_trials": [t.error for t in done if t.error],
                }
            )
    return {"trials_per_config": trials, "results": summary, "errors": errors}
