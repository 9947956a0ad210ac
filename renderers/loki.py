"""loki.yaml for Loki 3.x as one process per replica (`target: all`): TSDB index, compactor retention.

By default one replica owns its data volume (chunks and index on the filesystem), so every ring lives
in memory and nothing gossips; memberlist would only add a port that nobody else joins. With a bucket
(loki.storage) the index and chunks live there, and with loki.replicas > 1 the replicas form one ring
over memberlist (renderers/loki_storage.py). `auth_enabled: true` makes Loki require X-Scope-OrgID: the
shipper and the Grafana datasource send the stack's tenant, and the proxy overwrites whatever a client
sends, so a user cannot read or write another tenant by choosing a header.
"""

from __future__ import annotations

from typing import Any

from renderers import loki_storage, paths
from renderers.yamltext import GENERATED, dump
from settings import Settings, SettingsError
from settings.loki import FIRST_PERIOD
from settings.validators import duration_ms
from topology import LOKI, SERVICES

CONFIG_FILE = paths.config_path(LOKI, "loki.yaml")
DATA_DIR = paths.DATA_DIRS[LOKI]

# The first schema period. A fixed date in the past keeps the file byte-identical on every run; a
# future schema or store change must ADD a period starting after the day it ships (loki.storage.since),
# never edit this one, or existing chunks become unreadable.
SCHEMA_FROM = FIRST_PERIOD
# Compactor retention works per index table; tables are one day long, so retention is counted in days
# and anything shorter than a table would never be applied.
INDEX_PERIOD = loki_storage.INDEX_PERIOD
MIN_RETENTION_MS = 24 * 3600_000
# Entries older than this are refused at the door (a replayed or clock-skewed shipper); never longer
# than the retention itself, or accepted data would be deleted by the next compaction.
MAX_SAMPLE_AGE = "168h"


def _dir(name: str) -> str:
    return f"{DATA_DIR}/{name}"


def _retention(settings: Settings) -> str:
    retention = settings.loki.retention
    if duration_ms(retention) < MIN_RETENTION_MS:
        raise SettingsError(
            "loki.retention", f"{retention} is shorter than one index period ({INDEX_PERIOD}); Loki's compactor cannot apply it, use 24h or more"
        )
    return retention


def _max_sample_age(retention: str) -> str:
    return retention if duration_ms(retention) < duration_ms(MAX_SAMPLE_AGE) else MAX_SAMPLE_AGE


def _limits(settings: Settings) -> dict[str, Any]:
    retention = _retention(settings)
    return {
        "retention_period": retention,
        "reject_old_samples": True,
        "reject_old_samples_max_age": _max_sample_age(retention),
        # Per tenant, in MB/s; the API writes a few hundred JSON lines per second at peak, so 8 MB/s
        # leaves head-room for a burst of error logs while still stopping a runaway logger.
        "ingestion_rate_mb": 8,
        "ingestion_burst_size_mb": 16,
        "per_stream_rate_limit": "4MB",
        "per_stream_rate_limit_burst": "16MB",
        # The shipper promotes four low-cardinality labels; a few thousand streams is already a
        # cardinality bug (a request id turned into a label), and this limit makes it fail loudly.
        "max_global_streams_per_user": 5000,
        "max_label_names_per_series": 15,
        # A line over 256KB is truncated, not refused: a refusal fails the whole push batch, and the
        # shipper does not retry a 4xx, so one huge stack trace would drop its neighbours too.
        "max_line_size": "256KB",
        "max_line_size_truncate": True,
        # Queries: one month of lookback at most per query, bounded result sizes.
        "max_query_length": "721h",
        "max_entries_limit_per_query": 5000,
        "max_query_series": 1000,
        "allow_structured_metadata": True,
    }


def render_loki_config(settings: Settings) -> str:
    ports = SERVICES[LOKI]
    storage = settings.loki.storage
    ring, memberlist = loki_storage.ring(settings)
    document = {
        "target": "all",
        "auth_enabled": True,
        "server": {
            "http_listen_port": ports.port("web").number,
            "grpc_listen_port": ports.port("grpc").number,
            "log_format": "json",
            "log_level": "info",
        },
        "common": {
            "path_prefix": DATA_DIR,
            **ring,
            # Also with a bucket: the ruler's (unused) rules directory, and the chunks of a filesystem
            # period kept by loki.storage.since.
            "storage": {"filesystem": {"chunks_directory": _dir("chunks"), "rules_directory": _dir("rules")}},
        },
        **({"memberlist": memberlist} if memberlist else {}),
        "schema_config": {"configs": loki_storage.schema_periods(storage)},
        "storage_config": {
            # With a bucket the shipper uploads each day's index there and keeps only this local copy.
            "tsdb_shipper": {"active_index_directory": _dir("tsdb-index"), "cache_location": _dir("tsdb-cache")},
            "filesystem": {"directory": _dir("chunks")},
            **loki_storage.client_config(storage),
        },
        "ingester": {"wal": {"enabled": True, "dir": _dir("wal")}},
        "compactor": {
            "working_directory": _dir("compactor"),
            "compaction_interval": "10m",
            "retention_enabled": True,
            # Marked chunks stay on disk this long: a window to notice and undo a retention mistake.
            "retention_delete_delay": "2h",
            # Delete requests live with the newest period's index, where retention applies them.
            "delete_request_store": loki_storage.delete_request_store(storage),
        },
        "limits_config": _limits(settings),
        "query_range": {"results_cache": {"cache": {"embedded_cache": {"enabled": True, "max_size_mb": 100}}}},
        # No usage statistics leave the stack (and the stack has no route to the internet anyway).
        "analytics": {"reporting_enabled": False},
    }
    return dump(document, GENERATED)


def loki_args(settings: Settings) -> list[str]:
    """Command line of the Loki container: everything else is in loki.yaml."""
    _retention(settings)  # fail at the same place whichever of the two is rendered first
    return [f"-config.file={CONFIG_FILE}"]
