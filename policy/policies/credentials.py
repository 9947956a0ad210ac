"""Credentials never in plain sight (environment, command lines, ConfigMaps), and Grafana never with
its default admin/admin.

Props arrive with secrets already revealed (that is what the policy engine hands a pack), so "is
this a credential?" is decided by the shape of names and values, never by a secret marker.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .base import (
    DEFAULT_CONFIG,
    DOCKER_CONTAINER,
    GRAFANA_PROVIDER,
    K8S_CONFIG_MAP,
    K8S_CRON_JOB,
    K8S_POD,
    as_list,
    as_map,
    docker_env,
    docker_labels,
    docker_runs,
    get,
    k8s_containers,
    k8s_plain_env,
    pod_spec,
)

_CREDENTIAL_WORDS = {"PASSWORD", "PASSWD", "PASS", "PASSPHRASE", "TOKEN", "SECRET", "APIKEY", "KEY", "WEBHOOK", "CREDENTIALS", "CREDENTIAL"}


def credential_name(name: str) -> bool:
    """PASSWORD, SMTP_AUTH_TOKEN, GF_SECURITY_SECRET_KEY, SLACK_WEBHOOK_URL, ... (whole words only,
    so CHECK_KEYS or BYPASS_CACHE are not credentials)."""
    return any(word in _CREDENTIAL_WORDS for word in re.split(r"[^A-Z0-9]+", name.upper()))


def _file_reference_name(name: str) -> bool:
    """`*_FILE` / `*__FILE`: the variable holds a path and the program reads the credential from it."""
    return name.upper().endswith("_FILE")


# A value that is an absolute path names where a credential is (GF_SERVER_CERT_KEY=/etc/ngx/tls/tls.key).
_PATH_VALUE = re.compile(r"^/[A-Za-z0-9._/-]+$")


def _env_violations(env: Mapping[str, str], where: str) -> list[str]:
    found = []
    for name, value in sorted(env.items()):
        if not credential_name(name) or not isinstance(value, str) or value == "":
            continue
        if _PATH_VALUE.match(value):
            continue
        found.append(
            f"{where}: environment variable {name} holds a credential in plain text; mount it as a file and set {name}__FILE (or use a Secret reference)"
        )
    return found


_FLAG = re.compile(r"^--?(?P<flag>[A-Za-z0-9_.-]+)=(?P<value>.+)$")
_FLAG_WORDS = {"password", "passwd", "token", "secret", "credentials"}


def _arg_violations(args: Sequence[Any], where: str) -> list[str]:
    found = []
    for arg in args:
        match = _FLAG.match(arg) if isinstance(arg, str) else None
        if not match:
            continue
        flag = match["flag"].lower()
        words = set(re.split(r"[^a-z0-9]+", flag))
        if words & _FLAG_WORDS and not words & {"file", "path", "dir"}:
            found.append(f"{where}: argument --{match['flag']} passes a credential on the command line (visible in the process list); pass a file instead")
    return found


# Shapes of credentials inside a file's text.
_BCRYPT = re.compile(r"\$2[aby]?\$\d\d\$[./A-Za-z0-9]{53}")
_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----")
_SLACK_WEBHOOK = re.compile(r"https://hooks\.slack\.com/services/\S+")
_URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")
_ASSIGNMENT = re.compile(
    r"""^\s*["']?(?P<key>[A-Za-z0-9_.-]*(?:password|passwd|secret|token|api_?key|routing_key|service_key|webhook_url|auth_key|private_key)[A-Za-z0-9_.-]*)["']?"""
    r"""\s*[:=]\s*(?P<value>.*?)\s*,?\s*$""",
    re.IGNORECASE | re.MULTILINE,
)
# Keys that name a setting about a credential rather than the credential itself.
_SAFE_KEY_SUFFIXES = (
    "_file",
    "_files",
    "_path",
    "_dir",
    "_enabled",
    "_header",
    "_type",
    "_name",
    "_ttl",
    "_interval",
    "_timeout",
    "_length",
    "_duration",
    "_url_file",
    "_policy",
    "_rotation_interval_minutes",
)
_SAFE_VALUE = re.compile(r"""^(?:|""|''|null|~|true|false|\d+(?:\.\d+)?|\$__file\{[^}]+\}|\$__vault\{[^}]+\}|\[secret\])$""", re.IGNORECASE)


