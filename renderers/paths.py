"""Where files sit inside each service's container; both backends mount them at these paths."""

from __future__ import annotations

TLS_DIR = "/etc/ngx/tls"  # tls.crt, tls.key (this service's certificate) and ca.crt (the stack CA)
SECRETS_DIR = "/etc/ngx/secrets"  # one file per credential

TLS_CERT = f"{TLS_DIR}/tls.crt"
TLS_KEY = f"{TLS_DIR}/tls.key"
TLS_CA = f"{TLS_DIR}/ca.crt"

# Config directory of each service inside its container: files/<service>/<name> lands at CONFIG_DIRS[service]/<name>.
CONFIG_DIRS = {
    "prometheus": "/etc/prometheus",
    "alertmanager": "/etc/alertmanager",
    "grafana": "/etc/grafana",
    "loki": "/etc/loki",
    "alloy": "/etc/alloy",
    "proxy": "/etc/nginx",
    "backup": "/etc/ngx/backup",
}

DATA_DIRS = {
    "prometheus": "/prometheus",
    "alertmanager": "/alertmanager",
    "grafana": "/var/lib/grafana",
    "loki": "/loki",
}


def secret_file(name: str) -> str:
    return f"{SECRETS_DIR}/{name}"


def password_file(user: str) -> str:
    """File holding the basic-auth password a service uses as `user`."""
    return secret_file(f"{user}-password")


def config_path(service: str, name: str) -> str:
    return f"{CONFIG_DIRS[service]}/{name}"
