"""What each Grafana datasource says, as plain data (the component adds the secrets).

URLs are the internal service addresses of the topology (Grafana -> Prometheus, Loki, Alertmanager
are allowed edges), with the route prefix Prometheus and Alertmanager serve under. Prometheus and Alertmanager speak HTTPS with the stack's internal CA, which
Grafana is given so it verifies them (no skip-verify anywhere), and require basic auth as the
`grafana` user. Loki is plain HTTP inside the stack and multi-tenant: Grafana sends the tenant header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import addresses
import catalog
from dashboards.datasources import ALERTMANAGER, LOKI, LONG_TERM, PROMETHEUS, Datasource
from settings import Settings
from settings.scrape import slowest_interval
from topology import ALERTMANAGER as ALERTMANAGER_SERVICE, LOKI as LOKI_SERVICE, PROMETHEUS as PROMETHEUS_SERVICE

TENANT_HEADER = "X-Scope-OrgID"
# JSON fields of the API's log lines that Grafana turns into links to every line of the same request.
DERIVED_FIELDS = ("request_id", "trace_id")
# Longest result a Loki query in Explore may return; the logs panels ask for fewer.
LOKI_MAX_LINES = 1000

_SEMVER = re.compile(r":v?(\d+\.\d+\.\d+)")


@dataclass(frozen=True)
class DatasourceConfig:
    datasource: Datasource
    url: str
    json_data: dict[str, Any]
    basic_auth: bool  # as the `grafana` user, password in secureJsonData.basicAuthPassword
    tls_ca: bool  # secureJsonData.tlsCACert = the stack's internal CA
    is_default: bool = False


def _image_version(image: str) -> str | None:
    match = _SEMVER.search(image)
    return match.group(1) if match else None


def derived_fields(settings: Settings) -> list[dict[str, Any]]:
    """request_id / trace_id in a JSON log line become a link to a Loki query for that id."""
    if not set(DERIVED_FIELDS) <= set(catalog.HIGH_CARDINALITY_FIELDS):
        raise ValueError("derived fields must be JSON fields the shipper keeps out of stream labels")
    stream = f'{{job="{catalog.LOG_JOB}", env="{settings.environment}"}}'
    return [
        {
            "name": field,
            "matcherType": "regex",
            # The value of `"field": "..."` in the raw JSON line.
            "matcherRegex": f'"{field}"\\s*:\\s*"([^"]+)"',
            "datasourceUid": LOKI.uid,
            "url": f'{stream} | json | {field}="${{__value.raw}}"',
            "urlDisplayLabel": f"All lines with this {field}",
        }
        for field in DERIVED_FIELDS
    ]


def datasource_configs(settings: Settings) -> tuple[DatasourceConfig, ...]:
    prometheus_json: dict[str, Any] = {
        "httpMethod": "POST",
        "tlsAuthWithCACert": True,
        # $__rate_interval needs the scrape interval to stay >= 4 scrapes: of the slowest job, when
        # prometheus.scrapeIntervals slows one down, so a panel's rate() never holds fewer.
        "timeInterval": slowest_interval(settings),
        "prometheusType": "Prometheus",
        # Silences and alert state in Grafana's UI for alerts from this Prometheus.
        "alertmanagerUid": ALERTMANAGER.uid,
    }
    if (version := _image_version(settings.images.prometheus)) is not None:
        prometheus_json["prometheusVersion"] = version
    return (
        DatasourceConfig(PROMETHEUS, addresses.base_url(settings, PROMETHEUS_SERVICE), prometheus_json, basic_auth=True, tls_ca=True, is_default=True),
        DatasourceConfig(
            LOKI,
            addresses.url(settings, LOKI_SERVICE),
            {
                "httpHeaderName1": TENANT_HEADER,
                "maxLines": LOKI_MAX_LINES,
                "derivedFields": derived_fields(settings),
            },
            basic_auth=False,
            tls_ca=False,
        ),
        DatasourceConfig(
            ALERTMANAGER,
            addresses.base_url(settings, ALERTMANAGER_SERVICE),
            {
                "implementation": "prometheus",
                # Grafana-managed alerts go through Grafana's own notification policy (the same routing),
                # not through this Alertmanager as well, or they would notify twice.
                "handleGrafanaManagedAlerts": False,
                "tlsAuthWithCACert": True,
            },
            basic_auth=True,
            tls_ca=True,
        ),
    )


def long_term_store_config(settings: Settings) -> DatasourceConfig | None:
    """The long-term store (grafana.longTermStore), or None. Its answers are already deduplicated by the
    store: Mimir's HA tracker keeps one replica's samples, Thanos Query drops the `replica` label
    (docs/operations.md, "Remote write"). Its basic auth and tenant go in secure JSON data (content.py)."""
    store = settings.grafana.long_term_store
    if store is None:
        return None
    json_data: dict[str, Any] = {
        "httpMethod": "POST",
        # Samples arrive at the scrape interval (remote write keeps every one).
        "timeInterval": settings.prometheus.scrape_interval,
        # Mimir (and Cortex) speak the Prometheus API under /prometheus; Grafana's "Mimir" type enables
        # the same queries plus its own hints. Without a tenant it is a plain Prometheus-compatible API.
        "prometheusType": "Mimir" if store.tenant else "Prometheus",
    }
    if store.tenant:
        json_data["httpHeaderName1"] = TENANT_HEADER
    return DatasourceConfig(LONG_TERM, store.url, json_data, basic_auth=store.username is not None, tls_ca=False)
