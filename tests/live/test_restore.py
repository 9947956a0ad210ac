"""Backup and restore, live: the real Prometheus 2.42, Alertmanager 0.25, Pushgateway 1.5 and restic 0.14
of Debian (the release of the pinned restic image), on loopback, with the rendered web.yml (TLS and
basic auth) and the program's own flags.

Prometheus: known samples are backfilled into a data directory (promtool, exact values at exact
timestamps), a Prometheus started on it is backed up by the job's three rendered steps (ops/backup.py
stage, ops/restic-step.sh, ops/backup.py report; the admin API is enabled by the rendered flags, reached
as the `backup` user) into a restic repository, the result reaches a real Pushgateway and, through the
rendered `pushgateway` scrape job (honor_labels), Prometheus itself. The volume is then lost: `restic
restore` brings it back into a fresh directory, a second Prometheus starts on it, and every sample comes
back, bit for bit. Alertmanager: silences made through its API are backed up from the running server's
data directory, restored into a fresh one, and a second Alertmanager lists the same silences; the same
against an S3 repository in moto's S3 server.

What differs from the stack, and why (nothing else):
- listen addresses, data directories, the stage, the repository and file paths are the test's (flags
  rewritten by name);
- certificates come from a throwaway CA, with the test's loopback addresses as names;
- prometheus.yml and alertmanager.yml are minimal (the rendered ones name services that do not run
  here); the scrape job of the Pushgateway is the rendered one, pointed at the test's Pushgateway;
- Alertmanager writes its silences file every second (--data.maintenance-interval, 15m by default) so
  the test need not wait; in the stack a backup may miss silences made in the last 15 minutes.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

import addresses
import backup_plan
from renderers import auth, backup, commands, paths
from renderers.prometheus import prometheus_args, render_prometheus_config
from renderers.web_config import render_web_config
from settings import parse
from tests.certs import ThrowawayCA
from tests.live.clients import AlertmanagerAPI, Endpoint, PrometheusAPI, wait_until
from tests.live.reloading import without_reload_flags
from tests.sandbox import Sandbox
from topology import ALERTMANAGER, PROMETHEUS

pytestmark = [pytest.mark.live, pytest.mark.slow]

# 127.0.60.0/24 is this module's: the scenario stacks use 127.0.41-44.
PROMETHEUS_A, PROMETHEUS_B, ALERTMANAGER_A, ALERTMANAGER_B, PUSHGATEWAY = (f"127.0.60.{n}" for n in (2, 3, 4, 5, 6))
PROMETHEUS_PORT, ALERTMANAGER_PORT, PUSHGATEWAY_PORT = 9090, 9093, 9091
PROGRAM = Path(backup.__file__).resolve().parent.parent / "ops" / "backup.py"
STEP_SCRIPT = PROGRAM.with_name("restic-step.sh")
START_TIMEOUT, STOP_TIMEOUT = 30.0, 15.0
STEP = 30  # seconds between backfilled samples
SAMPLES = 60
PASSWORDS = {user: f"live-{user}-password" for user in auth.users("ngx-ops")}


def _values(index: int) -> dict[str, float]:
    """Values chosen to catch any rounding: decimals with no exact binary form, tiny, negative, huge."""
    return {"decimal": index * 0.1, "tiny": (index + 1) * 1e-9, "negative": -12345.678 + index / 7, "huge": 2.0**53 - index}


class Processes:
    """Every server this module starts; each one is stopped (TERM, then KILL) in teardown."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: list[subprocess.Popen] = []

    def start(self, name: str, argv: list[str], files: dict[str, str] | None = None) -> subprocess.Popen:
        sandbox = Sandbox(self.workdir / f"sandbox-{name}")
        for path, content in (files or {}).items():
            sandbox.put(path, content, 0o600 if path == paths.TLS_KEY else 0o644)
        process = sandbox.popen(argv, self.workdir / f"{name}.log")
        self.running.append(process)
        return process

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT)

    def close(self) -> None:
        for process in reversed(self.running):
            self.stop(process)


