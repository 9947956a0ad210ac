"""The whole `dev` program under Pulumi mocks: properties of the Docker backend across every resource.

Every expectation is computed from the topology, the settings, the paths and the renderers, never from
the resources under test; every check runs over all containers, volumes, networks and images.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from pulumi.runtime.sync_await import _sync_await

from addresses import ROUTES
from components.docker.files import FILES_LOADER_LABEL
from components.docker.hardening import memory_mb
from components.docker.health import NO_HEALTHCHECK
from components.docker.monitoring import START_AFTER, DockerMonitoring
from components.docker.service import DockerService
from components.file_layout import RELOAD
from renderers import bundle, paths
from renderers.bundle import render_config_files
from synthesis.recorder import _COMPUTED, Recorded, is_secret
from synthesis.run import synth, unwrap
from tests.conftest import SEEDED_SECRETS
from topology import ENTRYPOINT, SERVICES, long_running, services_on

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
NETWORK = "docker:index/network:Network"
IMAGE = "docker:index/remoteImage:RemoteImage"
PASSWORD = "random:index/randomPassword:RandomPassword"
STACK = "ngx"  # the backend's name in __main__.py

# What each pinned image ships that a health check can call (read from the images' Dockerfiles).
IMAGE_TOOLS = {
    "prom/prometheus": {"promtool", "wget"},  # quay.io/prometheus/busybox base
    "prom/alertmanager": {"amtool", "wget"},
    "prom/node-exporter": {"wget"},
    "grafana/grafana": {"curl", "wget"},
    "grafana/loki": {"/busybox/wget"},  # gcr.io/distroless/static:debug
    "grafana/alloy": {"bash"},  # Ubuntu, no wget
    "nginxinc/nginx-unprivileged": {"wget"},  # Alpine (busybox)
    "prom/pushgateway": {"wget"},  # quay.io/prometheus/busybox base
}
# Images built FROM scratch: nothing but the binary, so no health check is possible.
SCRATCH_IMAGES = {"oliver006/redis_exporter", "nginx/nginx-prometheus-exporter"}


# --- helpers -------------------------------------------------------------------------------------


def _settings_attr(service: str) -> str:
    return service.replace("-", "_")


def _repository(image: str) -> str:
    return image.split("@", 1)[0].rsplit(":", 1)[0]


def _running(result) -> dict[str, Recorded]:
    """Services' containers that run (the files loaders are created and never started), by Docker
    name; a reloader sidecar (`_reloaders`) or a second server (`_sidecars`) is not one of them."""
    sidecars = {r.name for r in _sidecars(result).values()}
    return {
        r.inputs["name"]: r
        for r in result.of_type(CONTAINER)
        if r.inputs.get("start", True) is not False and not r.name.endswith("-reloader") and r.name not in sidecars
    }


def _sidecars(result) -> dict[str, Recorded]:
    """Second servers (ServiceSpec.sidecar) by the service whose component owns them."""
    specs = result.program["specs"]
    owners = {f"{STACK}-{service}": service for service in SERVICES}
    return {
        owners[r.parent]: r
        for r in result.of_type(CONTAINER)
        if r.parent in owners
        and owners[r.parent] in specs
        and specs[owners[r.parent]].sidecar is not None
        and r.name == f"{r.parent}-{specs[owners[r.parent]].sidecar.name}"
    }


def _reloaders(result) -> dict[str, Recorded]:
    """Reloader sidecars by the service whose component owns them."""
    owners = {f"{STACK}-{service}": service for service in SERVICES}
    return {owners[r.parent]: r for r in result.of_type(CONTAINER) if r.name == f"{r.parent}-reloader"}


def _loaders(result) -> dict[str, Recorded]:
    """Files loaders by the service whose component owns them (a scheduled job's run containers are
    never started by Pulumi either, but they are not loaders: see test_backup_deploy.py)."""
    owners = {f"{STACK}-{service}": service for service in SERVICES}
    return {owners[r.parent]: r for r in result.of_type(CONTAINER) if r.inputs.get("start", True) is False and r.name == f"{r.parent}-files"}


def _consumers(result, service: str) -> list[Recorded]:
    """The containers that read a service's files: its running container, or a scheduled job's runs."""
    running = _running(result)
    if service in running:
        return [running[service]]
    from components.docker.job import RUN_LABEL

    runs = [c for c in result.of_type(CONTAINER) if c.parent == f"{STACK}-{service}" and RUN_LABEL in _labels(c)]
    assert runs, f"{service}: no container reads its files"
    return runs


def _labels(container: Recorded) -> dict[str, Any]:
    return {item["label"]: item["value"] for item in container.inputs.get("labels", [])}


def _uploads(loader: Recorded) -> dict[str, dict[str, Any]]:
    return {item["file"]: item for item in unwrap(loader.inputs["uploads"])}


def _secret_upload_paths(loader: Recorded) -> set[str]:
    """Uploads whose content is marked secret (the whole list, the item or the content)."""
    raw = loader.inputs["uploads"]
    if is_secret(raw):
        return {item["file"] for item in unwrap(raw)}
    return {unwrap(item)["file"] for item in raw if is_secret(item) or is_secret(item.get("content"))}


def _plaintext(value: Any) -> Iterator[str]:
    """Every string of an input that is not under a secret marker (keys included)."""
    if is_secret(value):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _plaintext(item)
    elif isinstance(value, list):
        for item in value:
            yield from _plaintext(item)
    elif isinstance(value, str):
        yield value


@pytest.fixture(scope="module")
def captured_backend():
    """The DockerMonitoring object itself, for its public attributes."""
    captured: dict[str, Any] = {}

    def grab(args):
        if args.type_ == "ngx:monitoring:DockerMonitoring":
            captured["backend"] = args.resource
        return None

    result = synth("dev", transformations=[grab])
    return result, captured["backend"]


# --- hardening -----------------------------------------------------------------------------------


def _uid(user: Any) -> int | None:
    match = re.fullmatch(r"(\d+):(\d+)", str(user or ""))
    return int(match.group(1)) if match else None


HARDENING: dict[str, Callable[[dict[str, Any]], bool]] = {
    "non-root numeric user:group": lambda c: _uid(c.get("user")) not in (None, 0),
    "read-only root filesystem": lambda c: c.get("readOnly") is True,
    "drops every capability, adds none": lambda c: c.get("capabilities", {}).get("drops") == ["ALL"] and not c.get("capabilities", {}).get("adds"),
    "no-new-privileges": lambda c: "no-new-privileges:true" in c.get("securityOpts", []),
    "not privileged": lambda c: c.get("privileged") is not True,
    "no host namespaces": lambda c: all(c.get(key) != "host" for key in ("networkMode", "pidMode", "ipcMode", "usernsMode", "cgroupnsMode", "utsMode")),
    "memory limit": lambda c: (c.get("memory") or 0) > 0,
    "restart unless-stopped": lambda c: c.get("restart") == "unless-stopped",
    "log size capped": lambda c: c.get("logDriver") == "json-file" and "max-size" in c.get("logOpts", {}),
    "no Docker socket": lambda c: "docker.sock" not in json.dumps([c.get("mounts", []), c.get("volumes", [])]),
    "host paths read-only": lambda c: (
        all(m.get("readOnly") is True for m in c.get("mounts", []) if m.get("type") == "bind") and not any(v.get("hostPath") for v in c.get("volumes", []))
    ),
    "no devices": lambda c: not c.get("devices") and not c.get("gpus"),
    "no extra ports": lambda c: not c.get("publishAllPorts"),
}
# The loaders never run a process: the engine refuses uploads into a read-only root filesystem, and a
# restart policy has nothing to restart.
LOADER_EXCEPTIONS = {"read-only root filesystem", "restart unless-stopped"}


def test_every_hardening_check_can_fail():
    """Each check rejects a container that breaks it (so a pass below means something)."""
    insecure = {
        "user": "0:0",
        "readOnly": False,
        "capabilities": {"adds": ["NET_ADMIN"], "drops": []},
        "securityOpts": [],
        "privileged": True,
        "pidMode": "host",
        "memory": 0,
        "restart": "no",
        "logOpts": {},
        "mounts": [{"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock"}],
        "devices": [{"hostPath": "/dev/kmsg"}],
        "publishAllPorts": True,
    }
    assert [name for name, check in HARDENING.items() if check(insecure)] == []


@pytest.mark.parametrize("check", sorted(HARDENING))
def test_every_running_container_is_hardened(dev_stack, check):
    running = _running(dev_stack)
    failing = sorted(name for name, container in running.items() if not HARDENING[check](container.inputs))
    assert not failing, f"{check}: {failing}"


@pytest.mark.parametrize("check", sorted(set(HARDENING) - LOADER_EXCEPTIONS))
def test_files_loaders_are_hardened_too(dev_stack, check):
    failing = sorted(s for s, loader in _loaders(dev_stack).items() if not HARDENING[check](loader.inputs))
    assert not failing, f"{check}: {failing}"


def test_files_loaders_never_run_and_join_no_network(dev_stack):
    for service, loader in _loaders(dev_stack).items():
        inputs = loader.inputs
        assert inputs["start"] is False and inputs["mustRun"] is False, service
        assert inputs["networkMode"] == "none" and not inputs.get("networksAdvanced"), service
        assert not inputs.get("ports") and not inputs.get("healthcheck") and not inputs.get("wait"), service


def test_every_service_runs_as_one_container_named_after_it(dev_stack):
    """Other services reach a service by its topology name, which is the container's name and host name."""
    running = _running(dev_stack)
    assert set(running) == set(long_running("docker"))
    for name, container in running.items():
        assert container.inputs["hostname"] == name
        assert container.options["deleteBeforeReplace"], f"{name}: a fixed name needs delete-before-replace"


