"""What every container of the stack gets, and the unit conversions it needs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

import pulumi
import pulumi_docker as docker

from components.service_spec import ServiceSpec
from settings.validators import volume_size_bytes

MIB = 1024 * 1024

RESTART = "unless-stopped"
NO_NEW_PRIVILEGES = "no-new-privileges:true"
DROP_ALL = ("ALL",)  # no service binds below 1024 or needs any other privilege
# The engine's json-file driver, capped so a chatty service cannot fill the host's disk: at most
# 3 files of 10 MB per container. Named explicitly: these options mean nothing to other drivers.
LOG_DRIVER = "json-file"
LOG_OPTS = {"max-size": "10m", "max-file": "3"}
# Scratch space on tmpfs counts against the container's memory limit; no service needs more here.
TMPFS_OPTIONS = "rw,noexec,nosuid,nodev,size=64m"
# Removal stops the container with SIGTERM first (the provider's default is an immediate kill), so
# Prometheus, Loki and Alertmanager close their WAL and snapshots cleanly before they go.
STOP_GRACE_SECONDS = 60


def memory_mb(quantity: str) -> int:
    """A Kubernetes memory quantity (`512Mi`, `2Gi`, `500M`) as the whole MiB Docker's `memory` takes,
    rounded up so the limit is never below the one the Kubernetes backend sets."""
    return math.ceil(volume_size_bytes(quantity) / MIB)


def cpu_limit(quantity: str) -> str:
    """A Kubernetes CPU quantity (`500m`, `1`, `1.5`) as Docker's `cpus` (`0.5`, `1`, `1.5`)."""
    try:
        cores = Decimal(quantity[:-1]) / 1000 if quantity.endswith("m") else Decimal(quantity)
    except InvalidOperation:
        raise ValueError(f"{quantity!r} is not a CPU quantity; write it like 500m or 1") from None
    if cores <= 0:
        raise ValueError(f"{quantity!r} is not a CPU quantity above zero")
    return format(cores.normalize(), "f")


def base_hardening(spec: ServiceSpec) -> dict[str, object]:
    """Container arguments every container of a service gets, whether it runs or not."""
    return {
        "user": f"{spec.uid}:{spec.gid}",
        "capabilities": docker.ContainerCapabilitiesArgs(drops=list(DROP_ALL)),
        "security_opts": [NO_NEW_PRIVILEGES],
        "privileged": False,
        "group_adds": [str(group) for group in spec.supplemental_groups] or None,
        "memory": memory_mb(spec.memory),
        "cpus": cpu_limit(spec.cpu),
        "log_driver": LOG_DRIVER,
        "log_opts": dict(LOG_OPTS),
    }


def container_labels(labels: Mapping[str, pulumi.Input[str]]) -> list[docker.ContainerLabelArgs]:
    return [docker.ContainerLabelArgs(label=key, value=value) for key, value in sorted(labels.items())]


def volume_labels(labels: Mapping[str, str]) -> list[docker.VolumeLabelArgs]:
    return [docker.VolumeLabelArgs(label=key, value=value) for key, value in sorted(labels.items())]
