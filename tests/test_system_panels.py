"""The Overview's System rows (dashboards/system.py) and the node I/O recordings they read.

What would break without these: a device filter that also drops the real disk or NIC leaves an empty
panel on every node; one that keeps loopback or the host ends of container veths double-counts traffic;
a node panel that reads raw per-device counters fans out over every device of every node at each refresh.
"""

from __future__ import annotations

import re

import pytest

from alerting import node_io
from dashboards import overview
from settings import parse

DEV = parse({"platform": "docker"}, stack="dev")
PROD = parse({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1/32"}}, stack="prod")
SYSTEM_ROWS = {
    "Redis": ["Redis memory used vs maxmemory", "Redis commands per second", "Redis connected clients", "Redis evictions"],
    "Disk and network": ["Disk read / write", "Disk I/O utilisation", "Network traffic", "Network errors and drops"],
}


def _excluded(matcher: str, device: str) -> bool:
    """Whether a `device!~"..."` matcher leaves `device` out (PromQL regexes are fully anchored)."""
    pattern = re.fullmatch(r'device!~"(.+)"', matcher).group(1)
    return re.fullmatch(f"(?:{pattern})", device) is not None


@pytest.mark.parametrize("device", ["sda", "vda", "nvme0n1", "xvda", "mmcblk0"])
def test_real_disks_are_kept(device):
    assert not _excluded(node_io.DISK_DEVICES, device)


@pytest.mark.parametrize("device", ["loop0", "loop12", "ram0", "zram0", "fd0", "sr0", "nbd3", "dm-0", "md127"])
def test_virtual_and_stacked_block_devices_are_left_out(device):
    assert _excluded(node_io.DISK_DEVICES, device)


@pytest.mark.parametrize("device", ["eth0", "ens5", "enp0s31f6", "eno1", "bond0", "wlan0"])
def test_physical_interfaces_are_kept(device):
    assert not _excluded(node_io.NETWORK_DEVICES, device)


@pytest.mark.parametrize("device", ["lo", "veth1a2b3c", "docker0", "br-4f2a", "cni0", "cali12ab", "flannel.1", "vxlan.calico", "tunl0", "kube-ipvs0"])
def test_loopback_and_container_networking_interfaces_are_left_out(device):
    assert _excluded(node_io.NETWORK_DEVICES, device)


@pytest.mark.parametrize("settings", [DEV, PROD], ids=["dev", "prod"])
def test_system_rows_follow_resources_on_the_overview(settings):
    rows: dict[str, list[str]] = {}
    current = None
    for panel in overview.build(settings)["panels"]:
        if panel["type"] == "row":
            current = rows.setdefault(panel["title"], [])
        else:
            current.append(panel["title"])
    titles = list(rows)
    assert titles[titles.index("Resources") + 1 : titles.index("Resources") + 3] == list(SYSTEM_ROWS)
    assert {row: rows[row] for row in SYSTEM_ROWS} == SYSTEM_ROWS


def test_node_panels_read_recordings_only():
    recorded = {rule.record for rule in node_io.group().recordings}
    panels = [p for p in overview.build(DEV)["panels"] if p["title"] in SYSTEM_ROWS["Disk and network"]]
    assert len(panels) == len(SYSTEM_ROWS["Disk and network"]), [p["title"] for p in panels]
    for panel in panels:
        for target in panel["targets"]:
            name = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\{", target["expr"]).group(1)
            assert name in recorded, (panel["title"], target["expr"])
            assert 'instance=~"$node"' in target["expr"]
