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

import pulumi
import pulumi_kubernetes as k8s

from components import TYPE_PREFIX
from components import labels
from components.kubernetes.workload import (CONFIG_MODE, CONFIG_VOLUME, DATA_VOLUME, SCRATCH_LIMIT, SECRET_MODE,
                                            SECRET_VOLUME, config_checksum, container_security_context, file_keys,
                                            pod_security_context)
from components.specs import JobRun, ServiceSpec
from settings import Settings

CONTAINER = "run"
# Set by the StatefulSet controller on every pod: the pod's own name (`prometheus-1`).
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
# Which run a pod (or claim) belongs to.
RUN_LABEL = "ngx-monitoring/job-run"
# The schedule is UTC by definition (settings.cron computes its gaps in UTC), whatever the cluster's.
TIME_ZONE = "Etc/UTC"
SOURCE_VOLUME = "source-{index}"
ARCHIVE_VOLUME = "archive"


def replica_claim(service: str, replica: int) -> str:
    """The claim the StatefulSet controller creates for a replica: <template>-<statefulset>-<ordinal>."""
    return f"{DATA_VOLUME}-{service}-{replica}"


def job_name(spec: ServiceSpec, run: JobRun) -> str:
    return f"{spec.name}-{run.name}"


def colocation(run: JobRun) -> dict:
    data = run.colocated_with
    return {"pod_affinity": {"required_during_scheduling_ignored_during_execution": [{
        "topology_key": "kubernetes.io/hostname",
        "label_selector": {"match_labels": {**labels.selector_labels(data.service),
                                            POD_NAME_LABEL: f"{data.service}-{data.replica}"}},
    }]}}


def run_volumes(spec: ServiceSpec, run: JobRun, config_map: pulumi.Input[str] | None, secret: pulumi.Input[str] | None,
                archive_claim: pulumi.Input[str] | None) -> tuple[list[dict], list[dict]]:
    """(volumes, volume mounts) of one run's pod."""
    volumes: list[dict] = []
    mounts: list[dict] = []
    if config_map:
        volumes.append({"name": CONFIG_VOLUME, "config_map": {"name": config_map, "default_mode": CONFIG_MODE}})
    if secret:
        volumes.append({"name": SECRET_VOLUME, "secret": {"secret_name": secret, "default_mode": SECRET_MODE}})
    for volume, files in ((CONFIG_VOLUME, spec.config_files), (SECRET_VOLUME, spec.secret_files)):
        mounts += [{"name": volume, "mount_path": path, "sub_path": key, "read_only": True}
                   for path, key in file_keys(list(files)).items()]
    for index, data in enumerate(run.data):
        name = SOURCE_VOLUME.format(index=index)
        # A claim mounted read-only at the claim level too: nothing in the pod can write it.
        volumes.append({"name": name, "persistent_volume_claim": {"claim_name": replica_claim(data.service, data.replica),
                                                                   "read_only": not data.writable}})
        mounts.append({"name": name, "mount_path": data.path, "read_only": not data.writable})
    if archive_claim is not None:
        volumes.append({"name": ARCHIVE_VOLUME, "persistent_volume_claim": {"claim_name": archive_claim}})
        mounts.append({"name": ARCHIVE_VOLUME, "mount_path": spec.archive_dir})
    for index, directory in enumerate(spec.scratch_dirs):
        volumes.append({"name": f"scratch-{index}", "empty_dir": {"size_limit": SCRATCH_LIMIT}})
        mounts.append({"name": f"scratch-{index}", "mount_path": directory})
    return sorted(volumes, key=lambda volume: volume["name"]), mounts