def credential_shapes(text: str) -> list[str]:
    """What in `text` looks like a credential: bcrypt hashes, private keys, webhook URLs, passwords in
    URLs and `password: value` assignments whose value is not a file reference."""
    found = []
    if _BCRYPT.search(text):
        found.append("a bcrypt password hash")
    if _PRIVATE_KEY.search(text):
        found.append("a PEM private key")
    if _SLACK_WEBHOOK.search(text):
        found.append("a Slack webhook URL")
    if _URL_PASSWORD.search(text):
        found.append("a URL with a password")
    for match in _ASSIGNMENT.finditer(text):
        key, value = match["key"], match["value"].strip().strip("\"'")
        if key.lower().endswith(_SAFE_KEY_SUFFIXES) or _SAFE_VALUE.match(value):
            continue
        found.append(f"a value for {key}")
    return sorted(set(found))


def check_no_plaintext_secrets(
    resource_type: str, props: Mapping[str, Any], options: Mapping[str, Any], config: Mapping[str, str] = DEFAULT_CONFIG
) -> list[str]:
    found: list[str] = []
    if resource_type == DOCKER_CONTAINER:
        found += _env_violations(docker_env(props), "container")
        found += _arg_violations(as_list(props.get("command")) + as_list(props.get("entrypoints")), "container")
    elif resource_type == K8S_CONFIG_MAP:
        for section in ("data", "binaryData"):
            for key, value in sorted(as_map(props.get(section)).items()):
                if not isinstance(value, str):
                    continue
                if credential_name(key) and not _file_reference_name(key) and value and not _PATH_VALUE.match(value):
                    found.append(f"{section}.{key}: a credential-named key in a ConfigMap; put it in a Secret")
                shapes = credential_shapes(value)
                if shapes:
                    found.append(f"{section}.{key} holds {', '.join(shapes)}; put credentials in a Secret, not a ConfigMap")
    else:
        pod = pod_spec(resource_type, props)
        if pod is not None:
            for container in k8s_containers(pod):
                where = f"container {container.get('name')}"
                found += _env_violations(k8s_plain_env(container), where)
                found += _arg_violations(as_list(container.get("args")) + as_list(container.get("command")), where)
    return found


