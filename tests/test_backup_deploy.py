"""Backups as the program deploys them, under mocks: the settings, the alert derived from the schedule,
the CronJobs (prod), the never-started containers (dev), the Pushgateway and the new topology edges.

Expectations come from settings, the topology and the other services' own objects (a replica's claim
name is read from its StatefulSet, an image ID from what the mocks answered for the pull), never from
the backup objects under test. The program itself is tested in test_backup.py, live in tests/live/.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
from typing import Any

import pytest
import yaml

import addresses
import backup_plan
import catalog
from components.docker.job import RUN_LABEL, STEP_LABEL
from renderers import backup, paths
from settings import PROJECT, SettingsError, parse
from settings.cron import gaps_seconds
from synthesis.recorder import _COMPUTED, is_secret
from synthesis.run import SynthResult, synth, unwrap
from tests.alerting_helpers import ROOT, dev_settings
from topology import BACKUP, EDGES, EGRESS, PROMETHEUS, PUSHGATEWAY, SERVICES

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/remoteImage:RemoteImage"
NAME = "app.kubernetes.io/name"
POD_NAME = "statefulset.kubernetes.io/pod-name"
KUBE_SECRET = "kubernetes:core/v1:Secret"
S3_SECRET = "seeded-s3-secret-access-key"
S3_CONFIG = [
    "backup.target=s3",
    "backup.s3.endpoint=https://s3.eu-west-1.example.com",
    "backup.s3.bucket=ngx-backups",
    "backup.s3.region=eu-west-1",
    "backup.s3.accessKeyId=AKIDSEEDED",
]


def manifests(result: SynthResult, kind: str) -> list[dict[str, Any]]:
    return [unwrap(r.inputs) for r in result.resources if r.type.startswith("kubernetes:") and r.custom and unwrap(r.inputs).get("kind") == kind]


def one(result: SynthResult, kind: str, name: str) -> dict[str, Any]:
    (found,) = [m for m in manifests(result, kind) if m["metadata"]["name"] == name]
    return found


def resource_of(result: SynthResult, kind: str, name: str):
    (found,) = [
        r
        for r in result.resources
        if r.type.startswith("kubernetes:") and unwrap(r.inputs).get("kind") == kind and unwrap(r.inputs)["metadata"]["name"] == name
    ]
    return found


def cron_jobs(result: SynthResult) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["labels"][RUN_LABEL]: m for m in manifests(result, "CronJob")}


def pod_of(cron_job: dict[str, Any]) -> dict[str, Any]:
    return cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def steps_of(cron_job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Step name -> container, in order: the init containers, then the container."""
    pod = pod_of(cron_job)
    return {container["name"]: container for container in [*pod.get("initContainers", []), *pod["containers"]]}


def backup_cron_jobs(result: SynthResult) -> dict[str, dict[str, Any]]:
    return {run: cron for run, cron in cron_jobs(result).items() if run != backup_plan.CHECK_RUN}


def expected_runs(settings) -> set[str]:
    """Every Prometheus replica, and replica 0 of Alertmanager (gossip copies its state) and Grafana."""
    return {f"prometheus-{i}" for i in range(settings.prometheus.replicas)} | {"alertmanager-0", "grafana-0"}


@pytest.fixture(scope="module")
def prod_s3() -> SynthResult:
    return synth("prod", S3_CONFIG, [f"backup.s3.secretAccessKey={S3_SECRET}"])


@pytest.fixture(scope="module")
def dev_s3() -> SynthResult:
    return synth("dev", S3_CONFIG, [f"backup.s3.secretAccessKey={S3_SECRET}"])


# --- settings ----------------------------------------------------------------------------------------


def test_backup_defaults_are_daily_at_three_keeping_seven_on_volumes():
    settings = parse({"platform": "docker"}, stack="dev")
    assert (settings.backup.schedule, settings.backup.keep, settings.backup.target, settings.backup.s3) == ("0 3 * * *", 7, "pvc", None)


