"""The exporter series the Overview's System rows read (redis_exporter, node-exporter disk, the netdev exporter's network),
written into the bench dataset by bench/dataset.py.

One node (node-0, as the CPU and memory series) with the devices a cloud VM shows, including some the
recordings leave out (a loop device, loopback and a container's veth), so the benchmark pays for the
filtering too; one Redis. Rates are per scrape step, so the panels have non-zero values to draw.
"""

from __future__ import annotations

import random
from collections.abc import Callable

NODE = {"job": "node", "instance": "node-0:9100"}
# The host's interfaces come from the netdev-only exporter beside it, which carries the node's instance.
NODE_NETDEV = {"job": "node-netdev", "instance": "node-0:9100"}
REDIS = {"job": "redis", "instance": "redis-exporter:9121"}
DISKS = {"nvme0n1": 4e6, "sda": 1e6, "loop0": 1e3}  # bytes written per second
INTERFACES = {"eth0": 2e6, "eth1": 2e5, "lo": 5e5, "veth1a2b3c": 1e5}  # bytes received per second
DISK_COUNTERS = ("node_disk_read_bytes_total", "node_disk_written_bytes_total", "node_disk_io_time_seconds_total")
NETWORK_COUNTERS = tuple(f"node_network_{d}_{k}_total" for d in ("receive", "transmit") for k in ("bytes", "errs", "drop"))
REDIS_COUNTERS = {"redis_commands_processed_total": 500.0, "redis_evicted_keys_total": 0.5}
REDIS_GAUGES = {
    "redis_up": (1.0, 0.0),
    "redis_memory_used_bytes": (4e8, 2e7),
    "redis_memory_max_bytes": (1.0737e9, 0.0),
    "redis_connected_clients": (40.0, 5.0),
}


def series_count() -> int:
    return len(DISKS) * len(DISK_COUNTERS) + len(INTERFACES) * len(NETWORK_COUNTERS) + len(REDIS_COUNTERS) + len(REDIS_GAUGES)


def _per_second(counter: str, base: float) -> float:
    if counter == "node_disk_io_time_seconds_total":
        return min(0.9, base / 1e7)  # share of each second busy
    if counter.endswith(("_errs_total", "_drop_total")):
        return 0.01
    return base * (0.5 if "read" in counter or "transmit" in counter else 1.0)


def write(
    file_write: Callable[[str], None],
    flush: Callable[[list[str]], None],
    counter: Callable[[list[str], str, str, float], None],
    gauge: Callable[[list[str], str, str, float, float, random.Random], None],
    labels: Callable[..., str],
    step: int,
    rnd: random.Random,
) -> None:
    """Write every series with the Writer's own counter and gauge writers (continuous across windows)."""
    for name in DISK_COUNTERS + NETWORK_COUNTERS + tuple(REDIS_COUNTERS):
        file_write(f"# TYPE {name.removesuffix('_total')} counter\n")
        out: list[str] = []
        if name in REDIS_COUNTERS:
            counter(out, name, labels(**REDIS), REDIS_COUNTERS[name] * step)
        else:
            devices, target = (DISKS, NODE) if name in DISK_COUNTERS else (INTERFACES, NODE_NETDEV)
            for device, base in devices.items():
                counter(out, name, labels(**target, device=device), _per_second(name, base) * step)
        flush(out)
    for name, (value, jitter) in REDIS_GAUGES.items():
        file_write(f"# TYPE {name} gauge\n")
        out = []
        gauge(out, name, labels(**REDIS), value, jitter, rnd)
        flush(out)
