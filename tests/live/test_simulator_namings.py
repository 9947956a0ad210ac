"""The simulator speaks either naming of the API's metrics (app.metricNames), exactly as the catalog
describes it: with the wrong names or labels a live test would prove rules against an application that
does not exist. Checked on the exposition text, without a server or a stack."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

import catalog
from tests.live.simulator import ENDPOINTS, Simulator


def _families(sim: Simulator) -> dict:
    return {family.name: family for family in text_string_to_metric_families(sim.exposition().decode())}


def _family_name(metric: catalog.Metric) -> str:
    return metric.name[: -len("_total")] if metric.type == "counter" else metric.name


@pytest.mark.parametrize("naming", catalog.API_NAMINGS)
def test_the_exposition_parses_and_holds_exactly_the_catalog_of_its_naming(tmp_path, naming):
    sim = Simulator("127.0.0.1", 0, tmp_path / "api.log", rate=200, naming=naming)
    sim.advance(sim._last + 5)
    families = _families(sim)
    expected = catalog.app_metrics(naming)
    # The text format carries each counter's and histogram's creation time as a `<name>_created` gauge.
    assert {name for name in families if not name.endswith("_created")} == {_family_name(metric) for metric in expected}
    for metric in expected:
        family = families[_family_name(metric)]
        assert family.type == metric.type, (metric.name, family.type)
        stored = {sample.name for sample in family.samples} - {f"{_family_name(metric)}_created"}
        assert stored == set(metric.series_names()), (metric.name, stored)
        for sample in family.samples:
            if not sample.name.endswith("_created"):
                labels = set(sample.labels) - ({"le"} if sample.name.endswith("_bucket") else set())
                assert labels == set(metric.labels), (sample.name, sample.labels)


@pytest.mark.parametrize("naming", catalog.API_NAMINGS)
def test_requests_carry_the_status_and_route_labels_the_recording_rules_read(tmp_path, naming):
    names = catalog.API_NAMINGS[naming]
    sim = Simulator("127.0.0.1", 0, tmp_path / "api.log", rate=200, naming=naming)
    sim.set_mode("error_burst")
    sim.advance(sim._last + 5)
    families = _families(sim)  # once: every exposition simulates the traffic since the last one
    samples = [sample for sample in families[names.requests[: -len("_total")]].samples if sample.name == names.requests and sample.value > 0]
    statuses = {sample.labels["status"] for sample in samples}
    assert statuses == ({"2xx", "5xx"} if names.status_classes else {"200", "500", "503"})
    assert {sample.labels[names.route_label] for sample in samples} == set(ENDPOINTS)
    latency = families[names.latency]
    assert sum(s.value for s in latency.samples if s.name == f"{names.latency}_count") == sum(s.value for s in samples)
