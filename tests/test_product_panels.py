"""The seeds' product panels: each on the dashboard the seed names, ROI with both inputs beside it, the
drift line where ModelDataDrift fires, and a simulator whose numbers tell the panels' stories (a
variant that converts better, a model whose predictions separate the outcomes, revenue above cost).

The generic dashboard tests (tests/test_dashboards.py) check every query against the catalog and the
recordings; these check what the seed asked for is where a reader looks for it, and that the live
test (tests/live/test_product_panels.py) reads values a person would recognise, not just any sample.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from dashboards import build_dashboards, product_queries as q
from tests.alerting_helpers import dev_settings
from tests.live.simulator import Simulator


def _titles(model: dict) -> set[str]:
    return {panel["title"] for panel in model["panels"]}


def test_each_seed_item_has_its_panel_on_the_seed_dashboard():
    dashboards = build_dashboards(dev_settings())
    assert {
        "A/B conversion per variant (1d, 95% interval)",
        "A/B exposures and conversions (1d)",
        "Conversion predictions: predicted vs actual (1h)",
        "Data drift by model and feature",
    } <= _titles(dashboards["ngx-ml"])
    assert {"ROI: revenue per cost (1h)", "Revenue and cost per hour", "Average conversation duration (1h)"} <= _titles(dashboards["ngx-business"])
    assert {"Database connections", "Database checkout timeouts"} <= _titles(dashboards["ngx-overview"])


def test_roi_shows_both_of_its_inputs_per_currency():
    panels = {panel["title"]: panel for panel in build_dashboards(dev_settings())["ngx-business"]["panels"]}
    inputs = [target["expr"] for target in panels["Revenue and cost per hour"]["targets"]]
    assert inputs == [q.revenue_per_hour(), q.cost_per_hour()]
    assert all("by (currency)" in expr for expr in inputs)


def test_the_drift_panel_draws_the_alert_threshold():
    settings = dev_settings(alerting={"thresholds": {"driftScore": 0.4}})
    panel = next(p for p in build_dashboards(settings)["ngx-ml"]["panels"] if p["title"] == "Data drift by model and feature")
    assert 0.4 in [step["value"] for step in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]


def _totals(sim: Simulator) -> dict[tuple[str, tuple], float]:
    totals = {}
    for family in text_string_to_metric_families(sim.exposition().decode()):
        for sample in family.samples:
            totals[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return totals


def _sum(totals: dict, name: str, **labels: str) -> float:
    return sum(value for (series, found), value in totals.items() if series == name and set(labels.items()) <= set(found))


def test_the_simulator_tells_the_panels_stories(tmp_path):
    sim = Simulator("127.0.0.1", 0, tmp_path / "api.log", rate=400)
    sim.advance(sim._last + 60)  # 24,000 requests
    totals = _totals(sim)
    # The variants differ as the simulator makes them (lift 1.3 against 0.9; seeded, so the same every run).
    share = {v: _sum(totals, "ngx_ab_conversions_total", variant=v) / _sum(totals, "ngx_ab_exposures_total", variant=v) for v in ("warm_intro", "annual_first")}
    assert share["warm_intro"] > share["annual_first"] > 0
    # The model separates the outcomes: converted conversations got higher probabilities on average.
    name = "ngx_conversion_prediction_probability"
    mean = {
        outcome: _sum(totals, f"{name}_sum", outcome=outcome) / _sum(totals, f"{name}_count", outcome=outcome) for outcome in ("converted", "not_converted")
    }
    assert mean["converted"] > 0.4 > 0.2 > mean["not_converted"]
    # Revenue pays for the cost, and conversations last minutes.
    assert _sum(totals, "ngx_revenue_total") > _sum(totals, "ngx_cost_total") > 0
    duration = _sum(totals, "ngx_conversation_duration_seconds_sum") / _sum(totals, "ngx_conversation_duration_seconds_count")
    assert 60 < duration < 900
    # A healthy pool: within its size, nobody waits.
    assert _sum(totals, "db_client_connections_usage", state="used") <= _sum(totals, "db_client_connections_idle_max")
    assert _sum(totals, "db_client_connections_pending_requests") == 0
