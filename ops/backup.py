#!/usr/bin/env python3
"""Back up the monitoring stack's state: the steps that are ours around restic.

Standard library only: the stack delivers this file as a rendered file (renderers/backup.py) and runs
it with `python3 -I -B <file>` in a pinned Python image (settings `images.backup`); restic itself runs
in restic's image (`images.restic`) between two of its steps, through ops/restic-step.sh. A backup run
is three steps sharing one scratch directory, the *stage* (an emptyDir on Kubernetes: two init
containers then the container; a volume on Docker: three containers started in order by
scripts/backup-dev.sh). docs/operations.md explains when, where, and how to restore.

  1. stage: what restic backs up, its path in <stage>/source: a Prometheus TSDB snapshot through the
     admin API (head included) in snapshots/<name> of the replica's volume; copies of Alertmanager's
     `silences` and `nflog`; an online, integrity-checked copy of grafana.db (SQLite's backup API).
  2. restic (restic-step.sh): `restic backup` of exactly that, as host <target>, into the stack's
     repository (initialised on the first run); its JSON summary to the stage.
  3. report: removes the Prometheus snapshot (Prometheus has no API for that, and a snapshot left
     behind keeps every block it links alive after retention deletes it), then pushes the result.

Steps 1 and 2 never fail the run themselves: they write their failure to the stage, and step 3 reports
it (on Kubernetes a failed init container would end the pod before the report could run, and the
failure would never reach the alerts). The repository's retention (`restic forget --keep-last N
--prune`) and `restic check` run in a job of their own (restic-step.sh check, then `report-check`):
they need the repository's exclusive lock, which would collide with the runs that back up in parallel.

Results go to a Pushgateway as ngx_backup_* (job="ngx-backup", target="<target>"; the check's as
ngx_backup_check_*, target="repository"); the log is one line per event, `<UTC time> backup: <target>
<phase>: <message>`, never with a credential (docs/operations.md lists both).

    backup.py stage {prometheus,alertmanager,grafana} --target T --data-dir D --stage S [--url U --user B --password-file F --ca-file C]
    backup.py report --target T --data-dir D --stage S --pushgateway URL;  backup.py report-check --stage S --pushgateway URL

Exit status of report and report-check: 0 done; 1 failed (and reported); 2 bad usage; 3 backed up, but
the result could not be pushed (so the alerts will not see it). `stage` exits 0 once it has recorded its result.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import http.client
import json
import os
import re
import shutil
import sqlite3
import ssl
import sys
import time
import urllib.parse
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREPORTED = 0, 1, 2, 3
PUSH_JOB = "ngx-backup"
CHECK_TARGET = "repository"  # the `target` label of the check's result
KINDS = ("prometheus", "alertmanager", "grafana")
ALERTMANAGER_FILES = ("silences", "nflog")
GRAFANA_DB = "grafana.db"
# Files of the stage (the scratch directory the steps share); restic-step.sh writes the restic.* ones.
STAGED = "stage.json"  # what step 1 staged: kind, the directory restic backs up, the snapshot's name
STAGE_ERROR = "stage.error"  # why step 1 failed (one line)
SOURCE = "source"  # the directory restic backs up (read by restic-step.sh)
STAGE_DATA = "data"  # copies of Alertmanager's and Grafana's files
RESTIC_STATUS = "restic.status"  # restic-step.sh's result: 0, or 1 with restic.error
RESTIC_ERROR = "restic.error"
RESTIC_SUMMARY = "restic.summary.json"  # the last line of `restic backup --json`
SNAPSHOT_TIMEOUT = 600.0  # a snapshot writes the head block to disk first: slow on a large head
HTTP_TIMEOUT = 60.0
ATTEMPTS = 3  # per push: transient errors are retried with a short backoff
# What Prometheus names a snapshot: <UTC time>-<random hex>. Nothing else under snapshots/ is removed.
SNAPSHOT_NAME = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{16}$")
# A target is a restic host name and a label: lower-case letters, digits and '-'.
TARGET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class BackupError(Exception):
    """A failure with a message an operator can act on (no traceback needed)."""


def log(message: str) -> None:
    """One line on stderr (the job's log). Never given a credential: the messages name files, sizes
    and URLs without user information, never what a credential file holds."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{now} backup: {message}", file=sys.stderr, flush=True)


def event(target: str, phase: str, message: str) -> None:
    log(f"{target} {phase}: {message}")


def one_line(text: str) -> str:
    return " ".join(text.split())


# --- step 1: stage --------------------------------------------------------------------------------------


def _basic_auth(user: str, password_file: str) -> str:
    credential = Path(password_file).read_text().strip()
    return "Basic " + base64.b64encode(f"{user}:{credential}".encode()).decode()


