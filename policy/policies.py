"""The invariants of ngx-monitoring as pure checks over resources.

Each resource check is `check(resource_type, props, options, config) -> [message, ...]` and each stack
check is `check(resources, config) -> [(resource or None, message), ...]`, over plain dicts in the
shape synth records them (wire names, camelCase). Nothing here imports Pulumi: `adapters.py` wraps
these for the policy engine (`pulumi preview --policy-pack policy`), `offline.py` runs them over
synth's output, and the tests call them directly.

Props arrive with secrets already revealed (that is what the policy engine hands a pack), so "is
this a credential?" is decided by the shape of names and values, never by a secret marker.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

# --- resource types (Pulumi type tokens) -------------------------------------------------------

DOCKER_CONTAINER = "docker:index/container:Container"
DOCKER_VOLUME = "docker:index/volume:Volume"
DOCKER_IMAGE = "docker:index/remoteImage:RemoteImage"
K8S_NAMESPACE = "kubernetes:core/v1:Namespace"
K8S_CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
K8S_SERVICE = "kubernetes:core/v1:Service"
K8S_PVC = "kubernetes:core/v1:PersistentVolumeClaim"
K8S_POD = "kubernetes:core/v1:Pod"
K8S_INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
K8S_NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
K8S_STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
K8S_CRON_JOB = "kubernetes:batch/v1:CronJob"
K8S_WORKLOADS = frozenset({
    "kubernetes:apps/v1:Deployment", K8S_STATEFUL_SET, "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:ReplicaSet", "kubernetes:batch/v1:Job", K8S_CRON_JOB, K8S_POD,
})
GRAFANA_PROVIDER = "pulumi:providers:grafana"

NAME_LABEL = "app.kubernetes.io/name"
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
# The annotation that documents why a namespace is exempt from `restricted` (components/kubernetes/namespaces.py).
EXCEPTION_ANNOTATION = "ngx-monitoring/pod-security-exception"

# Pack configuration: the one service users may reach (topology.ENTRYPOINT) and the one namespace
# where pods may use host paths (settings `kubernetes.hostNamespace`). A test keeps these defaults
# equal to the program's; a stack that changes either passes --policy-pack-config (docs/development.md, "Policy as code").
DEFAULT_CONFIG: Mapping[str, str] = {"entrypoint": "proxy", "hostAccessNamespace": "ngx-monitoring-host"}
CONFIG_SCHEMA: Mapping[str, Mapping[str, Any]] = {
    "entrypoint": {"type": "string", "default": DEFAULT_CONFIG["entrypoint"],
                   "description": "app.kubernetes.io/name of the only service that may be exposed"},
    "hostAccessNamespace": {"type": "string", "default": DEFAULT_CONFIG["hostAccessNamespace"],
                            "description": "the documented namespace whose pods may mount host paths"},
}


class _Unknown:
    """A value the engine cannot know during preview (an output of a resource not yet created)."""

    def __repr__(self) -> str:
        return "<unknown during preview>"


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    props: Mapping[str, Any]
    options: Mapping[str, Any] = field(default_factory=dict)
    urn: str | None = None


ResourceCheck = Callable[[str, Mapping[str, Any], Mapping[str, Any], Mapping[str, str]], list[str]]
StackCheck = Callable[[Sequence[Resource], Mapping[str, str]], list[tuple[Resource | None, str]]]


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    remediation: str
    scope: str  # "resource" | "stack"
    check: ResourceCheck | StackCheck


@dataclass(frozen=True)
class Violation:
    policy: str
    resource_type: str | None
    resource_name: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.resource_type} {self.resource_name}" if self.resource_type else "stack"
        return f"[{self.policy}] {where}: {self.message}"


# --- small readers over plain props ------------------------------------------------------------

def _get(node: Any, *path: str | int, default: Any = None) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return default
        elif not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return default if node is None else node


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if resource_type == K8S_POD:
        return _map(props.get("spec"))
    if resource_type == K8S_CRON_JOB:
        return _map(_get(props, "spec", "jobTemplate", "spec", "template", "spec"))
    if resource_type in K8S_WORKLOADS:
        return _map(_get(props, "spec", "template", "spec"))
    return None


def _pod_labels(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, str]:
    if resource_type == K8S_POD:
        return _map(_get(props, "metadata", "labels"))
    if resource_type == K8S_CRON_JOB:
        return _map(_get(props, "spec", "jobTemplate", "spec", "template", "metadata", "labels"))
    return _map(_get(props, "spec", "template", "metadata", "labels"))


def _namespace(props: Mapping[str, Any]) -> str:
    namespace = _get(props, "metadata", "namespace")
    return namespace if isinstance(namespace, str) else "default"


def _k8s_containers(pod_spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in _list(pod_spec.get(key)):
            if isinstance(container, Mapping):
                yield container


def _docker_env(props: Mapping[str, Any]) -> dict[str, str]:
    env = {}
    for item in _list(props.get("envs")):
        if isinstance(item, str):
            name, _, value = item.partition("=")
            env[name] = value
    return env


def _k8s_plain_env(container: Mapping[str, Any]) -> dict[str, str]:
    """Variables with a literal `value` (those with `valueFrom` come from a Secret or a field)."""
    return {item["name"]: item.get("value") or "" for item in _list(container.get("env"))
            if isinstance(item, Mapping) and isinstance(item.get("name"), str) and "valueFrom" not in item}


def _docker_labels(props: Mapping[str, Any]) -> dict[str, str]:
    return {item.get("label"): item.get("value") for item in _list(props.get("labels")) if isinstance(item, Mapping)}


# A container created stopped but run on demand (a backup job's run) carries this label: it runs a process.
JOB_RUN_LABEL = "ngx-monitoring/job-run"


def _docker_runs(props: Mapping[str, Any]) -> bool:
    """False for a container that is created and never started (the Docker backend's file loaders):
    it runs no process, so runtime hardening does not apply to it. A job run is started on demand."""
    return props.get("start") is not False or JOB_RUN_LABEL in _docker_labels(props)


def _service_of_container(props: Mapping[str, Any]) -> str | None:
    return _docker_labels(props).get(NAME_LABEL) or (props.get("name") if isinstance(props.get("name"), str) else None)


# --- images pinned -----------------------------------------------------------------------------

_FLOATING_TAGS = {"latest", "main", "master", "stable", "edge", "nightly", "dev", "mainline"}


def image_pinned(reference: str) -> bool:
    """A digest, or a tag that names a version (has a digit and is not a moving alias)."""
    if "@sha256:" in reference or reference.startswith("sha256:"):
        return True
    last = reference.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    tag = last.rsplit(":", 1)[1]
    return tag.lower() not in _FLOATING_TAGS and any(char.isdigit() for char in tag)


def check_images_pinned(resource_type: str, props: Mapping[str, Any], options: Mapping[str, Any],
                        config: Mapping[str, str] = DEFAULT_CONFIG) -> list[str]:
    references: list[tuple[str, Any]] = []
    if resource_type == DOCKER_IMAGE:
        references.append(("name", props.get("name")))
    elif resource_type == DOCKER_CONTAINER:
        references.append(("image", props.get("image")))
    else:
        pod = _pod_spec(resource_type, props)
        if pod is not None:
            references += [(f"container {c.get('name')}", c.get("image")) for c in _k8s_containers(pod)]
    return [f"{where}: image {image!r} is not pinned; use a version tag (e.g. prom/prometheus:v3.5.0) or a digest"
            for where, image in references if isinstance(image, str) and not image_pinned(image)]


# --- no credential in plain sight --------------------------------------------------------------

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
        found.append(f"{where}: environment variable {name} holds a credential in plain text; "
                     f"mount it as a file and set {name}__FILE (or use a Secret reference)")
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
            found.append(f"{where}: argument --{match['flag']} passes a credential on the command line "
                         "(visible in the process list); pass a file instead")
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
_SAFE_KEY_SUFFIXES = ("_file", "_files", "_path", "_dir", "_enabled", "_header", "_type", "_name", "_ttl",
                      "_interval", "_timeout", "_length", "_duration", "_url_file", "_policy", "_rotation_interval_minutes")
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


def check_no_plaintext_secrets(resource_type: str, props: Mapping[str, Any], options: Mapping[str, Any],
                               config: Mapping[str, str] = DEFAULT_CONFIG) -> list[str]:
    found: list[str] = []
    if resource_type == DOCKER_CONTAINER:
        found += _env_violations(_docker_env(props), "container")
        found += _arg_violations(_list(props.get("command")) + _list(props.get("entrypoints")), "container")
    elif resource_type == K8S_CONFIG_MAP:
        for section in ("data", "binaryData"):
            for key, value in sorted(_map(props.get(section)).items()):
                if not isinstance(value, str):
                    continue
                if credential_name(key) and not _file_reference_name(key) and value and not _PATH_VALUE.match(value):
                    found.append(f"{section}.{key}: a credential-named key in a ConfigMap; put it in a Secret")
                shapes = credential_shapes(value)
                if shapes:
                    found.append(f"{section}.{key} holds {', '.join(shapes)}; put credentials in a Secret, not a ConfigMap")
    else:
        pod = _pod_spec(resource_type, props)
        if pod is not None:
            for container in _k8s_containers(pod):
                where = f"container {container.get('name')}"
                found += _env_violations(_k8s_plain_env(container), where)
                found += _arg_violations(_list(container.get("args")) + _list(container.get("command")), where)
    return found


def plain_fields(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(path, text) of every field a credential must never reach: environment variables, command
    lines, ConfigMap data, labels and annotations. Tests search these for seeded secrets."""
    def metadata(prefix: str, meta: Any) -> Iterator[tuple[str, str]]:
        for kind in ("labels", "annotations"):
            for key, value in _map(_get(meta, kind)).items():
                yield f"{prefix}{kind}.{key}", f"{key}={value}"

    yield from metadata("metadata.", props.get("metadata"))
    if resource_type == DOCKER_CONTAINER:
        for name, value in _docker_env(props).items():
            yield f"envs.{name}", f"{name}={value}"
        for key in ("command", "entrypoints"):
            for index, arg in enumerate(_list(props.get(key))):
                yield f"{key}[{index}]", str(arg)
        for label, value in _docker_labels(props).items():
            yield f"labels.{label}", f"{label}={value}"
    elif resource_type == K8S_CONFIG_MAP:
        for section in ("data", "binaryData"):
            for key, value in _map(props.get(section)).items():
                yield f"{section}.{key}", f"{key}\n{value}"
    pod = _pod_spec(resource_type, props)
    if pod is not None:
        if resource_type != K8S_POD:
            template = _get(props, "spec", "template") if resource_type != K8S_CRON_JOB else _get(props, "spec", "jobTemplate", "spec", "template")
            yield from metadata("template.metadata.", _get(template, "metadata"))
        for container in _k8s_containers(pod):
            name = container.get("name")
            for item in _list(container.get("env")):
                if isinstance(item, Mapping) and "value" in item:
                    yield f"container {name}.env.{item.get('name')}", f"{item.get('name')}={item.get('value')}"
            for key in ("args", "command"):
                for index, arg in enumerate(_list(container.get(key))):
                    yield f"container {name}.{key}[{index}]", str(arg)


# --- only the entrypoint is exposed ------------------------------------------------------------

def check_only_entrypoint_exposed(resource_type: str, props: Mapping[str, Any], options: Mapping[str, Any],
                                  config: Mapping[str, str] = DEFAULT_CONFIG) -> list[str]:
    entrypoint = config.get("entrypoint", DEFAULT_CONFIG["entrypoint"])
    found = []
    if resource_type == DOCKER_CONTAINER:
        service = _service_of_container(props)
        if props.get("networkMode") == "host":
            found.append("uses the host's network, which publishes every port it listens on; attach it to the stack's networks")
        if service != entrypoint and (_list(props.get("ports")) or _is_true(props.get("publishAllPorts"))):
            found.append(f"publishes ports on the host but is {service!r}; only {entrypoint!r} may be reached from outside the stack")
    elif resource_type == K8S_SERVICE:
        selected = _map(_get(props, "spec", "selector")).get(NAME_LABEL)
        kind = _get(props, "spec", "type", default="ClusterIP")
        if selected != entrypoint:
            if kind in ("LoadBalancer", "NodePort"):
                found.append(f"type {kind} exposes {selected!r} outside the cluster; only {entrypoint!r} may be exposed (through the Ingress)")
            if _list(_get(props, "spec", "externalIPs")):
                found.append(f"externalIPs expose {selected!r} outside the cluster; only {entrypoint!r} may be exposed")
    else:
        pod = _pod_spec(resource_type, props)
        if pod is not None and _pod_labels(resource_type, props).get(NAME_LABEL) != entrypoint:
            for container in _k8s_containers(pod):
                if any(isinstance(port, Mapping) and port.get("hostPort") for port in _list(container.get("ports"))):
                    found.append(f"container {container.get('name')} binds a hostPort; only {entrypoint!r} may be reached from outside")
    return found


def _ingress_backends(props: Mapping[str, Any]) -> Iterator[str]:
    default = _get(props, "spec", "defaultBackend", "service", "name")
    if default is not None:
        yield default
    for rule in _list(_get(props, "spec", "rules")):
        for path in _list(_get(rule, "http", "paths")):
            name = _get(path, "backend", "service", "name")
            if name is not None:
                yield name
            elif _get(path, "backend", "resource") is not None:
                yield "<resource backend>"


def check_ingress_routes_to_entrypoint(resources: Sequence[Resource],
                                       config: Mapping[str, str] = DEFAULT_CONFIG) -> list[tuple[Resource | None, str]]:
    """Every Ingress backend is a Service (in the Ingress's namespace) that selects the entrypoint's pods."""
    entrypoint = config.get("entrypoint", DEFAULT_CONFIG["entrypoint"])
    services = {(_namespace(r.props), _get(r.props, "metadata", "name")): r for r in resources if r.type == K8S_SERVICE}
    found = []
    for ingress in (r for r in resources if r.type == K8S_INGRESS):
        namespace = _namespace(ingress.props)
        for backend in _ingress_backends(ingress.props):
            if backend is UNKNOWN:
                continue
            service = services.get((namespace, backend))
            selected = _map(_get(service.props, "spec", "selector")).get(NAME_LABEL) if service else None
            if selected != entrypoint:
                why = "is not a Service of this stack" if service is None else f"selects {selected!r}"
                found.append((ingress, f"routes to {namespace}/{backend}, which {why}; the Ingress may only route to {entrypoint!r}"))
    return found


# --- stateful storage is protected -------------------------------------------------------------

def check_stateful_storage_protected(resources: Sequence[Resource],
                                     config: Mapping[str, str] = DEFAULT_CONFIG) -> list[tuple[Resource | None, str]]:
    """Claims, and the namespaces that hold them, are protected; a StatefulSet's claim templates are
    retained; a Docker volume that a running container writes to is protected. (Docker volumes only ever mounted read-only, such as
    the rendered configuration, are rebuilt from settings and may be replaced.)"""
    found = []
    volumes = {r.props.get("name"): r for r in resources if r.type == DOCKER_VOLUME}
    written: dict[str, list[str]] = {}
    for container in (r for r in resources if r.type == DOCKER_CONTAINER and _docker_runs(r.props)):
        for mount in _list(container.props.get("mounts")):
            if isinstance(mount, Mapping) and mount.get("type", "volume") == "volume" and not _is_true(mount.get("readOnly")):
                written.setdefault(mount.get("source"), []).append(container.name)
        for volume in _list(container.props.get("volumes")):
            if isinstance(volume, Mapping) and volume.get("volumeName") and not _is_true(volume.get("readOnly")):
                written.setdefault(volume.get("volumeName"), []).append(container.name)
    for source, writers in sorted(written.items(), key=lambda item: str(item[0])):
        volume = volumes.get(source)
        if source is UNKNOWN or source is None:
            continue
        if volume is None:
            found.append((None, f"container {', '.join(writers)} writes to volume {source!r}, which this stack does not manage (and so cannot protect)"))
        elif not volume.options.get("protect"):
            found.append((volume, f"holds data written by {', '.join(writers)} but is not protected; set protect (and retain_on_delete)"))
    data_namespaces = set()
    for resource in resources:
        if resource.type == K8S_PVC or (resource.type == K8S_STATEFUL_SET and _list(_get(resource.props, "spec", "volumeClaimTemplates"))):
            data_namespaces.add(_namespace(resource.props))
    for resource in resources:
        if resource.type == K8S_NAMESPACE and _get(resource.props, "metadata", "name") in data_namespaces and not resource.options.get("protect"):
            found.append((resource, "holds PersistentVolumeClaims (deleting a namespace deletes its claims) but is not protected"))
        if resource.type == K8S_PVC and not resource.options.get("protect"):
            found.append((resource, "a PersistentVolumeClaim holds data but is not protected; set protect (and retain_on_delete)"))
        if resource.type == K8S_STATEFUL_SET and _list(_get(resource.props, "spec", "volumeClaimTemplates")):
            retention = _map(_get(resource.props, "spec", "persistentVolumeClaimRetentionPolicy"))
            for when in ("whenDeleted", "whenScaled"):
                if retention.get(when) == "Delete":
                    found.append((resource, f"persistentVolumeClaimRetentionPolicy.{when} is Delete; claims must be retained"))
            if not resource.options.get("protect"):
                found.append((resource, "owns volumeClaimTemplates but is not protected; deleting it would orphan or (with a Delete retention) lose the data"))
    return found


# --- Pod Security `restricted` (Kubernetes) and its Docker counterpart -------------------------

_RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
_SECCOMP_ALLOWED = {"RuntimeDefault", "Localhost"}
_ALLOWED_ADDED_CAPABILITIES = {"NET_BIND_SERVICE"}


def _effective(container: Mapping[str, Any], pod: Mapping[str, Any], key: str) -> Any:
    value = _get(container, "securityContext", key)
    return value if value is not None else _get(pod, "securityContext", key)


def _pod_security_violations(pod: Mapping[str, Any], host_access: bool) -> list[str]:
    found = []
    host_volumes = set()
    for volume in _list(pod.get("volumes")):
        if not isinstance(volume, Mapping):
            continue
        kinds = set(volume) - {"name"}
        if "hostPath" in kinds:
            host_volumes.add(volume.get("name"))
            if host_access:
                continue
        if not kinds <= _RESTRICTED_VOLUME_TYPES:
            found.append(f"volume {volume.get('name')} is of type {', '.join(sorted(kinds - _RESTRICTED_VOLUME_TYPES))}, which `restricted` refuses")
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if _is_true(pod.get(key)) and not host_access:
            found.append(f"{key} is true, which `restricted` refuses")
    pod_seccomp = _get(pod, "securityContext", "seccompProfile", "type")
    for container in _k8s_containers(pod):
        name = container.get("name")
        context = _map(container.get("securityContext"))
        if _is_true(context.get("privileged")):
            found.append(f"container {name} is privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"container {name} must set allowPrivilegeEscalation: false")
        capabilities = _map(context.get("capabilities"))
        if "ALL" not in _list(capabilities.get("drop")):
            found.append(f"container {name} must drop ALL capabilities")
        added = set(_list(capabilities.get("add"))) - _ALLOWED_ADDED_CAPABILITIES
        if added:
            found.append(f"container {name} adds capabilities {', '.join(sorted(added))}")
        if not _is_true(_effective(container, pod, "runAsNonRoot")):
            found.append(f"container {name} must set runAsNonRoot: true (container or pod securityContext)")
        if _effective(container, pod, "runAsUser") in (0, 0.0):
            found.append(f"container {name} runs as UID 0")
        seccomp = _get(context, "seccompProfile", "type") or pod_seccomp
        if seccomp not in _SECCOMP_ALLOWED:
            found.append(f"container {name} needs seccompProfile RuntimeDefault (container or pod securityContext)")
        for port in _list(container.get("ports")):
            if isinstance(port, Mapping) and port.get("hostPort") and not host_access:
                found.append(f"container {name} binds hostPort {port.get('hostPort')}")
        for mount in _list(container.get("volumeMounts")):
            if isinstance(mount, Mapping) and mount.get("name") in host_volumes and not _is_true(mount.get("readOnly")):
                found.append(f"container {name} mounts host path volume {mount.get('name')} writable; host paths are mounted read-only")
    return found


def _docker_restricted_violations(props: Mapping[str, Any]) -> list[str]:
    found = []
    if _is_true(props.get("privileged")):
        found.append("runs privileged")
    if "ALL" not in _list(_get(props, "capabilities", "drops")):
        found.append("must drop ALL capabilities (capabilities.drops: [ALL])")
    added = set(_list(_get(props, "capabilities", "adds"))) - _ALLOWED_ADDED_CAPABILITIES
    if added:
        found.append(f"adds capabilities {', '.join(sorted(added))}")
    if not any(str(opt).replace("=", ":") in ("no-new-privileges", "no-new-privileges:true") for opt in _list(props.get("securityOpts"))):
        found.append("must set securityOpts no-new-privileges:true (the Docker twin of allowPrivilegeEscalation: false)")
    for key in ("pidMode", "ipcMode", "usernsMode"):
        if props.get(key) == "host":
            found.append(f"{key} is host")
    for mount in _list(props.get("mounts")):
        if not isinstance(mount, Mapping) or mount.get("type") != "bind":
            continue
        if str(mount.get("source", "")).rstrip("/").endswith("docker.sock"):
            found.append("mounts the Docker socket, which is root on the host")
        elif not _is_true(mount.get("readOnly")):
            found.append(f"mounts host path {mount.get('source')} writable; host paths are mounted read-only")
    for volume in _list(props.get("volumes")):
        if isinstance(volume, Mapping) and volume.get("hostPath"):
            if str(volume["hostPath"]).rstrip("/").endswith("docker.sock"):
                found.append("mounts the Docker socket, which is root on the host")
            elif not _is_true(volume.get("readOnly")):
                found.append(f"mounts host path {volume.get('hostPath')} writable; host paths are mounted read-only")
    return found


def check_restricted_security_context(resource_type: str, props: Mapping[str, Any], options: Mapping[str, Any],
                                      config: Mapping[str, str] = DEFAULT_CONFIG) -> list[str]:
    """Kubernetes workloads meet Pod Security `restricted`; the documented host-access namespace may
    in addition mount host paths (read-only) and use the host's network and PID namespaces, nothing
    else. Docker containers that run meet the same rules in Docker's terms."""
    if resource_type == DOCKER_CONTAINER:
        return _docker_restricted_violations(props) if _docker_runs(props) else []
    pod = _pod_spec(resource_type, props)
    if pod is None:
        return []
    host_access = _namespace(props) == config.get("hostAccessNamespace", DEFAULT_CONFIG["hostAccessNamespace"])
    return _pod_security_violations(pod, host_access)


def check_namespace_pod_security(resource_type: str, props: Mapping[str, Any], options: Mapping[str, Any],
                                 config: Mapping[str, str] = DEFAULT_CONFIG) -> list[str]:
    """The cluster enforces the same: every namespace `restricted`, except the host-access one,
    which must say why in the exception annotation."""
    if resource_type != K8S_NAMESPACE:
        return []
    name = _get(props, "metadata", "name")
    level = _map(_get(props, "metadata", "labels")).get(ENFORCE_LABEL)
    if level == "restricted" or name is UNKNOWN:
        return []
    host_namespace = config.get("hostAccessNamespace", DEFAULT_CONFIG["hostAccessNamespace"])
    if name != host_namespace:
        return [f"namespace {name} enforces {level or 'no'} Pod Security level; label it {ENFORCE_LABEL}: restricted "
                f"(only {host_namespace} may be exempt)"]
    if not _map(_get(props, "metadata", "annotations")).get(EXCEPTION_ANNOTATION):
        return [f"namespace {name} is exempt from `restricted` without saying why; annotate {EXCEPTION_ANNOTATION}"]
    return []


# --- containers read-only and non-root ---------------------------------------------------------

def _docker_user_is_root(user: Any) -> bool:
    if not isinstance(user, str) or not user.strip():
        return True  # unset means the image's user, which is root for most images
    uid = user.split(":", 1)[0].strip()
    return uid in ("0", "root")


def check_read_only_non_root(resource_type: str, props: Mapping[str, Any], options: Mapping[str, Any],
                             config: Mapping[str, str] = DEFAULT_CONFIG) -> list[str]:
    found = []
    if resource_type == DOCKER_CONTAINER:
        if not _docker_runs(props):
            return []
        if not _is_true(props.get("readOnly")):
            found.append("root filesystem is writable; set readOnly and give writable paths a tmpfs or volume")
        if _docker_user_is_root(props.get("user")):
            found.append(f"runs as root (user {props.get('user')!r}); set user to the image's unprivileged UID:GID")
        return found
    pod = _pod_spec(resource_type, props)
    if pod is None:
        return []
    for container in _k8s_containers(pod):
        name = container.get("name")
        if not _is_true(_get(container, "securityContext", "readOnlyRootFilesystem")):
            found.append(f"container {name} must set readOnlyRootFilesystem: true")
        if not _is_true(_effective(container, pod, "runAsNonRoot")) or _effective(container, pod, "runAsUser") in (0, 0.0):
            found.append(f"container {name} must run as a non-root user (runAsNonRoot: true, runAsUser > 0)")
    return found


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
        return [f"{where}: grafana.ini sets admin_password to {security['admin_password']!r}, Grafana's default; "
                "use $__file{...} with a generated password"]
    return []


def _grafana_container_violations(env: Mapping[str, str], secret_env: set[str], where: str) -> list[str]:
    password = env.get("GF_SECURITY_ADMIN_PASSWORD")
    if password is not None and password in ("", _DEFAULT_PASSWORD):
        return [f"{where}: GF_SECURITY_ADMIN_PASSWORD is {password!r}, Grafana's default"]
    if password is None and "GF_SECURITY_ADMIN_PASSWORD" not in secret_env and not env.get("GF_SECURITY_ADMIN_PASSWORD__FILE"):
        return [f"{where}: no admin password is configured, so Grafana would start with admin/admin; "
                "set GF_SECURITY_ADMIN_PASSWORD__FILE to a generated password file"]
    return []


def _is_grafana(image: Any, env_names: Sequence[str]) -> bool:
    return (isinstance(image, str) and bool(_GRAFANA_IMAGE.search(image))) or any(name.startswith("GF_") for name in env_names)


def check_grafana_credentials(resource_type: str, props: Mapping[str, Any], options: Mapping[str, Any],
                              config: Mapping[str, str] = DEFAULT_CONFIG) -> list[str]:
    found = []
    if resource_type == GRAFANA_PROVIDER:
        auth = props.get("auth")
        if isinstance(auth, str) and auth.strip() in (f"admin:{_DEFAULT_PASSWORD}", f"{_DEFAULT_PASSWORD}:{_DEFAULT_PASSWORD}"):
            found.append("the Grafana provider logs in as admin/admin")
    elif resource_type == DOCKER_CONTAINER:
        for upload in _list(props.get("uploads")):
            if isinstance(upload, Mapping) and str(upload.get("file", "")).endswith("grafana.ini") and isinstance(upload.get("content"), str):
                found += _ini_violations(upload["content"], f"upload {upload.get('file')}")
        env = _docker_env(props)
        if _docker_runs(props) and _is_grafana(props.get("image"), list(env)):
            found += _grafana_container_violations(env, set(), "container")
    elif resource_type == K8S_CONFIG_MAP:
        for key, value in sorted(_map(props.get("data")).items()):
            if key.endswith(".ini") and isinstance(value, str):
                found += _ini_violations(value, f"data.{key}")
    else:
        pod = _pod_spec(resource_type, props)
        for container in _k8s_containers(pod or {}):
            all_env = [item for item in _list(container.get("env")) if isinstance(item, Mapping)]
            if not _is_grafana(container.get("image"), [str(item.get("name")) for item in all_env]):
                continue
            from_secrets = {item.get("name") for item in all_env if _get(item, "valueFrom", "secretKeyRef") is not None}
            found += _grafana_container_violations(_k8s_plain_env(container), from_secrets, f"container {container.get('name')}")
    return found


# --- every Kubernetes workload is selected by a NetworkPolicy ----------------------------------

def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Kubernetes label selector semantics (an empty selector matches everything)."""
    for key, value in _map(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expression in _list(selector.get("matchExpressions")):
        key, operator, values = expression.get("key"), expression.get("operator"), _list(expression.get("values"))
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _policy_types(spec: Mapping[str, Any]) -> set[str]:
    declared = _list(spec.get("policyTypes"))
    if declared:
        return set(declared)
    return {"Ingress"} | ({"Egress"} if "egress" in spec else set())


def check_workloads_isolated(resources: Sequence[Resource],
                             config: Mapping[str, str] = DEFAULT_CONFIG) -> list[tuple[Resource | None, str]]:
    """Each workload's pods are selected, in both directions, by NetworkPolicies of their namespace;
    a pod no policy selects accepts and opens any connection."""
    policies = [(_namespace(r.props), _map(_get(r.props, "spec"))) for r in resources if r.type == K8S_NETWORK_POLICY]
    found = []
    for workload in (r for r in resources if r.type in K8S_WORKLOADS):
        namespace, labels = _namespace(workload.props), _pod_labels(workload.type, workload.props)
        covered: set[str] = set()
        for policy_namespace, spec in policies:
            if policy_namespace == namespace and selector_matches(_map(spec.get("podSelector")), labels):
                covered |= _policy_types(spec)
        missing = {"Ingress", "Egress"} - covered
        if missing:
            found.append((workload, f"pods {dict(labels)} in {namespace} are not isolated for {', '.join(sorted(missing))}: "
                                    "no NetworkPolicy of that namespace selects them for it"))
    return found


# --- the pack ----------------------------------------------------------------------------------

POLICIES: tuple[Policy, ...] = (
    Policy("stateful-storage-protected",
           "Data volumes and claims are protected and retained, so no change deletes the stack's data.",
           "Set protect=True and retain_on_delete=True on the volume or claim; keep StatefulSet claims on Retain.",
           "stack", check_stateful_storage_protected),
    Policy("images-pinned", "Every image names a version tag or a digest, never a moving tag.",
           "Pin the image in settings `images.*` to a version tag or a digest.", "resource", check_images_pinned),
    Policy("no-plaintext-secrets",
           "No credential in an environment variable, a command line or a ConfigMap; credentials reach containers as files from Secrets.",
           "Mount the credential from a Secret (or a Docker upload) and point the program at the file (`*__FILE`, `*_file`).",
           "resource", check_no_plaintext_secrets),
    Policy("only-entrypoint-exposed",
           "Only the TLS proxy publishes ports on the host or is exposed by a Service outside the cluster.",
           "Reach the service through the proxy; remove published ports, hostPorts, NodePort/LoadBalancer types and externalIPs.",
           "resource", check_only_entrypoint_exposed),
    Policy("ingress-routes-to-entrypoint", "Every Ingress backend is the proxy's Service.",
           "Route the Ingress to the proxy Service; the proxy routes to each UI.", "stack", check_ingress_routes_to_entrypoint),
    Policy("restricted-security-context",
           "Kubernetes pods meet Pod Security `restricted` (the host-access namespace may only add read-only host paths); "
           "Docker containers run unprivileged, without capabilities, with no-new-privileges.",
           "Set allowPrivilegeEscalation: false, capabilities.drop [ALL], runAsNonRoot, seccompProfile RuntimeDefault; "
           "mount host paths read-only and only in the host-access namespace.",
           "resource", check_restricted_security_context),
    Policy("namespace-pod-security",
           "Namespaces enforce Pod Security `restricted`, except the documented host-access namespace.",
           f"Label the namespace {ENFORCE_LABEL}: restricted, or annotate the host-access namespace with {EXCEPTION_ANNOTATION}.",
           "resource", check_namespace_pod_security),
    Policy("workloads-isolated-by-network-policy",
           "Every Kubernetes workload is selected by NetworkPolicies for ingress and egress.",
           "Derive a NetworkPolicy for the workload from topology.py (and keep the namespace's default-deny).",
           "stack", check_workloads_isolated),
    Policy("containers-read-only-non-root", "Every running container has a read-only root filesystem and a non-root user.",
           "Set readOnly / readOnlyRootFilesystem and the image's unprivileged UID; give writable paths a tmpfs, emptyDir or volume.",
           "resource", check_read_only_non_root),
    Policy("grafana-no-default-credentials", "Grafana never runs with, and nothing logs in with, admin/admin.",
           "Give Grafana a generated admin password through GF_SECURITY_ADMIN_PASSWORD__FILE (settings grafana.adminPassword or generated).",
           "resource", check_grafana_credentials),
)


def evaluate(resources: Sequence[Resource], config: Mapping[str, str] = DEFAULT_CONFIG,
             policies: Sequence[Policy] = POLICIES) -> list[Violation]:
    """Every policy over every resource, as the engine would run them (used offline and in tests)."""
    merged = {**DEFAULT_CONFIG, **config}
    violations = []
    for policy in policies:
        if policy.scope == "resource":
            for resource in resources:
                for message in policy.check(resource.type, resource.props, resource.options, merged):
                    violations.append(Violation(policy.name, resource.type, resource.name, message))
        else:
            for resource, message in policy.check(resources, merged):
                violations.append(Violation(policy.name, resource.type if resource else None,
                                            resource.name if resource else None, message))
    return violations
