"""How rendered files and credentials reach a container whose root filesystem is read-only.

The Docker provider uploads files by extracting a tar archive at `/` of the container it creates, and
the engine refuses any extraction into a container with a read-only root filesystem unless `/` itself
is a volume ("container rootfs is marked read-only"). So the running container cannot take uploads.
A *files loader* takes them instead: a container of the same image that is created and never
started (never_started.py). Its uploads land in small volumes mounted at the files' directories
(file_layout.mount_roots), and the running container mounts the same volumes read-only. Credentials
are uploads whose content stays a Pulumi secret, owned by the service's user and readable by it
alone; none is an environment variable.

The model of Docker this relies on:
- Uploads cannot change in place: changed content replaces the loader. The loader has no fixed name,
  so the replacement is create-before-delete: the new loader is created (its uploads are extracted
  into the same, already populated volumes, overwriting each file) before the old one is removed.
  Removing a container removes anonymous volumes only, never these named ones.
- A volume mounted by several containers is one directory: what the new loader writes is what the
  running container reads, at once, without being restarted. Extraction replaces a file by removing
  and re-creating it, so a reader can for a moment miss or half-read a file; both reloaders retry on
  their next check (renderers/reloader.py), so that costs one failed reload at most.
- A new, empty volume receives the image's own files at its mount path when the loader is created
  (Docker copies them once), so a directory such as /etc/nginx keeps what the image ships.
- A volume's name carries a digest of the image and of the *config* file paths in it (fixed by the
  program, never by a setting): a new image or a program release that adds or removes a config file
  gets a new volume (and the container with it), so a removed rule file cannot linger. Credential
  file names do vary with settings (a receiver's webhook URL is a file): they do not rename the
  volume, so adding a receiver is a reload; a removed receiver's file stays, unread, in a volume
  only its service mounts, until the next new volume.
- Whether the running container is replaced with its loader is the spec's choice (file_layout.py):
  a RESTART service carries the loader's ID as a label, so new files replace it; a RELOAD service
  (Prometheus, Alertmanager) only waits for its first loader and keeps running through later ones.
- Pulumi marks the whole `uploads` input secret as soon as one file is: a preview shows a changed
  configuration as changed uploads, without the text. `python synth.py --out` writes the files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.docker.hardening import base_hardening, volume_labels
from components.docker.never_started import never_started_container
from components.file_layout import RESTART, mount_roots
from components.labels import service_labels
from components.service_spec import ServiceSpec

# Label that ties a running container to the loader of its files.
FILES_LOADER_LABEL = "ngx-monitoring/files-loader"
CONFIG_PERMISSIONS = "0444"  # rendered configuration: no secret, never written by the service
SECRET_PERMISSIONS = "0440"  # credentials: the service's user (and group) only


def _slug(path: str) -> str:
    return path.strip("/").replace("/", "-").replace(".", "-") or "root"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class ServiceFiles:
    loader: docker.Container
    mounts: list[tuple[str, pulumi.Output[str]]]  # (directory in the container, volume name), read-only

    def labels(self, spec: ServiceSpec) -> dict[str, pulumi.Input[str]]:
        """Labels of a container that reads these files: a RESTART service's names its loader, so new
        files replace it; a RELOAD service's container never changes with its files."""
        return {FILES_LOADER_LABEL: self.loader.id} if spec.file_change == RESTART else {}


def load_files(name: str, spec: ServiceSpec, image_id: pulumi.Input[str], parent: pulumi.Resource) -> ServiceFiles | None:
    """The files volumes of a service and their loader; None when the service has no files."""
    paths = sorted({*spec.config_files, *spec.secret_files})
    if not paths:
        return None
    volumes: dict[str, docker.Volume] = {}
    for root in mount_roots(paths):
        config_inside = [path for path in sorted(spec.config_files) if path.startswith(f"{root}/")]
        volumes[root] = docker.Volume(
            f"{name}-files-{_slug(root)}",
            name=f"{name}-files-{_slug(root)}-{_digest(spec.image, *config_inside)}",
            labels=volume_labels(service_labels(spec.name)),
            opts=pulumi.ResourceOptions(parent=parent),
        )
    uploads = [docker.ContainerUploadArgs(file=path, content=text, permissions=CONFIG_PERMISSIONS) for path, text in sorted(spec.config_files.items())] + [
        docker.ContainerUploadArgs(file=path, content=value, owner=str(spec.uid), group=str(spec.gid), permissions=SECRET_PERMISSIONS)
        for path, value in sorted(spec.secret_files.items())
    ]
    loader = never_started_container(
        f"{name}-files",
        name=None,  # Docker names it: a fixed name would force delete-before-create (see above)
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
