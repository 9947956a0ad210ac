"""HTTP client configs the health checks of Prometheus and Alertmanager use.

Every endpoint of both (even /-/healthy) sits behind TLS and basic auth, so a health check is a real
authenticated client: `promtool query instant` and `amtool config show` read these files.
"""

from __future__ import annotations

import addresses
from renderers import auth, paths
from renderers.yamltext import GENERATED, dump

PROBE_CLIENT_FILE = "probe-client.yml"


def render_probe_client(service: str) -> str:
    document = {
        "basic_auth": {"username": auth.PROBE_USER, "password_file": paths.password_file(auth.PROBE_USER)},
        # The probe connects to localhost; the certificate also names it, so verification stays on.
        "tls_config": {"ca_file": paths.TLS_CA, "server_name": "localhost"},
    }
    return dump(document, GENERATED)


def prometheus_probe_command(port: int) -> list[str]:
    # Both clients append their API paths to the URL's path, so the route prefix goes in the URL.
    return [
        "promtool",
        "query",
        "instant",
        f"--http.config.file={paths.config_path('prometheus', PROBE_CLIENT_FILE)}",
        f"https://localhost:{port}{addresses.route_prefix('prometheus')}",
        "vector(1)",
    ]


def alertmanager_probe_command(port: int) -> list[str]:
    return [
        "amtool",
        f"--alertmanager.url=https://localhost:{port}{addresses.route_prefix('alertmanager')}",
        f"--http.config.file={paths.config_path('alertmanager', PROBE_CLIENT_FILE)}",
        "config",
        "show",
    ]
