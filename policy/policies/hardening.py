"""Runtime hardening: Pod Security `restricted` (and its Docker counterpart), namespaces that enforce
it, and containers with a read-only root filesystem and a non-root user."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import (
    DEFAULT_CONFIG,
    DOCKER_CONTAINER,
    ENFORCE_LABEL,
    EXCEPTION_ANNOTATION,
    K8S_NAMESPACE,
    UNKNOWN,
    as_list,
    as_map,
    docker_runs,
    get,
    is_true,
    k8s_containers,
    namespace_of,
    pod_spec,
)

# --- Pod Security `restricted` (Kubernetes) and its Docker counterpart -------------------------

_RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
_SECCOMP_ALLOWED = {"RuntimeDefault", "Localhost"}
_ALLOWED_ADDED_CAPABILITIES = {"NET_BIND_SERVICE"}


def _effective(container: Mapping[str, Any], pod: Mapping[str, Any], key: str) -> Any:
    value = get(container, "securityContext", key)
    return value if value is not None else get(pod, "securityContext", key)


def _pod_security_violations(pod: Mapping[str, Any], host_access: bool) -> list[str]:
    found = []
    host_volumes = set()
    for volume in as_list(pod.get("volumes")):
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
        if is_true(pod.get(key)) and not host_access:
            found.append(f"{key} is true, which `restricted` refuses")
    pod_seccomp = get(pod, "securityContext", "seccompProfile", "type")
    for container in k8s_containers(pod):
        name = container.get("name")
        context = as_map(container.get("securityContext"))
        if is_true(context.get("privileged")):
            found.append(f"container {name} is privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"container {name} must set allowPrivilegeEscalation: false")
        capabilities = as_map(context.get("capabilities"))
        if "ALL" not in as_list(capabilities.get("drop")):
            found.append(f"container {name} must drop ALL capabilities")
        added = set(as_list(capabilities.get("add"))) - _ALLOWED_ADDED_CAPABILITIES
        if added:
            found.append(f"container {name} adds capabilities {', '.join(sorted(added))}")
        if not is_true(_effective(container, pod, "runAsNonRoot")):
            found.append(f"container {name} must set runAsNonRoot: true (container or pod securityContext)")
        if _effective(container, pod, "runAsUser") in (0, 0.0):
            found.append(f"container {name} runs as UID 0")
        seccomp = get(context, "seccompProfile", "type") or pod_seccomp
        if seccomp not in _SECCOMP_ALLOWED:
            found.append(f"container {name} needs seccompProfile RuntimeDefault (container or pod securityContext)")
        for port in as_list(container.get("ports")):
            if isinstance(port, Mapping) and port.get("hostPort") and not host_access:
                found.append(f"container {name} binds hostPort {port.get('hostPort')}")
        for mount in as_list(container.get("volumeMounts")):
            if isinstance(mount, Mapping) and mount.get("name") in host_volumes and not is_true(mount.get("readOnly")):
                found.append(f"container {name} mounts host path volume {mount.get('name')} writable; host paths are mounted read-only")
    return found


def _docker_restricted_violations(props: Mapping[str, Any]) -> list[str]:
    found = []
    if is_true(props.get("privileged")):
        found.append("runs privileged")
    if "ALL" not in as_list(get(props, "capabilities", "drops")):
        found.append("must drop ALL capabilities (capabilities.drops: [ALL])")
    added = set(as_list(get(props, "capabilities", "adds"))) - _ALLOWED_ADDED_CAPABILITIES
    if added:
        found.append(f"adds capabilities {', '.join(sorted(added))}")
    if not any(str(opt).replace("=", ":") in ("no-new-privileges", "no-new-privileges:true") for opt in as_list(props.get("securityOpts"))):
        found.append("must set securityOpts no-new-privileges:true (the Docker twin of allowPrivilegeEscalation: false)")
    for key in ("pidMode", "ipcMode", "usernsMode"):
        if props.get(key) == "host":
            found.append(f"{key} is host")
    for mount in as_list(props.get("mounts")):
        if not isinstance(mount, Mapping) or mount.get("type") != "bind":
            continue
        if str(mount.get("source", "")).rstrip("/").endswith("docker.sock"):
            found.append("mounts the Docker socket, which is root on the host")
        elif not is_true(mount.get("readOnly")):
            found.append(f"mounts host path {mount.get('source')} writable; host paths are mounted read-only")
    for volume in as_list(props.get("volumes")):
        if isinstance(volume, Mapping) and volume.get("hostPath"):
            if str(volume["hostPath"]).rstrip("/").endswith("docker.sock"):
                found.append("mounts the Docker socket, which is root on the host")
            elif not is_true(volume.get("readOnly")):
                found.append(f"mounts host path {volume.get('hostPath')} writable; host paths are mounted read-only")
    return found


def check_restricted_security_context(
    resource_type: str, props: Mapping[str, Any], options: Mapping[str, Any], config: Mapping[str, str] = DEFAULT_CONFIG
) -> list[str]:
    """Kubernetes workloads meet Pod Security `restricted`; the documented host-access namespace may
    in addition mount host paths (read-only) and use the host's network and PID namespaces, nothing
    else. Docker containers that run meet the same rules in Docker's terms."""
    if resource_type == DOCKER_CONTAINER:
        return _docker_restricted_violations(props) if docker_runs(props) else []
    pod = pod_spec(resource_type, props)
    if pod is None:
        return []
    host_access = namespace_of(props) == config.get("hostAccessNamespace", DEFAULT_CONFIG["hostAccessNamespace"])
    return _pod_security_violations(pod, host_access)


