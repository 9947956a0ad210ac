"""The Overview's System rows (Redis, disk and network) have data on the live stack.

The live stack runs the real redis_exporter and node-exporter (Debian's) against a real Redis and the
host's /proc, so every expression of those panels is evaluated by the live Prometheus, on its rendered
recording rules, with Grafana's variables as the dashboard sends them (All nodes). A renamed exporter
metric, a label the exporter does not set, or a device filter that leaves nothing would return no data
here.

The network panels must show the host's interfaces, not those of the network namespace node-exporter
runs in (renderers/commands.node_exporter_netdev_args). The stack runs in a private network namespace
(tests/live/netns.py), as a container or pod does; the test adds a veth pair there, an interface the
panels would count if they read the stack's own namespace, and sends packets out of it. The panels'
interfaces must be exactly the host's, read from PID 1's /proc/1/net/dev (the root namespace, outside
the stack's) with the recordings' filter, and never that veth.
"""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import Iterator

import pytest

from alerting.node_io import EXCLUDED_INTERFACES
from catalog import JOB_NODE, JOB_NODE_NETDEV
from dashboards import overview, system
from tests.live.clients import wait_until
from tests.live.netns import interfaces
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
# A veth pair named like a container's own end (the host ends, veth*, are left out by the panels), in
# the stack's private namespace only.
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


def _counted(net_dev: str) -> set[str]:
    """The interfaces of a /proc/<pid>/net/dev text the panels count (the recordings' filter)."""
    names = {line.split(":", 1)[0].strip() for line in net_dev.splitlines()[2:] if ":" in line}
    return {name for name in names if not re.fullmatch(EXCLUDED_INTERFACES, name)}


def _host_interfaces() -> set[str]:
    """The host's interfaces the panels count: those of PID 1's network namespace (/proc/1/net/dev,
    whatever namespace the reader is in)."""
    with open("/proc/1/net/dev") as dev:
        return _counted(dev.read())


def test_pid_1s_interfaces_are_readable_by_nobody_from_a_private_namespace():
    """The model the netdev exporter relies on (renderers/commands.node_exporter_netdev_args): from a
    private network namespace, as the images' user (65534, no capability), /proc/net is the reader's
    own namespace and /proc/1/net the host's. The harness runs its servers as root; this is the check
    that the image's user reads the same file."""
    nobody = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "cat"]
    host = subprocess.run([*nobody, "/proc/1/net/dev"], check=True, capture_output=True, text=True).stdout
    own = subprocess.run([*nobody, "/proc/net/dev"], check=True, capture_output=True, text=True).stdout
    assert _counted(host) == _host_interfaces() and _host_interfaces()
    assert {line.split(":", 1)[0].strip() for line in own.splitlines()[2:]} == set(interfaces())
    assert _counted(own) != _counted(host), "the live tests run in a private network namespace (tests/live/netns.py)"


def test_every_system_panel_expression_returns_data(main_stack, timings, live_interface):
    stack = main_stack
    host = _host_interfaces()
    assert host, "the host has no interface the network panels count: nothing to compare"
    assert live_interface in interfaces() and live_interface not in host, "the veth must exist in the stack's namespace only"
    raw = f'node_network_receive_bytes_total{{job="{JOB_NODE_NETDEV}"}}'
    wait_until(lambda: stack.prometheus.query(raw), patience(timings.scrape_interval), what="node-exporter-netdev scraped")
    # Sent out of the stack's own namespace: the panels must not count it.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(20):
            sock.sendto(b"x" * 512, (PEER, 9))
    # Grafana's $__rate_interval at a 15s step: max(step + scrape interval, 4 scrape intervals).
    window = f"{int(max(15 + timings.scrape_interval, 4 * timings.scrape_interval))}s"
    # A recording needs two scrapes and one evaluation after them.
    wait = patience(2 * timings.scrape_interval + timings.evaluation_interval)
    traffic = system.network_traffic().build().title
    devices: set[str] = set()
    for title, expr in _expressions(stack.settings, window):
        result = wait_until(lambda expr=expr: stack.prometheus.query(expr), wait, what=f"data for {title!r}: {expr}")
        assert all(sample["value"][1] != "NaN" for sample in result), (title, expr, result)
        if title == traffic:
            devices |= {sample["metric"]["device"] for sample in result}
    assert devices == host, f"Network traffic shows {sorted(devices)}, the host has {sorted(host)} (the stack's own namespace: {interfaces()})"
    # The exporters' own series agree: every host interface, node-exporter's own namespace not at all.
    exported = {sample["metric"]["device"] for sample in stack.prometheus.query(raw)}
    assert exported == host and live_interface not in exported
    assert stack.prometheus.query(f'node_network_receive_bytes_total{{job="{JOB_NODE}"}}') == []
    # Both jobs carry the node's instance, so the dashboard's $node (up{job="node"}) selects the traffic.
    node = {sample["metric"]["instance"] for sample in stack.prometheus.query(f'up{{job="{JOB_NODE}"}}')}
    assert {sample["metric"]["instance"] for sample in stack.prometheus.query(raw)} == node
    maxmemory = stack.prometheus.value('redis_memory_max_bytes{job="redis"}')
    assert maxmemory == 64 * 2**20