def test_memory_limits_follow_the_resource_settings(dev_stack):
    resources = dev_stack.settings.resources
    for name, container in _running(dev_stack).items():
        assert container.inputs["memory"] == memory_mb(getattr(resources, _settings_attr(name)).memory), name


def test_host_mounts_only_where_the_topology_grants_host_access(dev_stack):
    for name, container in _running(dev_stack).items():
        binds = [m for m in container.inputs.get("mounts", []) if m["type"] == "bind"]
        assert bool(binds) == SERVICES[name].host_access, name


def test_node_exporter_sees_the_host_read_only(dev_stack):
    binds = {m["source"]: m for m in _running(dev_stack)["node-exporter"].inputs["mounts"] if m["type"] == "bind"}
    assert set(binds) == {"/proc", "/sys", "/"}
    assert all(m["readOnly"] is True for m in binds.values())


def test_scratch_space_is_a_bounded_tmpfs(dev_stack):
    for name, container in _running(dev_stack).items():
        for path, options in (container.inputs.get("tmpfs") or {}).items():
            assert "size=" in options and "noexec" in options, f"{name}:{path}"


# --- health checks and start order -----------------------------------------------------------------


def test_only_the_scratch_images_go_without_a_health_check(dev_stack):
    images = {name: getattr(dev_stack.settings.images, _settings_attr(name)) for name in SERVICES}
    unchecked = {name for name, c in _running(dev_stack).items() if not c.inputs.get("healthcheck")}
    assert unchecked == {name for name, image in images.items() if _repository(image) in SCRATCH_IMAGES}
    assert unchecked == set(NO_HEALTHCHECK)