def _connection(url: urllib.parse.SplitResult, timeout: float, ca_file: str | None = None) -> http.client.HTTPConnection:
    if url.scheme == "https":
        return http.client.HTTPSConnection(url.netloc, timeout=timeout, context=ssl.create_default_context(cafile=ca_file))
    return http.client.HTTPConnection(url.netloc, timeout=timeout)


def take_snapshot(url: str, user: str, password_file: str, ca_file: str | None, timeout: float = SNAPSHOT_TIMEOUT) -> str:
    """POST <url>/api/v1/admin/tsdb/snapshot (head included; `url` carries the route prefix); returns the snapshot's name."""
    parsed = urllib.parse.urlsplit(url)
    connection = _connection(parsed, timeout, ca_file)
    try:
        connection.request(
            "POST",
            parsed.path.rstrip("/") + "/api/v1/admin/tsdb/snapshot?skip_head=false",
            headers={"Authorization": _basic_auth(user, password_file), "Content-Length": "0"},
        )
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as error:
        raise BackupError(f"cannot reach Prometheus at {url}: {error}") from None
    finally:
        connection.close()
    if response.status != 200:
        raise BackupError(f"Prometheus at {url} answered {response.status} to the snapshot request: {body[:200]!r}")
    name = json.loads(body).get("data", {}).get("name", "")
    if not SNAPSHOT_NAME.match(name):
        raise BackupError(f"Prometheus returned an unexpected snapshot name {name!r}")
    return name


def remove_snapshot(data_dir: Path, name: str) -> None:
    """Delete exactly <data_dir>/snapshots/<name>: a name Prometheus gives, never a link."""
    if not SNAPSHOT_NAME.match(name):
        raise BackupError(f"refusing to remove {name!r}: not a snapshot name")
    path = data_dir / "snapshots" / name
    if path.is_symlink():
        raise BackupError(f"refusing to remove {path}: it is a symbolic link")
    if path.exists():
        shutil.rmtree(path)


def remove_stale_snapshots(data_dir: Path, target: str) -> list[str]:
    """Snapshots a killed run left behind. The snapshots/ directory belongs to the backup job."""
    folder = data_dir / "snapshots"
    stale = sorted(entry.name for entry in folder.iterdir() if SNAPSHOT_NAME.match(entry.name)) if folder.is_dir() else []
    for name in stale:
        remove_snapshot(data_dir, name)
        event(target, "snapshot", f"removed {name}, left in {folder} by an earlier run")
    return stale


def stage_prometheus(args: argparse.Namespace, stage: Path) -> dict:
    data_dir = Path(args.data_dir)
    if not (data_dir / "wal").is_dir() and not (data_dir / "snapshots").is_dir():
        raise BackupError(f"{data_dir} is not a Prometheus data directory (no wal/): mount the replica's data volume there")
    remove_stale_snapshots(data_dir, args.target)
    name = take_snapshot(args.url, args.user, args.password_file, args.ca_file)
    snapshot = data_dir / "snapshots" / name
    if not snapshot.is_dir():
        raise BackupError(
            f"Prometheus at {args.url} made snapshot {name}, but {snapshot} does not exist: --data-dir must be the data volume of that same replica"
        )
    blocks = sorted(entry.name for entry in snapshot.iterdir() if entry.is_dir())
    event(args.target, "snapshot", f"Prometheus at {args.url} made {name}: {len(blocks)} blocks")
    return {"source": str(snapshot), "snapshot": name}


def stage_alertmanager(args: argparse.Namespace, stage: Path) -> dict:
    data_dir = Path(args.data_dir)
    present = [name for name in ALERTMANAGER_FILES if (data_dir / name).is_file()]
    if not present:
        raise BackupError(f"neither {' nor '.join(ALERTMANAGER_FILES)} is in {data_dir}: is it Alertmanager's --storage.path?")
    copies = stage / STAGE_DATA
    copies.mkdir()
    for name in present:
        # Opened once and copied from the open file: a file replaced meanwhile is read as one version.
        with open(data_dir / name, "rb") as source, open(copies / name, "xb") as copy:
            shutil.copyfileobj(source, copy, 2**20)
    size = sum((copies / name).stat().st_size for name in present)
    event(args.target, "snapshot", f"{', '.join(present)} of {data_dir} copied: {size} bytes")
    return {"source": str(copies), "snapshot": None}


def copy_sqlite(source: Path, copy: Path) -> None:
    """An online, consistent copy through SQLite's backup API, reading `source` read-only."""
    reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    writer = sqlite3.connect(copy)
    try:
        reader.backup(writer)
        verdict = writer.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.Error as error:
        raise BackupError(f"cannot copy {source}: {error}") from None
    finally:
        writer.close()
        reader.close()
    if verdict != "ok":
        raise BackupError(f"the copy of {source} fails SQLite's integrity check: {verdict}")