@pytest.fixture(scope="module")
def world(live_network, tmp_path_factory):
    """Settings, credentials, certificates and the process registry of this module."""
    workdir = tmp_path_factory.mktemp("restore")
    settings = parse({"platform": "docker"}, stack="dev")
    ca = ThrowawayCA(workdir / "ca")
    leaf = ca.issue("server", ["prometheus", "alertmanager", "localhost"], [PROMETHEUS_A, PROMETHEUS_B, ALERTMANAGER_A, ALERTMANAGER_B])
    hashes = {user: auth.bcrypt_hash(user, password, "live-salt-key") for user, password in PASSWORDS.items()}
    tls = {paths.TLS_CERT: leaf.cert, paths.TLS_KEY: leaf.key, paths.TLS_CA: ca.ca_pem}
    (workdir / "backup-password").write_text(PASSWORDS[auth.BACKUP_USER] + "\n")
    (workdir / "restic-password").write_text("live-restic-repository-password\n")
    processes = Processes(workdir)
    yield {"settings": settings, "dir": workdir, "ca": str(ca.dir / "ca.crt"), "web": render_web_config(hashes), "tls": tls, "processes": processes}
    processes.close()


def _flags(argv: list[str], replace: dict[str, str], add: tuple[str, ...] = ()) -> list[str]:
    """`argv` with the values of the named flags replaced (`--flag=value`), plus `add`."""
    out = []
    for arg in argv:
        flag = arg.split("=", 1)[0]
        out.append(f"{flag}={replace[flag]}" if flag in replace else arg)
    missing = set(replace) - {arg.split("=", 1)[0] for arg in argv}
    assert not missing, f"the rendered command line lost {missing}"
    return out + list(add)


def _prometheus_api(ip: str, world) -> PrometheusAPI:
    return PrometheusAPI(
        Endpoint(
            ip,
            PROMETHEUS_PORT,
            name="prometheus",
            ca_file=world["ca"],
            auth=("prometheus", PASSWORDS[auth.PROMETHEUS_USER]),
            timeout=10,
            base=addresses.route_prefix(PROMETHEUS),
        )
    )


def _alertmanager_api(ip: str, world) -> AlertmanagerAPI:
    return AlertmanagerAPI(
        Endpoint(
            ip,
            ALERTMANAGER_PORT,
            name="alertmanager",
            ca_file=world["ca"],
            auth=("probe", PASSWORDS[auth.PROBE_USER]),
            timeout=10,
            base=addresses.route_prefix(ALERTMANAGER),
        )
    )


def _ready(world, name: str, process, api):
    """Wait until the process answers /-/ready; on timeout, fail with its log."""
    try:
        wait_until(lambda: process.poll() is None and api.endpoint.get("/-/ready").status == 200, START_TIMEOUT, what=f"{name} ready")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{world['processes'].log(name)}") from None
    return api


