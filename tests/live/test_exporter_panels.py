"""The Overview's System rows (Redis, disk and network) have data on the live stack.

The live stack runs the real redis_exporter and node-exporter (Debian's) against a real Redis and the
host's /proc, so every expression of those panels is evaluated by the live Prometheus, on its rendered
recording rules, with Grafana's variables as the dashboard sends them (All nodes). A renamed exporter
metric, a label the exporter does not set, or a device filter that leaves nothing would return no data
here. The private network namespace has only `lo`, which the network panels leave out, so the test
adds a veth pair with an address and sends a few packets out of it (its transmit counter grows).
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest

from dashboards import overview, system
from tests.live.clients import wait_until
from tests.live.timings import patience

pytestmark = pytest.mark.live

SYSTEM_PANELS = (
    system.redis_memory,
    system.redis_commands,
    system.redis_clients,
    system.redis_evictions,
    system.disk_throughput,
    system.disk_utilisation,
    system.network_traffic,
    system.network_errors,
)
# A veth pair named like a container's own end (the host ends, veth*, are left out by the panels).
LINK, PEER_LINK = "ngxlive0", "ngxlive1"
ADDRESS, PEER = "198.18.0.1/24", "198.18.0.2"  # 198.18.0.0/15: the benchmarking range, never routed
PEER_MAC = "02:00:00:00:00:02"


@pytest.fixture
def live_interface() -> Iterator[str]:
    """An interface the network panels count, in the test's private network namespace; packets to PEER
    leave through it (a static neighbour entry: no ARP needed) and count as transmitted."""
    commands = (
        ["ip", "link", "add", LINK, "type", "veth", "peer", "name", PEER_LINK],
        ["ip", "addr", "add", ADDRESS, "dev", LINK],
        ["ip", "link", "set", LINK, "up"],
        ["ip", "link", "set", PEER_LINK, "up"],
        ["ip", "neigh", "add", PEER, "lladdr", PEER_MAC, "dev", LINK],
    )
    try:
        for argv in commands:
            subprocess.run(argv, check=True, capture_output=True)
        yield LINK
    finally:
        subprocess.run(["ip", "link", "del", LINK], check=False, capture_output=True)  # removes the peer too


def _expressions(settings, rate_window: str) -> list[tuple[str, str]]:
    titles = {make().build().title for make in SYSTEM_PANELS}
    model = overview.build(settings)
    found = [(panel["title"], target["expr"]) for panel in model["panels"] if panel["title"] in titles for target in panel.get("targets", [])]
    assert {title for title, _ in found} == titles, "a System panel is missing from the Overview"
    return [(title, expr.replace("$__rate_interval", rate_window).replace("$node", ".*")) for title, expr in found]


def test_every_system_panel_expression_returns_data(main_stack, timings, live_interface):
    stack = main_stack
    raw = f'node_network_transmit_bytes_total{{job="node",device="{live_interface}"}}'
    wait_until(lambda: stack.prometheus.query(raw), patience(timings.scrape_interval), what=f"node-exporter scraping {live_interface}")
    # Sent after the first scrape of the interface, so its counter grows between two samples.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(20):
            sock.sendto(b"x" * 512, (PEER, 9))
    # Grafana's $__rate_interval at a 15s step: max(step + scrape interval, 4 scrape intervals).
    window = f"{int(max(15 + timings.scrape_interval, 4 * timings.scrape_interval))}s"
    # A recording needs two scrapes of the new interface and one evaluation after them.
    wait = patience(2 * timings.scrape_interval + timings.evaluation_interval)
    for title, expr in _expressions(stack.settings, window):
        result = wait_until(lambda expr=expr: stack.prometheus.query(expr), wait, what=f"data for {title!r}: {expr}")
        assert all(sample["value"][1] != "NaN" for sample in result), (title, expr, result)
    recorded = f'instance_device:node_network_transmit_bytes:rate5m{{device="{live_interface}"}} > 0'
    wait_until(lambda: stack.prometheus.query(recorded), wait, what=f"the bytes sent out of {live_interface} in the recorded rate")
    maxmemory = stack.prometheus.value('redis_memory_max_bytes{job="redis"}')
    assert maxmemory == 64 * 2**20
