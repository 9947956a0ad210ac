"""synth: the whole program offline, for both stacks; its CLI contract; deterministic output."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

import synth as synth_cli
from renderers.bundle import render_config_files
from synthesis.run import synth, write
from tests.conftest import ROOT, SEEDED_SECRETS

REQUIRED_FILES = (
    "prometheus/prometheus.yml",
    "prometheus/web.yml",
    "alertmanager/alertmanager.yml",
    "alertmanager/web.yml",
    "loki/loki.yaml",
    "grafana/grafana.ini",
    "proxy/nginx.conf",
    "alloy/config.alloy",
    "proxy/htpasswd",
)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_synth_writes_resources_files_and_manifests(request, stack, tmp_path):
    result = request.getfixturevalue(f"{stack}_stack")  # synth(stack), shared by the session
    written = write(result, tmp_path)
    for name in REQUIRED_FILES:
        assert (tmp_path / "files" / name).is_file(), name
    assert list((tmp_path / "files" / "prometheus" / "rules").glob("*.yml"))
    resources = yaml.safe_load((tmp_path / "resources.yaml").read_text())
    assert {"type", "name", "parent", "inputs"} <= set(resources[0])
    assert any(r["type"] == "pulumi:pulumi:Stack" or r["parent"] is None for r in resources)
    manifests = list((tmp_path / "kubernetes").glob("*.yaml")) if (tmp_path / "kubernetes").exists() else []
    assert bool(manifests) == (stack == "prod")
    assert len(written) >= len(REQUIRED_FILES) + 1


def test_rendered_files_equal_the_renderers_output(dev_stack):
    plain = render_config_files(dev_stack.settings)
    for key, text in plain.items():
        assert dev_stack.files[key] == text


def test_secrets_are_written_as_placeholders_only(tmp_path, dev_seeded):
    write(dev_seeded, tmp_path)
    everything = "\n".join(path.read_text() for path in tmp_path.rglob("*") if path.is_file())
    for value in SEEDED_SECRETS.values():
        assert value not in everything
    assert "[secret]" in (tmp_path / "resources.yaml").read_text()


def test_synth_is_deterministic(tmp_path, dev_stack):
    """Two runs in one process, the first one the session's (other stacks may have run in between)."""
    first, second = tmp_path / "a", tmp_path / "b"
    write(dev_stack, first)
    write(synth("dev"), second)
    files_a = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert files_a == files_b
    for relative in files_a:
        assert (first / relative).read_bytes() == (second / relative).read_bytes(), relative


def test_config_and_secret_overrides_reach_the_program():
    result = synth(
        "dev",
        ["prometheus.retentionTime=45d", "prometheus.scrapeInterval=30s", "prometheus.evaluationInterval=30s"],
        ["receivers.slack.webhookUrl=https://hooks.slack.com/services/T/B/OVERRIDE"],
    )
    assert result.settings.prometheus.retention_time == "45d"
    assert "scrape_interval: 30s" in result.files["prometheus/prometheus.yml"]
    assert result.settings.receivers.slack is not None
    assert "OVERRIDE" not in "".join(result.files.values())


def test_prod_placeholders_are_announced_in_one_line(capsys, tmp_path):
    assert synth_cli.main(["--stack", "prod", "--out", str(tmp_path / "out")]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("synth: placeholders")]
    assert len(lines) == 1
    for key in ("receivers.pagerduty.routingKey", "receivers.slack.webhookUrl", "receivers.heartbeat.url"):
        assert key in lines[0]