def _start_prometheus(world, name: str, ip: str, data: Path, scrape_jobs: list[dict]) -> PrometheusAPI:
    config = yaml.safe_dump({"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "scrape_configs": scrape_jobs})
    # Debian's Prometheus 2.42 knows no auto-reload flags (tests/live/reloading.py); nothing here reloads.
    argv = [
        "prometheus",
        *_flags(
            without_reload_flags(prometheus_args(world["settings"])), {"--storage.tsdb.path": str(data), "--web.listen-address": f"{ip}:{PROMETHEUS_PORT}"}
        ),
    ]
    assert "--web.enable-admin-api" in argv, "the stack's flags must enable the snapshot API"
    process = world["processes"].start(
        name, argv, {**world["tls"], paths.config_path("prometheus", "prometheus.yml"): config, paths.config_path("prometheus", "web.yml"): world["web"]}
    )
    api = _prometheus_api(ip, world)
    return _ready(world, name, process, api)


def _start_alertmanager(world, name: str, ip: str, data: Path) -> AlertmanagerAPI:
    config = yaml.safe_dump({"route": {"receiver": "nobody"}, "receivers": [{"name": "nobody"}]})
    argv = [
        "prometheus-alertmanager",
        *_flags(
            commands.alertmanager_args(world["settings"]),
            {"--storage.path": str(data), "--web.listen-address": f"{ip}:{ALERTMANAGER_PORT}"},
            add=("--data.maintenance-interval=1s",),
        ),
    ]
    process = world["processes"].start(
        name, argv, {**world["tls"], paths.config_path("alertmanager", "alertmanager.yml"): config, paths.config_path("alertmanager", "web.yml"): world["web"]}
    )
    api = _alertmanager_api(ip, world)
    return _ready(world, name, process, api)


@pytest.fixture(scope="module")
def pushgateway(world) -> Endpoint:
    argv = ["prometheus-pushgateway", *_flags(commands.pushgateway_args(), {"--web.listen-address": f"{PUSHGATEWAY}:{PUSHGATEWAY_PORT}"})]
    process = world["processes"].start("pushgateway", argv)
    endpoint = Endpoint(PUSHGATEWAY, PUSHGATEWAY_PORT, timeout=5)
    wait_until(lambda: process.poll() is None and endpoint.get("/-/ready").status == 200, START_TIMEOUT, what="pushgateway ready")
    return endpoint


def _repository(world) -> dict[str, str]:
    """The restic steps' repository options, rendered, with this test's repository and password file."""
    return {"-r": str(world["dir"] / "repository"), "--password-file": str(world["dir"] / "restic-password")}


def _restic_argv(args: tuple[str, ...], replace: dict[str, str]) -> list[str]:
    """A rendered restic step's argv with `-r VALUE` and `--flag=value` options replaced."""
    out, items = [], list(args)
    for index, arg in enumerate(items):
        if index and items[index - 1] in replace:
            out.append(replace[items[index - 1]])
        elif arg.split("=", 1)[0] in replace and "=" in arg:
            out.append(f"{arg.split('=', 1)[0]}={replace[arg.split('=', 1)[0]]}")
        else:
            out.append(arg)
    return out


def _run(
    world, service: str, data: Path, repository: dict[str, str] | None = None, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess, list[str]]:
    """The job's three steps for `service`-0, as rendered, run here against the test's servers; the
    result is the report step's, with every step's log."""
    (run,) = [r for r in backup_plan.backup_runs(world["settings"]) if r.service == service]
    settings = world["settings"]
    stage = world["dir"] / f"stage-{service}"
    stage.mkdir(exist_ok=True)
    common = {"--data-dir": str(data), "--stage": str(stage)}
    staging = backup.stage_args(settings, run)
    assert staging[:4] == ("python3", "-I", "-B", backup.PROGRAM_PATH)
    replace = dict(common)
    if service == "prometheus":
        # This test's replica, at the path the rendered URL names (the route prefix).
        rendered = urllib.parse.urlsplit(next(arg.split("=", 1)[1] for arg in staging if arg.startswith("--url=")))
        replace |= {
            "--url": rendered._replace(netloc=f"{PROMETHEUS_A}:{PROMETHEUS_PORT}").geturl(),
            "--ca-file": world["ca"],
            "--password-file": str(world["dir"] / "backup-password"),
        }
    logs, argv = [], []
    step1 = [sys.executable, "-I", "-B", str(PROGRAM), *_flags(list(staging[4:]), replace)]
    restic = backup.restic_backup_args(settings, run)
    assert restic[:2] == ("sh", backup.STEP_PATH) and restic[3] == backup.STAGE_DIR
    step2 = ["sh", str(STEP_SCRIPT), restic[2], str(stage), *_restic_argv(restic[4:], repository or _repository(world))]
    report = backup.report_args(settings, run)
    step3 = [sys.executable, "-I", "-B", str(PROGRAM), *_flags(list(report[4:]), {**common, "--pushgateway": f"http://{PUSHGATEWAY}:{PUSHGATEWAY_PORT}"})]
    for step in (step1, step2):
        done = subprocess.run(step, capture_output=True, text=True, timeout=180, env={**os.environ, **(env or {})})
        assert done.returncode == 0, f"{step}\n{done.stderr}"
        logs.append(done.stderr)
        argv += step
    result = subprocess.run(step3, capture_output=True, text=True, timeout=120)
    return subprocess.CompletedProcess(step3, result.returncode, result.stdout, "".join(logs) + result.stderr), argv + step3


def restic_restore(world, target: str, into: Path, repository: dict[str, str] | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`restic restore latest --host <target>` with the stack's options (the procedure docs/operations.md gives)."""
    options = _restic_argv(backup.restic_options(world["settings"]), repository or _repository(world))
    argv = ["restic", *options, "--no-lock", "restore", "latest", "--host", target, "--target", str(into)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, env={**os.environ, **(env or {})})


def _pushed(pushgateway: Endpoint, target: str) -> dict[str, float]:
    text = pushgateway.get("/metrics").body.decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("job") == "ngx-backup" and sample.labels.get("target") == target
    }


def _raw_samples(api: PrometheusAPI, at: float) -> dict[str, list[tuple[float, float]]]:
    """Every stored sample of the probe series up to `at`, as Prometheus returns them (a range selector)."""
    result = api.query(f"ngx_restore_probe[{SAMPLES * STEP + 600}s]", at)
    return {series["metric"]["series"]: [(float(ts), float(value)) for ts, value in series["values"]] for series in result}


def test_a_prometheus_snapshot_restores_every_sample_exactly(world, pushgateway):
    workdir = world["dir"]
    # Recent enough for retention and the lookback, old enough to be out of the head: 3h ago.
    base = math.floor(time.time() / 60) * 60 - 3 * 3600
    expected: dict[str, list[tuple[float, float]]] = {}
    lines = ["# TYPE ngx_restore_probe gauge"]
    for index in range(SAMPLES):
        at = base + index * STEP + 0.25  # millisecond precision in the timestamps too
        for series, value in _values(index).items():
            lines.append(f'ngx_restore_probe{{series="{series}"}} {value!r} {at}')
            expected.setdefault(series, []).append((at, value))
    (workdir / "samples.om").write_text("\n".join(lines) + "\n# EOF\n")
    data_a = workdir / "prometheus-a"
    created = subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(workdir / "samples.om"), str(data_a)], capture_output=True, text=True, timeout=60
    )
    assert created.returncode == 0, created.stdout + created.stderr

    # The rendered scrape job of the Pushgateway, pointed at this test's Pushgateway.
    rendered = yaml.safe_load(render_prometheus_config(world["settings"]))
    (job,) = [job for job in rendered["scrape_configs"] if job["job_name"] == "pushgateway"]
    job["static_configs"] = [{"targets": [f"{PUSHGATEWAY}:{PUSHGATEWAY_PORT}"]}]
    source = _start_prometheus(world, "prometheus-a", PROMETHEUS_A, data_a, [job])
    last = expected["decimal"][-1][0] + 1
    assert len(expected) == 4 and {len(samples) for samples in expected.values()} == {SAMPLES}
    assert _raw_samples(source, last) == expected, "the backfilled samples must be there before the backup"

    started = time.time()
    result, argv = _run(world, "prometheus", data_a)
    assert result.returncode == 0, f"{argv}\n{result.stdout}{result.stderr}"
    assert not list((data_a / "snapshots").iterdir()), "the backed-up snapshot must be removed from the data directory"

    pushed = _pushed(pushgateway, "prometheus-0")
    assert pushed["ngx_backup_last_run_success"] == 1
    assert started <= pushed["ngx_backup_last_success_timestamp_seconds"] <= time.time()
    assert pushed["ngx_backup_last_size_bytes"] > 0 and pushed["ngx_backup_last_added_bytes"] > 0
    # ... and Prometheus sees it under the pusher's labels (honor_labels), not the Pushgateway's address.
    seen = wait_until(
        lambda: source.query('ngx_backup_last_run_success{job="ngx-backup",target="prometheus-0"}'), 15, what="the backup result scraped from the Pushgateway"
    )
    assert [float(s["value"][1]) for s in seen] == [1.0] and seen[0]["metric"].get("instance", "") == ""

    # The volume is lost: restic restores into a fresh directory, a second Prometheus serves it.
    data_b = workdir / "prometheus-b"
    restored = restic_restore(world, "prometheus-0", data_b)
    assert restored.returncode == 0, restored.stderr
    target = _start_prometheus(world, "prometheus-b", PROMETHEUS_B, data_b, [])
    assert _raw_samples(target, last) == expected


