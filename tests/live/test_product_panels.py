"""The product panels (A/B results, conversion predictions, drift, ROI, conversation duration, database
connections) show data on the live stack: every query of each, taken from the rendered dashboard JSON
the stack ships, returns at least one series from the real Prometheus scraping the simulator and
evaluating the rendered recording rules.

A panel whose query names a series the application does not expose, or a recording its rules do not
write, renders as "No data" in Grafana; the offline tests check names, this checks the data arrives.
"""

from __future__ import annotations

import inspect
import json

import pytest

from bench.promql import substitute
from dashboards import product_panels
from tests.live.clients import wait_until
from tests.live.timings import patience

pytestmark = pytest.mark.live


def _product_titles(settings) -> set[str]:
    """The titles of every panel function of dashboards.product_panels, built for this stack."""
    titles = set()
    for _, build in inspect.getmembers(product_panels, inspect.isfunction):
        if build.__module__ != product_panels.__name__ or build.__name__.startswith("_"):
            continue
        panel = build(settings) if inspect.signature(build).parameters else build()
        titles.add(panel.build().title)
    return titles


def _product_queries(deployment) -> dict[str, list[str]]:
    """Title -> the PromQL of each target, from the rendered dashboards (what Grafana would run)."""
    titles = _product_titles(deployment.settings)
    found: dict[str, list[str]] = {}
    for key, text in deployment.result.files.items():
        if key.startswith("grafana/dashboards/") and key.endswith(".json"):
            for panel in json.loads(text).get("panels", []):
                if panel.get("title") in titles:
                    found[panel["title"]] = [target["expr"] for target in panel.get("targets", [])]
    assert set(found) == titles, f"product panels missing from the rendered dashboards: {sorted(titles - set(found))}"
    return found


def test_every_query_of_every_product_panel_returns_data(main_stack, live_deployment, timings):
    stack = main_stack
    # Grafana's variables as it sends them with "All" selected, and a rate window of four scrapes.
    window = f"{int(4 * timings.scrape_interval)}s"
    queries = {
        (title, expr): substitute(expr, window, f"{int(timings.scrape_interval)}s", "1h")
        for title, exprs in _product_queries(live_deployment).items()
        for expr in exprs
    }
    # Two scrapes for a rate, then one evaluation of the rules that record it, and one of the rules reading those.
    bound = 2 * timings.scrape_interval + 2 * timings.evaluation_interval
    empty: dict[tuple[str, str], str] = dict(queries)

    def all_have_data() -> bool:
        for key, expr in list(empty.items()):
            if stack.prometheus.query(expr):
                del empty[key]
        # Raised, not returned: wait_until reports the last error, so a timeout names the empty queries.
        assert not empty, f"no data yet for {sorted(empty)}"
        return True

    wait_until(all_have_data, patience(bound), what=f"data for {len(queries)} product panel queries")
    print(f"{len(queries)} queries of {len({title for title, _ in queries})} product panels returned data")
