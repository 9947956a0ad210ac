"""loki.yaml: no Loki binary here, so the file is parsed and each property the stack relies on is asserted.

What would break in production if these failed: a missing tenant requirement lets anyone read every
tenant's logs; a retention that is not applied fills the volume; a path outside the data volume is
lost on restart (or fails on the read-only root filesystem).
"""

from __future__ import annotations

import pytest
import yaml

from renderers import loki, paths
from settings import SettingsError, parse
from topology import LOKI, SERVICES

DEV = parse({"platform": "docker"}, stack="dev")
PROD = parse({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1/32"}}, stack="prod")

# Top-level blocks of Loki 3.x's configuration reference; a typo here is a startup failure.
LOKI_TOP_LEVEL = {
    "target",
    "auth_enabled",
    "server",
    "common",
    "schema_config",
    "storage_config",
    "ingester",
    "compactor",
    "limits_config",
    "query_range",
    "analytics",
    "memberlist",
    "distributor",
    "querier",
    "frontend",
    "ruler",
    "chunk_store_config",
    "pattern_ingester",
    "runtime_config",
    "tracing",
    "table_manager",
    "query_scheduler",
}


def _config(settings) -> dict:
    text = loki.render_loki_config(settings)
    assert text.startswith("# Rendered by ngx-monitoring")
    return yaml.safe_load(text)


def _strings(node, key=""):
    """(key, value) for every string leaf."""
    if isinstance(node, dict):
        for name, value in node.items():
            yield from _strings(value, name)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value, key)
    elif isinstance(node, str):
        yield key, node


@pytest.mark.parametrize("settings", [DEV, PROD], ids=["docker", "kubernetes"])
def test_multi_tenant_single_binary_with_in_memory_rings(settings):
    config = _config(settings)
    assert set(config) <= LOKI_TOP_LEVEL
    assert config["auth_enabled"] is True
    assert config["target"] == "all"
    common = config["common"]
    assert common["replication_factor"] == 1
    assert common["ring"]["kvstore"]["store"] == "inmemory"
    assert "memberlist" not in config, "a single process has no peers to gossip with"
    assert config["analytics"] == {"reporting_enabled": False}


@pytest.mark.parametrize("settings", [DEV, PROD], ids=["docker", "kubernetes"])
def test_listens_on_the_topology_ports(settings):
    server = _config(settings)["server"]
    assert server["http_listen_port"] == SERVICES[LOKI].port("web").number == 3100
    assert server["grpc_listen_port"] == SERVICES[LOKI].port("grpc").number == 9095
    assert server["log_format"] == "json"


def test_schema_v13_on_tsdb_with_filesystem_storage_on_the_data_volume():
    config = _config(DEV)
    (period,) = config["schema_config"]["configs"]
    assert (period["schema"], period["store"], period["object_store"]) == ("v13", "tsdb", "filesystem")
    assert period["index"]["period"] == "24h"
    assert str(period["from"]) == loki.SCHEMA_FROM
    data = paths.DATA_DIRS["loki"]
    directories = [value for key, value in _strings(config) if key.endswith(("directory", "dir", "location", "path_prefix"))]
    assert len(directories) >= 7
    assert all(value == data or value.startswith(f"{data}/") for value in directories), directories
    assert config["storage_config"]["filesystem"]["directory"] == config["common"]["storage"]["filesystem"]["chunks_directory"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"platform": "docker"}, "168h"),
        ({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1/32"}}, "720h"),
        ({"platform": "docker", "loki": {"retention": "14d"}}, "14d"),
    ],
)
def test_compactor_applies_the_configured_retention(raw, expected):
    config = _config(parse(raw, stack="dev"))
    compactor = config["compactor"]
    assert compactor["retention_enabled"] is True
    assert compactor["delete_request_store"] == "filesystem"
    assert compactor["working_directory"].startswith(paths.DATA_DIRS["loki"])
    assert config["limits_config"]["retention_period"] == expected


def test_old_samples_are_refused_but_never_beyond_retention():
    short = _config(parse({"platform": "docker", "loki": {"retention": "48h"}}, stack="dev"))["limits_config"]
    assert short["reject_old_samples"] is True and short["reject_old_samples_max_age"] == "48h"
    assert _config(PROD)["limits_config"]["reject_old_samples_max_age"] == "168h"


def test_retention_shorter_than_an_index_period_is_refused():
    settings = parse({"platform": "docker", "loki": {"retention": "12h"}}, stack="dev")
    with pytest.raises(SettingsError, match="loki.retention"):
        loki.render_loki_config(settings)
    with pytest.raises(SettingsError, match="loki.retention"):
        loki.loki_args(settings)


def test_ingestion_limits_are_bounded():
    limits = _config(DEV)["limits_config"]
    assert 0 < limits["ingestion_rate_mb"] <= limits["ingestion_burst_size_mb"] <= 64
    assert 0 < limits["max_global_streams_per_user"] <= 10000
    assert limits["max_label_names_per_series"] <= 15
    assert limits["max_line_size"] == "256KB" and limits["max_line_size_truncate"] is True
    assert limits["max_entries_limit_per_query"] > 0 and limits["max_query_series"] > 0


def test_loki_args_point_at_the_rendered_file():
    assert loki.loki_args(DEV) == [f"-config.file={paths.config_path('loki', 'loki.yaml')}"]


def test_rendering_is_deterministic():
    for settings in (DEV, PROD):
        assert loki.render_loki_config(settings) == loki.render_loki_config(settings)
