"""How rendered files and credentials reach a container whose root filesystem is read-only.

The Docker provider uploads files by extracting a tar archive at `/` of the container it creates, and
the engine refuses any extraction into a container with a read-only root filesystem unless `/` itself
is a volume ("container rootfs is marked read-only"). So the running container cannot take uploads.
A *files loader* takes them instead: a container of the same image that is created and never
started (never_started.py). Its uploads land in small volumes mounted at the files' directories, and the running
container mounts the same volumes read-only. Credentials are uploads whose content stays a Pulumi
secret, owned by the service's user and readable by it alone; none is an environment variable.

Why this holds together:
- A files volume is new whenever its file list or the image changes (its Docker name carries a digest
  of both), so a removed rule file does not linger. The empty volume receives the image's own files
  at that path when the loader is created (Docker copies them into a new volume), so a directory
  such as /etc/nginx keeps what the image ships next to the files we add.
- Any change of content replaces the loader (uploads cannot change in place); the running container
  carries the loader's ID as a label, so it is replaced too and starts on the new files.
- Pulumi marks the whole `uploads` input secret as soon as one file is: a preview shows a changed
  configuration as changed uploads, without the text. `python synth.py --out` writes the files.
"""
from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass
from typing import Sequence

import pulumi
import pulumi_docker as docker

from components.docker.hardening import base_hardening, volume_labels
from components.docker.never_started import never_started_container
from components.labels import service_labels
from components.specs import ServiceSpec

# Label that ties a running container to the loader of its files.
FILES_LOADER_LABEL = "ngx-monitoring/files-loader"
CONFIG_PERMISSIONS = "0444"  # rendered configuration: no secret, never written by the service
SECRET_PERMISSIONS = "0440"  # credentials: the service's user (and group) only


def mount_roots(paths: Sequence[str]) -> list[str]:
    """The fewest directories that hold every file: each file's directory, minus those inside another."""
    directories = sorted({posixpath.dirname(path) for path in paths})
    roots: list[str] = []
    for directory in directories:
        if not any(directory == root or directory.startswith(f"{root}/") for root in roots):
            roots.append(directory)
    return roots


def _slug(path: str) -> str:
    return path.strip("/").replace("/", "-").replace(".", "-") or "root"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class ServiceFiles:
    loader: docker.Container
    mounts: list[tuple[str, pulumi.Output[str]]]  # (directory in the container, volume name), read-only


def load_files(name: str, spec: ServiceSpec, image_id: pulumi.Input[str], parent: pulumi.Resource) -> ServiceFiles | None:
    """The files volumes of a service and their loader; None when the service has no files."""
    paths = sorted({*spec.config_files, *spec.secret_files})
    if not paths:
        return None
    volumes: dict[str, docker.Volume] = {}
    for root in mount_roots(paths):
        inside = [path for path in paths if path.startswith(f"{root}/")]
        volumes[root] = docker.Volume(
            f"{name}-files-{_slug(root)}",
            name=f"{name}-files-{_slug(root)}-{_digest(spec.image, *inside)}",
            labels=volume_labels(service_labels(spec.name)),
            opts=pulumi.ResourceOptions(parent=parent),
        )
    uploads = [
        docker.ContainerUploadArgs(file=path, content=text, permissions=CONFIG_PERMISSIONS)
        for path, text in sorted(spec.config_files.items())
    ] + [
        docker.ContainerUploadArgs(file=path, content=value, owner=str(spec.uid), group=str(spec.gid),
                                   permissions=SECRET_PERMISSIONS)
        for path, value in sorted(spec.secret_files.items())
    ]
    loader = never_started_container(
        f"{name}-files",
        name=f"{name}-files",
        image=image_id,
        mounts=[docker.ContainerMountArgs(type="volume", source=volume.name, target=root) for root, volume in volumes.items()],
        uploads=uploads,
        labels=service_labels(spec.name, spec.image),
        hardening=base_hardening(spec),
        parent=parent,
        # Hardening exception: the engine refuses uploads into a read-only root filesystem (see above).
        # Nothing ever runs in this container.
        read_only=False,
    )
    return ServiceFiles(loader, [(root, volume.name) for root, volume in volumes.items()])
