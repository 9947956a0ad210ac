"""loki.yaml: no Loki binary here, so the file is parsed and each property the stack relies on is asserted,
and every key path it renders, in every storage shape, is checked against Loki's configuration
reference for the pinned version (tests/fixtures/loki_config_keys.txt).

What would break in production if these failed: a missing tenant requirement lets anyone read every
tenant's logs; a retention that is not applied fills the volume; a path outside the data volume is
lost on restart (or fails on the read-only root filesystem); a key Loki does not know stops it from
starting; an edited schema period makes the logs already stored unreadable; replicas that do not
share a ring each keep a private, partial copy of the logs.
"""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest
import yaml

from renderers import loki, loki_storage, paths
from settings import SettingsError, parse
from settings.model import DEFAULT_IMAGES
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


# --- object storage and replicas (loki.storage, loki.replicas) ----------------------------------------

K8S = {"apiServerCidr": "10.96.0.1/32"}
S3_STORE = {"type": "s3", "bucket": "ngx-logs", "region": "eu-west-1", "accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "wJalrXUtnFEMI-example"}
S3_CLUSTER = parse(
    {
        "platform": "kubernetes",
        "kubernetes": K8S,
        "loki": {"replicas": 3, "storage": {**S3_STORE, "endpoint": "https://minio.example.net:9000", "pathStyle": True}},
    },
    stack="prod",
    secret_keys=["loki"],
)
S3_MIGRATING = parse({"platform": "docker", "loki": {"storage": {**S3_STORE, "since": "2030-01-01"}}}, stack="dev", secret_keys=["loki"])
GCS_IDENTITY = parse(
    {
        "platform": "kubernetes",
        "kubernetes": K8S,
        "loki": {"replicas": 2, "storage": {"type": "gcs", "bucket": "ngx-logs", "workloadIdentity": "loki@p.iam.gserviceaccount.com"}},
    },
    stack="prod",
)
AZURE_IDENTITY = parse(
    {
        "platform": "kubernetes",
        "kubernetes": K8S,
        "loki": {"replicas": 3, "storage": {"type": "azure", "bucket": "logs", "accountName": "ngxlogs", "workloadIdentity": "0f1e"}},
    },
    stack="prod",
)
EVERY_SHAPE = [DEV, PROD, S3_CLUSTER, S3_MIGRATING, GCS_IDENTITY, AZURE_IDENTITY]
REFERENCE_KEYS = Path(__file__).parent / "fixtures" / "loki_config_keys.txt"


def _key_paths(node, prefix: str = ""):
    """Every key path of a loki.yaml document, lists of blocks written `key[]` as in the fixture."""
    if isinstance(node, dict):
        for name, value in node.items():
            path = f"{prefix}.{name}" if prefix else name
            if isinstance(value, list) and any(isinstance(item, dict) for item in value):
                path += "[]"
                for item in value:
                    yield from _key_paths(item, path)
            else:
                yield from _key_paths(value, path)
            yield path


def test_every_rendered_key_is_in_lokis_reference_for_the_pinned_version():
    """A key Loki does not know makes it refuse to start. The fixture lists the key paths this stack may
    use, each found in Loki's configuration reference at the tag of the pinned image."""
    text = REFERENCE_KEYS.read_text()
    documented = {line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")}
    tag = DEFAULT_IMAGES["loki"].rpartition(":")[2]
    assert f"Loki v{tag} " in text and f"at tag v{tag}," in text, f"the fixture was derived for another Loki; re-derive it for v{tag}"
    for settings in EVERY_SHAPE:
        rendered = set(_key_paths(_config(settings)))
        assert rendered <= documented, sorted(rendered - documented)
    assert "storage_config.aws.bucket_names" not in documented  # the check can fail: Loki spells it bucketnames


def test_s3_puts_index_and_chunks_in_the_bucket_without_credentials_in_the_file():
    text = loki.render_loki_config(S3_CLUSTER)
    config = yaml.safe_load(text)
    (period,) = config["schema_config"]["configs"]
    assert (period["store"], period["object_store"], period["schema"]) == ("tsdb", "s3", "v13")
    assert config["storage_config"]["aws"] == {
        "bucketnames": "ngx-logs",
        "endpoint": "minio.example.net:9000",
        "region": "eu-west-1",
        "s3forcepathstyle": True,
        "insecure": False,
    }
    assert config["compactor"]["delete_request_store"] == "s3", "retention and deletes work on the bucket's index"
    assert config["compactor"]["retention_enabled"] is True
    assert "AKIAEXAMPLE" not in text and "wJalrXUtnFEMI" not in text, "credentials reach Loki as a secret file, never in the ConfigMap"
    aws = parse({"platform": "docker", "loki": {"storage": S3_STORE}}, stack="dev", secret_keys=["loki"])
    assert _config(aws)["storage_config"]["aws"]["endpoint"] == "s3.eu-west-1.amazonaws.com"


def test_credentials_reach_the_sdk_as_a_file_it_is_pointed_at():
    storage = S3_CLUSTER.loki.storage
    files = loki_storage.credential_files(storage)
    parser = configparser.ConfigParser()
    parser.read_string(files[loki_storage.S3_CREDENTIALS_FILE])
    assert dict(parser["default"]) == {"aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": "wJalrXUtnFEMI-example"}
    assert loki_storage.credential_env(storage) == {"AWS_SHARED_CREDENTIALS_FILE": loki_storage.S3_CREDENTIALS_FILE}
    assert loki_storage.S3_CREDENTIALS_FILE.startswith(paths.SECRETS_DIR + "/")
    assert loki_storage.credential_files(GCS_IDENTITY.loki.storage) == {} and loki_storage.credential_env(GCS_IDENTITY.loki.storage) == {}
    gcs = parse(
        {"platform": "docker", "loki": {"storage": {"type": "gcs", "bucket": "ngx-logs", "serviceAccountKey": '{"type": "service_account"}'}}},
        stack="dev",
        secret_keys=["loki"],
    )
    assert loki_storage.credential_env(gcs.loki.storage) == {"GOOGLE_APPLICATION_CREDENTIALS": loki_storage.GCS_KEY_FILE}
    assert _config(gcs)["storage_config"]["gcs"] == {"bucket_name": "ngx-logs"}


def test_gcs_and_azure_use_their_clients_and_the_bucket():
    gcs = _config(GCS_IDENTITY)
    assert gcs["schema_config"]["configs"][0]["object_store"] == "gcs" and gcs["compactor"]["delete_request_store"] == "gcs"
    azure = _config(AZURE_IDENTITY)
    assert azure["storage_config"]["azure"] == {"account_name": "ngxlogs", "container_name": "logs", "use_federated_token": True}
    assert azure["schema_config"]["configs"][0]["object_store"] == "azure" and azure["compactor"]["delete_request_store"] == "azure"


def test_migration_adds_a_period_and_keeps_the_filesystem_one_readable():
    """Editing the existing period would make every chunk already on the volume unreadable."""
    config = _config(S3_MIGRATING)
    old, new = config["schema_config"]["configs"]
    assert (str(old["from"]), old["object_store"]) == (loki.SCHEMA_FROM, "filesystem")
    assert (str(new["from"]), new["object_store"]) == ("2030-01-01", "s3")
    assert {key: value for key, value in old.items() if key not in ("from", "object_store")} == {
        key: value for key, value in new.items() if key not in ("from", "object_store")
    }, "same schema and index tables: only the store changes"
    assert config["storage_config"]["filesystem"]["directory"] == f"{paths.DATA_DIRS['loki']}/chunks"
    (default_period,) = _config(DEV)["schema_config"]["configs"]
    assert default_period == old, "the existing period is byte for byte what it was"


def test_replicas_form_one_memberlist_ring_through_the_headless_service():
    config = _config(S3_CLUSTER)
    common = config["common"]
    assert common["ring"]["kvstore"]["store"] == "memberlist"
    assert common["replication_factor"] == 3 == S3_CLUSTER.loki.effective_replication_factor
    assert "instance_addr" not in common, "each replica must advertise its own pod IP, not loopback"
    port = SERVICES[LOKI].port("memberlist").number
    assert config["memberlist"] == {"join_members": [f"dns+loki-headless.ngx-monitoring.svc:{port}"], "bind_port": port}
    two = _config(GCS_IDENTITY)
    assert two["common"]["replication_factor"] == 2
    one_bucket = parse({"platform": "docker", "loki": {"storage": S3_STORE}}, stack="dev", secret_keys=["loki"])
    assert "memberlist" not in _config(one_bucket) and _config(one_bucket)["common"]["ring"]["kvstore"]["store"] == "inmemory"