BAD_BACKUP = [
    ({"schedule": "0 3 * *"}, "backup.schedule", "five"),
    ({"schedule": "0 24 * * *"}, "backup.schedule", "hour range 0-23"),
    ({"schedule": "0 3 * * 7"}, "backup.schedule", "day of week range 0-6"),
    ({"schedule": "@daily"}, "backup.schedule", "five"),
    ({"schedule": "0 3 * * MON"}, "backup.schedule", "use numbers"),
    ({"schedule": "0 3 31 * *"}, "backup.schedule", "at least every 31 days"),
    ({"schedule": "*/10 * * * *"}, "backup.schedule", "more often than hourly"),
    ({"schedule": "0 0 30 2 *"}, "backup.schedule", "never runs"),
    ({"keep": 0}, "backup.keep", "at least 1"),
    ({"target": "nfs"}, "backup.target", "one of"),
    ({"target": "s3"}, "backup.s3.endpoint", "required with backup.target s3"),
    ({"keep": 30, "storageSize": "20Gi"}, "backup.storageSize", "at least 24Gi"),
    ({"storageSize": "10Gi"}, "backup.storageSize", "at least 12Gi"),
    ({"checkReadDataSubset": "0%"}, "backup.checkReadDataSubset", "--read-data-subset"),
    ({"checkReadDataSubset": "all"}, "backup.checkReadDataSubset", "--read-data-subset"),
    ({"checkReadDataSubset": "100.5%"}, "backup.checkReadDataSubset", "at most 100"),
    ({"checkReadDataSubset": "1/7"}, "backup.checkReadDataSubset", "--read-data-subset"),
    ({"checkSchedule": "*/5 * * * *"}, "backup.checkSchedule", "more often than hourly"),
    ({"target": "s3", "s3": {"endpoint": "http://minio:9000", "bucket": "b-1", "accessKeyId": "a", "secretAccessKey": "k"}}, "backup.s3.endpoint", "https://"),
    (
        {"target": "s3", "s3": {"endpoint": "https://s3.example.com", "bucket": "Backups_1", "accessKeyId": "a", "secretAccessKey": "k"}},
        "backup.s3.bucket",
        "bucket name",
    ),
    (
        {"target": "s3", "s3": {"endpoint": "https://s3.example.com", "bucket": "192.168.05.4", "accessKeyId": "a", "secretAccessKey": "k"}},
        "backup.s3.bucket",
        "bucket name",
    ),  # S3 refuses names formatted as an IP address, leading zeros or not
    ({"target": "s3", "s3": {"endpoint": "https://s3.example.com", "bucket": "b-1", "accessKeyId": "a"}}, "backup.s3.secretAccessKey", "required"),
]


@pytest.mark.parametrize("values,key,phrase", BAD_BACKUP, ids=[f"{case[1]}:{i}" for i, case in enumerate(BAD_BACKUP)])
def test_a_bad_backup_setting_names_its_key_in_one_line(values, key, phrase):
    with pytest.raises(SettingsError) as error:
        parse({"platform": "docker", "backup": values}, stack="dev", secret_keys=["backup"])
    assert error.value.key == key
    assert str(error.value).startswith(f"{PROJECT}:{key}: ") and phrase in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    "expression,shortest,longest",
    [
        ("0 3 * * *", 86400, 86400),
        ("30 1,13 * * *", 12 * 3600, 12 * 3600),
        ("0 3 * * 1-5", 86400, 3 * 86400),  # Friday to Monday
        ("0 3 * * 0", 7 * 86400, 7 * 86400),
        ("0 3 1 * *", 28 * 86400, 31 * 86400),
        ("0 3 1,15 * 1", 86400, 7 * 86400),  # day 1, day 15 or any Monday (both restricted: either matches)
        ("0 */6 * * *", 6 * 3600, 6 * 3600),
        ("0 3 * * 1", 7 * 86400, 7 * 86400),
        ("0 3 1,15 * *", 14 * 86400, 17 * 86400),  # 1 -> 15, and 15 -> 1 of the next month (February: 14 days)
        ("0 3 1 * 1", 86400, 7 * 86400),  # union: the 1st or any Monday
        # `*/1` is starred for Kubernetes (robfig keeps the star bit for steps of 1) and for cronie: Mondays only.
        ("0 3 */1 * 1", 7 * 86400, 7 * 86400),
        ("0 3 *,1 * 1", 7 * 86400, 7 * 86400),  # starred for both (cronie: first character; robfig: a `*` item)
        ("0 3 */2 * *", 86400, 2 * 86400),  # odd days: the 31st to the 1st is one day, the 29th of a 30-day month two
        ("0 3 * * */2", 86400, 2 * 86400),  # Sun, Tue, Thu, Sat
        ("0 3 1-31/2 * 1", 86400, 2 * 86400),  # odd days or Mondays, for both
    ],
)
def test_the_gaps_between_runs_of_a_schedule(expression, shortest, longest):
    assert gaps_seconds(expression) == (shortest, longest)


@pytest.mark.parametrize(
    "expression,portable",
    [
        # Kubernetes: a step above 1 clears the star, so either day matches; cronie: the field starts with `*`,
        # so both must match (odd-day Mondays only).
        ("0 3 */2 * 1", "0 3 1-31/2 * 1"),
        ("0 3 1 * */2", "0 3 1 * 0-6/2"),
        ("0 3 */2 * 1-5", "0 3 1-31/2 * 1-5"),
        # Kubernetes: a `*` item anywhere stars the field (Mondays only); cronie: not the first character, so
        # every day of month matches, hence every day.
        ("0 3 1,* * 1", "0 3 * * 1"),
    ],
)
def test_a_schedule_the_two_schedulers_read_differently_is_refused_with_the_portable_spelling(expression, portable):
    with pytest.raises(SettingsError) as error:
        parse({"platform": "docker", "backup": {"schedule": expression}}, stack="dev")
    message = str(error.value)
    assert error.value.key == "backup.schedule" and "\n" not in message
    assert "Kubernetes (robfig/cron)" in message and "cronie" in message and f"write {portable!r}" in message
    assert parse({"platform": "docker", "backup": {"schedule": portable}}, stack="dev").backup.schedule == portable