def test_health_checks_call_a_tool_their_image_ships(dev_stack):
    for name, container in _running(dev_stack).items():
        check = container.inputs.get("healthcheck")
        if not check:
            continue
        tests = check["tests"]
        image = getattr(dev_stack.settings.images, _settings_attr(name))
        assert tests[0] == "CMD", f"{name}: exec form, no shell assumed"
        assert tests[1] in IMAGE_TOOLS[_repository(image)], f"{name}: {tests[1]} is not in {image}"
        ports = {str(int(port.number)) for port in SERVICES[name].ports}
        assert any(re.search(rf"[:/]({'|'.join(ports)})\b", part) for part in tests[2:]), f"{name}: probes another port"


def test_containers_with_a_health_check_are_waited_for(dev_stack):
    for name, container in _running(dev_stack).items():
        checked = bool(container.inputs.get("healthcheck"))
        assert bool(container.inputs.get("wait")) == checked, name
        if checked:
            assert container.inputs["waitTimeout"] >= 60, name


def test_dependants_are_created_after_what_they_need(dev_stack):
    running = _running(dev_stack)
    for service, dependencies in START_AFTER.items():
        depends_on = set(running[service].options["dependsOn"])
        for dependency in dependencies:
            assert running[dependency].name in depends_on, f"{service} does not wait for {dependency}"
            assert running[dependency].inputs.get("wait") or dependency in NO_HEALTHCHECK


