"""A scheduled job (ServiceSpec.schedule) on Docker: per run one container per step, created and never
started by Pulumi. Docker has no scheduler: scripts/backup-dev.sh starts each run's step containers in
order (`docker start -a`), stopping a run at its first failed step, and the host's crontab calls it on
the spec's schedule.

Each step container is as hardened as a service's (non-root, read-only root, no capabilities, memory
limit, capped logs), runs as its step's user (or the run's), and mounts:
- the data volume of the replica the run reads, read-only unless the step may write it (Prometheus:
  the report step removes the snapshot, see ops/backup.py);
- the run's stage volume (ServiceSpec.stage_dir), scratch shared by its steps;
- the job's repository volume, in the steps that use it, protected and retained like a data volume;
- the job's files (programs, CA, passwords) through a files loader (files.py).

A new Docker volume takes the owner of the image directory it is first mounted on. So each volume is
first mounted by an *initializer*, a never-started container (never_started.py): the stage volume at
/tmp of the job's image (mode 1777, so every step's user writes its own files there), the repository
volume at the data directory of a service whose data belongs to the repository steps' user (which the
image owns as that user).
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
from components.service_spec import JobRun, JobStep, ServiceSpec

# Docker's restart policy for a container that must run once when started, never again by itself.
NO_RESTART = "no"
# Names the run a container executes; scripts/backup-dev.sh finds the runs by this label.
RUN_LABEL = "ngx-monitoring/job-run"
# "<index>-<step>": the order scripts/backup-dev.sh starts a run's steps in.
STEP_LABEL = "ngx-monitoring/job-step"
# Where a stage volume is first mounted: /tmp, world-writable with the sticky bit in every image.
STAGE_INIT_DIR = "/tmp"


@dataclass(frozen=True)
class DockerJobArgs:
    spec: ServiceSpec
    networks: Sequence[pulumi.Input[str]]
    sources: Mapping[str, DockerService]  # services whose data volumes the runs read


def step_container_name(spec: ServiceSpec, run: JobRun, step: JobStep) -> str:
    return f"{spec.name}-{run.name}-{step.name}"


class DockerJob(pulumi.ComponentResource):
    """Outputs: `runs` (run name -> its step containers, in order) and `repository` (the repository
    volume, if any)."""

    def __init__(self, name: str, args: DockerJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:DockerJob", name, None, opts)
        spec = args.spec
        if spec.schedule is None:
            raise ValueError(f"{spec.name}: a DockerJob needs a scheduled spec")
        child = pulumi.ResourceOptions(parent=self)
        self.image = docker.RemoteImage(f"{name}-image", name=spec.image, opts=child)
        images = {spec.image: self.image}
        for step in (step for run in spec.runs for step in run.steps):
            if step.image not in images:
                images[step.image] = docker.RemoteImage(f"{name}-{step.name}-image", name=step.image, opts=child)
        files = load_files(name, spec, self.image.image_id, parent=self)
        file_mounts = (
            [docker.ContainerMountArgs(type="volume", source=source, target=target, read_only=True) for target, source in files.mounts] if files else []
        )
        self.repository, repository_init = self._repository_volume(name, spec, args) if spec.repository_size is not None else (None, None)

        self.runs: dict[str, list[docker.Container]] = {}
        for run in spec.runs:
            stage, stage_init = self._stage_volume(name, spec, run)
            self.runs[run.name] = []
            for index, step in enumerate(run.steps):
                mounts = list(file_mounts)
                depends_on: list[pulumi.Resource] = [stage_init]
                for data in run.data:
                    source = args.sources[data.service]
                    if source.data_volume is None or data.replica != 0:
                        raise ValueError(f"{spec.name}/{run.name}: {data.service} has no data volume of replica {data.replica} on Docker")
                    read_only = not data.writable or step.data_read_only
                    mounts.append(docker.ContainerMountArgs(type="volume", source=source.data_volume.name, target=data.path, read_only=read_only))
                mounts.append(docker.ContainerMountArgs(type="volume", source=stage.name, target=spec.stage_dir))
                if step.repository and self.repository is not None:
                    mounts.append(docker.ContainerMountArgs(type="volume", source=self.repository.name, target=spec.repository_dir))
                    depends_on.append(repository_init)
                labels: dict[str, pulumi.Input[str]] = {**service_labels(spec.name, spec.image), RUN_LABEL: run.name, STEP_LABEL: f"{index}-{step.name}"}
                if files is not None:
                    labels.update(files.labels(spec))
                uid, gid = step.user or (run.uid, run.gid)
                hardening = base_hardening(spec)
                hardening["user"] = f"{uid}:{gid}"
                # The job's files are uploaded owned by the spec's user and group (0440); a step with another
                # group joins the spec's to read them.
                groups = sorted({*spec.supplemental_groups, *((spec.gid,) if gid != spec.gid else ())})
                hardening["group_adds"] = [str(group) for group in groups] or None
                container_name = step_container_name(spec, run, step)
                self.runs[run.name].append(
                    docker.Container(
                        f"{name}-{run.name}-{step.name}-container",
                        name=container_name,
                        hostname=container_name,
                        image=images[step.image].image_id,
                        # The program as the entrypoint: restic's image has `restic` as its own, which a
                        # command alone would only be given as arguments.
                        entrypoints=[step.args[0]],
                        command=list(step.args[1:]),
                        envs=[f"{key}={value}" for key, value in step.env] or None,
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
                )
        self.register_outputs({"runs": {run: [container.name for container in steps] for run, steps in self.runs.items()}})

    def _stage_volume(self, name: str, spec: ServiceSpec, run: JobRun) -> tuple[docker.Volume, docker.Container]:
        # Scratch (a run's steps clear what an earlier run left there, and it holds copies of small files
        # at most: Prometheus's snapshot stays in its own volume), but protected like every volume a
        # container writes to (the stateful-storage-protected policy): keeping it costs nothing.
        stage = docker.Volume(
            f"{name}-{run.name}-stage",
            name=f"{name}-{run.name}-stage",
            labels=volume_labels({**service_labels(spec.name), RUN_LABEL: run.name}),
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True, ignore_changes=["labels"]),
        )
        initializer = never_started_container(
            f"{name}-{run.name}-stage-initializer",
            name=f"{spec.name}-{run.name}-stage-init",
            image=self.image.image_id,
            mounts=[docker.ContainerMountArgs(type="volume", source=stage.name, target=STAGE_INIT_DIR)],
            labels=service_labels(spec.name, spec.image),
            hardening=base_hardening(spec),
            parent=self,
        )
        return stage, initializer

    def _repository_volume(self, name: str, spec: ServiceSpec, args: DockerJobArgs) -> tuple[docker.Volume, docker.Container]:
        users = {step.user for run in spec.runs for step in run.steps if step.repository}
        if len(users) != 1 or None in users:
            raise ValueError(f"{spec.name}: the steps that use the repository must all run as one given user")
        (user,) = users
        owner = next((run for run in spec.runs if run.data and (run.uid, run.gid) == user), None)
        if owner is None:
            raise ValueError(f"{spec.name}: no run reads data owned by {user}, whose directory the repository volume could take its owner from")
        source, data = args.sources[owner.data[0].service], owner.data[0]
        repository = docker.Volume(
            f"{name}-repository",
            name=f"{name}-repository",
            labels=volume_labels(service_labels(spec.name)),
            # The repository is data: never replaced or deleted by a Pulumi operation (see DockerService).
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True, ignore_changes=["labels"]),
        )
        # Created so Docker gives the new volume the owner of `data.path` in this image.
        initializer = never_started_container(
            f"{name}-repository-initializer",
            name=f"{spec.name}-repository-init",
            image=source.image.image_id,
            mounts=[docker.ContainerMountArgs(type="volume", source=repository.name, target=data.path)],
            labels=service_labels(spec.name, spec.image),
            hardening={**base_hardening(spec), "user": f"{user[0]}:{user[1]}"},
            parent=self,
        )
        return repository, initializer