def stage_grafana(args: argparse.Namespace, stage: Path) -> dict:
    source = Path(args.data_dir) / GRAFANA_DB
    if not source.is_file():
        raise BackupError(f"{source} does not exist: is {args.data_dir} Grafana's data directory?")
    copies = stage / STAGE_DATA
    copies.mkdir()
    copy_sqlite(source, copies / GRAFANA_DB)
    # Group-writable: restic restores the mode, and Grafana (472, group 0) writes the database restored
    # by a restic that runs as another user of its group (docs/operations.md, "Restore").
    (copies / GRAFANA_DB).chmod(0o664)
    size = (copies / GRAFANA_DB).stat().st_size
    event(args.target, "snapshot", f"online copy of {source}: {size} bytes, integrity check ok")
    return {"source": str(copies), "snapshot": None}


STAGERS = {"prometheus": stage_prometheus, "alertmanager": stage_alertmanager, "grafana": stage_grafana}


def run_stage(args: argparse.Namespace) -> int:
    """Step 1. Records its result in the stage and exits 0 either way (step 3 reports a failure)."""
    stage = Path(args.stage)
    started = time.time()
    event(args.target, "start", f"{args.kind} backup of {args.data_dir}, staged in {stage}")
    try:
        # A retried pod or a Docker stage volume holds an earlier run's files. Only this step's own are
        # removed: on Docker the stage is sticky (1777) and restic's files belong to restic's user, so
        # the report tells an old restic result from this run's by its time instead.
        for name in (STAGED, STAGE_ERROR, SOURCE):
            (stage / name).unlink(missing_ok=True)
        shutil.rmtree(stage / STAGE_DATA, ignore_errors=True)
        staged = STAGERS[args.kind](args, stage)
    except Exception as error:  # noqa: BLE001 - every failure must reach the report step
        event(args.target, "error", str(error))
        (stage / STAGE_ERROR).write_text(one_line(str(error)) + "\n")
        return EXIT_OK
    (stage / STAGED).write_text(json.dumps({"kind": args.kind, "target": args.target, "started": started, **staged}, sort_keys=True) + "\n")
    (stage / SOURCE).write_text(staged["source"] + "\n")
    return EXIT_OK


# --- step 3: report -------------------------------------------------------------------------------------


def metrics_text(values: dict[str, float]) -> str:
    return "".join(f"# TYPE {name} gauge\n{name} {value!r}\n" for name, value in values.items())


def result_metrics(success: bool, finished: float, duration: float, summary: dict | None) -> dict[str, float]:
    values = {"ngx_backup_last_run_success": 1.0 if success else 0.0, "ngx_backup_duration_seconds": round(duration, 3)}
    if success:
        values["ngx_backup_last_success_timestamp_seconds"] = round(finished, 3)
        values["ngx_backup_last_size_bytes"] = float((summary or {}).get("total_bytes_processed", 0))
        values["ngx_backup_last_added_bytes"] = float((summary or {}).get("data_added", 0))
    return values


def check_metrics(success: bool, finished: float, duration: float) -> dict[str, float]:
    values = {"ngx_backup_check_last_run_success": 1.0 if success else 0.0, "ngx_backup_check_duration_seconds": round(duration, 3)}
    return values | ({"ngx_backup_check_last_success_timestamp_seconds": round(finished, 3)} if success else {})


def push(pushgateway: str, target: str, values: dict[str, float], replace: bool, timeout: float = HTTP_TIMEOUT) -> None:
    """PUT replaces the target's whole group (a success); POST replaces only the metrics sent (a failure
    keeps the last success's time and size)."""
    parsed = urllib.parse.urlsplit(pushgateway)
    path = f"{parsed.path.rstrip('/')}/metrics/job/{PUSH_JOB}/target/{urllib.parse.quote(target, safe='')}"
    body = metrics_text(values).encode()
    last: Exception | None = None
    for attempt in range(1, ATTEMPTS + 1):
        connection = _connection(parsed, timeout)
        try:
            connection.request("PUT" if replace else "POST", path, body=body, headers={"Content-Type": "text/plain; version=0.0.4"})
            response = connection.getresponse()
            answer = response.read()
            if 200 <= response.status < 300:
                return
            last = BackupError(f"the Pushgateway answered {response.status}: {answer[:200]!r}")
            if response.status < 500:
                break
        except (OSError, http.client.HTTPException) as error:
            last = error
        finally:
            connection.close()
        if attempt < ATTEMPTS:
            time.sleep(attempt)
    raise BackupError(f"cannot push to {public_url(pushgateway)}: {last}")


def public_url(url: str) -> str:
    """`url` without user information, for the log."""
    parsed = urllib.parse.urlsplit(url)
    return parsed._replace(netloc=parsed.netloc.rpartition("@")[2]).geturl()


