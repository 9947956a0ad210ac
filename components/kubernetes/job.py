"""A scheduled job (ServiceSpec.schedule) on Kubernetes: its ConfigMap, Secret and ServiceAccount, and
per run a CronJob (plus, where the run has one, its archive PersistentVolumeClaim).

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
from components.service_spec import JobRun, ServiceSpec

CONTAINER = "run"
# Which run a pod (or claim) belongs to.
RUN_LABEL = "ngx-monitoring/job-run"
# The schedule is UTC by definition (settings.cron computes its gaps in UTC), whatever the cluster's.
TIME_ZONE = "Etc/UTC"
SOURCE_VOLUME = "source-{index}"
ARCHIVE_VOLUME = "archive"


@dataclass(frozen=True)
class KubernetesJobArgs:
    spec: ServiceSpec  # a scheduled job (ServiceSpec.schedule set), one CronJob per run
    namespace: pulumi.Input[str]  # the namespace of the services whose data the runs read
    storage_class: str | None = None  # StorageClass of the archive claims; None: the cluster's default

    def __post_init__(self) -> None:
        if self.spec.schedule is None:
            raise ValueError(f"{self.spec.name}: a KubernetesJob needs a scheduled spec")


def job_name(spec: ServiceSpec, run: JobRun) -> str:
    return f"{spec.name}-{run.name}"


def run_volumes(spec: ServiceSpec, run: JobRun, file_volumes: list[dict], archive_claim: pulumi.Input[str] | None) -> tuple[list[dict], list[dict]]:
    """(volumes, volume mounts) of one run's pod; `file_volumes` are those of the job's FileObjects."""
    volumes: list[dict] = list(file_volumes)
    mounts = pod.file_mounts(spec)
    for index, data in enumerate(run.data):
        name = SOURCE_VOLUME.format(index=index)
        # A claim mounted read-only at the claim level too: nothing in the pod can write it.
        volumes.append({"name": name, "persistent_volume_claim": {"claim_name": pod.replica_claim(data.service, data.replica), "read_only": not data.writable}})
        mounts.append({"name": name, "mount_path": data.path, "read_only": not data.writable})
    if archive_claim is not None:
        volumes.append({"name": ARCHIVE_VOLUME, "persistent_volume_claim": {"claim_name": archive_claim}})
        mounts.append({"name": ARCHIVE_VOLUME, "mount_path": spec.archive_dir})
    scratch_volumes, scratch_mounts = pod.scratch_volumes(spec)
    return sorted(volumes + scratch_volumes, key=lambda volume: volume["name"]), mounts + scratch_mounts


def cron_job_spec(spec: ServiceSpec, run: JobRun, service_account: pulumi.Input[str], volumes: list[dict], mounts: list[dict]) -> dict:
    schedule = spec.schedule
    pod_labels = {**labels.service_labels(spec.name, spec.image), RUN_LABEL: run.name}
    container = {
        "name": CONTAINER,
        "image": spec.image,
        "image_pull_policy": "IfNotPresent",
        "command": list(run.args),
        "resources": pod.resources(spec),
        "security_context": pod.container_security_context(run.uid, run.gid),
        "volume_mounts": mounts,
    }
    job_spec: dict = {
        "backoff_limit": schedule.retries,
        "active_deadline_seconds": schedule.run_deadline_seconds,
        "template": {
            # No config checksum: every run is a new pod that mounts the ConfigMap and Secret as they are
            # then (updated in place), so a changed file needs no change to the CronJob.
            "metadata": {"labels": pod_labels},
            "spec": {
                # Never: each attempt is a new pod, so a failed attempt keeps its logs.
                "restart_policy": "Never",
                "service_account_name": service_account,
                "automount_service_account_token": False,
                "security_context": pod.pod_security_context(run.uid, run.gid),
                "affinity": pod.colocate_with(run.colocated_with.service, run.colocated_with.replica),
                "containers": [container],
                "volumes": volumes,
            },
        },
    }
    if schedule.final_exit_codes:
        job_spec["pod_failure_policy"] = {
            "rules": [
                {
                    "action": "FailJob",
                    "on_exit_codes": {"container_name": CONTAINER, "operator": "In", "values": list(schedule.final_exit_codes)},
                }
            ]
        }
    return {
        "schedule": schedule.cron,
        "time_zone": TIME_ZONE,
        "concurrency_policy": "Forbid",
        "starting_deadline_seconds": schedule.start_deadline_seconds,
        "successful_jobs_history_limit": schedule.history,
        "failed_jobs_history_limit": schedule.history,
        "job_template": {"metadata": {"labels": pod_labels}, "spec": job_spec},
    }


class KubernetesJob(pulumi.ComponentResource):
    """Outputs: `cron_jobs` (run name -> CronJob) and `archives` (run name -> its claim)."""

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
        self.archives: dict[str, k8s.core.v1.PersistentVolumeClaim] = {}
        for run in spec.runs:
            archive_claim = None
            if run.archive_size is not None:
                claim = k8s.core.v1.PersistentVolumeClaim(
                    f"{name}-{run.name}-archive",
                    metadata=metadata(job_name(spec, run), {RUN_LABEL: run.name}),
                    spec=pod.claim_spec(run.archive_size, args.storage_class),
                    # Archives are data: no Pulumi operation may delete or replace the claim.
                    opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
                )
                self.archives[run.name] = claim
                archive_claim = claim.metadata.name
            volumes, mounts = run_volumes(spec, run, file_volumes, archive_claim)
            self.cron_jobs[run.name] = k8s.batch.v1.CronJob(
                f"{name}-{run.name}-cronjob",
                metadata={
                    **metadata(job_name(spec, run), {RUN_LABEL: run.name}),
                    "labels": {**labels.service_labels(service, spec.image), RUN_LABEL: run.name},
                },
                spec=cron_job_spec(spec, run, self.service_account.metadata.name, volumes, mounts),
                opts=child,
            )
        self.register_outputs({"cron_jobs": {run: job.metadata.name for run, job in self.cron_jobs.items()}})
