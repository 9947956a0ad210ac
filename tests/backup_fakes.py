"""What the tests of ops/backup.py share (tests/test_backup.py, tests/test_backup_restic.py): a recording
Pushgateway, a fake Prometheus whose snapshot API makes a snapshot directory like the real one, and the
data they back up. The servers are context managers; each test module makes its fixtures of them."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.http_stub import Recorded, StubServer

WHEN = 1_767_225_600.0  # 2026-01-01T00:00:00Z
PROMETHEUS_PASSWORD = "pw-backup"


@contextlib.contextmanager
def recording_pushgateway() -> Iterator[StubServer]:
    server = StubServer(lambda request: (200, {}, b""))
    try:
        yield server
    finally:
        server.close()


def pushed(request: Recorded) -> dict[str, float]:
    families = text_string_to_metric_families(request.body.decode())
    return {sample.name: sample.value for family in families for sample in family.samples}


def fake_snapshot(root: Path) -> dict[str, bytes]:
    files = {
        "01HBLOCKA/meta.json": b'{"ulid":"01HBLOCKA"}',
        "01HBLOCKA/index": bytes(range(256)) * 40,
        "01HBLOCKA/chunks/000001": b"\x00\x01chunk" * 1000,
        "01HBLOCKB/meta.json": b"{}",
    }
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return files


@contextlib.contextmanager
def fake_prometheus(tmp_path: Path) -> Iterator[tuple[StubServer, Path, dict]]:
    """A fake Prometheus whose snapshot API creates a snapshot directory like the real one, with the
    files of fake_snapshot plus state["extra"] (name -> bytes)."""
    data = tmp_path / "prometheus"
    (data / "wal").mkdir(parents=True)
    state = {"names": [], "extra": {}}

    def respond(request: Recorded):
        expected = "Basic " + base64.b64encode(f"backup:{PROMETHEUS_PASSWORD}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return 401, {}, b"Unauthorized"
        if (request.method, request.path) != ("POST", "/api/v1/admin/tsdb/snapshot?skip_head=false"):
            return 404, {}, b""
        name = f"20260101T000000Z-{len(state['names']):016x}"
        state["names"].append(name)
        fake_snapshot(data / "snapshots" / name)
        for extra, content in state["extra"].items():
            (data / "snapshots" / name / extra).write_bytes(content)
        return 200, {"Content-Type": "application/json"}, json.dumps({"status": "success", "data": {"name": name}}).encode()

    server = StubServer(respond)
    (tmp_path / "pw").write_text(PROMETHEUS_PASSWORD + "\n")
    try:
        yield server, data, state
    finally:
        server.close()


def prometheus_args(server: StubServer, data: Path, tmp_path: Path, *extra: str) -> list[str]:
    """`stage prometheus` as the job runs it, against the fake."""
    return [
        "stage",
        "prometheus",
        "--target=prometheus-0",
        f"--url={server.url}",
        "--user=backup",
        f"--password-file={tmp_path / 'pw'}",
        f"--data-dir={data}",
        *extra,
    ]


def grafana_db(path: Path, rows: int = 500) -> list[tuple]:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE dashboard (id INTEGER PRIMARY KEY, uid TEXT, data TEXT)")
    connection.executemany("INSERT INTO dashboard (uid, data) VALUES (?, ?)", [(f"uid-{i}", "x" * (i % 97)) for i in range(rows)])
    connection.commit()
    content = connection.execute("SELECT * FROM dashboard ORDER BY id").fetchall()
    connection.close()
    return content


# One event a line (ops/backup.py, event()): `<UTC time> backup: <target> <phase>: <message>`.
EVENT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ backup: (?P<target>[a-z0-9-]+) (?P<phase>[a-z]+): (?P<message>.+)$")


def phases(stderr: str) -> list[str]:
    """The phases of a run's log in order, repeats folded (upload progress is several lines). Fails on
    any line that is not an event."""
    found: list[str] = []
    for line in stderr.splitlines():
        match = EVENT.match(line)
        assert match, f"not an event line: {line!r}"
        if not found or found[-1] != match["phase"]:
            found.append(match["phase"])
    return found
