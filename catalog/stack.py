"""The catalog's metrics of the stack's own parts: exporters, the shipper, the backups and Kubernetes' state,
kubelet and cAdvisor (catalog/__init__.py holds the application's)."""

from __future__ import annotations

from catalog.metric import (
    JOB_ALERTMANAGER,
    JOB_ALLOY,
    JOB_BACKUP,
    JOB_CADVISOR,
    JOB_GRAFANA,
    JOB_KUBE_STATE_METRICS,
    JOB_KUBELET,
    JOB_LOKI,
    JOB_NODE,
    JOB_NODE_NETDEV,
    JOB_PROMETHEUS,
    JOB_PROXY,
    JOB_REDIS,
    Metric,
)

EXPORTERS = (
    Metric("up", "gauge", (), "1 when the last scrape of a target succeeded.", "prometheus"),
    Metric("scrape_duration_seconds", "gauge", (), "Duration of the last scrape of a target.", "prometheus"),
    Metric("scrape_samples_scraped", "gauge", (), "Samples the last scrape returned.", "prometheus"),
    Metric("scrape_samples_post_metric_relabeling", "gauge", (), "Samples left after metric relabelling.", "prometheus"),
    Metric("node_cpu_seconds_total", "counter", ("cpu", "mode"), "CPU time by mode.", JOB_NODE),
    Metric("node_memory_MemAvailable_bytes", "gauge", (), "Memory available to new work.", JOB_NODE),
    Metric("node_memory_MemTotal_bytes", "gauge", (), "Total memory.", JOB_NODE),
    Metric("node_filesystem_avail_bytes", "gauge", ("device", "fstype", "mountpoint"), "Free filesystem space for non-root users.", JOB_NODE),
    Metric("node_filesystem_size_bytes", "gauge", ("device", "fstype", "mountpoint"), "Filesystem size.", JOB_NODE),
    Metric("redis_up", "gauge", (), "1 when the exporter reached Redis.", JOB_REDIS),
    Metric("redis_connected_clients", "gauge", (), "Redis client connections.", JOB_REDIS),
    Metric("redis_memory_used_bytes", "gauge", (), "Memory used by Redis.", JOB_REDIS),
    Metric("redis_memory_max_bytes", "gauge", (), "Redis maxmemory (0 when unlimited).", JOB_REDIS),
    Metric("redis_commands_processed_total", "counter", (), "Commands Redis processed.", JOB_REDIS),
    Metric("redis_evicted_keys_total", "counter", (), "Keys evicted to stay within maxmemory.", JOB_REDIS),
    Metric("node_disk_read_bytes_total", "counter", ("device",), "Bytes read from a block device.", JOB_NODE),
    Metric("node_disk_written_bytes_total", "counter", ("device",), "Bytes written to a block device.", JOB_NODE),
    Metric("node_disk_io_time_seconds_total", "counter", ("device",), "Time a block device had I/O in flight (its rate is the utilisation).", JOB_NODE),
    *(
        Metric(f"node_network_{direction}_{kind}_total", "counter", ("device",), f"Network {direction} {what} of an interface of the node.", JOB_NODE_NETDEV)
        for direction in ("receive", "transmit")
        for kind, what in (("bytes", "bytes"), ("errs", "errors"), ("drop", "packets dropped"))
    ),
    Metric(
        "node_scrape_collector_success", "gauge", ("collector",), "1 when a node-exporter collector read its source in this scrape, else 0.", JOB_NODE_NETDEV
    ),
    Metric("redis_keyspace_hits_total", "counter", (), "Redis keyspace hits.", JOB_REDIS),
    Metric("redis_keyspace_misses_total", "counter", (), "Redis keyspace misses.", JOB_REDIS),
    Metric("prometheus_rule_evaluation_failures_total", "counter", ("rule_group",), "Failed rule evaluations.", JOB_PROMETHEUS),
    Metric("prometheus_rule_group_last_duration_seconds", "gauge", ("rule_group",), "Duration of the last evaluation of a rule group.", JOB_PROMETHEUS),
    Metric("prometheus_rule_group_interval_seconds", "gauge", ("rule_group",), "Evaluation interval of a rule group.", JOB_PROMETHEUS),
    Metric("prometheus_notifications_alertmanagers_discovered", "gauge", (), "Alertmanagers Prometheus sends to.", JOB_PROMETHEUS),
    Metric("prometheus_notifications_errors_total", "counter", ("alertmanager",), "Errors sending alerts to an Alertmanager.", JOB_PROMETHEUS),
    Metric("prometheus_notifications_sent_total", "counter", ("alertmanager",), "Alerts sent to an Alertmanager.", JOB_PROMETHEUS),
    Metric("prometheus_notifications_dropped_total", "counter", (), "Alerts dropped before reaching an Alertmanager.", JOB_PROMETHEUS),
    Metric("prometheus_config_last_reload_successful", "gauge", (), "1 when the last configuration reload succeeded.", JOB_PROMETHEUS),
    Metric("prometheus_tsdb_storage_blocks_bytes", "gauge", (), "Bytes used by persisted blocks.", JOB_PROMETHEUS),
    Metric("prometheus_tsdb_wal_storage_size_bytes", "gauge", (), "Bytes used by the write-ahead log.", JOB_PROMETHEUS),
    Metric("prometheus_tsdb_head_chunks_storage_size_bytes", "gauge", (), "Bytes used by memory-mapped head chunks.", JOB_PROMETHEUS),
    Metric("prometheus_tsdb_head_series", "gauge", (), "Series in the head block.", JOB_PROMETHEUS),
    Metric("prometheus_target_scrapes_exceeded_sample_limit_total", "counter", (), "Scrapes rejected for exceeding sample_limit.", JOB_PROMETHEUS),
    Metric("prometheus_target_scrape_pool_exceeded_label_limits_total", "counter", (), "Scrapes rejected for exceeding label limits.", JOB_PROMETHEUS),
    # Remote write (prometheus.remoteWrite); present only while an endpoint is configured.
    Metric("prometheus_remote_storage_samples_total", "counter", ("remote_name", "url"), "Samples sent to a remote store.", JOB_PROMETHEUS),
    Metric(
        "prometheus_remote_storage_samples_failed_total", "counter", ("remote_name", "url"), "Samples a remote store refused for good (lost).", JOB_PROMETHEUS
    ),
    Metric(
        "prometheus_remote_storage_bytes_total", "counter", ("remote_name", "url"), "Bytes of requests sent to a remote store (compressed).", JOB_PROMETHEUS
    ),
    Metric("prometheus_remote_storage_highest_timestamp_in_seconds", "gauge", (), "Newest timestamp appended to the WAL.", JOB_PROMETHEUS),
    Metric(
        "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
        "gauge",
        ("remote_name", "url"),
        "Newest timestamp a remote store acknowledged.",
        JOB_PROMETHEUS,
    ),
    Metric("prometheus_remote_storage_shards_desired", "gauge", ("remote_name", "url"), "Shards the queue would need to keep up.", JOB_PROMETHEUS),
    Metric("prometheus_remote_storage_shards_max", "gauge", ("remote_name", "url"), "Configured maximum of shards (maxShards).", JOB_PROMETHEUS),
    Metric("alertmanager_notifications_total", "counter", ("integration",), "Notifications attempted per integration.", JOB_ALERTMANAGER),
    Metric("alertmanager_notifications_failed_total", "counter", ("integration",), "Notifications that failed per integration.", JOB_ALERTMANAGER),
    Metric("alertmanager_cluster_members", "gauge", (), "Alertmanager cluster members this peer sees.", JOB_ALERTMANAGER),
    Metric("alertmanager_config_last_reload_successful", "gauge", (), "1 when the last configuration reload succeeded.", JOB_ALERTMANAGER),
    Metric(
        "alertmanager_config_hash", "gauge", (), "Hash of the loaded configuration (as the value); equal on replicas that run the same one.", JOB_ALERTMANAGER
    ),
    Metric("alertmanager_alerts", "gauge", ("state",), "Alerts held by state.", JOB_ALERTMANAGER),
    Metric("loki_distributor_lines_received_total", "counter", ("tenant",), "Log lines received by Loki.", JOB_LOKI),
    Metric("loki_distributor_bytes_received_total", "counter", ("tenant",), "Log bytes received by Loki.", JOB_LOKI),
    Metric("loki_request_duration_seconds", "histogram", ("route", "status_code"), "Loki request duration.", JOB_LOKI),
    Metric("grafana_http_request_duration_seconds", "histogram", ("handler", "status_code", "method"), "Grafana HTTP request duration.", JOB_GRAFANA),
    Metric("nginx_up", "gauge", (), "1 when the exporter reached nginx stub_status.", JOB_PROXY),
    Metric("nginx_http_requests_total", "counter", (), "Requests served by the proxy.", JOB_PROXY),
    Metric("nginx_connections_active", "gauge", (), "Active client connections at the proxy.", JOB_PROXY),
    Metric("loki_write_sent_entries_total", "counter", (), "Log entries the shipper sent to Loki.", JOB_ALLOY),
    Metric("loki_write_dropped_entries_total", "counter", ("reason",), "Log entries the shipper dropped.", JOB_ALLOY),
)

