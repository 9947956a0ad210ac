"""Pure builders of the Docker backend: unit conversions, mount layout, health checks, start order."""

from __future__ import annotations

import pytest

from components.docker.hardening import cpu_limit, memory_mb
from components.docker.health import HTTP_PROBE_CLIENTS, NO_HEALTHCHECK, healthcheck_test
from components.docker.monitoring import START_AFTER, creation_order
from components.file_layout import file_directories, mount_roots
from components.service_spec import Probe, ServiceSpec
from topology import PROXY, SERVICES, edges_on, long_running


@pytest.mark.parametrize(
    "quantity,mb",
    [
        ("2Gi", 2048),
        ("256Mi", 256),
        ("64Mi", 64),
        ("1Ti", 1024 * 1024),
        # Decimal units round up to the next MiB so Docker's limit is never below the Kubernetes one.
        ("500M", 477),
        ("1G", 954),
        ("1536Ki", 2),
        ("1k", 1),
    ],
)
def test_memory_mb_converts_kubernetes_quantities_to_docker_megabytes(quantity, mb):
    """Docker's `memory` is in MiB (the provider multiplies by 1024*1024)."""
    assert memory_mb(quantity) == mb


@pytest.mark.parametrize("quantity,cpus", [("500m", "0.5"), ("250m", "0.25"), ("1", "1"), ("1500m", "1.5"), ("2", "2"), ("0.5", "0.5")])
def test_cpu_limit_converts_kubernetes_cpu_to_docker_cpus(quantity, cpus):
    assert cpu_limit(quantity) == cpus


@pytest.mark.parametrize("bad", ["", "half", "0", "-1", "m"])
def test_cpu_limit_refuses_what_is_not_a_cpu_quantity(bad):
    with pytest.raises(ValueError):
        cpu_limit(bad)


def test_mount_roots_cover_every_file_with_the_fewest_directories():
    paths = [
        "/etc/prometheus/prometheus.yml",
        "/etc/prometheus/rules/api.yml",
        "/etc/ngx/tls/tls.key",
        "/etc/ngx/tls/ca.crt",
        "/etc/ngx/secrets/probe-password",
    ]
    roots = mount_roots(paths)
    assert roots == ["/etc/ngx/secrets", "/etc/ngx/tls", "/etc/prometheus"]
    for path in paths:
        assert sum(path.startswith(f"{root}/") for root in roots) == 1, path


def test_mount_roots_do_not_confuse_a_sibling_with_a_child():
    assert mount_roots(["/etc/ngx/a", "/etc/ngx-extra/b"]) == ["/etc/ngx", "/etc/ngx-extra"]


def test_file_directories_group_files_by_root_and_name_the_config_directory():
    directories = file_directories(
        "prometheus", {"/etc/prometheus/prometheus.yml": "p", "/etc/prometheus/rules/a.yml": "a"}, {"/etc/prometheus/web.yml": "w", "/etc/ngx/tls/tls.key": "k"}
    )
    assert [(d.path, d.name, dict(d.config), dict(d.secret)) for d in directories] == [
        ("/etc/ngx/tls", "tls", {}, {"tls.key": "k"}),
        ("/etc/prometheus", "config", {"prometheus.yml": "p", "rules/a.yml": "a"}, {"web.yml": "w"}),
    ]
    assert directories[1].nested and not directories[0].nested


def test_two_file_directories_with_one_base_name_are_refused():
    with pytest.raises(ValueError, match="two file directories are both named 'tls'"):
        file_directories("svc", {"/etc/a/tls/x": "", "/etc/b/tls/y": ""}, {})


def _spec(service: str, probe: Probe) -> ServiceSpec:
    return ServiceSpec(service, "example/image:1.0", (), {}, {}, {}, 1000, 1000, 1, "64Mi", "100m", probe)


def test_every_service_has_a_health_check_decision():
    """A new service must either name the HTTP client its image has or document why it has none."""
    decided = set(HTTP_PROBE_CLIENTS) | set(NO_HEALTHCHECK) | {"prometheus", "alertmanager"}
    assert decided == set(long_running("docker"))  # a scheduled job serves nothing to check
    assert not set(HTTP_PROBE_CLIENTS) & set(NO_HEALTHCHECK)
    assert all(len(reason) > 40 for reason in NO_HEALTHCHECK.values())


def test_an_exec_probe_runs_the_spec_command_without_a_shell():
    command = ("promtool", "query", "instant", "https://localhost:9090", "vector(1)")
    assert healthcheck_test(_spec("prometheus", Probe("web", command=command))) == ["CMD", *command]


@pytest.mark.parametrize("service", sorted(HTTP_PROBE_CLIENTS))
def test_http_probes_call_the_service_port_on_ipv4_loopback(service):
    port_name = "status" if service == PROXY else "web"
    test = healthcheck_test(_spec(service, Probe(port_name, http_path="/health")))
    port = SERVICES[service].port(port_name).number
    assert test[0] == "CMD"
    assert any(f"127.0.0.1:{port}/health" in part or f"127.0.0.1/{port}" in part for part in test), test


def test_the_bash_probe_sends_a_request_and_requires_status_200():
    test = healthcheck_test(_spec("alloy", Probe("web", http_path="/-/ready")))
    assert test[:3] == ["CMD", "bash", "-c"]
    assert "/dev/tcp/127.0.0.1/12345" in test[3] and "GET /-/ready HTTP/1.0" in test[3] and "' 200 '" in test[3]


def test_documented_exceptions_have_no_health_check():
    for service in NO_HEALTHCHECK:
        assert healthcheck_test(_spec(service, Probe("web", http_path="/metrics"))) is None


def test_an_undecided_service_is_an_error_not_a_silent_gap():
    with pytest.raises(KeyError, match="HTTP_PROBE_CLIENTS"):
        healthcheck_test(_spec("new-service", Probe("web", http_path="/")))


def test_start_order_only_waits_on_services_a_service_talks_to():
    """Waiting on a service you never connect to would only slow `pulumi up` and hide the real reason."""
    edges = {(edge.source, edge.target) for edge in edges_on("docker")}
    for service, dependencies in START_AFTER.items():
        for dependency in dependencies:
            assert (service, dependency) in edges, f"{service} waits for {dependency} without an edge"


def test_start_order_is_acyclic_and_puts_the_proxy_after_every_upstream():
    order = creation_order()
    assert sorted(order) == long_running("docker")
    for service, dependencies in START_AFTER.items():
        for dependency in dependencies:
            assert order.index(dependency) < order.index(service)
    upstreams = {edge.target for edge in edges_on("docker") if edge.source == PROXY}
    assert upstreams <= set(START_AFTER[PROXY])