def check_namespace_pod_security(
    resource_type: str, props: Mapping[str, Any], options: Mapping[str, Any], config: Mapping[str, str] = DEFAULT_CONFIG
) -> list[str]:
    """The cluster enforces the same: every namespace `restricted`, except the host-access one,
    which must say why in the exception annotation."""
    if resource_type != K8S_NAMESPACE:
        return []
    name = get(props, "metadata", "name")
    level = as_map(get(props, "metadata", "labels")).get(ENFORCE_LABEL)
    if level == "restricted" or name is UNKNOWN:
        return []
    host_namespace = config.get("hostAccessNamespace", DEFAULT_CONFIG["hostAccessNamespace"])
    if name != host_namespace:
        return [f"namespace {name} enforces {level or 'no'} Pod Security level; label it {ENFORCE_LABEL}: restricted (only {host_namespace} may be exempt)"]
    if not as_map(get(props, "metadata", "annotations")).get(EXCEPTION_ANNOTATION):
        return [f"namespace {name} is exempt from `restricted` without saying why; annotate {EXCEPTION_ANNOTATION}"]
    return []


# --- containers read-only and non-root ---------------------------------------------------------


def _docker_user_is_root(user: Any) -> bool:
    if not isinstance(user, str) or not user.strip():
        return True  # unset means the image's user, which is root for most images
    uid = user.split(":", 1)[0].strip()
    return uid in ("0", "root")


def check_read_only_non_root(resource_type: str, props: Mapping[str, Any], options: Mapping[str, Any], config: Mapping[str, str] = DEFAULT_CONFIG) -> list[str]:
    found = []
    if resource_type == DOCKER_CONTAINER:
        if not docker_runs(props):
            return []
        if not is_true(props.get("readOnly")):
            found.append("root filesystem is writable; set readOnly and give writable paths a tmpfs or volume")
        if _docker_user_is_root(props.get("user")):
            found.append(f"runs as root (user {props.get('user')!r}); set user to the image's unprivileged UID:GID")
        return found
    pod = pod_spec(resource_type, props)
    if pod is None:
        return []
    for container in k8s_containers(pod):
        name = container.get("name")
        if not is_true(get(container, "securityContext", "readOnlyRootFilesystem")):
            found.append(f"container {name} must set readOnlyRootFilesystem: true")
        if not is_true(_effective(container, pod, "runAsNonRoot")) or _effective(container, pod, "runAsUser") in (0, 0.0):
            found.append(f"container {name} must run as a non-root user (runAsNonRoot: true, runAsUser > 0)")
    return found
