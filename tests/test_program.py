"""The whole program per stack: what ties the pieces together (Grafana content after Grafana is up,
one notification policy, dashboards in the rendered files, outputs)."""

from __future__ import annotations

import pytest

from dashboards import DASHBOARDS

POLICY = "grafana:alerting/notificationPolicy:NotificationPolicy"
PROVIDER = "pulumi:providers:grafana"


@pytest.fixture(scope="module", params=["dev_seeded", "prod_seeded"])
def stack(request):
    return request.getfixturevalue(request.param)


def test_grafana_providers_wait_for_grafana_readiness(stack):
    """Created before Grafana answers, the providers' first API call fails the deploy."""
    workload = {"docker": "ngx-grafana-container", "kubernetes": "ngx-grafana-statefulset"}[stack.settings.platform]
    entrypoint = {"docker": "ngx-proxy-container", "kubernetes": "ngx-proxy-deployment"}[stack.settings.platform]
    assert stack.of_type(PROVIDER) and {r.name for r in stack.resources} >= {workload, entrypoint}
    providers = stack.of_type(PROVIDER)
    assert {p.name for p in providers} == {"ngx-grafana-content-bootstrap", "ngx-grafana-content-provider"}
    for provider in providers:
        waited = stack.waits_for(provider.name)
        assert {workload, entrypoint} <= waited, f"{provider.name} does not wait for Grafana behind the proxy"


def test_exactly_one_notification_policy(stack):
    assert len(stack.of_type(POLICY)) == 1


def test_every_dashboard_is_rendered_once(stack):
    names = sorted(key for key in stack.files if key.startswith("grafana/dashboards/"))
    assert names == sorted(f"grafana/dashboards/{spec.uid}.json" for spec in DASHBOARDS)


def test_deploy_annotation_token_is_a_secret_output(stack):
    from synthesis.recorder import is_secret

    assert is_secret(stack.outputs["deployAnnotationToken"])
    assert set(stack.outputs["dashboards"]) == {spec.uid for spec in DASHBOARDS}