def test_a_start_with_a_step_is_refused_as_cronie_refuses_it():
    """robfig reads `3/6` as 3-23/6; cronie rejects the crontab line, so dev would never back up."""
    with pytest.raises(SettingsError, match=r"write 3-23/6$"):
        gaps_seconds("0 3/6 * * *")


@pytest.mark.parametrize("schedule,stale", [("0 3 * * *", 86400 + 8100), ("0 */6 * * *", 6 * 3600 + 8100), ("0 3 * * 0", 7 * 86400 + 8100)])
def test_backup_too_old_follows_the_schedule(schedule, stale):
    """The longest gap of the schedule plus the 15m start and 2h run deadlines the CronJobs are given."""
    settings = dev_settings(backup={"schedule": schedule})
    assert backup_plan.stale_after_seconds(settings) == stale
    from renderers.rules import render_rule_files

    rules = [
        rule for group in yaml.safe_load(render_rule_files(settings)["meta.yml"])["groups"] for rule in group["rules"] if rule.get("alert") == "BackupTooOld"
    ]
    late = next(rule for rule in rules if rule["labels"]["reason"] == "late")
    missing = next(rule for rule in rules if rule["labels"]["reason"] == "missing")
    assert late["expr"].endswith(f"> {stale}") and "for" not in late
    assert sum(int(n) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[u] for n, u in re.findall(r"(\d+)([dhms])", missing["for"])) == stale
    assert {f'target="{target}"' for target in expected_runs(settings)} == set(re.findall(r'target="[^"]+"', missing["expr"]))


def test_the_backup_metrics_are_catalogued_as_pushed_by_the_backup_job():
    names = {
        "ngx_backup_last_success_timestamp_seconds",
        "ngx_backup_last_run_success",
        "ngx_backup_last_size_bytes",
        "ngx_backup_last_added_bytes",
        "ngx_backup_duration_seconds",
        "ngx_backup_check_last_run_success",
        "ngx_backup_check_last_success_timestamp_seconds",
        "ngx_backup_check_duration_seconds",
    }
    assert {name for name, metric in catalog.METRICS.items() if metric.source == catalog.JOB_BACKUP} == names
    assert catalog.JOB_PUSHGATEWAY in catalog.JOBS and catalog.JOB_BACKUP not in catalog.JOBS


# --- Kubernetes: CronJobs -----------------------------------------------------------------------------


def test_one_cron_job_per_backed_up_replica_and_one_for_the_check(prod_stack):
    assert set(cron_jobs(prod_stack)) == expected_runs(prod_stack.settings) | {backup_plan.CHECK_RUN}
    assert prod_stack.settings.prometheus.replicas == 2


def test_cron_jobs_run_on_the_schedule_once_at_a_time_and_bounded(prod_stack):
    for run, cron_job in cron_jobs(prod_stack).items():
        spec = cron_job["spec"]
        backup_settings = prod_stack.settings.backup
        assert spec["schedule"] == (backup_settings.check_schedule if run == backup_plan.CHECK_RUN else backup_settings.schedule), run
        assert spec["timeZone"] == "Etc/UTC"  # settings.cron computes the alert's gap in UTC
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["startingDeadlineSeconds"] == backup_plan.START_DEADLINE_SECONDS
        assert spec["successfulJobsHistoryLimit"] == spec["failedJobsHistoryLimit"] == backup_plan.HISTORY
        job = spec["jobTemplate"]["spec"]
        assert job["activeDeadlineSeconds"] == backup_plan.RUN_DEADLINE_SECONDS and job["backoffLimit"] == backup_plan.RETRIES
        assert job["podFailurePolicy"]["rules"] == [
            {
                "action": "FailJob",
                "onExitCodes": {"containerName": pod_of(cron_job)["containers"][0]["name"], "operator": "In", "values": [backup_plan.EXIT_UNREPORTED]},
            }
        ]
        assert pod_of(cron_job)["restartPolicy"] == "Never"


def test_a_schedule_setting_reaches_every_cron_job():
    result = synth("prod", ["backup.schedule=30 1 * * 1-5"])
    assert {cron["spec"]["schedule"] for cron in backup_cron_jobs(result).values()} == {"30 1 * * 1-5"}