def cron_job_spec(spec: ServiceSpec, run: JobRun, service_account: pulumi.Input[str], volumes: list[dict],
                  mounts: list[dict], checksum: pulumi.Input[str]) -> dict:
    schedule = spec.schedule
    pod_labels = {**labels.service_labels(spec.name, spec.image), RUN_LABEL: run.name}
    container = {
        "name": CONTAINER,
        "image": spec.image,
        "image_pull_policy": "IfNotPresent",
        "command": list(run.args),
        "resources": {"requests": {"cpu": spec.cpu, "memory": spec.memory}, "limits": {"cpu": spec.cpu, "memory": spec.memory}},
        "security_context": container_security_context(run.uid, run.gid),
        "volume_mounts": mounts,
    }
    job_spec: dict = {
        "backoff_limit": schedule.retries,
        "active_deadline_seconds": schedule.run_deadline_seconds,
        "template": {
            "metadata": {"labels": pod_labels, "annotations": {"checksum/config": checksum}},
            "spec": {
                # Never: each attempt is a new pod, so a failed attempt keeps its logs.
                "restart_policy": "Never",
                "service_account_name": service_account,
                "automount_service_account_token": False,
                "security_context": pod_security_context(run.uid, run.gid),
                "affinity": colocation(run),
                "containers": [container],
                "volumes": volumes,
            },
        },
    }
    if schedule.final_exit_codes:
        job_spec["pod_failure_policy"] = {"rules": [{
            "action": "FailJob",
            "on_exit_codes": {"container_name": CONTAINER, "operator": "In", "values": list(schedule.final_exit_codes)},
        }]}
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

    def __init__(self, name: str, spec: ServiceSpec, settings: Settings, namespace: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:KubernetesJob", name, None, opts)
        if spec.schedule is None:
            raise ValueError(f"{spec.name}: a KubernetesJob needs a scheduled spec")
        child = pulumi.ResourceOptions(parent=self)
        service = spec.name
        meta_labels = labels.service_labels(service)

        def metadata(object_name: str, extra: dict | None = None) -> dict:
            return {"name": object_name, "namespace": namespace, "labels": {**meta_labels, **(extra or {})}}

        config_map = secret = None
        if spec.config_files:
            config_map = k8s.core.v1.ConfigMap(
                f"{name}-config", metadata=metadata(f"{service}-config"),
                data={key: spec.config_files[path] for path, key in file_keys(list(spec.config_files)).items()}, opts=child)
        if spec.secret_files:
            secret = k8s.core.v1.Secret(
                f"{name}-secrets", metadata=metadata(f"{service}-secrets"), type="Opaque",
                string_data={key: spec.secret_files[path] for path, key in file_keys(list(spec.secret_files)).items()}, opts=child)
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account", metadata=metadata(service), automount_service_account_token=False, opts=child)
        checksum = config_checksum(spec.config_files, spec.secret_files)

        self.cron_jobs: dict[str, k8s.batch.v1.CronJob] = {}
        self.archives: dict[str, k8s.core.v1.PersistentVolumeClaim] = {}
        for run in spec.runs:
            archive_claim = None
            if run.archive_size is not None:
                claim_spec: dict = {"access_modes": ["ReadWriteOnce"], "resources": {"requests": {"storage": run.archive_size}}}
                if settings.kubernetes.storage_class:
                    claim_spec["storage_class_name"] = settings.kubernetes.storage_class
                claim = k8s.core.v1.PersistentVolumeClaim(
                    f"{name}-{run.name}-archive", metadata=metadata(job_name(spec, run), {RUN_LABEL: run.name}), spec=claim_spec,
                    # Archives are data: no Pulumi operation may delete or replace the claim.
                    opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True))
                self.archives[run.name] = claim
                archive_claim = claim.metadata.name
            volumes, mounts = run_volumes(spec, run, config_map.metadata.name if config_map else None,
                                          secret.metadata.name if secret else None, archive_claim)
            self.cron_jobs[run.name] = k8s.batch.v1.CronJob(
                f"{name}-{run.name}-cronjob",
                metadata={**metadata(job_name(spec, run), {RUN_LABEL: run.name}),
                          "labels": {**labels.service_labels(service, spec.image), RUN_LABEL: run.name}},
                spec=cron_job_spec(spec, run, self.service_account.metadata.name, volumes, mounts, checksum),
                opts=child)
        self.register_outputs({"cron_jobs": {run: job.metadata.name for run, job in self.cron_jobs.items()}})
