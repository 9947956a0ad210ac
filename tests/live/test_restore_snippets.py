"""The restore scripts of docs/operations.md ("The restore scripts"), run as the page gives them.

Each script is read from the page (the fenced block after `<!-- restore: <service> -->`), not copied,
and run with `sh` against a restic repository that the jobs' own steps filled from real servers
(Prometheus 2.42 and Alertmanager 0.25 of Debian, as in test_restore.py), with Debian's restic 0.14, in
both situations a restore meets: the data volume is lost (an empty directory) or still holds the
service's data. The restored directory is then served by a real Prometheus or Alertmanager (Grafana:
there is no Grafana binary here, so the restored SQLite database is opened and compared with what was
backed up). A wrong repository password and a damaged repository must make each script fail loudly,
restore nothing and leave the data volume exactly as it was.

What is substituted, and why (nothing else of the script changes):
- The service's data directory (`/prometheus`, `/alertmanager`, `/var/lib/grafana`, where `docker run
  -v` / the pod's volumeMounts put the data volume) becomes a directory of the test. Nothing can be
  mounted at those paths here without a mount namespace per run; the path is replaced only as a whole
  path component, and the test asserts the script names it.
- `RESTIC_REPOSITORY`, `RESTIC_PASSWORD_FILE` and `TARGET` are set in the environment, as `docker run -e`
  / the pod's `env` set them.
- The shell is the system's `sh` (dash), where the restic image runs busybox `sh`: the scripts use
  POSIX shell only. The scripts run as the test's user, not 65534 in the service's group.
The Docker and Kubernetes wrappers around the scripts (`docker stop/run/start`, the pod, `kubectl
scale`) are not run: there is no Docker engine or cluster here.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

import gendocs
from tests.live import test_restore
from tests.live.clients import wait_until
from tests.live.test_restore import (
    ALERTMANAGER_A,
    ALERTMANAGER_B,
    PROMETHEUS_A,
    PROMETHEUS_B,
    _raw_samples,
    _run,
    _start_alertmanager,
    _start_prometheus,
    _values,
)

# test_restore.py's fixtures (one instance per module: this module's servers are its own).
world, pushgateway = test_restore.world, test_restore.pushgateway

pytestmark = [pytest.mark.live, pytest.mark.slow]

MOUNTS = {"prometheus": "/prometheus", "alertmanager": "/alertmanager", "grafana": "/var/lib/grafana"}
STEP, SAMPLES = 30, 20


def documented_scripts() -> dict[str, str]:
    text = gendocs.OPERATIONS.read_text()
    return dict(re.findall(r"<!-- restore: (\w+) -->\n```sh\n(.*?)```", text, re.S))


def _replace_path(script: str, container: str, here: str) -> str:
    pattern = rf"(?<![\w./-]){re.escape(container)}(?![\w.-])"
    assert re.search(pattern, script), f"the script no longer names {container}"
    return re.sub(pattern, here, script)


def run_script(service: str, data: Path, world, repository: Path | None = None, password: str = "restic-password") -> subprocess.CompletedProcess:
    script = _replace_path(documented_scripts()[service], MOUNTS[service], str(data))
    env = {
        **os.environ,
        "RESTIC_REPOSITORY": str(repository or world["dir"] / "repository"),
        "RESTIC_PASSWORD_FILE": str(world["dir"] / password),
        "TARGET": f"{service}-0",
    }
    return subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=120)


def _damaged_copy(world, name: str) -> Path:
    """A copy of the repository with one byte of every data pack flipped: restic's verification fails."""
    damaged = world["dir"] / f"damaged-{name}"
    shutil.copytree(world["dir"] / "repository", damaged)
    for pack in (damaged / "data").rglob("*"):
        if pack.is_file():
            pack.chmod(0o600)
            content = bytearray(pack.read_bytes())
            content[len(content) // 2] ^= 0xFF
            pack.write_bytes(bytes(content))
    return damaged


def assert_refused_without_change(service: str, data: Path, world) -> None:
    """A wrong password and a damaged repository: the script fails with restic's error and one last
    line saying nothing changed, and the data volume is exactly as it was."""
    (world["dir"] / "wrong-password").write_text("not the repository's password\n")
    tree = _tree(data)
    for why, kwargs, phrase in (
        ("wrong password", {"password": "wrong-password"}, "wrong password or no key found"),
        ("damaged repository", {"repository": _damaged_copy(world, service)}, "There were"),
    ):
        result = run_script(service, data, world, **kwargs)
        assert result.returncode != 0, why
        lines = result.stderr.strip().splitlines()
        assert phrase in result.stderr and lines[-1] == f"restore of {service}-0 FAILED: nothing was changed", (why, result.stderr)
        assert _tree(data) == tree, why


def _tree(path: Path) -> dict[str, int]:
    return {str(p.relative_to(path)): (p.stat().st_size if p.is_file() else -1) for p in sorted(path.rglob("*"))}


def test_the_page_has_one_script_per_backed_up_service():
    assert set(documented_scripts()) == set(MOUNTS)


def _stop_last(world) -> None:
    world["processes"].stop(world["processes"].running[-1])


def test_prometheus_script_restores_into_a_lost_and_into_a_present_volume(world, pushgateway):
    workdir = world["dir"] / "snippets-prometheus"
    workdir.mkdir()
    base = int(time.time() // 60 * 60) - 3 * 3600
    expected: dict[str, list[tuple[float, float]]] = {}
    lines = ["# TYPE ngx_restore_probe gauge"]
    for index in range(SAMPLES):
        for series, value in _values(index).items():
            lines.append(f'ngx_restore_probe{{series="{series}"}} {value!r} {base + index * STEP}')
            expected.setdefault(series, []).append((float(base + index * STEP), value))
    (workdir / "samples.om").write_text("\n".join(lines) + "\n# EOF\n")
    live = workdir / "live"
    created = subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(workdir / "samples.om"), str(live)], capture_output=True, text=True, timeout=60
    )
    assert created.returncode == 0, created.stderr
    _start_prometheus(world, "snippet-prometheus-source", PROMETHEUS_A, live, [])
    backed_up, argv = _run(world, "prometheus", live)
    assert backed_up.returncode == 0, f"{argv}\n{backed_up.stderr}"
    _stop_last(world)  # "stop the service whose data you restore"
    present_before = sorted(p.name for p in live.iterdir())
    assert {"wal", "chunks_head"} <= set(present_before)
    assert_refused_without_change("prometheus", live, world)

    lost = workdir / "lost"
    lost.mkdir()
    for data in (live, lost):
        result = run_script("prometheus", data, world)
        assert result.returncode == 0, result.stderr
        assert not (data / "restored").exists()
        target = _start_prometheus(world, f"snippet-prometheus-{data.name}", PROMETHEUS_B, data, [])
        assert _raw_samples(target, base + SAMPLES * STEP) == expected, data.name
        _stop_last(world)
    # Nothing of the present data was lost: it is all in before-restore/, and the lost volume's is empty.
    assert sorted(p.name for p in (live / "before-restore").iterdir()) == present_before
    assert not any((lost / "before-restore").iterdir())

    # A second attempt over a leftover before-restore stops before it changes anything.
    tree = _tree(live)
    again = run_script("prometheus", live, world)
    assert again.returncode != 0 and "before-restore or restored exists" in again.stderr
    assert _tree(live) == tree