def test_alertmanager_silences_survive_backup_and_restore(world, pushgateway):
    workdir = world["dir"]
    data_a = workdir / "alertmanager-a"
    data_a.mkdir()
    source = _start_alertmanager(world, "alertmanager-a", ALERTMANAGER_A, data_a)
    made = time.time()
    ids = {source.add_silence({"alertname": "BackupTooOld", "target": "prometheus-1"}, hours=6, comment="node drained, <ticket>")}
    ids.add(
        source._json(
            "POST",
            "/api/v2/silences",
            {
                "matchers": [{"name": "job", "value": "node|redis", "isRegex": True, "isEqual": True}],
                "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(made)),
                "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(made + 7200)),
                "createdBy": "tests/live",
                "comment": "maintenance window",
            },
        )["silenceID"]
    )
    before = {silence["id"]: silence for silence in source.silences()}
    assert set(before) == ids
    # The running Alertmanager writes its silences file at every maintenance (here: every second).
    wait_until(
        lambda: (data_a / "silences").exists() and (data_a / "silences").stat().st_mtime > made + 1,
        15,
        what="the silences file written after the silences were made",
    )

    result, argv = _run(world, "alertmanager", data_a)
    assert result.returncode == 0, f"{argv}\n{result.stdout}{result.stderr}"
    assert _pushed(pushgateway, "alertmanager-0")["ngx_backup_last_run_success"] == 1

    data_b = workdir / "alertmanager-b"
    restored = restic_restore(world, "alertmanager-0", data_b)
    assert restored.returncode == 0, restored.stderr
    target = _start_alertmanager(world, "alertmanager-b", ALERTMANAGER_B, data_b)
    after = {silence["id"]: silence for silence in target.silences()}
    fields = ("matchers", "comment", "createdBy", "startsAt", "endsAt")
    assert {i: {f: s[f] for f in fields} for i, s in after.items()} == {i: {f: s[f] for f in fields} for i, s in before.items()}
    assert {s["status"]["state"] for s in after.values()} == {"active"}


