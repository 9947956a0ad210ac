"""The Overview's System rows (seed 000_: Redis beyond up and hit ratio, disk I/O, network traffic).

One function per panel, like dashboards/overview.py, which adds these rows with `with_rows`.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import units

from dashboards import defaults as d, panels as p, system_queries as q


def redis_memory() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Redis memory used vs maxmemory",
        "Memory Redis uses for data and overhead, against its maxmemory (no limit line when maxmemory is 0, unlimited). "
        "At maxmemory Redis evicts keys or refuses writes, as its maxmemory-policy says.",
        units.BytesIEC,
        [d.prom(q.redis_memory_used(), "used"), d.prom(q.redis_memory_max(), "maxmemory")],
    )


def redis_commands() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Redis commands per second", "Commands Redis processed per second (all commands).", units.OpsPerSecond, [d.prom(q.redis_commands(), "commands")]
    )


def redis_clients() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Redis connected clients",
        "Client connections open to Redis (the API's pool plus redis_exporter's own); a climb without more traffic points at a connection leak.",
        units.Short,
        [d.prom(q.redis_clients(), "clients")],
    )


def redis_evictions() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Redis evictions",
        "Keys evicted per second to stay within maxmemory: cached entries the API must recompute, so the cache hit ratio drops.",
        units.OpsPerSecond,
        [d.prom(q.redis_evictions(), "evicted keys")],
        steps=((None, d.GREEN), (0.0001, d.ORANGE)),
    )


def disk_throughput() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Disk read / write",
        "Bytes per second read from and written to each disk of the node (5m rate, recorded; loop, RAM, device-mapper and md devices left out).",
        units.BytesPerSecondIEC,
        [d.prom(q.disk_read(), "{{instance}} {{device}} read"), d.prom(q.disk_written(), "{{instance}} {{device}} write")],
    )


def disk_utilisation() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Disk I/O utilisation",
        "Share of time each disk had I/O in flight (5m rate of its I/O time, recorded). Near 100% a spinning disk is saturated; "
        "SSDs serve requests in parallel, so for them compare with the read / write rates.",
        units.PercentUnit,
        [d.prom(q.disk_utilisation(), "{{instance}} {{device}}")],
        max_val=1,
    )


def network_traffic() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Network traffic",
        "Bytes per second received and transmitted per interface of each node (5m rate, recorded; loopback, veth, bridge and overlay "
        "interfaces left out). The host's interfaces, read by job node-netdev through the host's /proc/1/net/dev without host "
        "networking: see docs/dashboards.md, System rows.",
        units.BytesPerSecondIEC,
        [d.prom(q.network_received(), "{{instance}} {{device}} received"), d.prom(q.network_transmitted(), "{{instance}} {{device}} transmitted")],
    )


def network_errors() -> p.timeseries.Panel:
    return p.timeseries_panel(
        "Network errors and drops",
        "Packets per second each node failed to receive or transmit (errors) or dropped, over the same host interfaces as Network traffic.",
        units.PacketsPerSecond,
        [
            d.prom(q.network_problems(direction, kind), f"{{{{instance}}}} {direction} {label}")
            for direction in ("receive", "transmit")
            for kind, label in (("errs", "errors"), ("drop", "drops"))
        ],
        steps=((None, d.GREEN), (0.0001, d.ORANGE)),
    )


def with_rows(builder: dashboard.Dashboard) -> dashboard.Dashboard:
    """The Redis and the disk-and-network rows, in that order."""
    builder = builder.with_row(p.row("Redis")).with_panel(redis_memory()).with_panel(redis_commands()).with_panel(redis_clients()).with_panel(redis_evictions())
    return (
        builder.with_row(p.row("Disk and network"))
        .with_panel(disk_throughput())
        .with_panel(disk_utilisation())
        .with_panel(network_traffic())
        .with_panel(network_errors())
    )
