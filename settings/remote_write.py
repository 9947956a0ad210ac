"""Remote write: the long-term stores Prometheus copies every sample to (`prometheus.remoteWrite`), and
the long-term store Grafana may query (`grafana.longTermStore`).

Each endpoint's credentials are Secrets that reach Prometheus as files (renderers/remote_write.py names
them); the checks here are the ones Prometheus would only make at load time, or never (plaintext
credentials), turned into one-line errors that name the key.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from settings import validators as v
from settings.errors import SettingsError
from settings.schema import Secret, section, setting

# Headers Prometheus sets itself and refuses in `headers` (config.reservedHeaders of prometheus/prometheus
# storage/remote); authentication has its own keys here.
RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "host",
        "content-encoding",
        "content-length",
        "content-type",
        "user-agent",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "www-authenticate",
        "accept-encoding",
        "x-prometheus-remote-write-version",
        "x-prometheus-remote-read-version",
        "x-prometheus-scrape-timeout-seconds",
        # Set by SigV4 signing.
        "x-amz-date",
        "x-amz-security-token",
        "x-amz-content-sha256",
    }
)
_HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_ENDPOINT_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$")


def endpoint_name(value: object, key: str) -> str:
    """Also names the endpoint's credential files and the `remote_name` label of its metrics."""
    name = v.text(value, key)
    if not _ENDPOINT_NAME_RE.match(name):
        raise SettingsError(key, f"{value!r} is not an endpoint name; use 1-32 lower-case letters, digits and '-', e.g. mimir")
    return name


def text_list(value: object, key: str) -> tuple[str, ...]:
    items = value if isinstance(value, list | tuple) else [value]
    return tuple(v.text(item, key) for item in items)


def regex_list(value: object, key: str) -> tuple[str, ...]:
    """Metric-name regexes (anchored by Prometheus, RE2 syntax); a Python compile catches the typos."""
    items = text_list(value, key)
    for item in items:
        try:
            re.compile(item)
        except re.error as err:
            raise SettingsError(key, f"{item!r} is not a regular expression ({err}); write a metric-name regex like ngx_.*") from None
    if not items:
        raise SettingsError(key, "must hold at least one metric-name regex, or be left unset")
    return items


def headers(value: object, key: str) -> tuple[tuple[str, str], ...]:
    """(name, value) pairs, sorted: a tuple keeps the settings hashable."""
    if not isinstance(value, Mapping) or not value:
        raise SettingsError(key, "must be an object of header name -> value, e.g. {X-Scope-OrgID: ngx}")
    checked = {}
    for name, text in sorted(value.items()):
        if not isinstance(name, str) or not _HEADER_NAME_RE.match(name):
            raise SettingsError(f"{key}.{name}", "is not an HTTP header name")
        if name.lower() in RESERVED_HEADERS:
            raise SettingsError(f"{key}.{name}", "is set by Prometheus itself; use username/password, bearerToken, sigv4 or oauth2 for authentication")
        checked[name] = v.text(text, f"{key}.{name}")
    return tuple(checked.items())


@dataclass(frozen=True)
class RemoteWriteQueue:
    """queue_config. The defaults are sized for this stack: a replica ingests about 1-2k samples/s
    (capacity.series at a 15s scrape), which one shard sends in about one request a second."""

    # Samples buffered per shard; Prometheus advises 3-10x maxSamplesPerSend.
    capacity: int = setting("capacity", v.positive_int, "Samples buffered per shard (queue_config.capacity); 3-10x maxSamplesPerSend.", 10000)
    # Prometheus's default is 50. Catching up after an outage, 10 shards x 2000 samples x a few requests
    # a second replay a two-hour WAL backlog of this stack in minutes, while memory stays bounded at
    # capacity x maxShards samples (100k, a few MB) and the store sees at most 10 connections per replica.
    max_shards: int = setting("maxShards", v.positive_int, "Most parallel senders (queue_config.max_shards).", 10)
    min_shards: int = setting("minShards", v.positive_int, "Senders at start (queue_config.min_shards).", 1)
    # Prometheus's default; Mimir and Grafana Cloud recommend 2000 (about 100 KB compressed per request).
    max_samples_per_send: int = setting("maxSamplesPerSend", v.positive_int, "Samples per request (queue_config.max_samples_per_send).", 2000)
    # A shard that has not filled a request sends what it has after this: the store is at most this late.
    batch_send_deadline: str = setting(
        "batchSendDeadline", v.duration, "Longest wait before a partial request is sent (queue_config.batch_send_deadline).", "5s"
    )
    min_backoff: str = setting("minBackoff", v.duration, "First retry delay after a recoverable error (queue_config.min_backoff).", "30ms")
    # Prometheus's default is 5s; 30s spares a store that is restarting from a retry storm of every shard.
    max_backoff: str = setting("maxBackoff", v.duration, "Longest retry delay, doubled from minBackoff (queue_config.max_backoff).", "30s")