def _read(path: Path) -> str | None:
    return path.read_text().strip() if path.is_file() else None


def restic_outcome(stage: Path, since: float = 0.0) -> tuple[bool, str]:
    """(succeeded, why not) of restic-step.sh, from its files in the stage, written after `since`."""
    status = _read(stage / RESTIC_STATUS)
    if status is None or (stage / RESTIC_STATUS).stat().st_mtime < since:
        return False, "the restic step left no result for this run (did it run?)"
    if status != "0":
        return False, _read(stage / RESTIC_ERROR) or f"restic failed (status {status})"
    return True, ""


def report_and_exit(target: str, pushgateway: str | None, values: dict[str, float], success: bool, started: float) -> int:
    status = EXIT_OK if success else EXIT_FAILED
    if pushgateway:
        try:
            push(pushgateway, target, values, replace=success)
            event(target, "push", f"{'success' if success else 'failure'} ({', '.join(values)}) to {public_url(pushgateway)}")
        except BackupError as error:
            event(target, "push", f"FAILED, the result was not reported: {error}")
            status = EXIT_UNREPORTED if success else EXIT_FAILED
    else:
        event(target, "push", "skipped: no --pushgateway")
    event(target, "done", f"{'ok' if success else 'FAILED'} in {time.time() - started:.1f} s, exit status {status}")
    return status


def run_report(args: argparse.Namespace) -> int:
    """Step 3: clean up what step 1 left in the data volume, then report the run."""
    stage = Path(args.stage)
    staged = json.loads(_read(stage / STAGED) or "null")
    started = staged["started"] if staged else os.stat(stage).st_mtime
    summary: dict | None = None
    success = False
    try:
        if staged is None:
            raise BackupError(f"staging failed: {_read(stage / STAGE_ERROR) or 'no result in ' + str(stage)}")
        if staged.get("snapshot"):
            remove_snapshot(Path(args.data_dir), staged["snapshot"])
            event(args.target, "cleanup", f"removed snapshot {staged['snapshot']} from {args.data_dir}")
        done, why = restic_outcome(stage, staged["started"])
        if not done:
            raise BackupError(why)
        summary = json.loads(_read(stage / RESTIC_SUMMARY) or "{}")
        read, added = summary.get("total_bytes_processed"), summary.get("data_added")
        event(args.target, "restic", f"snapshot {summary.get('snapshot_id')}: {read} bytes read, {added} bytes added to the repository")
        success = True
    except (BackupError, OSError, ValueError) as error:
        event(args.target, "error", str(error))
    finished = time.time()
    return report_and_exit(args.target, args.pushgateway, result_metrics(success, finished, finished - started, summary), success, started)


def run_report_check(args: argparse.Namespace) -> int:
    stage = Path(args.stage)
    started = float(_read(stage / "restic.started") or os.stat(stage).st_mtime)
    success, why = restic_outcome(stage)
    event(CHECK_TARGET, *(("restic", "retention applied, check passed") if success else ("error", why)))
    finished = time.time()
    return report_and_exit(CHECK_TARGET, args.pushgateway, check_metrics(success, finished, finished - started), success, started)


# --- command line ---------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)
    stage = commands.add_parser("stage", help="step 1: stage what restic backs up").add_subparsers(dest="kind", required=True)
    for kind in KINDS:
        command = stage.add_parser(kind, help=f"stage {kind}")
        command.add_argument("--target", required=True, help="what is backed up, e.g. prometheus-0 (restic's host name and a label)")
        command.add_argument("--data-dir", required=True, help="the service's data volume, as mounted here")
        command.add_argument("--stage", required=True, help="the scratch directory the steps share")
        if kind == "prometheus":
            command.add_argument("--url", required=True, help="the replica's URL (its own, never a load balancer), with the route prefix it serves under")
            command.add_argument("--user", required=True)
            command.add_argument("--password-file", required=True)
            command.add_argument("--ca-file", help="CA that issued Prometheus's certificate")
    report = commands.add_parser("report", help="step 3: remove the snapshot, push the run's result")
    for option in ("--target", "--data-dir", "--stage", "--pushgateway"):
        report.add_argument(option, required=option != "--pushgateway")
    check = commands.add_parser("report-check", help="push the result of the repository's retention and check")
    for option in ("--stage", "--pushgateway"):
        check.add_argument(option, required=option == "--stage")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "target", None) is not None and not TARGET_NAME.match(args.target):
        log(f"--target {args.target!r} must be lower-case letters, digits and '-', like prometheus-0")
        return EXIT_USAGE
    if args.command == "stage":
        return run_stage(args)
    if args.command == "report":
        return run_report(args)
    return run_report_check(args)


if __name__ == "__main__":
    sys.exit(main())