def test_the_proxy_comes_after_every_service_it_routes_to(dev_stack):
    running = _running(dev_stack)
    depends_on = set(running[ENTRYPOINT].options["dependsOn"])
    assert {running[service].name for service in ROUTES} <= depends_on


# --- ports (networks: test_docker_stack_networks.py) ----------------------------------------------------------------------------


def test_only_the_proxy_publishes_ports_on_the_configured_address(dev_stack):
    settings = dev_stack.settings
    published = {name: c.inputs["ports"] for name, c in _running(dev_stack).items() if c.inputs.get("ports")}
    assert set(published) == {ENTRYPOINT}
    proxy = SERVICES[ENTRYPOINT]
    assert {(p["internal"], p["external"], p["ip"], p.get("protocol", "tcp")) for p in published[ENTRYPOINT]} == {
        (proxy.port("https").number, settings.proxy.https_port, settings.proxy.bind_address, "tcp"),
        (proxy.port("http").number, settings.proxy.http_port, settings.proxy.bind_address, "tcp"),
    }
    assert settings.proxy.bind_address == "127.0.0.1"


# --- data ----------------------------------------------------------------------------------------


def _job_archives(result) -> set[str]:
    """The repository and stage volumes of the scheduled jobs' steps (test_backup_deploy.py checks them in detail)."""
    from renderers.backup import REPOSITORY_DIR, STAGE_DIR

    return {
        m["source"]
        for c in result.of_type(CONTAINER)
        if c.inputs.get("start", True) is False
        for m in c.inputs.get("mounts", [])
        if m["type"] == "volume" and m["target"] in (REPOSITORY_DIR, STAGE_DIR)
    }


def test_stateful_services_keep_their_data_on_a_protected_retained_volume(dev_stack):
    stateful = {name for name, service in SERVICES.items() if service.stateful}
    assert stateful == set(paths.DATA_DIRS)
    volumes = {v.inputs["name"]: v for v in dev_stack.of_type(VOLUME)}
    running = _running(dev_stack)
    for name, container in running.items():
        data = [m for m in container.inputs.get("mounts", []) if m["type"] == "volume" and m["target"] == paths.DATA_DIRS.get(name)]
        assert bool(data) == (name in stateful), name
        if data:
            volume = volumes[data[0]["source"]]
            assert volume.options["protect"] and volume.options["retainOnDelete"], volume.name
            assert not data[0].get("readOnly"), name
    protected = {v.inputs["name"] for v in volumes.values() if v.options["protect"]}
    mounted_data = {
        m["source"] for n, c in running.items() for m in c.inputs.get("mounts", []) if m["type"] == "volume" and m["target"] == paths.DATA_DIRS.get(n)
    }
    archives = _job_archives(dev_stack)
    assert archives and not archives & mounted_data
    assert protected == mounted_data | archives


def test_a_normal_settings_change_leaves_every_data_volume_input_unchanged(dev_stack):
    """Versions, retention, sizes, resources and the environment label change; the volumes must not."""
    changed = synth(
        "dev",
        [
            "images.prometheus=prom/prometheus:v3.5.1",
            "images.grafana=grafana/grafana:13.0.1",
            "images.loki=grafana/loki:3.5.4",
            "images.alertmanager=prom/alertmanager:v0.28.2",
            "prometheus.retentionTime=30d",
            "loki.retention=336h",
            "grafana.storageSize=5Gi",
            "resources.prometheus.memory=3Gi",
            "environment=dev2",
            "domain=monitoring.example.test",
        ],
    )

    def data_volumes(result):
        return {v.name: (v.inputs, v.options) for v in result.of_type(VOLUME) if v.options["protect"]}

    before, after = data_volumes(dev_stack), data_volumes(changed)
    assert len(before) == len(paths.DATA_DIRS) + len(_job_archives(dev_stack))
    assert before == after


# --- images --------------------------------------------------------------------------------------


