"""What a catalogued metric is, and the scrape and push jobs that expose them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    type: str  # counter | gauge | histogram | summary
    labels: tuple[str, ...]
    help: str
    source: str  # scrape job that exposes it

    def series_names(self) -> tuple[str, ...]:
        """Names Prometheus stores for this metric (histograms expand to three)."""
        if self.type == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        if self.type == "summary":
            return (self.name, f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


# Scrape job names, fixed across stacks: rules, dashboards and routes select on them.
JOB_API = "ngx-api"
JOB_NODE = "node"
# The node's own network interfaces, from a second node-exporter in node-exporter's pod (topology.py).
JOB_NODE_NETDEV = "node-netdev"
JOB_REDIS = "redis"
JOB_PROMETHEUS = "prometheus"
JOB_ALERTMANAGER = "alertmanager"
JOB_LOKI = "loki"
JOB_GRAFANA = "grafana"
JOB_PROXY = "proxy"
JOB_ALLOY = "alloy"
JOB_PUSHGATEWAY = "pushgateway"
# Kubernetes only: object state, the kubelet's own metrics (volume statistics) and its cAdvisor.
JOB_KUBE_STATE_METRICS = "kube-state-metrics"
JOB_KUBELET = "kubelet"
JOB_CADVISOR = "cadvisor"
JOBS = (
    JOB_API,
    JOB_NODE,
    JOB_NODE_NETDEV,
    JOB_REDIS,
    JOB_PROMETHEUS,
    JOB_ALERTMANAGER,
    JOB_LOKI,
    JOB_GRAFANA,
    JOB_PROXY,
    JOB_ALLOY,
    JOB_PUSHGATEWAY,
    JOB_KUBE_STATE_METRICS,
    JOB_KUBELET,
    JOB_CADVISOR,
)
# Jobs named by what pushes to the Pushgateway, not by a scrape job: the `pushgateway` job scrapes
# them with honor_labels, so their series keep the job label the pusher set.
JOB_BACKUP = "ngx-backup"
PUSHED_JOBS = (JOB_BACKUP,)
