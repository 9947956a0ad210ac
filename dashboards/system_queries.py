"""Expressions of the Overview's System rows: Redis (redis_exporter) and node disk I/O and network
traffic (node-exporter), with the exporters' own metric names and labels.

Redis is one target with one series per metric, read raw; node traffic is read from the recordings of
alerting.node_io, which leave out virtual devices and interfaces and pre-aggregate per device.
"""

from __future__ import annotations

from alerting import node_io
from alerting.promql import selector
from catalog import JOB_REDIS
from dashboards.queries import NODE, RATE_WINDOW

# ---- Redis -------------------------------------------------------------------------------------------


def redis_memory_used() -> str:
    return selector("redis_memory_used_bytes", JOB_REDIS)


def redis_memory_max() -> str:
    # maxmemory 0 means unlimited: no line rather than a limit of 0 bytes.
    return f"{selector('redis_memory_max_bytes', JOB_REDIS)} > 0"


def redis_commands() -> str:
    return f"sum by (instance) (rate({selector('redis_commands_processed_total', JOB_REDIS)}[{RATE_WINDOW}]))"


def redis_clients() -> str:
    return selector("redis_connected_clients", JOB_REDIS)


def redis_evictions() -> str:
    return f"sum by (instance) (rate({selector('redis_evicted_keys_total', JOB_REDIS)}[{RATE_WINDOW}]))"


# ---- nodes -------------------------------------------------------------------------------------------


def _node(record: str) -> str:
    return f"{record}{{{NODE}}}"


def disk_read() -> str:
    return _node(node_io.DISK_READ_RATE5M)


def disk_written() -> str:
    return _node(node_io.DISK_WRITTEN_RATE5M)


def disk_utilisation() -> str:
    return _node(node_io.DISK_IO_TIME_RATE5M)


def network_received() -> str:
    return _node(node_io.NETWORK_RECEIVE_RATE5M)


def network_transmitted() -> str:
    return _node(node_io.NETWORK_TRANSMIT_RATE5M)


def network_problems(direction: str, kind: str) -> str:
    """Errors (`errs`) or drops (`drop`) per second of a node, received or transmitted."""
    return _node(node_io.NETWORK_PROBLEMS_RATE5M[(direction, kind)])