def test_every_image_is_the_pinned_one_from_settings(dev_stack):
    images: dict[str, set[str]] = {}
    for r in dev_stack.of_type(IMAGE):
        images.setdefault(r.parent, set()).add(r.inputs["name"])
    assert set(images) == {f"{STACK}-{service}" for service in services_on("docker")}
    for service in services_on("docker"):
        # The backup job's steps run in two images: ops/backup.py's Python and restic's.
        expected = {getattr(dev_stack.settings.images, _settings_attr(service))} | ({dev_stack.settings.images.restic} if service == "backup" else set())
        assert images[f"{STACK}-{service}"] == expected, service
        for reference in expected:
            tag = reference.split("@", 1)[0].rsplit("/", 1)[-1].partition(":")[2]
            assert tag and tag.lower() != "latest", reference


def test_containers_run_the_exact_image_that_was_pulled(dev_stack):
    """By image ID, not by tag: a re-tagged image cannot slip in under the same name. (The backup
    repository's initializer is made of Prometheus's image: test_backup_deploy.py.)"""
    pulled: dict[str, set[str]] = {}
    for image in dev_stack.of_type(IMAGE):
        pulled.setdefault(image.parent, set()).add(_COMPUTED[IMAGE](image.name, image.inputs)["imageId"])  # what the mocks answered for it
    for container in dev_stack.of_type(CONTAINER):
        if container.name.endswith("-repository-initializer"):
            continue
        assert container.inputs["image"] in pulled[container.parent], container.name


# --- files and secrets -----------------------------------------------------------------------------


def test_uploads_equal_the_renderers_output(dev_stack):
    config = render_config_files(dev_stack.settings)
    uploaded_by_grafana = bundle.render_uploaded_files(dev_stack.settings)
    auth = {key: text for key, text in dev_stack.files.items() if key not in config and key not in uploaded_by_grafana}
    assert auth, "the auth files (web.yml, htpasswd) were not captured"
    loaders = _loaders(dev_stack)
    for service in sorted({key.partition("/")[0] for key in {**config, **auth}}):
        uploads = _uploads(loaders[service])
        for key, text in {**config, **auth}.items():
            if key.startswith(f"{service}/"):
                assert uploads[bundle.container_path(key)]["content"] == text, key
        rendered = {bundle.container_path(key) for key in {**config, **auth} if key.startswith(f"{service}/")}
        others = set(uploads) - rendered
        assert all(path.startswith((f"{paths.SECRETS_DIR}/", f"{paths.TLS_DIR}/")) for path in others), others


def test_every_service_with_rendered_files_has_a_loader_and_no_loader_is_empty(dev_stack):
    loaders = _loaders(dev_stack)
    assert {key.partition("/")[0] for key in dev_stack.files} <= set(loaders)
    assert all(_uploads(loader) for loader in loaders.values())


def test_every_uploaded_file_is_visible_read_only_in_the_running_container(dev_stack):
    for service, loader in _loaders(dev_stack).items():
        loader_mounts = {m["target"]: m["source"] for m in loader.inputs["mounts"]}
        for consumer in _consumers(dev_stack, service):
            service_mounts = {m["target"]: m for m in consumer.inputs["mounts"] if m["type"] == "volume"}
            for path in _uploads(loader):
                roots = [target for target in loader_mounts if path.startswith(f"{target}/")]
                assert len(roots) == 1, f"{service}:{path} is not in exactly one loader volume"
                mount = service_mounts.get(roots[0])
                assert mount and mount["source"] == loader_mounts[roots[0]] and mount["readOnly"] is True, f"{consumer.name}:{path}"


def test_dashboards_reach_grafana_through_its_api_only(dev_stack):
    """No volume carries a dashboard: Grafana would never read it, and a dashboard edit would replace
    Grafana's container for nothing."""
    uploaded = {path for loader in _loaders(dev_stack).values() for path in _uploads(loader)}
    assert bundle.render_uploaded_files(dev_stack.settings)
    assert not [path for path in uploaded if path.endswith(".json") or "/dashboards/" in path]


