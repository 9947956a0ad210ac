"""Stateful storage is protected: no change deletes the stack's data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .base import (
    DEFAULT_CONFIG,
    DOCKER_CONTAINER,
    DOCKER_VOLUME,
    K8S_NAMESPACE,
    K8S_PVC,
    K8S_STATEFUL_SET,
    UNKNOWN,
    Resource,
    as_list,
    as_map,
    docker_runs,
    get,
    is_true,
    namespace_of,
)


def check_stateful_storage_protected(resources: Sequence[Resource], config: Mapping[str, str] = DEFAULT_CONFIG) -> list[tuple[Resource | None, str]]:
    """Claims, and the namespaces that hold them, are protected; a StatefulSet's claim templates are
    retained; a Docker volume that a running container writes to is protected. (Docker volumes only ever mounted read-only, such as
    the rendered configuration, are rebuilt from settings and may be replaced.)"""
    found = []
    volumes = {r.props.get("name"): r for r in resources if r.type == DOCKER_VOLUME}
    written: dict[str, list[str]] = {}
    for container in (r for r in resources if r.type == DOCKER_CONTAINER and docker_runs(r.props)):
        for mount in as_list(container.props.get("mounts")):
            if isinstance(mount, Mapping) and mount.get("type", "volume") == "volume" and not is_true(mount.get("readOnly")):
                written.setdefault(mount.get("source"), []).append(container.name)
        for volume in as_list(container.props.get("volumes")):
            if isinstance(volume, Mapping) and volume.get("volumeName") and not is_true(volume.get("readOnly")):
                written.setdefault(volume.get("volumeName"), []).append(container.name)
    for source, writers in sorted(written.items(), key=lambda item: str(item[0])):
        volume = volumes.get(source)
        if source is UNKNOWN or source is None:
            continue
        if volume is None:
            found.append((None, f"container {', '.join(writers)} writes to volume {source!r}, which this stack does not manage (and so cannot protect)"))
        elif not volume.options.get("protect"):
            found.append((volume, f"holds data written by {', '.join(writers)} but is not protected; set protect (and retain_on_delete)"))
    data_namespaces = set()
    for resource in resources:
        if resource.type == K8S_PVC or (resource.type == K8S_STATEFUL_SET and as_list(get(resource.props, "spec", "volumeClaimTemplates"))):
            data_namespaces.add(namespace_of(resource.props))
    for resource in resources:
        if resource.type == K8S_NAMESPACE and get(resource.props, "metadata", "name") in data_namespaces and not resource.options.get("protect"):
            found.append((resource, "holds PersistentVolumeClaims (deleting a namespace deletes its claims) but is not protected"))
        if resource.type == K8S_PVC and not resource.options.get("protect"):
            found.append((resource, "a PersistentVolumeClaim holds data but is not protected; set protect (and retain_on_delete)"))
        if resource.type == K8S_STATEFUL_SET and as_list(get(resource.props, "spec", "volumeClaimTemplates")):
            retention = as_map(get(resource.props, "spec", "persistentVolumeClaimRetentionPolicy"))
            for when in ("whenDeleted", "whenScaled"):
                if retention.get(when) == "Delete":
                    found.append((resource, f"persistentVolumeClaimRetentionPolicy.{when} is Delete; claims must be retained"))
            if not resource.options.get("protect"):
                found.append((resource, "owns volumeClaimTemplates but is not protected; deleting it would orphan or (with a Delete retention) lose the data"))
    return found