@dataclass(frozen=True)
class SigV4:
    region: str = setting("region", v.text, "AWS region of the workspace (Amazon Managed Service for Prometheus).")
    access_key: str | None = setting("accessKey", v.text, "Access key ID (required: Prometheus has no workload identity in this stack).", None)
    secret_key: Secret | None = setting("secretKey", v.text, "Secret access key of accessKey (required).", None, secret=True)
    role_arn: str | None = setting("roleArn", v.text, "Role to assume for signing.", None)


@dataclass(frozen=True)
class OAuth2:
    client_id: str = setting("clientId", v.text, "OAuth2 client ID (client-credentials grant).")
    client_secret: Secret = setting("clientSecret", v.text, "OAuth2 client secret.", secret=True)
    token_url: str = setting("tokenUrl", v.https_url, "Token endpoint (https).")
    scopes: tuple[str, ...] | None = setting("scopes", text_list, "Scopes to request.", None)


@dataclass(frozen=True)
class RemoteWriteEndpoint:
    name: str = setting("name", endpoint_name, "Endpoint name: remote_name of its metrics and alerts, and the name of its credential files.")
    url: str = setting("url", v.url, "Remote-write URL of the store, e.g. https://mimir.example.com/api/v1/push.")
    username: str | None = setting("username", v.text, "Basic-auth user (with password).", None)
    password: Secret | None = setting("password", v.text, "Basic-auth password (file password_file).", None, secret=True)
    bearer_token: Secret | None = setting(
        "bearerToken", v.text, "Bearer token (file credentials_file); not with basic auth, sigv4 or oauth2.", None, secret=True
    )
    sigv4: SigV4 | None = section("sigv4", SigV4, "AWS Signature V4 signing instead of basic auth or a token.", optional=True)
    oauth2: OAuth2 | None = section("oauth2", OAuth2, "OAuth2 client credentials instead of basic auth or a token.", optional=True)
    headers: tuple[tuple[str, str], ...] | None = setting("headers", headers, "Extra HTTP headers, e.g. X-Scope-OrgID for a Mimir tenant.", None)
    keep_metrics: tuple[str, ...] | None = setting(
        "keepMetrics", regex_list, "Only metric names matching one of these regexes are sent (write_relabel_configs keep on __name__).", None
    )
    drop_metrics: tuple[str, ...] | None = setting(
        "dropMetrics", regex_list, "Metric names matching one of these regexes are not sent (write_relabel_configs drop, after keepMetrics).", None
    )
    queue: RemoteWriteQueue = section("queue", RemoteWriteQueue, "Queue tuning.")
    ca_certificate: str | None = setting(
        "caCertificate", v.pem("CERTIFICATE"), "PEM of the private CA of the store's certificate (tls_config.ca_file); unset: the system roots.", None
    )
    allow_plaintext_credentials: bool = setting(
        "allowPlaintextCredentials", v.flag, "Allow credentials over an http:// URL (readable on the wire); only for a store on a trusted link.", False
    )

    def auth_methods(self) -> list[str]:
        found = [("username", self.username is not None or self.password is not None), ("bearerToken", self.bearer_token is not None)]
        found += [("sigv4", self.sigv4 is not None), ("oauth2", self.oauth2 is not None)]
        return [name for name, present in found if present]