def test_every_run_pod_is_restricted_and_its_steps_run_as_the_owner_of_the_data_or_as_restic(prod_stack):
    """Stage and report run as the owner of the data they read (and the snapshot they remove); restic as
    the one user that owns the repository, in the run's group so it reads the pod's files."""
    statefulsets = {m["metadata"]["name"]: m for m in manifests(prod_stack, "StatefulSet")}
    settings = prod_stack.settings
    for run, cron_job in cron_jobs(prod_stack).items():
        pod = pod_of(cron_job)
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        assert not any(pod.get(key) for key in ("hostNetwork", "hostPID", "hostIPC"))
        steps = steps_of(cron_job)
        if run == backup_plan.CHECK_RUN:
            assert list(steps) == ["restic", "report"] and "affinity" not in pod
            owner = {"runAsUser": backup_plan.RESTIC_UID, "fsGroup": backup_plan.RESTIC_GID}
        else:
            assert list(steps) == ["stage", "restic", "report"]
            owner = statefulsets[run.rsplit("-", 1)[0]]["spec"]["template"]["spec"]["securityContext"]
        # fsGroup equal to the service's: its claim is never re-owned by the run.
        assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["fsGroup"]) == (owner["runAsUser"], owner["fsGroup"]), run
        if owner["fsGroup"] != backup_plan.RESTIC_GID:
            assert pod["securityContext"]["supplementalGroups"] == [owner["fsGroup"]], run
        for name, container in steps.items():
            context = container["securityContext"]
            user = backup_plan.RESTIC_UID if name == "restic" else owner["runAsUser"]
            assert context["runAsNonRoot"] is True and context["runAsUser"] == user, (run, name)
            assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True
            assert context["capabilities"] == {"drop": ["ALL"]} and context["seccompProfile"] == {"type": "RuntimeDefault"}
            budget = settings.resources.backup
            assert container["resources"] == {"requests": {"cpu": budget.cpu, "memory": budget.memory}, "limits": {"cpu": budget.cpu, "memory": budget.memory}}
            assert container["image"] == (settings.images.restic if name == "restic" else settings.images.backup), (run, name)
        account = one(prod_stack, "ServiceAccount", pod["serviceAccountName"])
        assert account["automountServiceAccountToken"] is False


def test_the_steps_share_the_stage_and_only_restic_mounts_the_repository(prod_stack):
    for run, cron_job in cron_jobs(prod_stack).items():
        volumes = {v["name"]: v for v in pod_of(cron_job)["volumes"]}
        for name, container in steps_of(cron_job).items():
            mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
            assert mounts[backup.STAGE_DIR] == {"name": "stage", "emptyDir": {}}, (run, name)
            repository = mounts.get(backup.REPOSITORY_DIR, {}).get("persistentVolumeClaim", {}).get("claimName")
            assert repository == ("backup-repository" if name == "restic" else None), (run, name)


def test_the_repository_is_one_protected_retained_read_write_many_claim(prod_stack):
    claims = [m["metadata"]["name"] for m in manifests(prod_stack, "PersistentVolumeClaim") if m["metadata"]["name"].startswith("backup-")]
    assert claims == ["backup-repository"]
    claim = resource_of(prod_stack, "PersistentVolumeClaim", "backup-repository")
    assert claim.options["protect"] and claim.options["retainOnDelete"]
    spec = unwrap(claim.inputs)["spec"]
    # Runs on every replica's node write to it.
    assert spec["accessModes"] == ["ReadWriteMany"] and spec["resources"]["requests"]["storage"] == prod_stack.settings.backup.storage_size


def test_each_run_is_scheduled_next_to_its_replica_and_reads_that_replicas_claim(prod_stack):
    statefulsets = {m["metadata"]["name"]: m for m in manifests(prod_stack, "StatefulSet")}
    for run, cron_job in backup_cron_jobs(prod_stack).items():
        service, replica = run.rsplit("-", 1)
        statefulset = statefulsets[service]
        pod = pod_of(cron_job)
        (term,) = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"] == {**statefulset["spec"]["selector"]["matchLabels"], POD_NAME: run}
        # The claim the StatefulSet controller makes: <template>-<statefulset>-<ordinal>.
        (template,) = statefulset["spec"]["volumeClaimTemplates"]
        claim = f"{template['metadata']['name']}-{statefulset['metadata']['name']}-{replica}"
        sources = [v for v in pod["volumes"] if v.get("persistentVolumeClaim", {}).get("claimName") == claim]
        assert len(sources) == 1, run
        for container in steps_of(cron_job).values():
            (mount,) = [m for m in container["volumeMounts"] if m["name"] == sources[0]["name"]]
            assert mount["mountPath"] == paths.DATA_DIRS[service]


def test_data_is_mounted_read_only_except_where_a_snapshot_must_be_removed(prod_stack):
    """Alertmanager's and Grafana's claims are read-only at the claim and every mount. A Prometheus run
    writes its replica's volume for one thing: its stage and report steps delete the snapshot
    (ops/backup.py); restic only reads it."""
    for run, cron_job in backup_cron_jobs(prod_stack).items():
        volumes = {v["name"]: v for v in pod_of(cron_job)["volumes"]}
        for name, container in steps_of(cron_job).items():
            for mount in container["volumeMounts"]:
                volume = volumes[mount["name"]]
                claim = volume.get("persistentVolumeClaim", {}).get("claimName", "")
                if claim.startswith("data-"):
                    writable = claim.startswith("data-prometheus-")
                    assert volume["persistentVolumeClaim"]["readOnly"] is (not writable), run
                    assert mount["readOnly"] is (not writable or name == "restic"), (run, name)
                elif "configMap" in volume or "secret" in volume:
                    assert mount["readOnly"] is True, run


