"""Small PromQL builders shared by every rule module, so selectors and ratios are written one way."""

from __future__ import annotations

import catalog


def selector(series: str, job: str, *matchers: str) -> str:
    """`series{job="...",...}` for a catalogued series (histograms: the _bucket/_sum/_count names)."""
    if series not in catalog.series_names():
        raise KeyError(f"{series} is not a series of the NGX metric catalog")
    return f"{series}{{{','.join((catalog.job_selector(job), *matchers))}}}"


def rate_by(labels: str, series: str, job: str, *matchers: str) -> str:
    """`sum by (labels) (rate(series{job=...}[5m]))`: the 5m rate every recording starts from."""
    return f"sum by ({labels}) (rate({selector(series, job, *matchers)}[5m]))"


def rate_by_as(labels: str, series: str, job: str, renamed: dict[str, str], *matchers: str) -> str:
    """`rate_by` that records label `source` as `target` for each `target: source` of `renamed`, so
    one recording has the same labels whatever the raw series call them. Identity when they agree."""
    expr = f"rate({selector(series, job, *matchers)}[5m])"
    for target, source in renamed.items():
        if target != source:
            expr = f'label_replace({expr}, "{target}", "$1", "{source}", "(.*)")'
    return f"sum by ({labels}) ({expr})"


def duration(seconds: int) -> str:
    """Seconds as a Prometheus duration (26h15m), the largest units first."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def number(value: float) -> str:
    """A threshold as PromQL reads it: 0.01, not 0.010000000000000009."""
    return format(value, ".10g")


def zero_safe_ratio(part: str, whole: str) -> str:
    """`part / whole` for two aggregations with the same labels, safe at both ends of traffic.

    No traffic (`whole` is 0) gives no sample instead of NaN, so no ratio alert can fire on an idle
    service. No `part` series yet (a labelled counter is only created on its first increment, e.g. the
    first 5xx) gives 0 instead of no sample, so "no conversions at all" still reads as a 0% ratio.
    """
    return f"({part} or {whole} * 0) / ({whole} > 0)"