@pytest.mark.parametrize(
    "override,key",
    [
        ("prometheus.retentionTime=15 days", "prometheus.retentionTime"),
        ("prometheus.retentionSize=12GB", "prometheus.retentionSize"),
        ("images.grafana=grafana/grafana:latest", "images.grafana"),
        ("prometheus.retentonTime=15d", "prometheus.retentonTime"),
    ],
)
def test_bad_setting_exits_2_with_one_line_naming_the_key(override, key):
    process = subprocess.run([sys.executable, "synth.py", "--stack", "dev", "--config", override], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert process.returncode == 2
    assert process.stderr.startswith(f"error: ngx-monitoring:{key}: ")
    assert process.stderr.count("\n") == 1 and "Traceback" not in process.stderr


def test_unknown_stack_is_a_clear_error():
    process = subprocess.run([sys.executable, "synth.py", "--stack", "staging"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert process.returncode == 2 and "Pulumi.staging.yaml does not exist" in process.stderr


def test_stack_outputs_keep_passwords_secret(dev_stack):
    outputs = dev_stack.outputs
    assert set(outputs) >= {"urls", "caCertificate", "grafanaAdminUser", "grafanaAdminPassword", "opsPassword"}
    from synthesis.recorder import is_secret

    assert is_secret(outputs["grafanaAdminPassword"]) and is_secret(outputs["opsPassword"])
    assert not is_secret(outputs["grafanaAdminUser"])
    assert outputs["urls"]["grafana"] == "https://monitoring.localhost/grafana/"


# --- numbers: what the program wrote as an int is written as an int ------------------------------


def _whole_floats(value, path=""):
    """Paths of every float with no fraction in a parsed document (strings, e.g. JSON text, are not entered)."""
    if isinstance(value, float) and value.is_integer():
        return [path]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _whole_floats(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _whole_floats(item, f"{path}[{index}]")]
    return []


def test_integral_turns_whole_floats_into_ints_and_keeps_fractions_and_secrets():
    from synthesis.recorder import SECRET_SIG, SECRET_SIG_KEY, integral

    secret = {SECRET_SIG_KEY: SECRET_SIG, "value": {"port": 9090.0}}
    converted = integral({"replicas": 3.0, "cpus": 0.5, "ports": [80.0, 1.25], "flag": True, "secret": secret, "name": "9090.0"})
    assert converted == {
        "replicas": 3,
        "cpus": 0.5,
        "ports": [80, 1.25],
        "flag": True,
        "name": "9090.0",
        "secret": {SECRET_SIG_KEY: SECRET_SIG, "value": {"port": 9090}},
    }
    assert type(converted["replicas"]) is int and type(converted["cpus"]) is float and converted["flag"] is True
    assert type(converted["secret"]["value"]["port"]) is int


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_synth_writes_ints_where_the_program_wrote_ints(stack, tmp_path, dev_stack, prod_stack):
    """Pulumi carries numbers as doubles; a reviewer must still read `replicas: 3` and `port: 9090`,
    and Kubernetes declares replicas, ports, UIDs and probe timings int32."""
    write({"dev": dev_stack, "prod": prod_stack}[stack], tmp_path)
    documents = {"resources.yaml": yaml.safe_load((tmp_path / "resources.yaml").read_text())}
    documents.update({path.name: yaml.safe_load(path.read_text()) for path in (tmp_path / "kubernetes").glob("*.yaml")})
    assert (len(documents) > 1) == (stack == "prod")
    found = {name: _whole_floats(document) for name, document in documents.items()}
    assert {name: paths for name, paths in found.items() if paths} == {}
    text = "\n".join(path.read_text() for path in [tmp_path / "resources.yaml", *(tmp_path / "kubernetes").glob("*.yaml")])
    for key in ("replicas", "port", "containerPort", "runAsUser", "runAsGroup", "fsGroup", "timeoutSeconds", "defaultMode"):
        assert not re.search(rf"\b{key}: \d+\.0\b", text), key


def test_a_failed_synth_leaves_nothing_behind_for_the_next(dev_stack):
    """The runtime keeps tracking a failed run's Outputs; the next synth in the same process must not
    await them as its own (it failed with the previous run's error before synth reset them)."""
    from synthesis.recorder import READS
    from synthesis.run import synth

    [slice_key] = [key for key in READS if key[1] == "default/kubernetes"]
    with pytest.raises(Exception, match="lists no API server address"):
        synth("prod", reads={slice_key: {**READS[slice_key], "endpoints": []}})
    again = synth("dev")
    assert again.files == dev_stack.files