def test_a_prometheus_run_snapshots_its_own_replica_through_a_name_its_certificate_covers(prod_stack):
    names = addresses.tls_names(prod_stack.settings, PROMETHEUS)
    for run, cron_job in backup_cron_jobs(prod_stack).items():
        command = steps_of(cron_job)["stage"]["command"]
        urls = [arg.split("=", 1)[1] for arg in command if arg.startswith("--url=")]
        if not run.startswith("prometheus-"):
            assert urls == [], run
            continue
        (url,) = urls
        host = re.match(r"https://([^:/]+):9090/prometheus$", url).group(1)  # the route prefix Prometheus serves under
        assert host.startswith(f"{run}.") and any(fnmatch.fnmatchcase(host, name) for name in names), url
        assert f"--target={run}" in command and "--user=backup" in command
        assert steps_of(cron_job)["restic"]["command"][2:5] == ["backup", backup.STAGE_DIR, run], "restic's host is the target"


def test_the_repository_password_is_generated_secret_and_exported_only_as_a_secret(prod_stack):
    secret = resource_of(prod_stack, "Secret", "backup-secrets")
    assert is_secret(secret.inputs["stringData"])
    password = unwrap(secret.inputs)["stringData"]["restic-password"]
    assert len(password) == 48
    assert is_secret(prod_stack.outputs["backupRepositoryPassword"])
    for cron_job in cron_jobs(prod_stack).values():
        restic = steps_of(cron_job)["restic"]["command"]
        assert f"--password-file={backup.PASSWORD_FILE}" in restic and password not in repr(restic)
    leaks = [r.name for r in prod_stack.resources if r.type != KUBE_SECRET and "random" not in r.type and password in repr(_plain(r.inputs))]
    assert not leaks


def test_the_backup_network_policy_allows_exactly_the_topology_edges(prod_stack):
    k8s = prod_stack.settings.kubernetes
    policy = one(prod_stack, "NetworkPolicy", BACKUP)["spec"]
    assert policy["podSelector"]["matchLabels"][NAME] == BACKUP and policy["ingress"] == []
    allowed = set()
    for rule in policy["egress"]:
        (peer,) = rule["to"]
        port = tuple((p["port"], p["protocol"]) for p in rule["ports"])
        allowed.add((peer["podSelector"]["matchLabels"][NAME] if "podSelector" in peer else peer["ipBlock"]["cidr"], port))
    assert allowed == {(PROMETHEUS, ((9090, "TCP"),)), (PUSHGATEWAY, ((9091, "TCP"),)), ("0.0.0.0/0", ((443, "TCP"),))}
    internet = next(rule for rule in policy["egress"] if "ipBlock" in rule["to"][0])
    assert "10.0.0.0/8" in internet["to"][0]["ipBlock"]["except"] and "169.254.0.0/16" in internet["to"][0]["ipBlock"]["except"]
    for target, port in ((PROMETHEUS, 9090), (PUSHGATEWAY, 9091)):
        ingress = one(prod_stack, "NetworkPolicy", target)["spec"]["ingress"]
        assert any(
            rule["from"][0].get("podSelector", {}).get("matchLabels", {}).get(NAME) == BACKUP and rule["ports"] == [{"port": port, "protocol": "TCP"}]
            for rule in ingress
        ), target
    pushgateway_clients = {rule["from"][0]["podSelector"]["matchLabels"][NAME] for rule in one(prod_stack, "NetworkPolicy", PUSHGATEWAY)["spec"]["ingress"]}
    assert pushgateway_clients == {BACKUP, PROMETHEUS}
    assert k8s.namespace == one(prod_stack, "NetworkPolicy", BACKUP)["metadata"]["namespace"]


def test_the_new_edges_are_exactly_these():
    new = {(e.source, e.target, e.port) for e in EDGES if {e.source, e.target} & {BACKUP, PUSHGATEWAY}}
    assert new == {(PROMETHEUS, PUSHGATEWAY, "web"), (BACKUP, PROMETHEUS, "web"), (BACKUP, PUSHGATEWAY, "web")}
    assert {(e.source, e.to, e.ports) for e in EGRESS if e.source in (BACKUP, PUSHGATEWAY)} == {(BACKUP, "internet", (443,))}
    assert SERVICES[BACKUP].ports == () and SERVICES[BACKUP].scheduled and SERVICES[BACKUP].job is None


