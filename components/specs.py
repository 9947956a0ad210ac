"""What each service runs, independent of the backend: image, arguments, files, secrets, user,
storage, resources and health check. Docker and Kubernetes components both consume these specs, so
the two backends run the same thing and differ only in how they place it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pulumi

from components.certificates import Certificates
from components.credentials import Credentials
from renderers import alloy, auth, bundle, commands, grafana_ini, paths, probe
from alerting.receiver_files import receiver_secrets
from renderers.loki import loki_args
from renderers.prometheus import REPLICA_ENV, prometheus_args
from settings import Settings
from topology import SERVICES

ALLOY_STORAGE = "/var/lib/alloy/data"


@dataclass(frozen=True)
class Probe:
    port: str  # topology port name
    http_path: str | None = None  # HTTP GET on an unauthenticated endpoint
    command: tuple[str, ...] | None = None  # exec, for endpoints behind TLS and basic auth


@dataclass(frozen=True)
class HostMount:
    host_path: str
    container_path: str  # always mounted read-only


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    image: str
    args: tuple[str, ...]
    env: Mapping[str, str]  # never a credential: those are secret_files
    config_files: Mapping[str, str]  # in-container path -> text
    secret_files: Mapping[str, pulumi.Output[str]]  # in-container path -> Output secret
    uid: int
    gid: int
    replicas: int
    memory: str
    cpu: str
    probe: Probe
    data_dir: str | None = None
    storage_size: str | None = None
    scratch_dirs: tuple[str, ...] = ()
    host_mounts: tuple[HostMount, ...] = ()
    supplemental_groups: tuple[int, ...] = ()
    # Per-replica environment a backend fills in (e.g. Prometheus's replica label).
    replica_env: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def stateful(self) -> bool:
        return self.data_dir is not None


def _config(files: Mapping[str, str], service: str) -> dict[str, str]:
    return {bundle.container_path(key): text for key, text in bundle.files_of(files, service).items()}


def _secret(value: pulumi.Output[str]) -> pulumi.Output[str]:
    return pulumi.Output.secret(value)


def _auth_file(auth_files: pulumi.Output[dict[str, str]], key: str) -> pulumi.Output[str]:
    return _secret(auth_files.apply(lambda files: files[key]))


def build_specs(settings: Settings, creds: Credentials, certs: Certificates, files: Mapping[str, str],
                auth_files: pulumi.Output[dict[str, str]]) -> dict[str, ServiceSpec]:
    """`files` and `auth_files` come from `rendered_files`."""
    res = settings.resources
    images = settings.images

    def tls_files(service: str) -> dict[str, pulumi.Output[str]]:
        pair = certs.internal[service]
        return {paths.TLS_CERT: pair.cert_pem, paths.TLS_KEY: _secret(pair.key_pem), paths.TLS_CA: certs.internal_ca_pem}

    def passwords(*users: str) -> dict[str, pulumi.Output[str]]:
        return {paths.password_file(user): _secret(creds.passwords[user]) for user in users}

    port = lambda service, name="web": SERVICES[service].port(name).number  # noqa: E731

    receiver_files = {
        paths.secret_file(name): pulumi.Output.secret(secret.reveal())
        for name, secret in sorted(receiver_secrets(settings).items())
    }

    specs = [
        ServiceSpec(
            "prometheus", images.prometheus, tuple(prometheus_args(settings)), {}, _config(files, "prometheus"),
            {**tls_files("prometheus"), **passwords(auth.PROMETHEUS_USER, auth.PROBE_USER),
             bundle.container_path(f"prometheus/{bundle.WEB_CONFIG}"): _auth_file(auth_files, f"prometheus/{bundle.WEB_CONFIG}")},
            65534, 65534, settings.prometheus.replicas, res.prometheus.memory, res.prometheus.cpu,
            Probe("web", command=tuple(probe.prometheus_probe_command(port("prometheus")))),
            data_dir=paths.DATA_DIRS["prometheus"], storage_size=settings.prometheus.storage_size, replica_env=REPLICA_ENV,
        ),
        ServiceSpec(
            "alertmanager", images.alertmanager, tuple(commands.alertmanager_args(settings)), {}, _config(files, "alertmanager"),
            {**tls_files("alertmanager"), **passwords(auth.PROBE_USER), **receiver_files,
             bundle.container_path(f"alertmanager/{bundle.WEB_CONFIG}"): _auth_file(auth_files, f"alertmanager/{bundle.WEB_CONFIG}")},
            65534, 65534, settings.alertmanager.replicas, res.alertmanager.memory, res.alertmanager.cpu,
            Probe("web", command=tuple(probe.alertmanager_probe_command(port("alertmanager")))),
            data_dir=paths.DATA_DIRS["alertmanager"], storage_size=settings.alertmanager.storage_size,
        ),
        ServiceSpec(
            "grafana", images.grafana, (), {"GF_PATHS_CONFIG": paths.config_path("grafana", "grafana.ini"),
                                            "GF_SECURITY_ADMIN_PASSWORD__FILE": grafana_ini.ADMIN_PASSWORD_FILE},
            _config(files, "grafana"),
            {grafana_ini.ADMIN_PASSWORD_FILE: _secret(creds.grafana_admin_password),
             grafana_ini.SECRET_KEY_FILE: _secret(creds.grafana_secret_key), paths.TLS_CA: certs.internal_ca_pem,
             # Grafana's [smtp] reads the same password file as Alertmanager's e-mail receiver.
             **{path: value for path, value in receiver_files.items() if path == grafana_ini.SMTP_PASSWORD_FILE}},
            # The image owns its files as 472 with group 0; a higher UID would need a rebuilt image.
            472, 0, 1, res.grafana.memory, res.grafana.cpu, Probe("web", http_path="/api/health"),
            data_dir=paths.DATA_DIRS["grafana"], storage_size=settings.grafana.storage_size, scratch_dirs=("/tmp",),
        ),
        ServiceSpec(
            "loki", images.loki, tuple(loki_args(settings)), {}, _config(files, "loki"), {},
            10001, 10001, 1, res.loki.memory, res.loki.cpu, Probe("web", http_path="/ready"),
            data_dir=paths.DATA_DIRS["loki"], storage_size=settings.loki.storage_size, scratch_dirs=("/tmp",),
        ),
        ServiceSpec(
            "alloy", images.alloy, tuple(commands.alloy_args(paths.config_path("alloy", "config.alloy"), ALLOY_STORAGE)), {},
            _config(files, "alloy"), {},
            # 473 is the image's alloy user. Kubelet log files are root:root 0640, so on Kubernetes the
            # user joins group 0 to read them; on Docker the application's files must be readable by 473.
            473, 473, 1, res.alloy.memory, res.alloy.cpu, Probe("web", http_path="/-/ready"),
            scratch_dirs=(ALLOY_STORAGE, "/tmp"), host_mounts=(HostMount(*alloy.log_mount(settings)),),
            supplemental_groups=(0,) if settings.platform == "kubernetes" else (),
        ),
        ServiceSpec(
            "node-exporter", images.node_exporter, tuple(commands.node_exporter_args()), {}, {}, {},
            65534, 65534, 1, res.node_exporter.memory, res.node_exporter.cpu, Probe("web", http_path="/"),
            host_mounts=(HostMount("/proc", f"{commands.NODE_EXPORTER_ROOT}/proc"), HostMount("/sys", f"{commands.NODE_EXPORTER_ROOT}/sys"),
                         HostMount("/", f"{commands.NODE_EXPORTER_ROOT}/root")),
        ),
        ServiceSpec(
            "redis-exporter", images.redis_exporter, tuple(commands.redis_exporter_args(settings)), {}, {}, {},
            59000, 59000, 1, res.redis_exporter.memory, res.redis_exporter.cpu, Probe("web", http_path="/health"),
        ),
        ServiceSpec(
            "proxy", images.proxy, (), {}, _config(files, "proxy"),
            {paths.TLS_CERT: certs.proxy.cert_pem, paths.TLS_KEY: _secret(certs.proxy.key_pem), paths.TLS_CA: certs.internal_ca_pem,
             bundle.container_path(f"proxy/{bundle.HTPASSWD}"): _auth_file(auth_files, f"proxy/{bundle.HTPASSWD}")},
            101, 101, 1, res.proxy.memory, res.proxy.cpu, Probe("status", http_path="/healthz"), scratch_dirs=("/tmp",),
        ),
        ServiceSpec(
            "proxy-exporter", images.proxy_exporter, tuple(commands.proxy_exporter_args(settings)), {}, {}, {},
            65534, 65534, 1, res.proxy_exporter.memory, res.proxy_exporter.cpu, Probe("web", http_path="/metrics"),
        ),
    ]
    return {spec.name: spec for spec in specs}


def rendered_files(settings: Settings, creds: Credentials) -> tuple[dict[str, str], pulumi.Output[dict[str, str]]]:
    """The plain files and (as an Output secret) the auth files, keyed `<service>/<path>`."""
    files = bundle.render_config_files(settings)
    auth_files = pulumi.Output.secret(creds.hashes.apply(lambda hashes: bundle.render_auth_files(settings, hashes)))
    return files, auth_files
