"""Every recorded series checked against what it claims to be, on the benchmark TSDB.

A recording is only worth its speed if it gives the values its raw expression would. For every recorded
name of the rendered rule files, at one evaluation of its group near the end of the data:
- "rule": the recorded values against the rule's own expression evaluated on its inputs (recorded or
  raw) at the same instant: the backfill recorded what the rule says;
- "raw": against the whole chain rewritten down to raw series (bench/promql.py `expand`), e.g. a job
  total summed from the per-endpoint recording against `sum by (job) (rate(raw[5m]))`: building a
  level from a finer recording loses nothing.
A windowed chain (a subquery on raw series) is held to SUBQUERY_TOLERANCE (why: below); a raw chain
with a window longer than the data (the SLO's 1d, 3d and 30d) is not run: it would read
every raw sample at every subquery step (bench/query_timing.py says why); its "rule" check still runs.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Mapping

from bench.prometheus_server import BenchPrometheus
from bench.promql import Recording, expand
from bench.query_timing import _difference, _longest_window, _span, _values
from settings.validators import duration_seconds

# Values are floating-point sums in another order: anything above this is a real difference.
TOLERANCE = 1e-6
# A chain with a window over a recording becomes a subquery on raw series, whose steps Prometheus aligns
# to the clock (multiples of 15s), while the group evaluates at its own offset within the interval: the
# two sample the same rate a few seconds apart at every step, which moves a windowed mean by a fraction
# of a percent. Such a chain must agree to within this; a wrong rule is off by far more.
SUBQUERY_TOLERANCE = 1e-2
_SUBQUERY = re.compile(r"\[\d+[smhdwy]:")


def _compare(prometheus: BenchPrometheus, recorded: str, other: str, at: float) -> float | str | None:
    """Largest relative difference of the two expressions' values at `at`, or why there is none."""
    try:
        mine, theirs = _values(prometheus, recorded, at), _values(prometheus, other, at)
    except (RuntimeError, OSError, http.client.HTTPException) as error:
        return f"not compared: {error}"[:120]
    if set(mine) != set(theirs):
        return f"not compared: series differ ({len(mine)} recorded, {len(theirs)} from the expression)"
    return _difference(mine, theirs)


def evaluation_time(prometheus: BenchPrometheus, name: str, before: float) -> float | None:
    """The timestamp of the last recorded sample of `name` at or before `before`: an instant at which the
    recording was evaluated, so the recorded value and its expression's are of the same moment."""
    _, data = prometheus.query(f"max(timestamp({name}))", at=before)
    return float(data["result"][0]["value"][1]) if data["result"] else None


def check_recordings(prometheus: BenchPrometheus, rules: Mapping[str, list[Recording]], start: float, end: float, log=print) -> list[dict]:
    results = []
    for name, variants in rules.items():
        step = duration_seconds(variants[0].interval)
        try:
            at = evaluation_time(prometheus, name, end - 60) or end - 60
        except (RuntimeError, OSError, http.client.HTTPException, KeyError, IndexError, ValueError):
            at = start + (end - 60 - start) // step * step
        entry: dict = {"record": name, "group": variants[0].group, "at": at}
        entry["rule"] = _compare(prometheus, name, expand(name, {name: variants}), at)
        raw = expand(name, rules)
        window = _longest_window([raw])
        if raw == expand(name, {name: variants}):
            entry["raw"] = "same as rule: reads raw series only"
        elif window > end - start:
            entry["raw"] = f"not run: its {_span(window)} window is longer than the {(end - start) / 3600:g}h of data"
        else:
            entry["raw"] = _compare(prometheus, name, raw, at)
        entry["raw_tolerance"] = SUBQUERY_TOLERANCE if _SUBQUERY.search(raw) else TOLERANCE
        limits = ((entry["rule"], TOLERANCE), (entry["raw"], entry["raw_tolerance"]))
        entry["ok"] = (
            isinstance(entry["rule"], float)
            and all(value <= limit for value, limit in limits if isinstance(value, float))
            and not any(isinstance(value, str) and value.startswith("not compared") for value, _ in limits)
        )
        results.append(entry)
        log(f"tsdb: honesty {name}: rule {entry['rule']}, raw {entry['raw']}")
    return results
