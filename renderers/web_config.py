"""web.yml of Prometheus and Alertmanager: TLS on the listener and bcrypt basic auth."""

from __future__ import annotations

from collections.abc import Mapping

from renderers import paths
from renderers.yamltext import GENERATED, dump


def render_web_config(hashes: Mapping[str, str]) -> str:
    """`hashes` maps each user to its bcrypt hash (see renderers.auth)."""
    document = {
        "tls_server_config": {
            "cert_file": paths.TLS_CERT,
            "key_file": paths.TLS_KEY,
            # TLS 1.2 is the floor: 1.0/1.1 lack AEAD ciphers and are refused by current clients anyway.
            "min_version": "TLS12",
        },
        "http_server_config": {
            # HSTS is set by the proxy for browsers; internal clients pin the stack CA instead.
            "headers": {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "deny"},
        },
        "basic_auth_users": {user: hashes[user] for user in sorted(hashes)},
    }
    return dump(document, GENERATED)