@dataclass(frozen=True)
class LongTermStore:
    """Grafana's datasource for the store the remote writes go to (its Prometheus-compatible query API)."""

    url: str = setting("url", v.url, "Prometheus-compatible query URL of the long-term store, e.g. https://mimir.example.com/prometheus.")
    username: str | None = setting("username", v.text, "Basic-auth user of the query API.", None)
    password: Secret | None = setting("password", v.text, "Basic-auth password of the query API.", None, secret=True)
    tenant: str | None = setting("tenant", v.text, "X-Scope-OrgID tenant to query (Mimir, Cortex).", None)


def url_port(url: str) -> int:
    parsed = urlparse(url)
    return parsed.port or (443 if parsed.scheme == "https" else 80)


def url_ip(url: str) -> str | None:
    """The URL's host when it is an IP address (a NetworkPolicy can then name it), else None."""
    try:
        return str(ipaddress.ip_address(urlparse(url).hostname or ""))
    except ValueError:
        return None


def check_remote_write(endpoints: tuple[RemoteWriteEndpoint, ...], key: str = "prometheus.remoteWrite") -> None:
    """What one endpoint's keys cannot check alone: auth methods, plaintext credentials, unique names."""
    seen: set[str] = set()
    for index, endpoint in enumerate(endpoints):
        at = f"{key}[{index}]"
        if endpoint.name in seen:
            raise SettingsError(f"{at}.name", f"{endpoint.name!r} names two endpoints; give each a distinct name")
        seen.add(endpoint.name)
        methods = endpoint.auth_methods()
        if len(methods) > 1:
            raise SettingsError(f"{at}.{methods[1]}", f"and {methods[0]} are both set, but an endpoint authenticates one way; keep one of them")
        if (endpoint.username is None) != (endpoint.password is None):
            missing = "password" if endpoint.password is None else "username"
            raise SettingsError(f"{at}.{missing}", "is required with basic auth; set both username and (with --secret) password")
        sigv4 = endpoint.sigv4
        # Static keys only: the stack gives Prometheus no cloud identity (no workload-identity annotation on
        # its ServiceAccount, and its NetworkPolicy keeps it from the instance metadata endpoint).
        if sigv4 is not None and (sigv4.access_key is None or sigv4.secret_key is None):
            missing = "accessKey" if sigv4.access_key is None else "secretKey"
            raise SettingsError(
                f"{at}.sigv4.{missing}", "is required: set accessKey and (with --secret) secretKey; Prometheus has no workload identity in this stack"
            )
        if methods and urlparse(endpoint.url).scheme == "http" and not endpoint.allow_plaintext_credentials:
            raise SettingsError(
                f"{at}.url",
                f"is plain http but the endpoint sends {methods[0]} credentials, readable on the wire; use https, or set allowPlaintextCredentials true for a trusted link",
            )
        if endpoint.queue.min_shards > endpoint.queue.max_shards:
            raise SettingsError(f"{at}.queue.minShards", f"{endpoint.queue.min_shards} is above maxShards {endpoint.queue.max_shards}; lower it")
        if endpoint.queue.capacity < endpoint.queue.max_samples_per_send:
            raise SettingsError(
                f"{at}.queue.capacity",
                f"{endpoint.queue.capacity} is below maxSamplesPerSend {endpoint.queue.max_samples_per_send}; a request could never fill, raise it to 3-10x",
            )
        if v.duration_ms(endpoint.queue.min_backoff) > v.duration_ms(endpoint.queue.max_backoff):
            raise SettingsError(f"{at}.queue.minBackoff", f"{endpoint.queue.min_backoff} is longer than maxBackoff {endpoint.queue.max_backoff}; lower it")


def check_long_term_store(store: LongTermStore | None, key: str = "grafana.longTermStore") -> None:
    if store is None:
        return
    if (store.username is None) != (store.password is None):
        missing = "password" if store.password is None else "username"
        raise SettingsError(f"{key}.{missing}", "is required with basic auth; set both username and (with --secret) password")
    if store.password is not None and urlparse(store.url).scheme == "http":
        raise SettingsError(f"{key}.url", "is plain http but Grafana would send the password on it; use https")
