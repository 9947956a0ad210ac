"""A scheduled job (ServiceSpec.schedule) on Docker: one container per run, created and never started
by Pulumi. Docker has no scheduler: `docker start -a <container>` runs a run once (scripts/backup-dev.sh
starts every run of the stack, and the host's crontab calls it on the spec's schedule).

Each run container is as hardened as a service's (non-root, read-only root, no capabilities, memory
limit, capped logs) and mounts:
- the data volume of the replica it reads, read-only unless the run must write it (Prometheus: the
  run removes the snapshot it archived, see ops/backup.py);
- its own archive volume, protected and retained like a data volume;
- the job's files (program, CA, passwords) through a files loader (files.py).

A new Docker volume takes the owner of the image directory it is first mounted on, and the backup
image has no directory for archives. So each archive volume is first mounted by an *initializer*: a
never-started container (never_started.py) of the image of the service whose data the run reads, at that service's data
directory, which the image owns as that service's user. The archive volume is thus born owned like the
data volume it backs up, and the run, which runs as that user, can write to it. (Docker also copies
what the image holds there: for Grafana, a few empty directories next to the archive folders.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import TYPE_PREFIX
from components.docker.files import load_files
from components.docker.hardening import TMPFS_OPTIONS, base_hardening, container_labels, volume_labels
from components.docker.never_started import never_started_container
from components.docker.service import DockerService
from components.labels import service_labels
from components.service_spec import JobRun, ServiceSpec

# Docker's restart policy for a container that must run once when started, never again by itself.
NO_RESTART = "no"
# Names the run a container executes; scripts/backup-dev.sh finds the runs by this label.
RUN_LABEL = "ngx-monitoring/job-run"


@dataclass(frozen=True)
class DockerJobArgs:
    spec: ServiceSpec
    networks: Sequence[pulumi.Input[str]]
    sources: Mapping[str, DockerService]  # services whose data volumes the runs read


def run_container_name(spec: ServiceSpec, run: JobRun) -> str:
    return f"{spec.name}-{run.name}"


class DockerJob(pulumi.ComponentResource):
    """Outputs: `runs` (run name -> its never-started container) and `archives` (run name -> its
    archive volume, for runs that have one)."""

    def __init__(self, name: str, args: DockerJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:DockerJob", name, None, opts)
        spec = args.spec
        if spec.schedule is None:
            raise ValueError(f"{spec.name}: a DockerJob needs a scheduled spec")
        child = pulumi.ResourceOptions(parent=self)
        self.image = docker.RemoteImage(f"{name}-image", name=spec.image, opts=child)
        files = load_files(name, spec, self.image.image_id, parent=self)
        file_mounts = (
            [docker.ContainerMountArgs(type="volume", source=source, target=target, read_only=True) for target, source in files.mounts] if files else []
        )

        self.runs: dict[str, docker.Container] = {}
        self.archives: dict[str, docker.Volume] = {}
        for run in spec.runs:
            mounts = list(file_mounts)
            depends_on: list[pulumi.Resource] = []
            for data in run.data:
                source = args.sources[data.service]
                if source.data_volume is None or data.replica != 0:
                    raise ValueError(f"{spec.name}/{run.name}: {data.service} has no data volume of replica {data.replica} on Docker")
                mounts.append(docker.ContainerMountArgs(type="volume", source=source.data_volume.name, target=data.path, read_only=not data.writable))
            if run.archive_size is not None:
                archive, initializer = self._archive_volume(name, spec, run, args.sources[run.colocated_with.service])
                self.archives[run.name] = archive
                depends_on.append(initializer)
                mounts.append(docker.ContainerMountArgs(type="volume", source=archive.name, target=spec.archive_dir))
            labels: dict[str, pulumi.Input[str]] = {**service_labels(spec.name, spec.image), RUN_LABEL: run.name}
            if files is not None:
                labels.update(files.labels(spec))
            hardening = base_hardening(spec)
            hardening["user"] = f"{run.uid}:{run.gid}"
            # The job's files are uploaded owned by the spec's user and group (0440); a run with another
            # group joins the spec's to read them.
            groups = sorted({*spec.supplemental_groups, *((spec.gid,) if run.gid != spec.gid else ())})
            hardening["group_adds"] = [str(group) for group in groups] or None
            self.runs[run.name] = docker.Container(
                f"{name}-{run.name}-container",
                name=run_container_name(spec, run),
                hostname=run_container_name(spec, run),
                image=self.image.image_id,
                command=list(run.args),
                mounts=mounts,
                tmpfs={path: TMPFS_OPTIONS for path in spec.scratch_dirs} or None,
                networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network) for network in args.networks],
                labels=container_labels(labels),
                read_only=True,
                start=False,
                must_run=False,
                restart=NO_RESTART,
                **hardening,
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on, delete_before_replace=True),
            )
        self.register_outputs({"runs": {run: container.name for run, container in self.runs.items()}})

    def _archive_volume(self, name: str, spec: ServiceSpec, run: JobRun, source: DockerService) -> tuple[docker.Volume, docker.Container]:
        archive = docker.Volume(
            f"{name}-{run.name}-archive",
            name=f"{name}-{run.name}",
            labels=volume_labels({**service_labels(spec.name), RUN_LABEL: run.name}),
            # Archives are data: never replaced or deleted by a Pulumi operation (see DockerService).
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True, ignore_changes=["labels"]),
        )
        data = run.colocated_with
        # Created so Docker gives the new volume the owner of `data.path` in this image.
        initializer = never_started_container(
            f"{name}-{run.name}-archive-initializer",
            name=f"{run_container_name(spec, run)}-init",
            image=source.image.image_id,
            mounts=[docker.ContainerMountArgs(type="volume", source=archive.name, target=data.path)],
            labels=service_labels(spec.name, spec.image),
            hardening={**base_hardening(spec), "user": f"{run.uid}:{run.gid}"},
            parent=self,
        )
        return archive, initializer
