"""Pure builders of the Kubernetes backend (components/kubernetes/pod.py) and the components' Args.

The workloads and the job runs build their pods from these blocks; a block that misbehaves here
misbehaves in every pod of the stack, so each is checked on its own.
"""

from __future__ import annotations

import pytest

from components.file_layout import RELOAD
from components.kubernetes import pod
from components.kubernetes.job import KubernetesJobArgs
from components.kubernetes.workload import KubernetesWorkloadArgs
from components.service_spec import DataMount, JobRun, Probe, Schedule, ServiceSpec


def spec(name: str = "svc", **fields) -> ServiceSpec:
    base = {
        "name": name,
        "image": "example/svc:1",
        "args": (),
        "env": {},
        "config_files": {},
        "secret_files": {},
        "uid": 1000,
        "gid": 1000,
        "replicas": 1,
        "memory": "64Mi",
        "cpu": "100m",
        "probe": Probe("web", http_path="/"),
    }
    return ServiceSpec(**{**base, **fields})


def scheduled() -> ServiceSpec:
    run = JobRun("svc-0", ("true",), 1000, 1000, (DataMount("svc", 0, "/data"),))
    return spec("job", probe=None, schedule=Schedule("0 3 * * *", 60, 600, 1, 1), runs=(run,))


def test_two_files_with_one_name_are_refused_naming_both():
    """Both would land under one key of the ConfigMap: the second would silently replace the first."""
    with pytest.raises(ValueError, match="/etc/b/x.yml and /etc/a/x.yml share the file name 'x.yml'"):
        pod.file_keys(["/etc/b/x.yml", "/etc/a/x.yml"])


def test_a_restarting_service_mounts_every_file_read_only_at_its_own_path():
    """subPath mounts: the image's other files in those directories stay visible (nginx's mime.types)."""
    mounts = pod.file_mounts(spec(config_files={"/etc/svc/a.yml": "a"}, secret_files={"/etc/ngx/secrets/p": None}))
    assert mounts == [
        {"name": "secrets", "mount_path": "/etc/ngx/secrets/p", "sub_path": "p", "read_only": True},
        {"name": "svc", "mount_path": "/etc/svc/a.yml", "sub_path": "a.yml", "read_only": True},
    ]
    assert pod.restart_annotations(spec(config_files={"/etc/svc/a.yml": "a"}))


def test_a_reloading_service_mounts_whole_directories_and_carries_no_checksum():
    """A subPath mount never follows a ConfigMap update, and a checksum would roll the pods: neither."""
    reloading = spec(file_change=RELOAD, config_files={"/etc/svc/a.yml": "a", "/etc/svc/rules/r.yml": "r"}, secret_files={"/etc/ngx/secrets/p": None})
    assert pod.file_mounts(reloading) == [
        {"name": "secrets", "mount_path": "/etc/ngx/secrets", "read_only": True},
        {"name": "svc", "mount_path": "/etc/svc", "read_only": True},
    ]
    assert "sub_path" not in str(pod.file_mounts(reloading))
    assert pod.restart_annotations(reloading) == {}
    assert pod.file_mounts(reloading, only=("/etc/svc",)) == [{"name": "svc", "mount_path": "/etc/svc", "read_only": True}]


def test_items_place_nested_files_and_are_left_out_for_flat_directories():
    """Items list keys: only where a file sits in a subdirectory, never for a directory whose file
    names follow the settings (receiver credentials), so a new receiver cannot change a pod template."""
    assert pod._items({"a.yml": "", "rules/r.yml": ""}) == [{"key": "a.yml", "path": "a.yml"}, {"key": "r.yml", "path": "rules/r.yml"}]
    assert pod._items({"slack-webhook-url": "", "probe-password": ""}) is None


@pytest.mark.parametrize("storage_class", [None, "", "fast-ssd"])
def test_a_claim_names_a_storage_class_only_when_one_is_set(storage_class):
    """Without one the cluster's default StorageClass provisions the claim."""
    claim = pod.claim_spec("10Gi", storage_class)
    assert claim["resources"] == {"requests": {"storage": "10Gi"}}
    assert claim.get("storage_class_name") == (storage_class or None)


def test_a_job_run_is_scheduled_on_the_node_of_the_replica_it_reads():
    term = pod.colocate_with("prometheus", 1)["pod_affinity"]["required_during_scheduling_ignored_during_execution"][0]
    assert term["topology_key"] == "kubernetes.io/hostname"
    assert term["label_selector"]["match_labels"][pod.POD_NAME_LABEL] == "prometheus-1"
    assert pod.replica_claim("prometheus", 1) == "data-prometheus-1"


def test_a_workload_refuses_a_scheduled_spec_and_a_job_an_unscheduled_one():
    with pytest.raises(ValueError, match="KubernetesWorkloadArgs.spec: job is a scheduled job"):
        KubernetesWorkloadArgs(scheduled(), "ns")
    with pytest.raises(ValueError, match="svc: a KubernetesJob needs a scheduled spec"):
        KubernetesJobArgs(spec(), "ns")
    assert KubernetesJobArgs(scheduled(), "ns").storage_class is None
