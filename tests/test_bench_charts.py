"""The benchmark's charts (bench/charts.py) drawn from a results JSON shaped by the benchmark's own code.

The fixture is not typed by hand: bench/latency.py's, bench/tsdb.py's and bench/backups.py's `run`
produce it, on the dev stack's rendered files and dashboards, with the live parts (the stacks, promtool,
the benchmark Prometheus, restic) replaced by fakes that return fixed timings (tests/bench_backup_fakes.py
for the backups; the tar.gz archives are real). A renamed or dropped field in either module then
breaks these tests instead of the next real run, which takes the better part of an hour. What would break
otherwise: committed PNGs that change on every redraw (non-deterministic output), a chart silently
missing a panel, or a KeyError deep in matplotlib code for a JSON from an older run.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import pytest
import yaml
from PIL import Image

from bench import backup_charts, backups, charts, latency, scaling, tsdb
from bench.dataset import Dataset
from tests import bench_backup_fakes

ROOT = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class FakePrometheus:
    """Stands in for the benchmark Prometheus (bench/prometheus_server.py) where bench/tsdb.py's `run`
    starts it: recorded series answer in 2 ms, raw ones in 0.4 s, and raw queries over 30 days (the SLO
    panels) time out as they do on the real TSDB."""

    def __init__(self, workdir: Path, data: Path) -> None:
        self.data = data

    def start(self, settle: bool = True) -> None: ...
    def stop(self) -> None: ...
    def value(self, name: str) -> float:
        return 1000.0

    def rss_bytes(self) -> int:
        return 1 << 30

    def query(self, expr: str, at=None, start=None, end=None, step=None, stats=False):
        recorded = re.search(r"[a-zA-Z_]:[a-zA-Z_]", expr)  # a recording rule's name (level:metric:operation)
        if not recorded and "[30d" in expr:
            raise RuntimeError("timeout: query timed out in expression evaluation")
        seconds = 0.002 if recorded else 0.4
        data = {"resultType": "vector", "result": [{"metric": {"job": "api"}, "value": [at or end, "1"]}]}
        if stats:  # as Prometheus 2.42 answers `stats=all`: raw series read many more samples
            data["stats"] = {"samples": {"totalQueryableSamples": 20 if recorded else 20000, "peakSamples": 5 if recorded else 2000}}
        return seconds, data


def _with_intervals(files: dict[str, str], interval: str) -> dict[str, str]:
    document = yaml.safe_load(files["prometheus/prometheus.yml"])
    document["global"].update(scrape_interval=interval, evaluation_interval=interval)
    return {**files, "prometheus/prometheus.yml": yaml.safe_dump(document)}


@pytest.fixture(scope="module")
def results(dev_stack, tmp_path_factory) -> dict:
    """A results JSON as bench/run.py writes it, from the producers' own code (see the module docstring)."""
    from dashboards import build_dashboards

    files = dict(dev_stack.files)
    patch = pytest.MonkeyPatch()
    try:
        configs = {"dev": files, "kube-prometheus-stack": _with_intervals(files, "30s")}
        patch.setattr(latency, "deployments", lambda: {name: SimpleNamespace(result=SimpleNamespace(files=f)) for name, f in configs.items()})

        def run_stack(name, deployment, workdir, index, seed, results, log=print):
            timings = latency.RenderedTimings(deployment.result.files)
            for number, alert in enumerate(latency.ALERTS):
                trial = latency.Trial(name, alert, timings.for_(alert), 0.0, timings.for_(alert) + index - 80 + 25 * number)
                if name == "kube-prometheus-stack" and alert == "HighErrorRate" and index % 2:
                    trial.latency, trial.error = None, "timed out waiting for the page"
                results.append(trial)

        patch.setattr(latency, "_run_stack", run_stack)
        patch.setattr(tsdb, "BenchPrometheus", FakePrometheus)
        patch.setattr(
            tsdb,
            "backfill_raw",
            lambda dataset, end, data, scratch, log=print: (
                data.mkdir(parents=True),
                {"series": 10, "samples": 100, "start": end - 7200, "end": end, "seconds": 1.0},
            )[1],
        )
        patch.setattr(tsdb, "backfill_rules", lambda *args, **kwargs: {"levels": 2, "rules": 3, "seconds": 1.0})
        patch.setattr(backups.backup_tsdb, "grow", bench_backup_fakes.grow)
        patch.setattr(backups, "Restic", bench_backup_fakes.CopyRepository)
        workdir = tmp_path_factory.mktemp("bench")
        produced = {
            "latency": latency.run(workdir / "latency", trials=2, log=lambda message: None),
            "queries": tsdb.run(
                workdir / "tsdb",
                Dataset(instances=1, hours=2),
                files,
                build_dashboards(dev_stack.settings),
                "15s",
                "15s",
                repetitions=2,
                log=lambda message: None,
            ),
            "backups": backups.run(workdir / "backups", Dataset(instances=1, hours=72), days=3, trials=2, log=lambda message: None),
        }
        # Three fleet sizes on the same stand-in: each size's rule groups read and take n times the first's.
        timed, sizes = tsdb.time_rule_groups, iter((1, 2, 3))

        def grown(prometheus, files, interval, at, **kw):
            n = next(sizes)
            return [
                {**g, "duration_s": g["duration_s"] * n, "share_of_interval": g["share_of_interval"] * n, "samples_touched": g["samples_touched"] * n}
                for g in timed(prometheus, files, interval, at, **kw)
            ]

        patch.setattr(tsdb, "time_rule_groups", grown)
        produced["scaling"] = scaling.run(
            workdir / "scaling", (1, 2, 3), 2.0, 40, files, build_dashboards(dev_stack.settings), "15s", "15s", repetitions=1, log=lambda message: None
        )
    finally:
        patch.undo()
    return json.loads(json.dumps(produced, default=str))  # as bench/run.py writes and bench/charts.py reads it