def plain_fields(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(path, text) of every field a credential must never reach: environment variables, command
    lines, ConfigMap data, labels and annotations. Tests search these for seeded secrets."""

    def metadata(prefix: str, meta: Any) -> Iterator[tuple[str, str]]:
        for kind in ("labels", "annotations"):
            for key, value in as_map(get(meta, kind)).items():
                yield f"{prefix}{kind}.{key}", f"{key}={value}"

    yield from metadata("metadata.", props.get("metadata"))
    if resource_type == DOCKER_CONTAINER:
        for name, value in docker_env(props).items():
            yield f"envs.{name}", f"{name}={value}"
        for key in ("command", "entrypoints"):
            for index, arg in enumerate(as_list(props.get(key))):
                yield f"{key}[{index}]", str(arg)
        for label, value in docker_labels(props).items():
            yield f"labels.{label}", f"{label}={value}"
    elif resource_type == K8S_CONFIG_MAP:
        for section in ("data", "binaryData"):
            for key, value in as_map(props.get(section)).items():
                yield f"{section}.{key}", f"{key}\n{value}"
    pod = pod_spec(resource_type, props)
    if pod is not None:
        if resource_type != K8S_POD:
            template = get(props, "spec", "template") if resource_type != K8S_CRON_JOB else get(props, "spec", "jobTemplate", "spec", "template")
            yield from metadata("template.metadata.", get(template, "metadata"))
        for container in k8s_containers(pod):
            name = container.get("name")
            for item in as_list(container.get("env")):
                if isinstance(item, Mapping) and "value" in item:
                    yield f"container {name}.env.{item.get('name')}", f"{item.get('name')}={item.get('value')}"
            for key in ("args", "command"):
                for index, arg in enumerate(as_list(container.get(key))):
                    yield f"container {name}.{key}[{index}]", str(arg)


# --- Grafana never with default credentials ----------------------------------------------------

_GRAFANA_IMAGE = re.compile(r"(^|/)grafana/grafana(-oss|-enterprise)?([:@]|$)|(^|/)grafana(-oss|-enterprise)?:")
_INI_SECTION = re.compile(r"^\s*\[(?P<section>[^\]]+)\]\s*$")
_INI_VALUE = re.compile(r"^\s*(?P<key>[A-Za-z0-9_.]+)\s*=\s*(?P<value>.*?)\s*$")
_DEFAULT_PASSWORD = "admin"


def grafana_ini_security(text: str) -> dict[str, str]:
    """The [security] section of a grafana.ini (only what the check needs)."""
    section, values = None, {}
    for line in text.splitlines():
        if line.lstrip().startswith((";", "#")):
            continue
        header = _INI_SECTION.match(line)
        if header:
            section = header["section"].strip()
            continue
        pair = _INI_VALUE.match(line)
        if pair and section == "security":
            values[pair["key"]] = pair["value"].strip().strip("\"'")
    return values


def _ini_violations(text: str, where: str) -> list[str]:
    security = grafana_ini_security(text)
    if "admin_password" in security and security["admin_password"] in ("", _DEFAULT_PASSWORD):
        return [f"{where}: grafana.ini sets admin_password to {security['admin_password']!r}, Grafana's default; use $__file{{...}} with a generated password"]
    return []


def _grafana_container_violations(env: Mapping[str, str], secret_env: set[str], where: str) -> list[str]:
    password = env.get("GF_SECURITY_ADMIN_PASSWORD")
    if password is not None and password in ("", _DEFAULT_PASSWORD):
        return [f"{where}: GF_SECURITY_ADMIN_PASSWORD is {password!r}, Grafana's default"]
    if password is None and "GF_SECURITY_ADMIN_PASSWORD" not in secret_env and not env.get("GF_SECURITY_ADMIN_PASSWORD__FILE"):
        return [
            f"{where}: no admin password is configured, so Grafana would start with admin/admin; "
            "set GF_SECURITY_ADMIN_PASSWORD__FILE to a generated password file"
        ]
    return []


def _is_grafana(image: Any, env_names: Sequence[str]) -> bool:
    return (isinstance(image, str) and bool(_GRAFANA_IMAGE.search(image))) or any(name.startswith("GF_") for name in env_names)


def check_grafana_credentials(
    resource_type: str, props: Mapping[str, Any], options: Mapping[str, Any], config: Mapping[str, str] = DEFAULT_CONFIG
) -> list[str]:
    found = []
    if resource_type == GRAFANA_PROVIDER:
        auth = props.get("auth")
        if isinstance(auth, str) and auth.strip() in (f"admin:{_DEFAULT_PASSWORD}", f"{_DEFAULT_PASSWORD}:{_DEFAULT_PASSWORD}"):
            found.append("the Grafana provider logs in as admin/admin")
    elif resource_type == DOCKER_CONTAINER:
        for upload in as_list(props.get("uploads")):
            if isinstance(upload, Mapping) and str(upload.get("file", "")).endswith("grafana.ini") and isinstance(upload.get("content"), str):
                found += _ini_violations(upload["content"], f"upload {upload.get('file')}")
        env = docker_env(props)
        if docker_runs(props) and _is_grafana(props.get("image"), list(env)):
            found += _grafana_container_violations(env, set(), "container")
    elif resource_type == K8S_CONFIG_MAP:
        for key, value in sorted(as_map(props.get("data")).items()):
            if key.endswith(".ini") and isinstance(value, str):
                found += _ini_violations(value, f"data.{key}")
    else:
        pod = pod_spec(resource_type, props)
        for container in k8s_containers(pod or {}):
            all_env = [item for item in as_list(container.get("env")) if isinstance(item, Mapping)]
            if not _is_grafana(container.get("image"), [str(item.get("name")) for item in all_env]):
                continue
            from_secrets = {item.get("name") for item in all_env if get(item, "valueFrom", "secretKeyRef") is not None}
            found += _grafana_container_violations(k8s_plain_env(container), from_secrets, f"container {container.get('name')}")
    return found
