"""What each service runs, independent of the backend: image, arguments, files, secrets, user,
storage, resources and health check (the types are in components/service_spec.py). Docker and
Kubernetes components both consume these specs, so the two backends run the same thing and differ only
in how they place it.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

import backup_plan
import trust
from alerting.receiver_files import receiver_secrets
from components.certificates import Certificates
from components.credentials import Credentials
from components.file_layout import RELOAD
from components.service_spec import DataMount, HostMount, JobRun, JobStep, Probe, Reloader, Schedule, ServiceSpec, Sidecar
from renderers import alloy, auth, backup, bundle, commands, grafana_ini, loki_storage, paths, probe
from renderers.loki import loki_args
from renderers.prometheus import REPLICA_ENV, prometheus_args
from renderers.reloader import reloader_command, reloader_probe_command
from renderers.remote_write import remote_write_env, remote_write_secrets, secret_file_text
from settings import Settings
from settings.loki import AZURE, AZURE_WORKLOAD_IDENTITY_LABEL, WORKLOAD_IDENTITY_ANNOTATIONS
from topology import LOKI, SERVICES, ports_of

ALLOY_STORAGE = "/var/lib/alloy/data"
HOST_PROC = HostMount("/proc", f"{commands.NODE_EXPORTER_ROOT}/proc")
# What Alertmanager's reloader watches: alertmanager.yml, its templates and web.yml, and the receivers'
# credential files (a changed webhook URL or SMTP password is a reload too).
ALERTMANAGER_WATCHED = (paths.CONFIG_DIRS["alertmanager"], paths.SECRETS_DIR)


def _config(files: Mapping[str, str], service: str) -> dict[str, str]:
    return {bundle.container_path(key): text for key, text in bundle.files_of(files, service).items()}


def _secret(value: pulumi.Output[str]) -> pulumi.Output[str]:
    return pulumi.Output.secret(value)


def _auth_file(auth_files: pulumi.Output[dict[str, str]], key: str) -> pulumi.Output[str]:
    return _secret(auth_files.apply(lambda files: files[key]))


def build_specs(
    settings: Settings, creds: Credentials, certs: Certificates, files: Mapping[str, str], auth_files: pulumi.Output[dict[str, str]]
) -> dict[str, ServiceSpec]:
    """`files` and `auth_files` come from `rendered_files`."""
    res = settings.resources
    images = settings.images

    def tls_files(service: str) -> dict[str, pulumi.Output[str]]:
        pair = certs.internal[service]
        return {paths.TLS_CERT: pair.cert_pem, paths.TLS_KEY: _secret(pair.key_pem), paths.TLS_CA: certs.ca_bundle(trust.INTERNAL)}

    def passwords(*users: str) -> dict[str, pulumi.Output[str]]:
        return {paths.password_file(user): _secret(creds.passwords[user]) for user in users}

    port = lambda service, name="web": SERVICES[service].port(name).number  # noqa: E731

    receiver_files = {paths.secret_file(name): pulumi.Output.secret(secret.reveal()) for name, secret in sorted(receiver_secrets(settings).items())}

    # Each file's secrets are joined inside one Output.secret, so no credential leaves it in plain text.
    remote_write_files = {
        paths.secret_file(name): pulumi.Output.secret(secret_file_text(settings, name, [secret.reveal() for secret in secrets]))
        for name, secrets in sorted(remote_write_secrets(settings).items())
    }

    specs = [
        ServiceSpec(
            "prometheus",
            images.prometheus,
            tuple(prometheus_args(settings)),
            remote_write_env(settings),
            _config(files, "prometheus"),
            {
                **tls_files("prometheus"),
                **remote_write_files,
                **passwords(auth.PROMETHEUS_USER, auth.PROBE_USER),
                bundle.container_path(f"prometheus/{bundle.WEB_CONFIG}"): _auth_file(auth_files, f"prometheus/{bundle.WEB_CONFIG}"),
            },
            65534,
            65534,
            settings.prometheus.replicas,
            res.prometheus.memory,
            res.prometheus.cpu,
            Probe("web", command=tuple(probe.prometheus_probe_command(port("prometheus")))),
            data_dir=paths.DATA_DIRS["prometheus"],
            storage_size=settings.prometheus.storage_size,
            replica_env=REPLICA_ENV,
            # Prometheus 3 re-reads prometheus.yml and the rule files by itself (prometheus_args).
            file_change=RELOAD,
        ),
        ServiceSpec(
            "alertmanager",
            images.alertmanager,
            tuple(commands.alertmanager_args(settings)),
            {},
            _config(files, "alertmanager"),
            {
                **tls_files("alertmanager"),
                **passwords(auth.PROBE_USER),
                **receiver_files,
                bundle.container_path(f"alertmanager/{bundle.WEB_CONFIG}"): _auth_file(auth_files, f"alertmanager/{bundle.WEB_CONFIG}"),
            },
            65534,
            65534,
            settings.alertmanager.replicas,
            res.alertmanager.memory,
            res.alertmanager.cpu,
            Probe("web", command=tuple(probe.alertmanager_probe_command(port("alertmanager")))),
            data_dir=paths.DATA_DIRS["alertmanager"],
            storage_size=settings.alertmanager.storage_size,
            pod_ip_env=commands.POD_IP_ENV if commands.alertmanager_clustered(settings) else None,
            file_change=RELOAD,
            reloader=Reloader(
                tuple(reloader_command("alertmanager", settings.alertmanager.config_reload_interval, ALERTMANAGER_WATCHED)),
                ALERTMANAGER_WATCHED,
                tuple(reloader_probe_command("alertmanager")),
            ),
        ),
        ServiceSpec(
            "grafana",
            images.grafana,
            (),
            {"GF_PATHS_CONFIG": paths.config_path("grafana", "grafana.ini"), "GF_SECURITY_ADMIN_PASSWORD__FILE": grafana_ini.ADMIN_PASSWORD_FILE},
            _config(files, "grafana"),
            {
                grafana_ini.ADMIN_PASSWORD_FILE: _secret(creds.grafana_admin_password),
                grafana_ini.SECRET_KEY_FILE: _secret(creds.grafana_secret_key),
                paths.TLS_CA: certs.ca_bundle(trust.INTERNAL),
                # Grafana's [smtp] reads the same password file as Alertmanager's e-mail receiver.
                **{path: value for path, value in receiver_files.items() if path == grafana_ini.SMTP_PASSWORD_FILE},
            },
            # The image owns its files as 472 with group 0; a higher UID would need a rebuilt image.
            472,
            0,
            1,
            res.grafana.memory,
            res.grafana.cpu,
            Probe("web", http_path="/api/health"),
            data_dir=paths.DATA_DIRS["grafana"],
            storage_size=settings.grafana.storage_size,
            scratch_dirs=("/tmp",),
        ),
        _loki_spec(settings, files),
        ServiceSpec(
            "alloy",
            images.alloy,
            tuple(commands.alloy_args(paths.config_path("alloy", "config.alloy"), ALLOY_STORAGE)),
            {},
            _config(files, "alloy"),
            {},
            # 473 is the image's alloy user. Kubelet log files are root:root 0640, so on Kubernetes the
            # user joins group 0 to read them; on Docker the application's files must be readable by 473.
            473,
            473,
            1,
            res.alloy.memory,
            res.alloy.cpu,
            Probe("web", http_path="/-/ready"),
            scratch_dirs=(ALLOY_STORAGE, "/tmp"),
            host_mounts=(HostMount(*alloy.log_mount(settings)),),
            supplemental_groups=(0,) if settings.platform == "kubernetes" else (),
            node_name_env=alloy.NODE_NAME_ENV if settings.platform == "kubernetes" else None,
        ),
        ServiceSpec(
            "node-exporter",
            images.node_exporter,
            tuple(commands.node_exporter_args()),
            {},
            {},
            {},
            65534,
            65534,
            1,
            res.node_exporter.memory,
            res.node_exporter.cpu,
            Probe("web", http_path="/"),
            host_mounts=(
                HOST_PROC,
                HostMount("/sys", f"{commands.NODE_EXPORTER_ROOT}/sys"),
                HostMount("/", f"{commands.NODE_EXPORTER_ROOT}/root"),
            ),
            # The host's interfaces, through the host's /proc/1 (commands.node_exporter_netdev_args).
            sidecar=Sidecar(
                tuple(commands.node_exporter_netdev_args()),
                commands.NETDEV_PORT,
                Probe(commands.NETDEV_PORT, http_path="/"),
                (HOST_PROC,),
                # One collector: a Go runtime and a few dozen series (16 MiB resident measured, Debian's 1.5 build).
                "48Mi",
                "50m",
            ),
        ),
        ServiceSpec(
            "redis-exporter",
            images.redis_exporter,
            tuple(commands.redis_exporter_args(settings)),
            {},
            {},
            {},
            59000,
            59000,
            1,
            res.redis_exporter.memory,
            res.redis_exporter.cpu,
            Probe("web", http_path="/health"),
        ),
        ServiceSpec(
            "proxy",
            images.proxy,
            (),
            {},
            _config(files, "proxy"),
            {
                paths.TLS_CERT: certs.proxy.cert_pem,
                paths.TLS_KEY: _secret(certs.proxy.key_pem),
                paths.TLS_CA: certs.ca_bundle(trust.INTERNAL),
                bundle.container_path(f"proxy/{bundle.HTPASSWD}"): _auth_file(auth_files, f"proxy/{bundle.HTPASSWD}"),
            },
            101,
            101,
            1,
            res.proxy.memory,
            res.proxy.cpu,
            Probe("status", http_path="/healthz"),
            scratch_dirs=("/tmp",),
        ),
        ServiceSpec(
            "proxy-exporter",
            images.proxy_exporter,
            tuple(commands.proxy_exporter_args(settings)),
            {},
            {},
            {},
            65534,
            65534,
            1,
            res.proxy_exporter.memory,
            res.proxy_exporter.cpu,
            Probe("web", http_path="/metrics"),
        ),
        ServiceSpec(
            "pushgateway",
            images.pushgateway,
            tuple(commands.pushgateway_args()),
            {},
            {},
            {},
            65534,
            65534,
            1,
            res.pushgateway.memory,
            res.pushgateway.cpu,
            Probe("web", http_path="/-/ready"),
        ),
    ]
    if settings.platform == "kubernetes":
        # Describes Kubernetes objects, so it exists on Kubernetes only (topology: platforms).
        specs.append(
            ServiceSpec(
                "kube-state-metrics",
                images.kube_state_metrics,
                tuple(commands.kube_state_metrics_args(settings)),
                {},
                {},
                {},
                65534,
                65534,
                1,
                res.kube_state_metrics.memory,
                res.kube_state_metrics.cpu,
                Probe("web", http_path="/healthz"),
            )
        )
    by_name = {spec.name: spec for spec in specs}
    by_name["backup"] = _backup_spec(settings, creds, certs, files, by_name)
    return by_name


def _loki_spec(settings: Settings, files: Mapping[str, str]) -> ServiceSpec:
    """Loki: static object-store credentials as secret files the SDK is pointed at (renderers/loki_storage.py),
    or the workload identity annotation (and, on AKS, pod label) instead."""
    loki, storage = settings.loki, settings.loki.storage
    identity: tuple[tuple[str, str], ...] = ()
    pod_labels: tuple[tuple[str, str], ...] = ()
    if storage.workload_identity is not None:
        identity = ((WORKLOAD_IDENTITY_ANNOTATIONS[storage.type], storage.workload_identity),)
        pod_labels = (AZURE_WORKLOAD_IDENTITY_LABEL,) if storage.type == AZURE else ()
    return ServiceSpec(
        "loki",
        settings.images.loki,
        tuple(loki_args(settings)),
        loki_storage.credential_env(storage),
        _config(files, "loki"),
        {path: _secret(pulumi.Output.from_input(text)) for path, text in sorted(loki_storage.credential_files(storage).items())},
        10001,
        10001,
        loki.replicas,
        settings.resources.loki.memory,
        settings.resources.loki.cpu,
        Probe("web", http_path="/ready"),
        data_dir=paths.DATA_DIRS["loki"],
        storage_size=loki.storage_size,
        scratch_dirs=("/tmp",),
        cluster_ports=ports_of(settings, LOKI)[len(SERVICES[LOKI].ports) :],
        zone_spread=loki.zone_aware,
        service_account_annotations=identity,
        pod_labels=pod_labels,
    )


def _backup_spec(settings: Settings, creds: Credentials, certs: Certificates, files: Mapping[str, str], sources: Mapping[str, ServiceSpec]) -> ServiceSpec:
    """The backup job: one run per backed-up replica (backup_plan.py), three steps each (ops/backup.py
    says why): the snapshot or copy and the report as the user that owns the data, restic in between
    as restic's one user; plus the repository's retention and check on a schedule of their own. The
    restic steps get the repository's generated password (and with target s3 the bucket's key), the
    Prometheus runs the password of the `backup` user and the stack CA for the snapshot API, as files."""
    s3 = settings.backup.s3 if settings.backup.target == "s3" else None
    secret_files = {
        paths.TLS_CA: certs.ca_bundle(trust.INTERNAL),
        paths.password_file(auth.BACKUP_USER): _secret(creds.passwords[auth.BACKUP_USER]),
        backup.PASSWORD_FILE: _secret(creds.restic_password),
    }
    if s3 is not None:
        secret_files[backup.S3_CREDENTIALS_FILE] = _secret(
            pulumi.Output.all(s3.access_key_id, s3.secret_access_key.reveal()).apply(lambda key: backup.render_s3_credentials(*key))
        )
    restic_user = (backup_plan.RESTIC_UID, backup_plan.RESTIC_GID)
    restic_env = tuple(sorted(backup.restic_env(settings).items()))

    def restic_step(args: tuple[str, ...]) -> JobStep:
        return JobStep("restic", settings.images.restic, args, restic_user, restic_env, repository=True, data_read_only=True)

    runs = tuple(
        JobRun(
            run.target,
            (
                JobStep("stage", settings.images.backup, backup.stage_args(settings, run)),
                restic_step(backup.restic_backup_args(settings, run)),
                JobStep("report", settings.images.backup, backup.report_args(settings, run)),
            ),
            sources[run.service].uid,
            sources[run.service].gid,
            (DataMount(run.service, run.replica, paths.DATA_DIRS[run.service], writable=run.writes_data),),
        )
        for run in backup_plan.backup_runs(settings)
    )
    check = JobRun(
        backup_plan.CHECK_RUN,
        (restic_step(backup.check_restic_args(settings)), JobStep("report", settings.images.backup, backup.check_report_args(settings))),
        *restic_user,
        (),
        cron=settings.backup.check_schedule,
    )
    schedule = Schedule(
        settings.backup.schedule,
        backup_plan.START_DEADLINE_SECONDS,
        backup_plan.RUN_DEADLINE_SECONDS,
        backup_plan.RETRIES,
        backup_plan.HISTORY,
        (backup_plan.EXIT_UNREPORTED,),
    )
    res = settings.resources.backup
    return ServiceSpec(
        "backup",
        settings.images.backup,
        (),
        {},
        _config(files, "backup"),
        secret_files,
        65534,
        65534,
        1,
        res.memory,
        res.cpu,
        None,
        scratch_dirs=("/tmp",),
        schedule=schedule,
        runs=(*runs, check),
        stage_dir=backup.STAGE_DIR,
        repository_dir=backup.REPOSITORY_DIR if s3 is None else None,
        repository_size=settings.backup.storage_size if s3 is None else None,
    )


def rendered_files(settings: Settings, creds: Credentials) -> tuple[dict[str, str], pulumi.Output[dict[str, str]]]:
    """The plain files and (as an Output secret) the auth files, keyed `<service>/<path>`."""
    files = bundle.render_config_files(settings)
    auth_files = pulumi.Output.secret(creds.hashes.apply(lambda hashes: bundle.render_auth_files(settings, hashes)))
    return files, auth_files
