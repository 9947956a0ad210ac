"""Reload, not restart, over the whole program: the synth of a stack before and after a config change.

A change to rules, thresholds, routes, receivers, dashboards or scrape jobs may only change what the
running processes re-read in place (ConfigMaps and Secrets on Kubernetes; the files loaders on
Docker) and the Grafana content the provider uploads. Every pod template (Deployments, StatefulSets,
DaemonSets, CronJobs) and every running container's inputs, from which Docker's replacement
follows, must come out identical: otherwise Prometheus replicas would replay their WAL and every
Alertmanager would restart for a new threshold. A changed flag or image may still restart: the last
tests prove the comparison would see one.
"""

from __future__ import annotations

from typing import Any

import pytest

from synthesis.run import SynthResult, synth, unwrap
from tests.conftest import SEEDED_CONFIG, SEEDED_SECRETS

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
POD_OWNERS = {"StatefulSet", "Deployment", "DaemonSet", "CronJob"}
# What a content change may touch: the objects the processes read in place, the files loaders, and
# what the Grafana provider uploads through the API.
RELOADED_KINDS = {"ConfigMap", "Secret"}

# (config overrides, secret overrides) of each change; every one is a setting users change routinely.
CHANGES = {
    "threshold": (["alerting.thresholds.errorRate=0.07"], {}),
    "route": (["alerting.businessHours.start=08:00"], {}),
    "receiver": (["receivers.slack.channel=#ngx-elsewhere"], {"receivers.slack.webhookUrl": "https://hooks.slack.com/services/OTHER/SLACK/SECRET"}),
    # The SLO objective is drawn on the SLO dashboard (and used by its rules).
    "dashboard": (["alerting.slo.availability=0.995"], {}),
    "scrape job": (["app.metricsPath=/internal/metrics"], {}),
}


def _synth(stack: str, config: list[str] = (), secrets: dict[str, str] | None = None) -> SynthResult:
    secret_values = {**SEEDED_SECRETS, **(secrets or {})}
    return synth(stack, [*SEEDED_CONFIG, *config], [f"{path}={value}" for path, value in secret_values.items()])


def _is_loader(resource) -> bool:
    return resource.type == CONTAINER and resource.name == f"{resource.parent}-files"


def _kind(resource) -> str | None:
    return unwrap(resource.inputs).get("kind") if resource.type.startswith("kubernetes:") else None


def _by_key(result: SynthResult) -> dict[str, Any]:
    return {f"{r.type} {r.name}": r for r in result.resources}


def _changed(base: SynthResult, head: SynthResult) -> list:
    before, after = _by_key(base), _by_key(head)
    assert set(before) == set(after), "a content change added or removed resources"
    return [after[key] for key in sorted(after) if unwrap(before[key].inputs) != unwrap(after[key].inputs)]


def _restart_triggers(result: SynthResult) -> dict[str, Any]:
    """What a restart follows from: every pod-owning object's spec (its pod template included), every
    container but the files loaders (all of a container's inputs force its replacement), every volume."""
    found = {}
    for resource in result.resources:
        if _kind(resource) in POD_OWNERS:
            found[f"{_kind(resource)} {resource.name}"] = unwrap(resource.inputs)["spec"]
        elif (resource.type == CONTAINER and not _is_loader(resource)) or resource.type == VOLUME:
            found[f"{resource.type} {resource.name}"] = unwrap(resource.inputs)
    return found


@pytest.fixture(scope="module", params=["dev", "prod"])
def baseline(request) -> SynthResult:
    return _synth(request.param)


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_content_change_touches_only_what_is_reloaded(baseline, change):
    config, secrets = CHANGES[change]
    head = _synth(baseline.stack, config, secrets)
    changed = _changed(baseline, head)
    assert changed, f"{change}: the change did not reach the synth output at all"
    reloaded = [r for r in changed if _kind(r) in RELOADED_KINDS or _is_loader(r)]
    assert reloaded or all(r.type.startswith("grafana:") for r in changed), f"{change}: nothing the services read changed"
    others = [f"{r.type} {r.name}" for r in changed if not (_kind(r) in RELOADED_KINDS or _is_loader(r) or r.type.startswith("grafana:"))]
    assert not others, f"{change} on {baseline.stack} changes more than reloaded files: {others}"
    before, after = _restart_triggers(baseline), _restart_triggers(head)
    assert before.keys() == after.keys()
    assert [key for key in before if before[key] != after[key]] == [], f"{change} on {baseline.stack} restarts something"


@pytest.mark.parametrize("config", [["images.alertmanager=prom/alertmanager:v0.28.0"], ["alertmanager.retention=240h"]], ids=["image", "flag"])
def test_an_image_or_flag_change_still_restarts_the_service(baseline, config):
    """The comparison above can fail: a new image or command-line flag is in the pod template or the
    container, so Alertmanager restarts with it (its reloader too, in the same pod or namespace)."""
    before, after = _restart_triggers(baseline), _restart_triggers(_synth(baseline.stack, config))
    restarted = {key for key in before if before[key] != after[key]}
    if baseline.settings.platform == "kubernetes":
        assert restarted == {"StatefulSet ngx-alertmanager-statefulset"}
    else:
        assert {f"{CONTAINER} ngx-alertmanager-container", f"{CONTAINER} ngx-alertmanager-reloader"} & restarted
        assert all("alertmanager" in key for key in restarted), restarted