# Pushed by ops/backup.py at the end of every run, one group per target (prometheus-0, alertmanager-0, ...).
BACKUP = (
    Metric(
        "ngx_backup_last_success_timestamp_seconds", "gauge", ("target",), "Unix time at which the last successful backup of a target finished.", JOB_BACKUP
    ),
    Metric("ngx_backup_last_run_success", "gauge", ("target",), "1 when the last backup run of a target succeeded, 0 when it failed.", JOB_BACKUP),
    Metric(
        "ngx_backup_last_size_bytes", "gauge", ("target",), "Bytes the last successful backup of a target read (restic's total_bytes_processed).", JOB_BACKUP
    ),
    Metric(
        "ngx_backup_last_added_bytes",
        "gauge",
        ("target",),
        "Bytes the last successful backup of a target added to the repository (restic's data_added).",
        JOB_BACKUP,
    ),
    Metric("ngx_backup_duration_seconds", "gauge", ("target",), "Duration of the last backup run of a target.", JOB_BACKUP),
    Metric(
        "ngx_backup_check_last_run_success", "gauge", ("target",), "1 when the repository's last retention and restic check succeeded, 0 when not.", JOB_BACKUP
    ),
    Metric("ngx_backup_check_last_success_timestamp_seconds", "gauge", ("target",), "Unix time at which the repository's last check passed.", JOB_BACKUP),
    Metric("ngx_backup_check_duration_seconds", "gauge", ("target",), "Duration of the repository's last retention and check.", JOB_BACKUP),
)

