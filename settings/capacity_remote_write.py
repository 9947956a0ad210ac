"""Remote-write bandwidth: what each Prometheus replica sends to each long-term store.

Bandwidth per store = samples/s of one replica (settings/capacity.py) x replicas (each replica sends
everything; the store deduplicates) x REMOTE_WRITE_BYTES_PER_SAMPLE.

REMOTE_WRITE_BYTES_PER_SAMPLE is measured, not assumed: tests/live/test_remote_write.py prints
prometheus_remote_storage_bytes_total / prometheus_remote_storage_samples_total of the livetest stack
writing to a real receiver (Debian's Prometheus 2.42, remote-write 1.0: protobuf, snappy; batches of
one sample per series, as at any scrape interval longer than batchSendDeadline). It read 22.6 bytes
per sample (each sample travels with its series' labels, which snappy compresses); 25 leaves headroom
for longer label values than the livetest stack's. Metadata (sent once a minute) is left out: it is
per metric name, not per sample.
"""

from __future__ import annotations

from settings.capacity import estimate
from settings.model import Settings

REMOTE_WRITE_BYTES_PER_SAMPLE = 25.0


def remote_write_bytes_per_second(settings: Settings) -> float | None:
    """Bytes per second to each store, all replicas together; None without prometheus.remoteWrite."""
    if not settings.prometheus.remote_write:
        return None
    return estimate(settings).samples_per_second * settings.prometheus.replicas * REMOTE_WRITE_BYTES_PER_SAMPLE


def remote_write_output(settings: Settings) -> dict:
    """Keys added to the `capacity` stack output with prometheus.remoteWrite; none without."""
    per_second = remote_write_bytes_per_second(settings)
    if per_second is None:
        return {}
    return {"remoteWriteKiBPerSecondPerStore": round(per_second / 1024, 1), "remoteWriteGiBPerDayPerStore": round(per_second * 86400 / 2**30, 2)}


def remote_write_markdown(stack: str, settings: Settings) -> str:
    """The formula worked through for `settings` as if it wrote to one store (docs/operations.md)."""
    rate = estimate(settings).samples_per_second
    replicas = settings.prometheus.replicas
    per_second = rate * replicas * REMOTE_WRITE_BYTES_PER_SAMPLE
    return (
        f"**Remote-write bandwidth** per store = samples/s x replicas x {REMOTE_WRITE_BYTES_PER_SAMPLE:g} bytes per sample (measured, "
        f"settings/capacity_remote_write.py); {stack}: {rate:,.1f} x {replicas} x {REMOTE_WRITE_BYTES_PER_SAMPLE:g} = "
        f"**{per_second / 1024:,.1f} KiB/s**, {per_second * 86400 / 2**30:.2f} GiB a day, to each store (compressed request bodies, before TLS)."
    )
