"""grafana.ini: Grafana behind the TLS proxy at https://<domain>/grafana/, locked down.

No credential is written here. The admin password and the signing key are read by Grafana itself
from files (`$__file{...}` expansion), so this file can sit in a ConfigMap or a plain bind mount and
be shown in a diff.
"""

from __future__ import annotations

from collections.abc import Mapping

import addresses
from alerting import receiver_files
from renderers import paths
from settings import Settings
from topology import GRAFANA, SERVICES

# Secret files the backends mount into the Grafana container (see paths.secret_file).
ADMIN_PASSWORD_FILE_NAME = "grafana-admin-password"
SECRET_KEY_FILE_NAME = "grafana-secret-key"
ADMIN_PASSWORD_FILE = paths.secret_file(ADMIN_PASSWORD_FILE_NAME)
SECRET_KEY_FILE = paths.secret_file(SECRET_KEY_FILE_NAME)
# The SMTP password file: the same name Alertmanager reads (alerting.receiver_files).
SMTP_PASSWORD_FILE = paths.secret_file(receiver_files.SMTP_PASSWORD)

CONFIG_FILE = paths.config_path(GRAFANA, "grafana.ini")
DATA_DIR = paths.DATA_DIRS[GRAFANA]
PROVISIONING_DIR = paths.config_path(GRAFANA, "provisioning")

# One year, in seconds, like the proxy; Grafana only sends it if a request reaches it without the proxy.
HSTS_MAX_AGE_SECONDS = 31536000

# Grafana's CSP template ($NONCE and $ROOT_PATH are filled in per request). Scripts run only with
# the per-request nonce (plus what those scripts load: 'strict-dynamic'); 'unsafe-eval' stays because
# Grafana's plugin loader still evaluates module code. No third-party origin is allowed anywhere:
# update checks and news are off, so nothing needs grafana.com. Frames are refused, like allow_embedding.
CSP_TEMPLATE = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-eval' 'strict-dynamic' $NONCE",
        "object-src 'none'",
        "font-src 'self' data:",
        "style-src 'self' 'unsafe-inline' blob:",
        "img-src 'self' data: blob:",
        "connect-src 'self' wss://$ROOT_PATH",
        "worker-src 'self' blob:",
        "manifest-src 'self'",
        "media-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

Value = str | int | bool


def file_reference(path: str) -> str:
    """Grafana's file expansion: the value is the file's content, trimmed."""
    return f"$__file{{{path}}}"