def test_the_s3_target_is_one_repository_per_stack_with_keys_from_a_secret_file_and_claims_nothing(prod_s3):
    settings = prod_s3.settings
    assert not [m for m in manifests(prod_s3, "PersistentVolumeClaim") if m["metadata"]["name"].startswith("backup-")]
    for cron_job in cron_jobs(prod_s3).values():
        pod = pod_of(cron_job)
        restic = steps_of(cron_job)["restic"]
        command = restic["command"]
        repository = command[command.index("-r") + 1]
        assert repository == f"s3:https://s3.eu-west-1.example.com/ngx-backups/{settings.environment}"
        assert "s3.region=eu-west-1" in command
        assert restic["env"] == [{"name": "AWS_SHARED_CREDENTIALS_FILE", "value": backup.S3_CREDENTIALS_FILE}]
        assert not any(v.get("persistentVolumeClaim", {}).get("claimName", "").startswith("backup-") for v in pod["volumes"])
        mounts = {m["mountPath"]: m for m in restic["volumeMounts"]}
        assert mounts[backup.S3_CREDENTIALS_FILE]["readOnly"]
    secret = resource_of(prod_s3, "Secret", "backup-secrets")
    assert is_secret(secret.inputs["stringData"])
    assert f"aws_secret_access_key = {S3_SECRET}" in unwrap(secret.inputs)["stringData"]["s3-credentials"]
    leaks = [r.name for r in prod_s3.resources if r.type != KUBE_SECRET and S3_SECRET in repr(_plain(r.inputs))]
    assert not leaks


def _plain(value: Any) -> Any:
    if is_secret(value):
        return None
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# --- Docker: never-started containers -------------------------------------------------------------------


def runs_of(result: SynthResult) -> dict[str, dict[str, Any]]:
    """Run -> step name -> its never-started container, in the order the steps run."""
    runs: dict[str, dict[str, Any]] = {}
    for container in result.of_type(CONTAINER):
        labels = {item["label"]: item["value"] for item in container.inputs.get("labels", [])}
        if RUN_LABEL in labels and STEP_LABEL in labels:
            runs.setdefault(labels[RUN_LABEL], {})[labels[STEP_LABEL]] = container
    return {run: {label.split("-", 1)[1]: steps[label] for label in sorted(steps)} for run, steps in runs.items()}


def data_volumes(result: SynthResult) -> dict[str, str]:
    """Service -> the data volume its running container mounts at its data directory."""
    found = {}
    for container in result.of_type(CONTAINER):
        service = container.inputs.get("name")  # a files loader is named by the engine
        for mount in container.inputs.get("mounts", []):
            if container.inputs.get("start", True) is not False and mount["target"] == paths.DATA_DIRS.get(service):
                found[service] = mount["source"]
    return found


def test_dev_has_one_never_started_container_per_step_of_each_run(dev_stack):
    runs = runs_of(dev_stack)
    assert set(runs) == expected_runs(dev_stack.settings) | {backup_plan.CHECK_RUN} == {"prometheus-0", "alertmanager-0", "grafana-0", "repository"}
    for run, steps in runs.items():
        assert list(steps) == (["restic", "report"] if run == backup_plan.CHECK_RUN else ["stage", "restic", "report"]), run
        for name, container in steps.items():
            inputs = container.inputs
            assert inputs["name"] == f"backup-{run}-{name}"
            assert inputs["start"] is False and inputs["mustRun"] is False and inputs["restart"] == "no"
            assert not inputs.get("wait") and not inputs.get("healthcheck") and not inputs.get("ports")
            assert inputs["readOnly"] is True and inputs["capabilities"] == {"drops": ["ALL"]}
            assert "no-new-privileges:true" in inputs["securityOpts"] and inputs["memory"] > 0
            argv = inputs["entrypoints"] + inputs["command"]  # restic's image has an entrypoint of its own: replaced
            assert len(inputs["entrypoints"]) == 1
            if name == "restic":
                assert argv[:2] == ["sh", backup.STEP_PATH] and inputs["user"] == f"{backup_plan.RESTIC_UID}:{backup_plan.RESTIC_GID}"
            else:
                assert argv[:4] == ["python3", "-I", "-B", backup.PROGRAM_PATH]


def test_dev_steps_read_the_services_data_volumes_read_only_except_prometheus_cleanup(dev_stack):
    volumes = data_volumes(dev_stack)
    running = {c.inputs["name"]: c for c in dev_stack.of_type(CONTAINER) if c.inputs.get("start", True) is not False}
    for run, steps in runs_of(dev_stack).items():
        if run == backup_plan.CHECK_RUN:
            continue
        service = run.rsplit("-", 1)[0]
        for name, container in steps.items():
            mounts = {m["target"]: m for m in container.inputs["mounts"]}
            source = mounts[paths.DATA_DIRS[service]]
            assert source["source"] == volumes[service], run
            assert bool(source.get("readOnly")) is (service != PROMETHEUS or name == "restic"), (run, name)
            if name != "restic":
                # As the service's own user, so the data is readable and the snapshot removable.
                assert container.inputs["user"] == running[service].inputs["user"], run
            others = [m for target, m in mounts.items() if target not in (paths.DATA_DIRS[service], backup.STAGE_DIR, backup.REPOSITORY_DIR)]
            assert others and all(m["readOnly"] is True for m in others), run