def test_only_restarting_services_are_replaced_when_their_files_change(dev_stack):
    """A RESTART service's container carries its loader's ID, which changes with every new set of
    uploads; a RELOAD service's (Prometheus, Alertmanager) does not, so it keeps running and reloads."""
    specs = dev_stack.program["specs"]
    reloading = {service for service, spec in specs.items() if spec.file_change == RELOAD}
    assert reloading == {"prometheus", "alertmanager"}
    for service, loader in _loaders(dev_stack).items():
        for consumer in _consumers(dev_stack, service):
            if service in reloading:
                assert FILES_LOADER_LABEL not in _labels(consumer), consumer.name
                # It still waits for its first files.
                assert loader.name in dev_stack.waits_for(consumer.name), consumer.name
            else:
                assert _labels(consumer)[FILES_LOADER_LABEL] == f"{loader.name}_id", consumer.name


def test_a_loader_is_replaced_before_the_old_one_goes_and_volumes_keep_their_names(dev_stack):
    """Create-before-delete: the new loader writes into the volumes the running container reads. The
    engine names it; a fixed name would force delete-before-create."""
    for service, loader in _loaders(dev_stack).items():
        assert not loader.inputs.get("name"), service
        assert loader.options["deleteBeforeReplace"] is False, service


def test_alertmanager_has_a_reloader_in_its_pid_namespace_with_no_network_or_credential(dev_stack):
    """renderers/reloader.py: SIGHUP from a process of the same UID, no password, no capability."""
    spec = dev_stack.program["specs"]["alertmanager"]
    (reloader,) = _reloaders(dev_stack).values()
    assert set(_reloaders(dev_stack)) == {"alertmanager"}
    service = _running(dev_stack)["alertmanager"]
    assert reloader.inputs["pidMode"] == f"container:{service.name}_id"
    assert reloader.inputs["networkMode"] == "none" and reloader.inputs["readOnly"] is True
    assert reloader.inputs["user"] == service.inputs["user"]
    assert reloader.inputs["capabilities"] == {"drops": ["ALL"]}
    assert [*reloader.inputs["entrypoints"], *reloader.inputs["command"]] == list(spec.reloader.command)
    files = {mount["target"]: mount for mount in service.inputs["mounts"] if mount["target"] in spec.reloader.watched_dirs}
    assert {mount["target"]: mount for mount in reloader.inputs["mounts"]} == files
    assert set(files) == set(spec.reloader.watched_dirs) and all(mount["readOnly"] for mount in files.values())


def test_node_exporter_netdev_is_a_container_of_its_own_on_prometheus_network_with_proc_only(dev_stack):
    """The host's interfaces (renderers/commands.node_exporter_netdev_args): a second container that
    Prometheus reaches by its own name on the netdev port, hardened like node-exporter, with only the
    host's /proc, read-only; node-exporter itself no longer exports its own namespace's interfaces.
    In a network namespace of its own, never node-exporter's (`container:`): a restarted node-exporter
    gets a new namespace and would leave a joiner in the old one, healthy on 127.0.0.1 and unreachable.
    It joins only the networks node-exporter shares with Prometheus, so nothing else reaches it."""
    spec = dev_stack.program["specs"]["node-exporter"]
    assert set(_sidecars(dev_stack)) == {"node-exporter"}
    sidecar = _sidecars(dev_stack)["node-exporter"]
    running = _running(dev_stack)
    service = running["node-exporter"]
    assert sidecar.inputs["name"] == sidecar.inputs["hostname"] == "node-exporter-netdev"
    assert "networkMode" not in sidecar.inputs and "ports" not in sidecar.inputs
    joined = [network["name"] for network in sidecar.inputs["networksAdvanced"]]
    shared = [network["name"] for network in service.inputs["networksAdvanced"] if network in running["prometheus"].inputs["networksAdvanced"]]
    assert joined == shared and joined
    # Prometheus scrapes it by that name, with node-exporter's own target as its instance.
    rendered = dev_stack.program["specs"]["prometheus"].config_files["/etc/prometheus/prometheus.yml"]
    scrapes = {job["job_name"]: job for job in yaml.safe_load(rendered)["scrape_configs"]}
    port = SERVICES["node-exporter"].port("netdev").number
    assert scrapes["node-netdev"]["static_configs"] == [{"targets": [f"node-exporter-netdev:{port}"], "labels": {"instance": "node-exporter:9100"}}]
    assert sidecar.inputs["command"] == list(spec.sidecar.args)
    assert "--path.procfs=/host/proc/1" in sidecar.inputs["command"] and "--no-collector.netdev.netlink" in sidecar.inputs["command"]
    assert "--no-collector.netdev" in service.inputs["command"]
    assert [(m["type"], m["source"], m["target"], m["readOnly"]) for m in sidecar.inputs["mounts"]] == [("bind", "/proc", "/host/proc", True)]
    for key in ("user", "capabilities", "securityOpts", "readOnly", "image", "restart"):
        assert sidecar.inputs[key] == service.inputs[key], key
    assert sidecar.inputs["readOnly"] is True and sidecar.inputs["restart"] != "no"
    assert sidecar.inputs["memory"] == memory_mb(spec.sidecar.memory)
    assert sidecar.inputs["healthcheck"]["tests"] == ["CMD", "wget", "-q", "-T", "5", "-O", "/dev/null", f"http://127.0.0.1:{port}/"]
    assert sidecar.inputs["wait"] is True and sidecar.options["deleteBeforeReplace"]


