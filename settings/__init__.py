"""The one place that reads stack configuration.

`load()` turns `pulumi.Config("ngx-monitoring")` into a frozen `Settings`; `parse()` does the same for a
plain mapping (tests, synth). Every check happens here, and a bad value raises one SettingsError whose
message names the key and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from settings import capacity, scrape, validators as v
from settings.backup import repository_need_bytes
from settings.errors import PROJECT, SettingsError
from settings.loki import check_loki
from settings.model import PrometheusSettings, Settings
from settings.remote_write import check_long_term_store, check_remote_write
from settings.schema import Secret, parse_section, specs, walk

__all__ = ["PROJECT", "Secret", "Settings", "SettingsError", "load", "parse", "secret_paths", "top_level_keys"]

# Prometheus counts WAL and head chunks against retention.size only loosely; keep this share of the
# volume free so compaction never hits a full disk.
STORAGE_HEADROOM = 0.15
# prometheus.latencyEvaluationInterval at most 1m (or evaluationInterval, when that is longer): an alert
# pays its group's interval twice (becoming active, then firing), so HighResponseTime (for 5m) waits up
# to 2 x (1m - 15s) = 90s more than at the dev evaluation interval.
LATENCY_EVALUATION_MAX_MS = 60_000


def top_level_keys() -> list[str]:
    return [spec.key for _, spec in specs(Settings)]


def secret_paths() -> list[str]:
    return [path for path, spec, _ in walk(Settings) if spec.secret]


def parse(raw: Mapping[str, Any], *, stack: str, secret_keys: Iterable[str] = ()) -> Settings:
    """Validate a mapping of top-level config keys (values already decoded from JSON)."""
    platform = v.one_of("docker", "kubernetes")(raw.get("platform"), "platform") if raw.get("platform") is not None else None
    if platform is None:
        raise SettingsError("platform", "is required: set it to docker (stack dev) or kubernetes (stack prod) with `pulumi config set platform docker`")
    _check_secrets_are_secret(raw, set(secret_keys))
    settings = parse_section(Settings, raw, "", platform)
    if settings.environment is None:
        settings = replace(settings, environment=v.k8s_name(stack, "environment"))
    _check_consistency(settings)
    # The estimate reads validated settings; a volume it cannot fit is a settings error.
    capacity.estimate(settings).raise_errors()
    return settings


def load() -> Settings:
    """Read the current stack's configuration (the only call of pulumi.Config in the program)."""
    import pulumi
    from pulumi.runtime.config import is_config_secret

    config = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {}
    for _, spec in specs(Settings):
        key = spec.key
        value = config.get_object(key) if spec.section is not None else config.get(key)
        if value is not None:
            raw[key] = value
    secret_keys = [key for key in top_level_keys() if is_config_secret(f"{PROJECT}:{key}")]
    try:
        return parse(raw, stack=pulumi.get_stack(), secret_keys=secret_keys)
    except SettingsError as err:
        # RunError is reported by `pulumi preview/up` as its message alone, without a traceback.
        raise pulumi.RunError(str(err)) from None


def _check_secrets_are_secret(raw: Mapping[str, Any], secret_keys: set[str]) -> None:
    for path in secret_paths():
        top, *rest = path.split(".")
        for where, node in _nodes(raw.get(top), rest, top):
            if node is not None and top not in secret_keys:
                raise SettingsError(where, f"is a credential stored in plain text; store it encrypted with `pulumi config set --path --secret {where} <value>`")


def _nodes(node: Any, parts: list[str], at: str) -> Iterable[tuple[str, Any]]:
    """(concrete key path, value) of a key path whose `name[]` parts step into every item of a list."""
    if not parts:
        yield at, node
        return
    part, *rest = parts
    name = part.removesuffix("[]")
    child = node.get(name) if isinstance(node, Mapping) else None
    if part.endswith("[]"):
        for index, item in enumerate(child if isinstance(child, list) else []):
            yield from _nodes(item, rest, f"{at}.{name}[{index}]")
    else:
        yield from _nodes(child, rest, f"{at}.{name}")


def _latency_longest_ms(prom: PrometheusSettings) -> int:
    """The longest prometheus.latencyEvaluationInterval: 1m, or evaluationInterval when that is longer."""
    return max(v.duration_ms(prom.evaluation_interval), LATENCY_EVALUATION_MAX_MS)


