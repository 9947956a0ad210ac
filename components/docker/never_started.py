"""Containers that are created and never started: they exist for what creating a container does to
the volumes it mounts, and never run a process or join a network.

Two uses, for two things only container creation does on Docker:
- the *files loader* (files.py): the provider uploads files by extracting them into a container it
  creates, and the engine refuses that into a read-only root filesystem, so a never-started twin of
  the service takes the uploads into volumes the running container mounts read-only;
- the *volume initializers* of a job (job.py): a new volume takes the owner of the image directory it
  is first mounted on, so mounting the new repository volume at a service's data directory makes it
  born owned like that service's data, and a stage volume at /tmp makes it world-writable (sticky).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_docker as docker

from components.docker.hardening import container_labels


def never_started_container(
    resource_name: str,
    *,
    name: str | None,
    image: pulumi.Input[str],
    mounts: Sequence[docker.ContainerMountArgs],
    labels: Mapping[str, pulumi.Input[str]],
    hardening: Mapping[str, object],
    parent: pulumi.Resource,
    uploads: Sequence[docker.ContainerUploadArgs] | None = None,
    read_only: bool = True,
) -> docker.Container:
    """`hardening` is the service's base_hardening (with the user it must act as); `read_only` is
    False only where the engine needs a writable root filesystem to take `uploads`. With `name` None
    the engine names it and a replacement creates the new container before removing the old one."""
    return docker.Container(
        resource_name,
        name=name,
        image=image,
        start=False,
        must_run=False,
        network_mode="none",
        mounts=list(mounts),
        uploads=list(uploads) if uploads is not None else None,
        labels=container_labels(labels),
        read_only=read_only,
        **hardening,
        # A fixed name must be free before the new container can take it.
        opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=name is not None),
    )