def test_credentials_are_uploaded_as_secrets_readable_by_the_service_only(dev_seeded):
    config = {bundle.container_path(key) for key in render_config_files(dev_seeded.settings)}
    for service, loader in _loaders(dev_seeded).items():
        uploads = _uploads(loader)
        credentials = {
            path
            for path in uploads
            if path not in config and (path.startswith(f"{paths.SECRETS_DIR}/") or path == paths.TLS_KEY or path.endswith(("/web.yml", "/htpasswd")))
        }
        assert credentials <= _secret_upload_paths(loader), f"{service}: {sorted(credentials - _secret_upload_paths(loader))}"
        # The service's user (a job's: its spec's, which runs as other users join: test_backup_deploy.py).
        uid, gid = (_running(dev_seeded).get(service) or loader).inputs["user"].split(":")
        for path in set(uploads) - config:
            assert (uploads[path].get("owner"), uploads[path].get("group"), uploads[path].get("permissions")) == (uid, gid, "0440"), f"{service}:{path}"


def test_seeded_secrets_reach_the_containers(dev_seeded):
    """They are delivered (so the search below would find them if they were not marked secret)."""
    delivered = "\n".join(item["content"] for loader in _loaders(dev_seeded).values() for item in _uploads(loader).values())
    for path, value in SEEDED_SECRETS.items():
        assert value in delivered, path


def _generated_secrets(result) -> list[str]:
    """What the mocks answered for every generated password (the program never sees them in plain)."""
    return [_COMPUTED[PASSWORD](r.name, r.inputs)["result"] for r in result.of_type(PASSWORD)]


def test_no_secret_appears_in_any_plaintext_input(dev_seeded):
    needles = {
        **{f"seeded {path}": value for path, value in SEEDED_SECRETS.items()},
        **{f"generated password {i}": value for i, value in enumerate(_generated_secrets(dev_seeded))},
        "a private key": "PRIVATE KEY-----",
        "a bcrypt hash": "$2b$",
    }
    assert len(needles) > len(SEEDED_SECRETS) + 3, "no generated passwords found"
    leaks = [
        (resource.type, resource.name, label)
        for resource in dev_seeded.resources
        for text in _plaintext(resource.inputs)
        for label, needle in needles.items()
        if needle in text
    ]
    assert not leaks


def test_the_leak_search_finds_an_unmarked_secret(dev_seeded):
    """The search above is not vacuous: with the markers removed it finds the delivered secrets."""
    loader = _loaders(dev_seeded)["alertmanager"]
    texts = list(_plaintext(unwrap(loader.inputs)))
    assert any(SEEDED_SECRETS["receivers.email.password"] in text for text in texts)


def test_no_credential_in_an_environment_variable(dev_seeded):
    """Credentials are files; a credential-looking variable may only name a file (`__FILE`)."""
    for resource in dev_seeded.of_type(CONTAINER):
        assert not is_secret(resource.inputs.get("envs")), f"{resource.name}: a secret went into the environment"
        for entry in unwrap(resource.inputs.get("envs", [])):
            name, _, value = entry.partition("=")
            if re.search(r"PASSWORD|SECRET|TOKEN|KEY|CREDENTIAL", name):
                assert name.endswith("__FILE") and value.startswith(f"{paths.SECRETS_DIR}/"), f"{resource.name}: {name}"