@pytest.fixture(scope="module")
def rendered(results) -> dict[str, bytes]:
    return charts.render(results)


def test_each_part_gives_a_valid_png_without_a_software_tag(rendered):
    assert sorted(rendered) == sorted([charts.ALERT_OVERHEAD, charts.PANEL_QUERIES, charts.RULE_GROUPS, charts.COST_GROWTH, backup_charts.BACKUPS])
    for name, data in rendered.items():
        assert data.startswith(PNG_SIGNATURE), name
        image = Image.open(io.BytesIO(data))
        image.verify()
        assert image.format == "PNG" and image.size[0] >= 800, (name, image.size)
        assert b"Software" not in data and b"matplotlib" not in data.lower(), f"{name} names the build that drew it"


def test_the_panel_chart_grows_with_the_panels(results):
    """One row per panel: a chart of every panel is taller than one of two."""
    assert len(results["queries"]["panels"]) > 10
    with matplotlib.rc_context(charts.STYLE):
        tall = charts.panel_queries(results["queries"]).get_size_inches()[1]
        short = charts.panel_queries({**results["queries"], "panels": results["queries"]["panels"][:2]}).get_size_inches()[1]
    assert tall > short + 3


def test_the_same_json_gives_byte_identical_pngs_in_another_process(results, rendered, tmp_path):
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(results))
    first = charts.render(json.loads(path.read_text()))
    assert first == rendered
    out = tmp_path / "again"
    done = subprocess.run(
        [sys.executable, "-m", "bench.charts", str(path), "--out-dir", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first


def test_the_pngs_follow_the_figures_and_a_part_left_out_is_left_out(results, rendered):
    changed = json.loads(json.dumps(results["latency"]))
    changed["results"][0]["overhead_median_s"] += 5
    after = charts.render({"latency": changed})
    assert list(after) == [charts.ALERT_OVERHEAD]
    assert after[charts.ALERT_OVERHEAD] != rendered[charts.ALERT_OVERHEAD]
    assert charts.render({"program": []}) == {}

    grown = json.loads(json.dumps(results["backups"]))
    for trial in grown["trials"]:
        trial["days"][-1]["restic"]["stored_bytes"] *= 2
    assert charts.render({"backups": grown})[backup_charts.BACKUPS] != rendered[backup_charts.BACKUPS]


def test_the_backup_tables_show_the_medians_of_the_trials(results):
    """Per day, each method's time is the median of its trials (here two: their mean), and the restore
    table says whether every trial's restore was identical."""
    from bench import report

    trials = results["backups"]["trials"]
    table = report.backups_markdown(results).splitlines()
    assert len(table) == 2 + len(results["backups"]["snapshots"])
    last_day = [cell.strip() for cell in table[-1].strip("|").split("|")]
    tar_seconds = (trials[0]["days"][-1]["tar.gz"]["seconds"] + trials[1]["days"][-1]["tar.gz"]["seconds"]) / 2
    assert last_day[0] == "3" and last_day[2] == f"{tar_seconds:.1f}s"
    restore = report.backups_restore_markdown(results)
    assert "| tar.gz" in restore and "| restic" in restore and "| yes" in restore and "NO" not in restore


@pytest.mark.parametrize(
    "part, remove, message",
    [
        ("latency", lambda r: r["latency"]["results"][1].pop("bound_s"), "latency.results[1] has no 'bound_s'"),
        ("queries", lambda r: r["queries"]["panels"][3]["recorded"].pop("p50_s"), "queries.panels[3].recorded has no 'p50_s'"),
        ("queries", lambda r: r["queries"].pop("query_timeout_s"), "queries has no 'query_timeout_s'"),
        ("queries", lambda r: r["queries"].pop("rule_groups"), "queries has no 'rule_groups'"),
        ("backups", lambda r: r["backups"]["trials"][1]["days"][2]["restic"].pop("stored_bytes"), "backups.trials[1].days[2].restic has no 'stored_bytes'"),
        ("backups", lambda r: r["backups"]["trials"][0]["restore"].pop("tar.gz"), "backups.trials[0].restore has no 'tar.gz'"),
    ],
)
def test_a_missing_field_is_named_with_where_it_comes_from(results, part, remove, message):
    broken = json.loads(json.dumps(results))
    remove(broken)
    with pytest.raises(charts.ChartError, match=re.escape(message)) as raised:
        charts.render(broken)
    assert f"--parts {part}" in str(raised.value)


def test_the_command_reports_a_bad_file_in_one_line(results, tmp_path, capsys):
    broken = json.loads(json.dumps(results))
    del broken["latency"]["results"][0]["overhead_s"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(SystemExit) as exited:
        charts.main([str(path)])
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "latency.results[0] has no 'overhead_s'" in error
    assert not list(tmp_path.glob("*.png"))

    path.write_text(json.dumps({"program": []}))
    with pytest.raises(SystemExit):
        charts.main([str(path)])
    assert "nothing to chart" in capsys.readouterr().err


def test_the_published_charts_and_tables_come_from_the_published_run():
    """docs/performance.md shows one results file: its PNGs are what bench/charts.py draws from the committed
    JSON (byte for byte), and gendocs generates its tables from the same JSON (tests/test_docs.py)."""
    import gendocs

    results = json.loads(gendocs.BENCH_RESULTS.read_text())
    drawn = charts.render(results)
    assert set(drawn) == {charts.ALERT_OVERHEAD, charts.PANEL_QUERIES, charts.RULE_GROUPS, charts.COST_GROWTH}
    for name, png in drawn.items():
        assert (gendocs.BENCH_RESULTS.parent / name).read_bytes() == png, f"docs/images/{name} is not drawn from bench-results.json"
    page = gendocs.PERFORMANCE.read_text()
    assert all(f"(images/{name})" in page for name in drawn)


def test_the_published_backup_chart_and_tables_come_from_the_published_backup_run():
    """The backup comparison on docs/performance.md is one run of bench/backups.py: its chart is drawn
    from docs/images/bench-backups.json byte for byte, and its tables are generated from it (gendocs)."""
    import gendocs

    results = json.loads(gendocs.BENCH_BACKUPS.read_text())
    assert results["command"].startswith("venv/bin/python -m bench.backups")
    drawn = charts.render(results)
    assert set(drawn) == {backup_charts.BACKUPS}
    assert (gendocs.BENCH_BACKUPS.parent / backup_charts.BACKUPS).read_bytes() == drawn[backup_charts.BACKUPS], (
        "docs/images/bench-backups.png is not drawn from bench-backups.json"
    )
    assert all(trial["restore"][method]["identical"] for trial in results["backups"]["trials"] for method in ("tar.gz", "restic"))
    assert f"(images/{backup_charts.BACKUPS})" in gendocs.PERFORMANCE.read_text()


def test_the_report_has_every_new_table_and_the_projection_follows_the_slope(results):
    """The tables gendocs writes into docs/performance.md come from the same JSON; the fleet at 10% of an
    interval is where the measured line crosses it (3 sizes: n times the first size's time)."""
    from bench import report

    text = report.tables(results)
    for caption in ("samples touched", "Every recorded series against", "Growth per rule group", "Fleet sizes"):
        assert caption in text, caption
    assert all(row["ok"] for row in results["queries"]["recording_honesty"])
    growth = {row["group"]: row for row in results["scaling"]["growth"]}
    api = growth["ngx-api.rules"]
    # duration = first * n at series s_n = s_1 * n: the line through them reaches 10% where first * n = 1.5 s.
    first, series = api["duration_s"][0], api["series"]
    slope = (api["duration_s"][-1] - first) / (series[-1] - series[0])
    expected = series[0] + (0.1 * api["interval_s"] - first) / slope
    assert api["series_at_alert_share"] == pytest.approx(expected, rel=1e-6)
    assert "reaches 10% of its 15s interval first" in report.first_to_alert_share(results)