# Kubernetes only (jobs kube-state-metrics, kubelet and cadvisor): exactly what the rules and panels read;
# renderers/prometheus.py keeps these and drops the rest of each job at scrape time.
_POD = ("namespace", "pod", "uid")
KUBERNETES = (
    Metric("kube_pod_container_status_restarts_total", "counter", (*_POD, "container"), "Restarts of a container.", JOB_KUBE_STATE_METRICS),
    Metric(
        "kube_pod_container_status_waiting_reason",
        "gauge",
        (*_POD, "container", "reason"),
        "1 while a container waits, by reason (CrashLoopBackOff, ImagePullBackOff, ...).",
        JOB_KUBE_STATE_METRICS,
    ),
    Metric(
        "kube_pod_container_status_last_terminated_reason",
        "gauge",
        (*_POD, "container", "reason"),
        "1 for the reason a container last terminated (OOMKilled, Error, ...).",
        JOB_KUBE_STATE_METRICS,
    ),
    Metric(
        "kube_pod_container_resource_requests",
        "gauge",
        (*_POD, "container", "node", "resource", "unit"),
        "Resources a container requests (cpu in cores, memory in bytes).",
        JOB_KUBE_STATE_METRICS,
    ),
    Metric(
        "kube_pod_container_resource_limits",
        "gauge",
        (*_POD, "container", "node", "resource", "unit"),
        "Resource limits of a container (cpu in cores, memory in bytes).",
        JOB_KUBE_STATE_METRICS,
    ),
    Metric("kube_pod_status_ready", "gauge", (*_POD, "condition"), "1 for the pod's Ready condition (true, false, unknown).", JOB_KUBE_STATE_METRICS),
    Metric("kube_pod_status_phase", "gauge", (*_POD, "phase"), "1 for the pod's phase (Pending, Running, Succeeded, Failed, Unknown).", JOB_KUBE_STATE_METRICS),
    Metric("kube_deployment_spec_replicas", "gauge", ("namespace", "deployment"), "Replicas a Deployment wants.", JOB_KUBE_STATE_METRICS),
    Metric("kube_deployment_status_replicas_available", "gauge", ("namespace", "deployment"), "Available replicas of a Deployment.", JOB_KUBE_STATE_METRICS),
    Metric(
        "kube_deployment_status_condition",
        "gauge",
        ("namespace", "deployment", "condition", "status"),
        "1 for each condition status of a Deployment (Progressing, Available).",
        JOB_KUBE_STATE_METRICS,
    ),
    Metric("kube_statefulset_replicas", "gauge", ("namespace", "statefulset"), "Replicas a StatefulSet wants.", JOB_KUBE_STATE_METRICS),
    Metric("kube_statefulset_status_replicas_ready", "gauge", ("namespace", "statefulset"), "Ready replicas of a StatefulSet.", JOB_KUBE_STATE_METRICS),
    Metric("kubelet_volume_stats_capacity_bytes", "gauge", ("namespace", "persistentvolumeclaim"), "Capacity of a mounted volume, by claim.", JOB_KUBELET),
    Metric("kubelet_volume_stats_available_bytes", "gauge", ("namespace", "persistentvolumeclaim"), "Free bytes of a mounted volume, by claim.", JOB_KUBELET),
    Metric("kubelet_volume_stats_used_bytes", "gauge", ("namespace", "persistentvolumeclaim"), "Used bytes of a mounted volume, by claim.", JOB_KUBELET),
    Metric(
        "container_cpu_usage_seconds_total", "counter", ("namespace", "pod", "container", "id", "image", "name"), "CPU time a container used.", JOB_CADVISOR
    ),
    Metric(
        "container_cpu_cfs_periods_total",
        "counter",
        ("namespace", "pod", "container", "id", "image", "name"),
        "CFS enforcement periods of a container with a CPU limit.",
        JOB_CADVISOR,
    ),
    Metric(
        "container_cpu_cfs_throttled_periods_total",
        "counter",
        ("namespace", "pod", "container", "id", "image", "name"),
        "CFS periods in which a container was throttled.",
        JOB_CADVISOR,
    ),
    Metric(
        "container_memory_working_set_bytes",
        "gauge",
        ("namespace", "pod", "container", "id", "image", "name"),
        "Working set of a container (what the OOM killer compares with the limit).",
        JOB_CADVISOR,
    ),
)
