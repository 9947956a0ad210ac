"""A scheduled job (ServiceSpec.schedule) on Kubernetes: its ConfigMap, Secret and ServiceAccount, and
per run a CronJob, and the job's one repository PersistentVolumeClaim where it has one (ReadWriteMany:
the runs write to it from the nodes of the replicas they back up; a cluster without such a storage
class uses backup.target s3).

A run's steps (JobStep) are the pod's init containers, in order, then its container; they share an
emptyDir (ServiceSpec.stage_dir). Each step runs as its own user where it has one (restic's), else as
the run's.

Why each run is a CronJob of its own, scheduled next to one replica: a run reads the data claim of one
StatefulSet replica (`data-prometheus-1`), and a ReadWriteOnce claim can be mounted by pods on one node
only, the node that replica runs on. A required pod affinity to that replica's pod (the StatefulSet
controller labels each pod with its name) puts the run's pod on that node; while the replica is down,
the run stays pending until its start deadline and is counted as missed.

Every run's pod is Pod Security `restricted` like the services' (non-root with the UID and GID of the
service whose data it reads, which is also its fsGroup, so the claim is never re-owned; read-only root
filesystem; no capabilities; RuntimeDefault seccomp; no service account token), has requests equal to
limits and is selected by the NetworkPolicy derived for the job from the topology. The CronJob never
runs two of its jobs at once, gives up a run it could not start in time, bounds each run and keeps
the last few jobs (and their pods' logs).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import TYPE_PREFIX, labels
from components.kubernetes import pod
from components.service_spec import JobRun, JobStep, ServiceSpec

# Which run a pod (or claim) belongs to.
RUN_LABEL = "ngx-monitoring/job-run"
# The schedule is UTC by definition (settings.cron computes its gaps in UTC), whatever the cluster's.
TIME_ZONE = "Etc/UTC"
SOURCE_VOLUME = "source-{index}"
STAGE_VOLUME = "stage"
REPOSITORY_VOLUME = "repository"


@dataclass(frozen=True)
class KubernetesJobArgs:
    spec: ServiceSpec  # a scheduled job (ServiceSpec.schedule set), one CronJob per run
    namespace: pulumi.Input[str]  # the namespace of the services whose data the runs read
    storage_class: str | None = None  # StorageClass of the repository claim; None: the cluster's default

    def __post_init__(self) -> None:
        if self.spec.schedule is None:
            raise ValueError(f"{self.spec.name}: a KubernetesJob needs a scheduled spec")


def job_name(spec: ServiceSpec, run: JobRun) -> str:
    return f"{spec.name}-{run.name}"


def run_volumes(spec: ServiceSpec, run: JobRun, file_volumes: list[dict], repository_claim: pulumi.Input[str] | None) -> list[dict]:
    """The volumes of one run's pod; `file_volumes` are those of the job's FileObjects."""
    volumes: list[dict] = list(file_volumes)
    for index, data in enumerate(run.data):
        # A claim mounted read-only at the claim level too where the run only reads it.
        volumes.append(
            {
                "name": SOURCE_VOLUME.format(index=index),
                "persistent_volume_claim": {"claim_name": pod.replica_claim(data.service, data.replica), "read_only": not data.writable},
            }
        )
    if spec.stage_dir is not None:
        volumes.append({"name": STAGE_VOLUME, "empty_dir": {}})
    if repository_claim is not None and any(step.repository for step in run.steps):
        volumes.append({"name": REPOSITORY_VOLUME, "persistent_volume_claim": {"claim_name": repository_claim}})
    scratch_volumes, _ = pod.scratch_volumes(spec)
    return sorted(volumes + scratch_volumes, key=lambda volume: volume["name"])


def step_mounts(spec: ServiceSpec, run: JobRun, step: JobStep, repository: bool) -> list[dict]:
    mounts = pod.file_mounts(spec)
    for index, data in enumerate(run.data):
        read_only = not data.writable or step.data_read_only
        mounts.append({"name": SOURCE_VOLUME.format(index=index), "mount_path": data.path, "read_only": read_only})
    if spec.stage_dir is not None:
        mounts.append({"name": STAGE_VOLUME, "mount_path": spec.stage_dir})
    if repository and step.repository:
        mounts.append({"name": REPOSITORY_VOLUME, "mount_path": spec.repository_dir})
    return mounts + pod.scratch_volumes(spec)[1]


def step_container(spec: ServiceSpec, run: JobRun, step: JobStep, repository: bool) -> dict:
    uid, gid = step.user or (run.uid, run.gid)
    container = {
        "name": step.name,
        "image": step.image,
        "image_pull_policy": "IfNotPresent",
        "command": list(step.args),
        "resources": pod.resources(spec),
        "security_context": pod.container_security_context(uid, gid),
        "volume_mounts": step_mounts(spec, run, step, repository),
    }
    if step.env:
        container["env"] = [{"name": name, "value": value} for name, value in step.env]
    return container


def _other_groups(run: JobRun) -> tuple[int, ...]:
    return (run.gid,) if any(step.user is not None and step.user[1] != run.gid for step in run.steps) else ()


def cron_job_spec(spec: ServiceSpec, run: JobRun, service_account: pulumi.Input[str], volumes: list[dict], repository: bool) -> dict:
    """The steps before the last are init containers (in order, each only after the one before exited 0),
    the last is the pod's container; all share the stage emptyDir."""
    schedule = spec.schedule
    pod_labels = {**labels.service_labels(spec.name, spec.image), RUN_LABEL: run.name}
    *first, last = (step_container(spec, run, step, repository) for step in run.steps)
    pod_spec: dict = {
        # Never: each attempt is a new pod, so a failed attempt keeps its logs.
        "restart_policy": "Never",
        "service_account_name": service_account,
        "automount_service_account_token": False,
        # A step with a user of its own (restic's) joins the run's group: the pod's files and secrets
        # are readable by the fsGroup, which is the run's.
        "security_context": pod.pod_security_context(run.uid, run.gid, _other_groups(run)),
        "containers": [last],
        "volumes": volumes,
    }
    if first:
        pod_spec["init_containers"] = first
    if run.colocated_with is not None:
        pod_spec["affinity"] = pod.colocate_with(run.colocated_with.service, run.colocated_with.replica)
    job_spec: dict = {
        "backoff_limit": schedule.retries,
        "active_deadline_seconds": schedule.run_deadline_seconds,
        # No config checksum: every run is a new pod that mounts the ConfigMap and Secret as they are
        # then (updated in place), so a changed file needs no change to the CronJob.
        "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
    }
    if schedule.final_exit_codes:
        job_spec["pod_failure_policy"] = {
            "rules": [
                {
                    "action": "FailJob",
                    "on_exit_codes": {"container_name": last["name"], "operator": "In", "values": list(schedule.final_exit_codes)},
                }
            ]
        }
    return {
        "schedule": run.cron or schedule.cron,
        "time_zone": TIME_ZONE,
        "concurrency_policy": "Forbid",
        "starting_deadline_seconds": schedule.start_deadline_seconds,
        "successful_jobs_history_limit": schedule.history,
        "failed_jobs_history_limit": schedule.history,
        "job_template": {"metadata": {"labels": pod_labels}, "spec": job_spec},
    }