def test_alertmanager_script_restores_into_a_lost_and_into_a_present_volume(world, pushgateway):
    workdir = world["dir"] / "snippets-alertmanager"
    live = workdir / "live"
    live.mkdir(parents=True)
    source = _start_alertmanager(world, "snippet-alertmanager-source", ALERTMANAGER_A, live)
    made = time.time()
    source.add_silence({"alertname": "BackupTooOld", "target": "prometheus-1"}, hours=6, comment="restored by the docs' script")
    before = {s["id"]: (s["matchers"], s["comment"], s["endsAt"]) for s in source.silences()}
    wait_until(lambda: (live / "silences").exists() and (live / "silences").stat().st_mtime > made + 1, 15, what="silences written")
    backed_up, argv = _run(world, "alertmanager", live)
    assert backed_up.returncode == 0, f"{argv}\n{backed_up.stderr}"
    _stop_last(world)
    present = {name: (live / name).read_bytes() for name in ("silences", "nflog")}
    assert_refused_without_change("alertmanager", live, world)

    lost = workdir / "lost"
    lost.mkdir()
    for data in (live, lost):
        result = run_script("alertmanager", data, world)
        assert result.returncode == 0, result.stderr
        target = _start_alertmanager(world, f"snippet-alertmanager-{data.name}", ALERTMANAGER_B, data)
        assert {s["id"]: (s["matchers"], s["comment"], s["endsAt"]) for s in target.silences()} == before, data.name
        _stop_last(world)
    assert {name: (live / f"{name}.before-restore").read_bytes() for name in present} == present
    assert not list(lost.glob("*.before-restore"))
    again = run_script("alertmanager", live, world)
    assert again.returncode != 0 and "before-restore or restored exists" in again.stderr


def _rows(database: Path) -> list[tuple]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return connection.execute("SELECT id, text FROM annotation ORDER BY id").fetchall()


def test_grafana_script_restores_into_a_lost_and_into_a_present_volume(world, pushgateway):
    """No Grafana binary here: the database is SQLite with a table like Grafana's, and what matters to
    the script is the files (grafana.db and SQLite's journal files next to it)."""
    workdir = world["dir"] / "snippets-grafana"
    live = workdir / "live"
    live.mkdir(parents=True)
    with sqlite3.connect(live / "grafana.db") as connection:
        connection.execute("CREATE TABLE annotation (id INTEGER PRIMARY KEY, text TEXT)")
        connection.executemany("INSERT INTO annotation (text) VALUES (?)", [("deploy 1.4.2",), ("deploy 1.4.3",)])
    backed_up_rows = _rows(live / "grafana.db")
    backed_up, argv = _run(world, "grafana", live)
    assert backed_up.returncode == 0, f"{argv}\n{backed_up.stderr}"
    # After the backup, the database changes and a crash leaves a hot journal next to it: both go aside.
    with sqlite3.connect(live / "grafana.db") as connection:
        connection.execute("INSERT INTO annotation (text) VALUES ('after the backup')")
    (live / "grafana.db-journal").write_bytes(b"a journal of the old database")
    present = {name: (live / name).read_bytes() for name in ("grafana.db", "grafana.db-journal")}
    assert_refused_without_change("grafana", live, world)

    lost = workdir / "lost"
    lost.mkdir()
    for data in (live, lost):
        result = run_script("grafana", data, world)
        assert result.returncode == 0, result.stderr
        assert _rows(data / "grafana.db") == backed_up_rows, data.name
        assert not (data / "grafana.db-journal").exists()
    assert {name: (live / f"{name}.before-restore").read_bytes() for name in present} == present
    assert not list(lost.glob("*.before-restore"))
    again = run_script("grafana", live, world)
    assert again.returncode != 0 and "before-restore or restored exists" in again.stderr
