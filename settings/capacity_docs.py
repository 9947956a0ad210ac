"""The worked capacity examples of docs/operations.md ("Capacity"), generated from `estimate`.

Every figure is computed by settings/capacity.py from a stack's settings (gendocs.py passes the dev and
prod stacks as their stack files configure them), so a changed default, a new scrape job or a new
constant changes the page with it; tests/test_docs.py fails while the page is stale.
"""

from __future__ import annotations

from settings import STORAGE_HEADROOM, capacity as c
from settings.backup import repository_need_bytes
from settings.model import Settings
from settings.validators import duration_seconds, prometheus_size_bytes, volume_size_bytes

GIB = c.GIB
MIB = 2**20


def _n(value: float, digits: int = 0) -> str:
    """Thousands separated, as the page writes numbers: 16,280 or 1,085.3."""
    return f"{value:,.{digits}f}"


def _gib(value: float) -> str:
    return f"{value / GIB:.2f} GiB"


def _series_sum(settings: Settings) -> str:
    parts = [_n(t.per_instance) + (f" x {t.instances}" if t.instances != 1 else "") for t in c.series_terms(settings)]
    return " + ".join(parts)


def _formula_terms(settings: Settings) -> str:
    return " + ".join(t.key + (f" x {t.instances_from}" if t.instances_from else "") for t in c.series_terms(settings))


def worked_example_markdown(stack: str, settings: Settings) -> str:
    """The numbered formulas of the estimate, each worked through with `settings` (stack `stack`)."""
    e = c.estimate(settings)
    prom = settings.prometheus
    interval = duration_seconds(prom.scrape_interval)
    retention = duration_seconds(prom.retention_time)
    retention_days = retention / 86400
    retention_cap = prometheus_size_bytes(prom.retention_size)
    bytes_per_second = e.samples_per_second * c.BYTES_PER_SAMPLE
    loki_days = duration_seconds(settings.loki.retention) / 86400
    memory_limit = settings.resources.prometheus.memory
    blocks_plus_wal = e.prometheus_blocks_bytes + e.prometheus_wal_bytes
    time_or_size = (
        "more than retentionTime: time limits first"
        if e.prometheus_history_days >= retention_days
        else "less than retentionTime: size limits first, and synth warns"
    )
    below = "below" if e.prometheus_memory_bytes <= volume_size_bytes(memory_limit) else "above (a warning)"
    overhead = c.RECORDING_RULE_OVERHEAD
    return "\n".join(
        [
            f"1. **Active series** = ({_formula_terms(settings)}) x {overhead:.2f} for recorded series.",
            f"   {stack}: ({_series_sum(settings)}) x {overhead:.2f} = **{_n(e.series)} series**.",
            f"2. **Samples per second** = series / scrape interval = {_n(e.series)} / {interval:g} s = **{_n(e.samples_per_second)} samples/s**.",
            f"3. **Blocks** = samples/s x retentionTime x {c.BYTES_PER_SAMPLE:g} bytes per sample (the upper end of Prometheus's 1-2 B):",
            f"   {_n(e.samples_per_second, 1)} x {_n(retention)} s ({prom.retention_time}) x {c.BYTES_PER_SAMPLE:g}"
            f" = {e.prometheus_blocks_bytes / 1e9:.2f} GB = {_gib(e.prometheus_blocks_bytes)}.",
            f"4. **WAL and head chunks** = samples/s x {c.WAL_HOURS} h x {c.WAL_BYTES_PER_SAMPLE:g} bytes"
            f" = {_n(e.samples_per_second, 1)} x {_n(c.WAL_HOURS * 3600)} x {c.WAL_BYTES_PER_SAMPLE:g}"
            f" = {e.prometheus_wal_bytes / 1e6:.1f} MB = {_gib(e.prometheus_wal_bytes)}.",
            f"5. **Prometheus disk** = min(blocks + WAL, retentionSize) = min({_gib(blocks_plus_wal)}, {_gib(retention_cap)})"
            f" = **{_gib(e.prometheus_disk_bytes)}**",
            f"   of the {prom.storage_size} volume; retentionSize must fit the volume with {STORAGE_HEADROOM:.0%} headroom (settings check).",
            f"6. **History retentionSize allows** = (retentionSize - WAL) / (samples/s x {c.BYTES_PER_SAMPLE:g} B) / 86,400",
            f"   = ({_gib(retention_cap)} - {_gib(e.prometheus_wal_bytes)}) / {_n(bytes_per_second, 1)} B/s / 86,400"
            f" = **{e.prometheus_history_days:.1f} days** ({time_or_size}).",
            f"7. **Prometheus memory** = series x {c.HEAD_BYTES_PER_SERIES // 1024} KiB x {c.QUERY_HEADROOM:g} (query headroom)"
            f" + {c.PROMETHEUS_BASE_MEMORY // MIB} MiB = {_n(e.series)} x {_n(c.HEAD_BYTES_PER_SERIES)} x {c.QUERY_HEADROOM:g}"
            f" + {c.PROMETHEUS_BASE_MEMORY // MIB} MiB",
            f"   = **{_gib(e.prometheus_memory_bytes)}**, {below} the {memory_limit} limit (`resources.prometheus.memory`; a higher estimate is a warning).",
            f"8. **Loki disk** = logVolumePerDay / {c.LOKI_COMPRESSION:g} (compression) x retention days x {c.LOKI_OVERHEAD:.2f}"
            f" (index, compaction) + logVolumePerDay / 24 x {c.LOKI_WAL_HOURS} h (WAL)",
            f"   = {settings.capacity.log_volume_per_day} / {c.LOKI_COMPRESSION:g} x {loki_days:g} x {c.LOKI_OVERHEAD:g}"
            f" + {settings.capacity.log_volume_per_day} / {24 / c.LOKI_WAL_HOURS:g}"
            f" = **{_gib(e.loki_disk_bytes)}** of {settings.loki.storage_size}.",
        ]
    )


