"""Every rendered file of the stack, keyed `<service>/<path>`; the file lands at
`paths.CONFIG_DIRS[service]/<path>` in that service's container (and at files/<service>/<path> in synth).

Dashboards are not among them: Grafana gets them through its API only (components/grafana/content.py),
so no ConfigMap or volume carries a copy Grafana never reads, and a dashboard edit cannot touch
Grafana's pod or container. `render_uploaded_files` names them the same way for synth's output.

`render_config_files` holds no secret. `render_auth_files` holds bcrypt hashes, so callers keep its
result inside an Output secret.
"""

from __future__ import annotations

from collections.abc import Mapping

from dashboards import render_dashboards
from renderers import paths
from renderers.alertmanager import render_alertmanager_config, render_alertmanager_templates
from renderers.alloy import render_alloy_config
from renderers.backup import PROGRAM_FILE, STEP_FILE, render_backup_program, render_restic_step
from renderers.grafana_ini import render_grafana_ini
from renderers.loki import render_loki_config
from renderers.nginx import render_htpasswd, render_nginx_config
from renderers.probe import PROBE_CLIENT_FILE, render_probe_client
from renderers.prometheus import render_prometheus_config
from renderers.remote_write import remote_write_config_files
from renderers.rules import render_rule_files
from renderers.web_config import render_web_config
from settings import Settings

WEB_CONFIG = "web.yml"
HTPASSWD = "htpasswd"


def render_config_files(settings: Settings) -> dict[str, str]:
    files = {
        "prometheus/prometheus.yml": render_prometheus_config(settings),
        f"prometheus/{PROBE_CLIENT_FILE}": render_probe_client("prometheus"),
        **{f"prometheus/rules/{name}": text for name, text in render_rule_files(settings).items()},
        **remote_write_config_files(settings),
        "alertmanager/alertmanager.yml": render_alertmanager_config(settings),
        f"alertmanager/{PROBE_CLIENT_FILE}": render_probe_client("alertmanager"),
        **{f"alertmanager/templates/{name}": text for name, text in render_alertmanager_templates().items()},
        "loki/loki.yaml": render_loki_config(settings),
        "grafana/grafana.ini": render_grafana_ini(settings),
        "alloy/config.alloy": render_alloy_config(settings),
        "proxy/nginx.conf": render_nginx_config(settings),
        f"backup/{PROGRAM_FILE}": render_backup_program(),
        f"backup/{STEP_FILE}": render_restic_step(),
    }
    return dict(sorted(files.items()))


def render_uploaded_files(settings: Settings) -> dict[str, str]:
    """What the Grafana component uploads through the API, keyed like the mounted files (for review:
    synth writes them to files/grafana/dashboards/<uid>.json; no service mounts them)."""
    return {f"grafana/dashboards/{name}": text for name, text in sorted(render_dashboards(settings).items())}


def render_auth_files(settings: Settings, hashes: Mapping[str, str]) -> dict[str, str]:
    web = render_web_config(hashes)
    admin = settings.proxy.admin_user
    return {
        f"alertmanager/{WEB_CONFIG}": web,
        f"prometheus/{WEB_CONFIG}": web,
        f"proxy/{HTPASSWD}": render_htpasswd({admin: hashes[admin]}),
    }


def container_path(key: str) -> str:
    service, _, relative = key.partition("/")
    return f"{paths.CONFIG_DIRS[service]}/{relative}"


def files_of(files: Mapping[str, str], service: str) -> dict[str, str]:
    return {key: text for key, text in files.items() if key.startswith(f"{service}/")}
