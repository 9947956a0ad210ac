"""The three Grafana datasources of the stack, named once.

Dashboards refer to a datasource by UID; the Grafana component creates the datasources with these
same UIDs, so a panel can never point at a datasource the stack does not provision (a test checks
every panel against this list).
"""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.models.dashboard import DataSourceRef

PROMETHEUS_UID = "ngx-prometheus"
LOKI_UID = "ngx-loki"
ALERTMANAGER_UID = "ngx-alertmanager"
# Only with grafana.longTermStore: the remote-write store's Prometheus-compatible query API.
LONG_TERM_UID = "ngx-long-term"


@dataclass(frozen=True)
class Datasource:
    uid: str
    type: str  # Grafana plugin id
    name: str  # what users see in the datasource picker

    def ref(self) -> DataSourceRef:
        return DataSourceRef(type_val=self.type, uid=self.uid)


PROMETHEUS = Datasource(PROMETHEUS_UID, "prometheus", "Prometheus")
LOKI = Datasource(LOKI_UID, "loki", "Loki")
ALERTMANAGER = Datasource(ALERTMANAGER_UID, "alertmanager", "Alertmanager")
LONG_TERM = Datasource(LONG_TERM_UID, "prometheus", "Long-term store")
DATASOURCES: dict[str, Datasource] = {ds.uid: ds for ds in (PROMETHEUS, LOKI, ALERTMANAGER)}