class KubernetesJob(pulumi.ComponentResource):
    """Outputs: `cron_jobs` (run name -> CronJob) and `repository` (the repository's claim, if any)."""

    def __init__(self, name: str, args: KubernetesJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:KubernetesJob", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        spec, namespace = args.spec, args.namespace
        service = spec.name
        meta_labels = labels.service_labels(service)

        def metadata(object_name: str, extra: dict | None = None) -> dict:
            return {"name": object_name, "namespace": namespace, "labels": {**meta_labels, **(extra or {})}}

        file_volumes = pod.create_file_objects(name, spec, namespace, self).volumes()
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account", metadata=metadata(service), automount_service_account_token=False, opts=child
        )

        self.cron_jobs: dict[str, k8s.batch.v1.CronJob] = {}
        self.repository: k8s.core.v1.PersistentVolumeClaim | None = None
        repository_claim = None
        if spec.repository_size is not None:
            claim = pod.claim_spec(spec.repository_size, args.storage_class)
            # Every run writes to it from the node of the replica it backs up: one claim, many nodes.
            claim["access_modes"] = ["ReadWriteMany"]
            self.repository = k8s.core.v1.PersistentVolumeClaim(
                f"{name}-repository",
                metadata=metadata(f"{service}-repository"),
                spec=claim,
                # The repository is data: no Pulumi operation may delete or replace the claim.
                opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
            )
            repository_claim = self.repository.metadata.name
        for run in spec.runs:
            volumes = run_volumes(spec, run, file_volumes, repository_claim)
            self.cron_jobs[run.name] = k8s.batch.v1.CronJob(
                f"{name}-{run.name}-cronjob",
                metadata={
                    **metadata(job_name(spec, run), {RUN_LABEL: run.name}),
                    "labels": {**labels.service_labels(service, spec.image), RUN_LABEL: run.name},
                },
                spec=cron_job_spec(spec, run, self.service_account.metadata.name, volumes, repository_claim is not None),
                opts=child,
            )
        self.register_outputs({"cron_jobs": {run: job.metadata.name for run, job in self.cron_jobs.items()}})