def test_dev_repository_volume_is_protected_retained_and_born_owned_by_restics_user(dev_stack):
    volumes = {v.inputs["name"]: v for v in dev_stack.of_type(VOLUME)}
    images = {r.parent: _COMPUTED[IMAGE](r.name, r.inputs)["imageId"] for r in dev_stack.of_type(IMAGE)}
    for run, steps in runs_of(dev_stack).items():
        for name, container in steps.items():
            repository = [m for m in container.inputs["mounts"] if m["target"] == backup.REPOSITORY_DIR]
            assert bool(repository) is (name == "restic"), (run, name)
            stage = next(m for m in container.inputs["mounts"] if m["target"] == backup.STAGE_DIR)
            assert volumes[stage["source"]].inputs["name"] == f"ngx-backup-{run}-stage"
            if not repository:
                continue
            volume = volumes[repository[0]["source"]]
            assert volume.options["protect"] and volume.options["retainOnDelete"] and volume.inputs["name"] == "ngx-backup-repository"
            # Its initializer: Prometheus's image (whose data directory its user 65534, restic's, owns),
            # mounting the new volume there, never started, on no network.
            initializer = next(c for c in dev_stack.of_type(CONTAINER) if c.name in container.options["dependsOn"] and "repository" in c.name)
            assert initializer.inputs["image"] == images["ngx-prometheus"], run
            assert initializer.inputs["mounts"] == [{"type": "volume", "source": volume.inputs["name"], "target": paths.DATA_DIRS[PROMETHEUS]}]
            assert initializer.inputs["start"] is False and initializer.inputs["networkMode"] == "none"


def test_dev_runs_join_the_networks_the_topology_gives_the_backup_job(dev_stack):
    """Every step joins the one internal network it shares with Prometheus and the Pushgateway (its two
    edges) and a way out of its own (the S3 repository), nothing else."""
    for run, steps in runs_of(dev_stack).items():
        for container in steps.values():
            assert [n["name"] for n in container.inputs["networksAdvanced"]] == ["ngx-internal-backup_prometheus_pushgateway", "ngx-egress-backup"], run


def test_a_step_with_another_group_than_the_jobs_files_joins_that_group(dev_stack):
    loader = next(c for c in dev_stack.of_type(CONTAINER) if c.name == "ngx-backup-files")
    files_group = loader.inputs["user"].split(":")[1]
    for run, steps in runs_of(dev_stack).items():
        for container in steps.values():
            group = container.inputs["user"].split(":")[1]
            assert (group == files_group) or files_group in container.inputs.get("groupAdds", []), run
    assert runs_of(dev_stack)["grafana-0"]["stage"].inputs["user"] == "472:0"


def test_dev_s3_target_gives_runs_no_repository_volume(dev_s3):
    for run, steps in runs_of(dev_s3).items():
        assert backup.REPOSITORY_DIR not in {m["target"] for m in steps["restic"].inputs["mounts"]}, run
        assert any(arg.startswith("s3:https://") for arg in steps["restic"].inputs["command"])
    assert not [v for v in dev_s3.of_type(VOLUME) if v.inputs["name"] == "ngx-backup-repository"]


def test_the_dev_script_starts_every_run_found_by_its_label():
    script = (ROOT / "scripts" / "backup-dev.sh").read_text()
    assert subprocess.run(["bash", "-n", str(ROOT / "scripts" / "backup-dev.sh")], capture_output=True).returncode == 0
    assert f"label={RUN_LABEL}" in script and f"label={STEP_LABEL}" in script and "docker start -a" in script
    assert f"check_run={backup_plan.CHECK_RUN}" in script
    assert "app.kubernetes.io/instance=ngx-monitoring" in script


# A stand-in for the Docker CLI as backup-dev.sh calls it: `ps` lists two runs of three steps each (or
# none), `start -a` logs the container and exits with $FAIL_CODE for the one named $FAIL_STEP.
_FAKE_DOCKER = """#!/bin/sh
case "$1" in
  ps)
    [ -n "${NO_STEPS:-}" ] && case "$*" in *job-run=*) exit 0 ;; esac
    case "$*" in
      *job-run=*) run=${*##*job-run=}; run=${run%% *}
                  printf '1-stage %s-stage\\n2-restic %s-restic\\n3-report %s-report\\n' "$run" "$run" "$run" ;;
      *) printf 'alertmanager-0\\nprometheus-0\\nrepository\\n' ;;
    esac ;;
  start) echo "$3" >> "$LOG"; [ "$3" = "${FAIL_STEP:-}" ] && exit "${FAIL_CODE:-1}"; exit 0 ;;
esac
"""