def summary_markdown(stack: str, settings: Settings) -> str:
    """One sentence with a stack's results (the replica count and volumes as that stack sets them)."""
    e = c.estimate(settings)
    prom = settings.prometheus
    replicas = f"{prom.replicas} replica{'s' if prom.replicas != 1 else ''}"
    return (
        f"- {stack}: {_n(e.series)} series, {_n(e.samples_per_second)} samples/s, "
        f"{_gib(e.prometheus_disk_bytes)} of disk per Prometheus replica ({replicas}, "
        f"{e.prometheus_history_days:.1f} days of history within {prom.retention_size}, retentionTime {prom.retention_time}), "
        f"{_gib(e.prometheus_memory_bytes)} of memory per replica and {_gib(e.loki_disk_bytes)} for Loki "
        f"({settings.capacity.log_volume_per_day}/day kept {settings.loki.retention})."
    )


def backup_markdown(stacks: dict[str, Settings]) -> str:
    """The repository's need (settings/backup.py) against backup.storageSize for each stack."""
    checks = []
    for stack, settings in stacks.items():
        p, b = settings.prometheus, settings.backup
        need = repository_need_bytes(p.replicas, p.retention_size, p.retention_time, b.keep, b.schedule)
        checks.append(
            f"{stack}: {p.replicas} replica(s) x {prometheus_size_bytes(p.retention_size) / GIB:g} GiB x {need / p.replicas / prometheus_size_bytes(p.retention_size):.2f} "
            f"= {need / GIB:.1f} GiB <= {b.storage_size}"
        )
    return "; ".join(checks) + "."


def capacity_markdown(stacks: dict[str, Settings]) -> str:
    """The generated part of "Capacity": the first stack worked through, a summary line for every stack."""
    (first, settings), *_ = stacks.items()
    return "\n".join(
        [
            f"Worked through with the {first} stack's settings:",
            "",
            worked_example_markdown(first, settings),
            "",
            "Every stack's settings give:",
            "",
            *(summary_markdown(stack, s) for stack, s in stacks.items()),
        ]
    )
