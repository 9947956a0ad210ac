"""The `remote_write` section of prometheus.yml, and the credential files it names.

No credential is ever written into prometheus.yml: basic auth reads `password_file`, a bearer token
`credentials_file`, OAuth2 `client_secret_file`. SigV4 has no file field in Prometheus, so static AWS
keys go into one shared-credentials file (a profile per endpoint) that the AWS SDK inside Prometheus
reads through AWS_SHARED_CREDENTIALS_FILE, a path, not a secret. The deployment places the files from
`remote_write_secrets` under renderers.paths.SECRETS_DIR, next to the other credentials.
"""

from __future__ import annotations

from typing import Any

from renderers import paths
from settings import Secret, Settings
from settings.remote_write import RemoteWriteEndpoint

AWS_CREDENTIALS = "remote-write-aws-credentials"
AWS_CREDENTIALS_ENV = "AWS_SHARED_CREDENTIALS_FILE"


def password_file(endpoint: RemoteWriteEndpoint) -> str:
    return f"remote-write-{endpoint.name}-password"


def bearer_token_file(endpoint: RemoteWriteEndpoint) -> str:
    return f"remote-write-{endpoint.name}-bearer-token"


def client_secret_file(endpoint: RemoteWriteEndpoint) -> str:
    return f"remote-write-{endpoint.name}-oauth2-client-secret"


def ca_file_name(endpoint: RemoteWriteEndpoint) -> str:
    """Config file (not a secret) under the Prometheus config directory."""
    return f"remote-write-{endpoint.name}-ca.crt"


def aws_profile(endpoint: RemoteWriteEndpoint) -> str:
    return f"remote-write-{endpoint.name}"


def _static_sigv4(endpoint: RemoteWriteEndpoint) -> bool:
    return endpoint.sigv4 is not None and endpoint.sigv4.secret_key is not None


def _relabel(endpoint: RemoteWriteEndpoint) -> list[dict[str, Any]]:
    rules = []
    if endpoint.keep_metrics:
        rules.append({"source_labels": ["__name__"], "regex": "|".join(f"(?:{item})" for item in endpoint.keep_metrics), "action": "keep"})
    if endpoint.drop_metrics:
        rules.append({"source_labels": ["__name__"], "regex": "|".join(f"(?:{item})" for item in endpoint.drop_metrics), "action": "drop"})
    return rules


def _auth(endpoint: RemoteWriteEndpoint) -> dict[str, Any]:
    if endpoint.username is not None:
        return {"basic_auth": {"username": endpoint.username, "password_file": paths.secret_file(password_file(endpoint))}}
    if endpoint.bearer_token is not None:
        return {"authorization": {"type": "Bearer", "credentials_file": paths.secret_file(bearer_token_file(endpoint))}}
    if endpoint.oauth2 is not None:
        oauth2 = endpoint.oauth2
        block: dict[str, Any] = {
            "client_id": oauth2.client_id,
            "client_secret_file": paths.secret_file(client_secret_file(endpoint)),
            "token_url": oauth2.token_url,
        }
        if oauth2.scopes:
            block["scopes"] = list(oauth2.scopes)
        return {"oauth2": block}
    if endpoint.sigv4 is not None:
        sigv4: dict[str, Any] = {"region": endpoint.sigv4.region}
        if _static_sigv4(endpoint):
            sigv4["profile"] = aws_profile(endpoint)
        if endpoint.sigv4.role_arn:
            sigv4["role_arn"] = endpoint.sigv4.role_arn
        return {"sigv4": sigv4}
    return {}


def remote_write_config(endpoint: RemoteWriteEndpoint) -> dict[str, Any]:
    queue = endpoint.queue
    block: dict[str, Any] = {"name": endpoint.name, "url": endpoint.url, **_auth(endpoint)}
    if endpoint.headers:
        block["headers"] = dict(endpoint.headers)
    if endpoint.ca_certificate:
        block["tls_config"] = {"ca_file": paths.config_path("prometheus", ca_file_name(endpoint))}
    if relabel := _relabel(endpoint):
        block["write_relabel_configs"] = relabel
    block["queue_config"] = {
        "capacity": queue.capacity,
        "max_shards": queue.max_shards,
        "min_shards": queue.min_shards,
        "max_samples_per_send": queue.max_samples_per_send,
        "batch_send_deadline": queue.batch_send_deadline,
        "min_backoff": queue.min_backoff,
        "max_backoff": queue.max_backoff,
    }
    # Exemplars and native histograms are not sent: the stack stores neither.
    return block


def remote_write_section(settings: Settings) -> dict[str, Any]:
    """{"remote_write": [...]} when endpoints are configured, else {} (prometheus.yml unchanged)."""
    endpoints = settings.prometheus.remote_write
    return {"remote_write": [remote_write_config(endpoint) for endpoint in endpoints]} if endpoints else {}


def remote_write_config_files(settings: Settings) -> dict[str, str]:
    """Bundle key (prometheus/<name>) -> text of each store's CA certificate."""
    return {f"prometheus/{ca_file_name(e)}": e.ca_certificate for e in settings.prometheus.remote_write if e.ca_certificate}


def remote_write_secrets(settings: Settings) -> dict[str, tuple[Secret, ...]]:
    """Secret file name -> the Secret(s) its content is made of; `secret_file_text` joins them (reveal
    them only into an Output.secret)."""
    files: dict[str, tuple[Secret, ...]] = {}
    for endpoint in settings.prometheus.remote_write:
        if endpoint.password is not None:
            files[password_file(endpoint)] = (endpoint.password,)
        if endpoint.bearer_token is not None:
            files[bearer_token_file(endpoint)] = (endpoint.bearer_token,)
        if endpoint.oauth2 is not None:
            files[client_secret_file(endpoint)] = (endpoint.oauth2.client_secret,)
    static = [e for e in settings.prometheus.remote_write if _static_sigv4(e)]
    if static:
        files[AWS_CREDENTIALS] = tuple(e.sigv4.secret_key for e in static)  # type: ignore[union-attr]
    return files


def secret_file_text(settings: Settings, name: str, values: list[str]) -> str:
    """The content of secret file `name` from its revealed values (same order as remote_write_secrets)."""
    if name != AWS_CREDENTIALS:
        return values[0]
    static = [e for e in settings.prometheus.remote_write if _static_sigv4(e)]
    sections = [
        f"[{aws_profile(e)}]\naws_access_key_id = {e.sigv4.access_key}\naws_secret_access_key = {value}\n"  # type: ignore[union-attr]
        for e, value in zip(static, values, strict=True)
    ]
    return "\n".join(sections)


def remote_write_env(settings: Settings) -> dict[str, str]:
    """Environment of the Prometheus container: only the path of the AWS credentials file, when used."""
    return {AWS_CREDENTIALS_ENV: paths.secret_file(AWS_CREDENTIALS)} if AWS_CREDENTIALS in remote_write_secrets(settings) else {}