def test_grafana_reads_its_admin_password_from_an_uploaded_file(dev_seeded):
    grafana = _running(dev_seeded)["grafana"]
    env = dict(entry.split("=", 1) for entry in unwrap(grafana.inputs["envs"]))
    path = env["GF_SECURITY_ADMIN_PASSWORD__FILE"]
    uploads = _uploads(_loaders(dev_seeded)["grafana"])
    assert uploads[path]["content"] == SEEDED_SECRETS["grafana.adminPassword"]
    assert path in _secret_upload_paths(_loaders(dev_seeded)["grafana"])


# --- shape of the component ------------------------------------------------------------------------


def test_every_child_is_parented_and_named_after_its_component(dev_stack):
    components = {r.name: r for r in dev_stack.resources if r.type.startswith("ngx:monitoring:Docker")}
    assert components[STACK].type == "ngx:monitoring:DockerMonitoring" and components[STACK].parent is None
    for resource in dev_stack.resources:
        if not resource.type.startswith("docker:") and resource.type != "ngx:monitoring:DockerService":
            continue
        assert resource.parent in components, f"{resource.name} is not a child of the backend"
        assert resource.name.startswith(f"{resource.parent}-"), f"{resource.name} not named after {resource.parent}"
    services = {r.name for r in components.values() if r.type == "ngx:monitoring:DockerService"}
    assert services == {f"{STACK}-{service}" for service in long_running("docker")}
    jobs = {r.name for r in components.values() if r.type == "ngx:monitoring:DockerJob"}
    assert jobs == {f"{STACK}-{service}" for service in set(services_on("docker")) - set(long_running("docker"))}


def test_labels_name_each_container_after_its_service(dev_stack):
    for name, container in _running(dev_stack).items():
        labels = _labels(container)
        assert labels["app.kubernetes.io/name"] == name
        assert labels["app.kubernetes.io/part-of"] == "ngx-monitoring"
        assert labels["app.kubernetes.io/managed-by"] == "pulumi"


def test_public_attributes_of_the_backend(captured_backend):
    """The shape the Kubernetes backend shares: `services` per topology service, `grafana_ready`."""
    _, backend = captured_backend
    assert isinstance(backend, DockerMonitoring)
    assert set(backend.services) == set(long_running("docker"))
    assert set(backend.jobs) == set(services_on("docker")) - set(long_running("docker"))
    # Kubernetes-only services (kube-state-metrics) have nothing to describe on Docker.
    assert "kube-state-metrics" in SERVICES and "kube-state-metrics" not in backend.services
    assert all(isinstance(service, DockerService) for service in backend.services.values())
    assert _sync_await(backend.grafana_ready.future()) is True


def test_grafana_ready_waits_for_the_healthy_grafana_container_and_proxy(captured_backend):
    _, backend = captured_backend
    depends_on = {getattr(resource, "_name", None) for resource in _sync_await(backend.grafana_ready.resources())}
    assert {f"{STACK}-grafana-container", f"{STACK}-proxy-container"} <= depends_on
    assert backend.services["grafana"].container._name in depends_on


def test_proxy_is_replaced_with_any_upstream_it_resolved_at_start(dev_stack):
    """nginx caches upstream addresses from its start; a replaced Grafana (new address) must replace it too."""
    from components.docker.monitoring import RESTART_WITH
    from components.docker.service import RESTART_WITH_LABEL

    containers = {r.name: r for r in dev_stack.of_type("docker:index/container:Container")}
    proxy = containers["ngx-proxy-container"]
    labels = {item["label"]: item["value"] for item in proxy.inputs["labels"]}
    expected = ",".join(f"ngx-{service}-container_id" for service in RESTART_WITH["proxy"])
    assert labels[RESTART_WITH_LABEL] == expected
    assert set(RESTART_WITH["proxy"]) == {"grafana", "prometheus", "alertmanager", "loki"}
    others = [c for name, c in containers.items() if name != "ngx-proxy-container"]
    assert all(RESTART_WITH_LABEL not in {i["label"] for i in c.inputs.get("labels", [])} for c in others)