def _backup_dev(tmp_path, *args, **env):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "docker").write_text(_FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    log = tmp_path / "started.log"
    log.write_text("")
    environment = {"PATH": f"{bin_dir}:/usr/bin:/bin", "LOG": str(log), **env}
    result = subprocess.run(["bash", str(ROOT / "scripts" / "backup-dev.sh"), *args], capture_output=True, text=True, env=environment, timeout=30)
    return result, log.read_text().split()


def test_the_dev_script_runs_each_runs_steps_in_order_and_the_check_alone(tmp_path):
    result, started = _backup_dev(tmp_path)
    assert result.returncode == 0, result.stderr
    assert started == [f"{run}-{step}" for run in ("alertmanager-0", "prometheus-0") for step in ("stage", "restic", "report")]
    result, started = _backup_dev(tmp_path, "check")
    assert result.returncode == 0 and started == ["repository-stage", "repository-restic", "repository-report"]


def test_a_killed_restic_step_still_gets_its_run_reported_and_fails_the_script(tmp_path):
    result, started = _backup_dev(tmp_path, FAIL_STEP="alertmanager-0-restic", FAIL_CODE="137")
    assert result.returncode == 1 and "failed: alertmanager-0-restic" in result.stderr
    # The report step ran after the killed one (it pushes the failure), and the next run went on.
    assert started[:3] == ["alertmanager-0-stage", "alertmanager-0-restic", "alertmanager-0-report"]
    assert started[3:] == ["prometheus-0-stage", "prometheus-0-restic", "prometheus-0-report"]


def test_a_run_without_step_containers_fails_the_script(tmp_path):
    result, started = _backup_dev(tmp_path, NO_STEPS="1")
    assert result.returncode == 1 and "no step containers" in result.stderr and started == []


# --- the Pushgateway -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev_stack", "prod_stack"])
def test_the_pushgateway_is_scraped_with_honor_labels_at_its_service_name(request, stack):
    result = request.getfixturevalue(stack)
    config = yaml.safe_load(result.files["prometheus/prometheus.yml"])
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == catalog.JOB_PUSHGATEWAY]
    assert job["honor_labels"] is True
    assert job["static_configs"] == [{"targets": [f"{addresses.host(result.settings, PUSHGATEWAY)}:9091"]}]
    others = [job for job in config["scrape_configs"] if job.get("honor_labels")]
    assert others == [job], "only pushed series may keep their own job label"


def test_every_static_scrape_target_in_prod_names_a_service_that_exists(prod_stack):
    """A Deployment (the Pushgateway, the exporters) has no per-replica DNS names: only a StatefulSet
    behind a headless Service has `<name>-<i>.<headless>`. Each target must resolve to one of them."""
    namespace = prod_stack.settings.kubernetes.namespace
    services = {m["metadata"]["name"] for m in manifests(prod_stack, "Service")}
    replicas = {m["metadata"]["name"]: (m["spec"]["replicas"], m["spec"]["serviceName"]) for m in manifests(prod_stack, "StatefulSet")}
    config = yaml.safe_load(prod_stack.files["prometheus/prometheus.yml"])
    targets = [target for job in config["scrape_configs"] for static in job.get("static_configs", []) for target in static["targets"]]
    targets += [t for group in config["alerting"]["alertmanagers"] for static in group["static_configs"] for t in static["targets"]]
    assert len(targets) >= 8
    for target in targets:
        host = target.rsplit(":", 1)[0]
        per_replica = re.fullmatch(rf"([a-z-]+)-(\d+)\.([a-z-]+)\.{namespace}\.svc", host)
        if per_replica:
            statefulset, index, headless = per_replica.group(1), int(per_replica.group(2)), per_replica.group(3)
            assert statefulset in replicas and index < replicas[statefulset][0] and headless == replicas[statefulset][1], target
        else:
            name = re.fullmatch(rf"([a-z-]+)\.{namespace}\.svc", host)
            assert name and name.group(1) in services, target


def test_the_pushgateway_is_a_stateless_non_root_deployment(prod_stack):
    (deployment,) = [m for m in manifests(prod_stack, "Deployment") if m["metadata"]["name"] == PUSHGATEWAY]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 65534
    assert not [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    assert "--persistence.file=" in container["args"]
    (service,) = [m for m in manifests(prod_stack, "Service") if m["metadata"]["name"] == PUSHGATEWAY]
    assert [p["port"] for p in service["spec"]["ports"]] == [9091] and service["spec"]["type"] == "ClusterIP"


def test_the_dev_pushgateway_is_health_checked_and_not_published(dev_stack):
    (container,) = [c for c in dev_stack.of_type(CONTAINER) if c.inputs.get("name") == PUSHGATEWAY]
    assert container.inputs["healthcheck"]["tests"][-1] == "http://127.0.0.1:9091/-/ready"
    assert not container.inputs.get("ports") and container.inputs["user"] == "65534:65534"