def latency_evaluation_interval(settings: Settings) -> str:
    """The response-time group's interval: prometheus.latencyEvaluationInterval, or, unset, twice
    evaluationInterval up to the longest allowed (one place for the default and the check above)."""
    prom = settings.prometheus
    if prom.latency_evaluation_interval:
        return prom.latency_evaluation_interval
    return f"{min(2 * v.duration_ms(prom.evaluation_interval), _latency_longest_ms(prom)) // 1000}s"


def _check_consistency(s: Settings) -> None:
    prom = s.prometheus
    retention = v.prometheus_size_bytes(prom.retention_size)
    volume = v.volume_size_bytes(prom.storage_size)
    if retention * (1 + STORAGE_HEADROOM) > volume:
        need_gib = -(-retention * (1 + STORAGE_HEADROOM) // 2**30)
        raise SettingsError(
            "prometheus.retentionSize",
            f"{prom.retention_size} does not fit in storageSize {prom.storage_size} with {STORAGE_HEADROOM:.0%} headroom "
            f"for WAL and compaction; lower retentionSize or raise prometheus.storageSize to at least {need_gib:.0f}Gi",
        )
    if v.duration_ms(prom.evaluation_interval) < v.duration_ms(prom.scrape_interval):
        raise SettingsError(
            "prometheus.evaluationInterval",
            f"{prom.evaluation_interval} is shorter than scrapeInterval {prom.scrape_interval}; rules would evaluate the same samples twice, set it to at least {prom.scrape_interval}",
        )
    latency = prom.latency_evaluation_interval
    every = v.duration_ms(prom.evaluation_interval)
    longest = _latency_longest_ms(prom)
    if latency is not None and not every <= v.duration_ms(latency) <= longest:
        raise SettingsError(
            "prometheus.latencyEvaluationInterval",
            f"{latency} is outside evaluationInterval {prom.evaluation_interval} to {'1m' if longest == LATENCY_EVALUATION_MAX_MS else prom.evaluation_interval}; "
            "response-time recordings evaluated more often than the other rules cost the most for nothing, less often delay "
            "HighResponseTime; set a value in that range or unset it",
        )
    if v.duration_ms(prom.scrape_interval) > 120_000:
        raise SettingsError("prometheus.scrapeInterval", f"{prom.scrape_interval} is longer than 2m; series go stale between scrapes, use 2m or less")
    scrape.check(s)
    _check_tls(s)
    email = s.receivers.email
    if email is not None and email.password is not None and email.username is None:
        raise SettingsError("receivers.email.username", "is required when receivers.email.password is set")
    hours = s.alerting.business_hours
    for key, value in (("start", hours.start), ("end", hours.end)):
        if not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", value):
            raise SettingsError(f"alerting.businessHours.{key}", f"{value!r} is not a time of day; write it as HH:MM, e.g. 09:00")
    if hours.start >= hours.end:
        raise SettingsError("alerting.businessHours.end", f"{hours.end} is not after start {hours.start}; working hours must not wrap midnight")
    days = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    if not re.match(rf"^{days}(:{days})?(,{days}(:{days})?)*$", hours.weekdays):
        raise SettingsError("alerting.businessHours.weekdays", f"{hours.weekdays!r} is not a weekday range; write it like monday:friday")
    if s.platform == "docker":
        for key, replicas in (("prometheus.replicas", prom.replicas), ("alertmanager.replicas", s.alertmanager.replicas)):
            if replicas != 1:
                raise SettingsError(
                    key, f"is {replicas}, but a Docker stack runs one replica per service; set it to 1 or use platform kubernetes for high availability"
                )
    if s.platform == "kubernetes" and s.kubernetes.namespace == s.kubernetes.host_namespace:
        raise SettingsError(
            "kubernetes.hostNamespace",
            "must differ from kubernetes.namespace: host-access pods get a privileged exception that the stack namespace must not share",
        )
    _check_routes(s)
    _check_backup(s)
    check_loki(s.loki, s.platform)
    check_remote_write(s.prometheus.remote_write)
    check_long_term_store(s.grafana.long_term_store)


def _check_routes(s: Settings) -> None:
    """What Alertmanager needs of route timings to notify as they say (it only logs a warning)."""
    retention = s.alertmanager.retention
    routes = s.alerting.routes
    for name, timing in (("oncallPager", routes.oncall_pager), ("opsEmail", routes.ops_email), ("heartbeat", routes.heartbeat)):
        key = f"alerting.routes.{name}"
        if v.duration_ms(timing.repeat_interval) < v.duration_ms(timing.group_interval):
            raise SettingsError(
                f"{key}.repeatInterval",
                f"{timing.repeat_interval} is shorter than groupInterval {timing.group_interval}; "
                "a group is only re-sent at a groupInterval tick, set it to at least that",
            )
        if v.duration_ms(timing.repeat_interval) > v.duration_ms(retention):
            raise SettingsError(
                f"{key}.repeatInterval",
                f"{timing.repeat_interval} is longer than alertmanager.retention {retention}; the notification "
                "log forgets a notification before its repeat and re-sends it early, lower it or raise alertmanager.retention",
            )
    heartbeat = s.receivers.heartbeat
    if heartbeat is not None:
        # Alertmanager re-sends at the first groupInterval tick after repeatInterval has passed.
        gap = v.duration_ms(routes.heartbeat.repeat_interval) + v.duration_ms(routes.heartbeat.group_interval)
        if gap >= v.duration_ms(heartbeat.timeout):
            raise SettingsError(
                "alerting.routes.heartbeat.repeatInterval",
                f"{routes.heartbeat.repeat_interval} plus groupInterval {routes.heartbeat.group_interval} is not shorter than "
                f"receivers.heartbeat.timeout {heartbeat.timeout}; the dead man's switch would alarm between two pings, "
                "lower them or raise the timeout at the switch and in receivers.heartbeat.timeout",
            )


def _check_tls(s: Settings) -> None:
    """Exactly one source of the public certificate (trust.py's TLS modes): two would leave which one
    users see to an order of precedence nobody wrote down."""
    tls, k8s = s.tls, s.kubernetes
    if (tls.certificate is None) != (tls.private_key is None):
        missing = "tls.privateKey" if tls.private_key is None else "tls.certificate"
        raise SettingsError(
            missing,
            "is required when the other half of the provided certificate is set; set both tls.certificate and tls.privateKey, or neither for a self-signed CA",
        )
    if s.platform == "docker":
        for key, value in (("kubernetes.clusterIssuer", k8s.cluster_issuer), ("kubernetes.tlsSecretName", k8s.tls_secret_name)):
            if value:
                raise SettingsError(
                    key,
                    "applies only on platform kubernetes (a Docker stack has no Ingress); unset it, and provide tls.certificate and tls.privateKey to serve your own certificate",
                )
    if k8s.cluster_issuer and k8s.tls_secret_name:
        raise SettingsError("kubernetes.tlsSecretName", "and kubernetes.clusterIssuer are both set, but the Ingress serves one certificate; unset one of them")
    if tls.certificate is not None and (k8s.cluster_issuer or k8s.tls_secret_name):
        other = "kubernetes.clusterIssuer" if k8s.cluster_issuer else "kubernetes.tlsSecretName"
        raise SettingsError(
            "tls.certificate", f"and {other} are both set, but the Ingress serves one certificate; unset tls.certificate and tls.privateKey, or {other}"
        )
    elsewhere = tls.certificate is not None or k8s.cluster_issuer or k8s.tls_secret_name
    if tls.ca_certificate is not None and not elsewhere:
        raise SettingsError(
            "tls.caCertificate",
            "is set, but the stack's own CA issues the public certificate; it is the private CA of tls.certificate "
            "(or, on Kubernetes, of the kubernetes.clusterIssuer or kubernetes.tlsSecretName certificate): set that too, or unset tls.caCertificate",
        )


def _check_backup(s: Settings) -> None:
    backup = s.backup
    if backup.target == "s3" and backup.s3 is None:
        raise SettingsError(
            "backup.s3.endpoint", "is required with backup.target s3; set backup.s3.endpoint, bucket, accessKeyId and (with --secret) secretAccessKey"
        )
    if backup.target == "pvc":
        need = repository_need_bytes(s.prometheus.replicas, s.prometheus.retention_size, s.prometheus.retention_time, backup.keep, backup.schedule)
        if need > v.volume_size_bytes(backup.storage_size):
            need_gib = -(-need // 2**30)
            raise SettingsError(
                "backup.storageSize",
                f"{backup.storage_size} cannot hold keep={backup.keep} restic snapshots of {s.prometheus.replicas} Prometheus replica(s) of up to "
                f"prometheus.retentionSize {s.prometheus.retention_size} each ({need_gib}Gi, see docs/operations.md#capacity); "
                f"raise backup.storageSize to at least {need_gib}Gi or lower backup.keep",
            )
