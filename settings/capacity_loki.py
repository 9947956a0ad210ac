"""Loki's share of the capacity estimate: its volume per replica and, with a bucket, the bucket's size
and what each replica ingests (settings/capacity.py calls it; docs/operations.md works it through).

- Chunks: logVolumePerDay / LOKI_COMPRESSION per day, kept retention days.
- Index (TSDB): INDEX_SHARE of the chunk bytes (the compactor keeps one copy per day table).
- Filesystem (one replica): the volume holds chunks, index and compaction (LOKI_OVERHEAD) and the WAL.
- Bucket: every ingester that holds a stream flushes its own chunks, so chunks are stored up to
  replicationFactor times (identical chunks share one key, but replicas cut chunks at different
  moments, so count on the upper bound); the index once. Each replica's volume then holds its WAL of
  what it ingests and a cache of the index (at most all of it).
- Ingestion: each push reaches replicationFactor ingesters, so each replica ingests
  logVolumePerDay x replicationFactor / replicas; replicas spread the load, the factor multiplies it.
"""

from __future__ import annotations

from dataclasses import dataclass

from settings.model import Settings
from settings.validators import duration_seconds, prometheus_size_bytes

LOKI_COMPRESSION = 5.0
LOKI_OVERHEAD = 1.10
INDEX_SHARE = LOKI_OVERHEAD - 1  # the same index share, as a fraction of chunk bytes
LOKI_WAL_HOURS = 2


@dataclass(frozen=True)
class LokiEstimate:
    volume_bytes: int  # each replica's data volume
    object_store_bytes: int  # 0 with filesystem storage
    ingest_per_replica_bytes_per_day: int  # raw bytes each replica's ingester receives


def loki_estimate(settings: Settings) -> LokiEstimate:
    loki = settings.loki
    raw_per_day = prometheus_size_bytes(settings.capacity.log_volume_per_day)
    days = duration_seconds(loki.retention) / 86400
    chunks = raw_per_day / LOKI_COMPRESSION * days
    factor = loki.effective_replication_factor
    ingest = raw_per_day * factor / loki.replicas
    wal = ingest / 24 * LOKI_WAL_HOURS
    if not loki.storage.object_store:
        return LokiEstimate(int(chunks * LOKI_OVERHEAD + wal), 0, int(ingest))
    index = chunks * INDEX_SHARE
    return LokiEstimate(int(wal + index), int(chunks * factor + index), int(ingest))
