"""Recording rules for node disk I/O and network traffic (the Overview dashboard's System row).

node-exporter exposes one series per device and counter; on a cluster that is nodes x devices x nine
counters. The rules rate them once per evaluation (5m, as every recording here), per instance and
device for traffic and per instance for the rare error and drop counters, and drop the devices that
would only add noise or double counting, so a dashboard refresh reads a few pre-aggregated series.
"""

from __future__ import annotations

from alerting.model import Alert, Recording, RuleGroup
from alerting.promql import rate_by, selector
from catalog import JOB_NODE, JOB_NODE_NETDEV
from settings import Settings

# Block devices left out: loop, RAM and zram disks, floppies, optical and network block devices are not
# disks; device-mapper (LVM, dm-crypt) and md RAID devices carry the I/O of the physical disks beneath
# them, which are shown already (node-exporter already leaves out partitions by default).
DISK_DEVICES = 'device!~"(loop|z?ram|fd|sr|nbd|dm-|md)[0-9]+"'
# Interfaces left out: loopback, and the host ends of container and overlay networking (veth pairs,
# bridges, CNI and tunnel devices), which repeat traffic already counted on the physical interface.
# node-exporter-netdev does not even export them (renderers/commands.py: --collector.netdev.device-exclude,
# a veth per pod would otherwise add 16 series per pod); the recordings keep the same filter so they stay
# right for an exporter run with other flags (e.g. a host-network node-exporter scraped under this job).
EXCLUDED_INTERFACES = "lo|veth.+|docker[0-9]+|br-.+|cni[0-9]+|cali.+|flannel[.].+|vxlan.+|tunl[0-9]+|kube-ipvs[0-9]+|virbr[0-9]+|lxc.+|ifb[0-9]+"
NETWORK_DEVICES = f'device!~"{EXCLUDED_INTERFACES}"'

# Bytes per second read from / written to each disk, and the share of time it had I/O in flight (0-1).
DISK_READ_RATE5M = "instance_device:node_disk_read_bytes:rate5m"
DISK_WRITTEN_RATE5M = "instance_device:node_disk_written_bytes:rate5m"
DISK_IO_TIME_RATE5M = "instance_device:node_disk_io_time_seconds:rate5m"
# Bytes per second received / transmitted per interface.
NETWORK_RECEIVE_RATE5M = "instance_device:node_network_receive_bytes:rate5m"
NETWORK_TRANSMIT_RATE5M = "instance_device:node_network_transmit_bytes:rate5m"
# Errors and drops per second per node, summed over its interfaces: by direction and kind.
NETWORK_PROBLEMS_RATE5M = {
    (direction, kind): f"instance:node_network_{direction}_{kind}:rate5m" for direction in ("receive", "transmit") for kind in ("errs", "drop")
}

_RAW = {
    DISK_READ_RATE5M: ("node_disk_read_bytes_total", JOB_NODE, DISK_DEVICES),
    DISK_WRITTEN_RATE5M: ("node_disk_written_bytes_total", JOB_NODE, DISK_DEVICES),
    DISK_IO_TIME_RATE5M: ("node_disk_io_time_seconds_total", JOB_NODE, DISK_DEVICES),
    # The host's interfaces: job node-netdev (topology.py), not node-exporter's own network namespace.
    NETWORK_RECEIVE_RATE5M: ("node_network_receive_bytes_total", JOB_NODE_NETDEV, NETWORK_DEVICES),
    NETWORK_TRANSMIT_RATE5M: ("node_network_transmit_bytes_total", JOB_NODE_NETDEV, NETWORK_DEVICES),
}


def group() -> RuleGroup:
    per_device = tuple(Recording(record, rate_by("job, instance, device", series, job, devices)) for record, (series, job, devices) in _RAW.items())
    per_node = tuple(
        Recording(record, rate_by("job, instance", f"node_network_{direction}_{kind}_total", JOB_NODE_NETDEV, NETWORK_DEVICES))
        for (direction, kind), record in NETWORK_PROBLEMS_RATE5M.items()
    )
    return RuleGroup("node-io.rules", per_device + per_node)


def alerts(settings: Settings) -> tuple[Alert, ...]:
    """The network panels' one silent failure: the netdev exporter answers (up = 1) but cannot read
    the host's /proc/1/net/dev, e.g. on a host whose /proc is mounted with hidepid (docs/dashboards.md)."""
    collector = selector("node_scrape_collector_success", JOB_NODE_NETDEV, 'collector="netdev"')
    return (
        Alert(
            "NodeNetworkStatsUnreadable",
            f"{collector} == 0",
            # 15m by default: a collector that fails once (a node under pressure) is noise; one that keeps
            # failing leaves the network panels empty for that node until someone looks.
            settings.alerting.thresholds.network_stats_unreadable_for,
            "warning",
            "meta",
            "The netdev exporter cannot read a node's network statistics: the network panels show nothing for it.",
            "The netdev exporter on {{ $labels.instance }} fails to read the host's network statistics from /proc/1/net/dev (collector success {{ $value }}).",
        ),
    )