def test_alertmanager_backs_up_to_and_restores_from_an_s3_repository(world, pushgateway):
    """The S3 repository the stack renders for backup.target s3, in moto's S3 server behind TLS: the key
    reaches restic as the rendered shared credentials file, the throwaway CA through restic's --cacert
    (what a bucket with a private CA needs), everything else as the CronJobs give it."""
    from tests.s3_moto import MotoS3

    workdir = world["dir"] / "s3"
    workdir.mkdir()
    moto = MotoS3(workdir / "moto")
    try:
        bucket = moto.fresh_bucket()
        settings = parse(
            {
                "platform": "docker",
                "backup": {
                    "target": "s3",
                    "s3": {"endpoint": bucket.endpoint, "bucket": "ngx-backups", "region": "eu-west-1", "accessKeyId": bucket.key_id, "secretAccessKey": "k"},
                },
            },
            stack="dev",
            secret_keys=["backup"],
        )
        (workdir / "credentials").write_text(backup.render_s3_credentials(bucket.key_id, bucket.key_material))
        env = {backup.S3_CREDENTIALS_ENV: str(workdir / "credentials")}
        options = backup.restic_options(settings)
        repository = {"-r": options[options.index("-r") + 1], "--password-file": str(world["dir"] / "restic-password")}
        assert repository["-r"] == f"s3:{bucket.endpoint}/ngx-backups/dev"
        data = workdir / "alertmanager"
        data.mkdir()
        (data / "silences").write_bytes(b"silences of the s3 test")
        (data / "nflog").write_bytes(b"nflog of the s3 test")
        s3_world = {**world, "settings": settings}
        original = backup.restic_options

        def with_ca(s):
            return (*original(s), f"--cacert={moto.ca_file}")

        backup.restic_options = with_ca  # the rendered options plus the CA a private endpoint needs
        try:
            result, argv = _run(s3_world, "alertmanager", data, repository, env)
            assert result.returncode == 0, f"{argv}\n{result.stderr}"
            assert any(key.startswith("dev/snapshots/") for key in bucket.keys("dev/")), "a restic repository under <environment>/"
            assert b"silences of the s3 test" not in b"".join(bucket.get(key) for key in bucket.keys("dev/data/")), "encrypted at rest"
            restored = restic_restore(s3_world, "alertmanager-0", workdir / "restored", repository, env)
        finally:
            backup.restic_options = original
        assert restored.returncode == 0, restored.stderr
        assert {p.name: p.read_bytes() for p in (workdir / "restored").iterdir()} == {p.name: p.read_bytes() for p in data.iterdir()}
    finally:
        moto.close()