def _sections(settings: Settings) -> dict[str, dict[str, Value]]:
    return {
        "paths": {
            "data": DATA_DIR,
            "logs": f"{DATA_DIR}/log",
            "plugins": f"{DATA_DIR}/plugins",
            "provisioning": PROVISIONING_DIR,
        },
        "server": {
            # Plain HTTP inside the stack: TLS ends at the proxy, and only the proxy and Prometheus
            # can reach this port (topology edges, enforced by the network / NetworkPolicy).
            "protocol": "http",
            "http_port": SERVICES[GRAFANA].port("web").number,
            "domain": settings.domain,
            "root_url": addresses.public_url(settings, "grafana"),
            "serve_from_sub_path": True,
            # The proxy forwards the Host the user typed; Prometheus scrapes by container name, which
            # a domain check would redirect away from /metrics.
            "enforce_domain": False,
            "router_logging": False,
        },
        "database": {
            "type": "sqlite3",
            "path": f"{DATA_DIR}/grafana.db",
        },
        "security": {
            "admin_user": settings.grafana.admin_user,
            "admin_password": file_reference(ADMIN_PASSWORD_FILE),
            # Signs sessions and encrypts datasource secrets in the database; generated per stack.
            "secret_key": file_reference(SECRET_KEY_FILE),
            "disable_initial_admin_creation": False,
            "disable_brute_force_login_protection": False,
            "disable_gravatar": True,
            "cookie_secure": True,
            "cookie_samesite": "strict",
            "allow_embedding": False,
            "strict_transport_security": True,
            "strict_transport_security_max_age_seconds": HSTS_MAX_AGE_SECONDS,
            "strict_transport_security_preload": True,
            "strict_transport_security_subdomains": True,
            "x_content_type_options": True,
            # The legacy XSS auditor is gone from browsers and could be abused where it remained; CSP replaces it.
            "x_xss_protection": False,
            "content_security_policy": True,
            "content_security_policy_template": CSP_TEMPLATE,
        },
        "users": {
            "allow_sign_up": False,
            "allow_org_create": False,
            "auto_assign_org": True,
            "auto_assign_org_role": "Viewer",
            "viewers_can_edit": False,
        },
        "auth": {
            "disable_login_form": False,
            # A session dies after 12h without use and after 7 days in any case; the token behind the
            # cookie is rotated every 10 minutes, so a stolen cookie goes stale quickly.
            "login_maximum_inactive_lifetime_duration": "12h",
            "login_maximum_lifetime_duration": "7d",
            "token_rotation_interval_minutes": 10,
        },
        "auth.anonymous": {
            "enabled": False,
            # The login page and /api/health do not tell strangers which version (and CVEs) run here.
            "hide_version": True,
        },
        "auth.basic": {
            # API clients (the Grafana provider, scripts) authenticate with basic auth; brute-force
            # protection above and the proxy's rate limit on /grafana/api/ apply to it.
            "enabled": True,
        },
        "snapshots": {
            # Never publish a dashboard (with its data) to a third-party snapshot service.
            "external_enabled": False,
        },
        "public_dashboards": {
            # Shared dashboards would be readable without a login.
            "enabled": False,
        },
        "analytics": {
            "reporting_enabled": False,
            "check_for_updates": False,
            "check_for_plugin_updates": False,
            "feedback_links_enabled": False,
        },
        "news": {
            "news_feed_enabled": False,
        },
        "plugins": {
            # Plugins are part of the image, not installed from the UI at run time.
            "plugin_admin_enabled": False,
        },
        "log": {
            "mode": "console",
            "level": "info",
        },
        "log.console": {
            # Grafana reads the console format here; JSON lines go to the container log like every service's.
            "format": "json",
        },
        "metrics": {
            "enabled": True,
        },
        "unified_alerting": {
            "enabled": True,
        },
        "smtp": _smtp(settings),
    }


def _smtp(settings: Settings) -> dict[str, Value]:
    """E-mail for Grafana-managed contact points: the same server and sender as Alertmanager's."""
    email = settings.receivers.email
    if email is None:
        return {"enabled": False}
    section: dict[str, Value] = {
        "enabled": True,
        "host": email.smarthost,
        "from_address": email.sender,
        "from_name": "NGX monitoring",
        # Like Alertmanager's require_tls: STARTTLS or nothing, and the server's certificate is verified.
        "startTLS_policy": "MandatoryStartTLS" if email.require_tls else "OpportunisticStartTLS",
        "skip_verify": False,
    }
    if email.username is not None:
        section["user"] = email.username
    if email.password is not None:
        section["password"] = file_reference(SMTP_PASSWORD_FILE)
    return section


def render_grafana_ini(settings: Settings) -> str:
    return render_ini(_sections(settings), header="; Rendered by ngx-monitoring; edit the settings or the renderer, not this file.\n")


def render_ini(sections: Mapping[str, Mapping[str, Value]], header: str = "") -> str:
    """A deterministic INI writer: sections and keys in the order given, one `key = value` per line."""
    lines = [header.rstrip("\n")] if header else []
    for name, entries in sections.items():
        if lines:
            lines.append("")
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {_ini_value(value)}" for key, value in entries.items())
    return "\n".join(lines) + "\n"


def _ini_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if "\n" in text or '"""' in text:
        raise ValueError(f"{text!r} cannot be written as one INI value")
    # Grafana's INI reader cuts a value at `;` or `#` (inline comments) unless it is wrapped in
    # triple quotes; the CSP template needs both quotes and semicolons.
    if any(char in text for char in ";#") or text != text.strip():
        return f'"""{text}"""'
    return text
