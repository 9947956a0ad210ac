"""Settings, rendering and tool runners shared by the rule and Alertmanager tests.

The stacks here carry every receiver with a credential whose value is a recognisable marker, so a test
can prove no credential reaches a rendered file.
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import yaml

import settings as settings_module
from renderers.rules import render_rule_files
from settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RULE_TESTS = ROOT / "tests" / "rules"
# promtool unit tests under RULE_TESTS run against the dev stack; those in this subfolder against prod.
KUBERNETES_RULE_TESTS = RULE_TESTS / "kubernetes"
# ... and those in this one against the dev stack reading the instrumentator's metric names.
INSTRUMENTATOR_RULE_TESTS = RULE_TESTS / "instrumentator"
# ... and those in this one against the dev stack writing to one long-term store (remote-write.yml).
REMOTE_WRITE_RULE_TESTS = RULE_TESTS / "remote-write"
REMOTE_WRITE_STORE = {"name": "store", "url": "https://store.example.com/api/v1/push"}
STATIC_ANNOTATIONS = ("summary", "runbook_url", "dashboard_url")

# Credential settings -> marker values that must never appear in a rendered file.
SECRET_VALUES = {
    "receivers.slack.webhookUrl": "https://hooks.slack.com/services/T0/B0/slack-secret-3f9a",
    "receivers.pagerduty.routingKey": "pd-routing-secret-81c2",
    "receivers.email.password": "smtp-secret-7d1e",
    "receivers.heartbeat.url": "https://hb.example.com/ping/heartbeat-secret-5b0c",
}


def receivers_config(*, email: bool = True, slack: bool = True, pagerduty: bool = True, heartbeat: bool = True) -> dict[str, Any]:
    receivers: dict[str, Any] = {}
    if email:
        receivers["email"] = {
            "smarthost": "smtp.example.com:587",
            "from": "alerts@example.com",
            "to": ["ops@example.com", "sre@example.com"],
            "username": "alerts@example.com",
            "password": SECRET_VALUES["receivers.email.password"],
        }
    if slack:
        receivers["slack"] = {"webhookUrl": SECRET_VALUES["receivers.slack.webhookUrl"], "channel": "#ngx-alerts"}
    if pagerduty:
        receivers["pagerduty"] = {"routingKey": SECRET_VALUES["receivers.pagerduty.routingKey"]}
    if heartbeat:
        receivers["heartbeat"] = {"url": SECRET_VALUES["receivers.heartbeat.url"]}
    return receivers


def dev_settings(receivers: dict[str, Any] | None = None, **raw: Any) -> Settings:
    config = {"platform": "docker", "receivers": receivers_config() if receivers is None else receivers, **raw}
    return settings_module.parse(config, stack="dev", secret_keys=["receivers"])


def instrumentator_settings(receivers: dict[str, Any] | None = None, **raw: Any) -> Settings:
    """The dev stack for an application that exposes prometheus-fastapi-instrumentator's metrics."""
    app = {**raw.pop("app", {}), "metricNames": "instrumentator"}
    return dev_settings(receivers, app=app, **raw)


def remote_write_settings(receivers: dict[str, Any] | None = None, **raw: Any) -> Settings:
    """The dev stack writing every sample to one long-term store."""
    prometheus = {**raw.pop("prometheus", {}), "remoteWrite": [REMOTE_WRITE_STORE]}
    return dev_settings(receivers, prometheus=prometheus, **raw)


def kubernetes_settings(receivers: dict[str, Any] | None = None, **raw: Any) -> Settings:
    config = {
        "platform": "kubernetes",
        "kubernetes": {"apiServerCidr": "10.96.0.1/32"},
        "receivers": receivers_config() if receivers is None else receivers,
        **raw,
    }
    return settings_module.parse(config, stack="prod", secret_keys=["receivers"])


def run(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300)


# --- promtool ------------------------------------------------------------------------------------

# Test files load every rendered rule file through the same kind of glob as prometheus.yml, so a rule
# never passes a test only because a file it depends on was left out.
RULES_SUBDIR = "rules"
RULES_GLOB = f"{RULES_SUBDIR}/*.yml"


def write_rule_files(settings: Settings, directory: Path) -> dict[str, str]:
    """Render the rule files into `directory`/rules, where the test files' glob finds them."""
    rendered = render_rule_files(settings)
    (directory / RULES_SUBDIR).mkdir(exist_ok=True)
    for name, text in rendered.items():
        (directory / RULES_SUBDIR / name).write_text(text)
    return rendered


def _static_annotations(rendered: dict[str, str]) -> dict[tuple[str, str], dict[str, str]]:
    """(alertname, severity) -> the annotations that do not depend on the alert's value."""
    found = {}
    for text in rendered.values():
        for group in yaml.safe_load(text)["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    key = (rule["alert"], rule["labels"]["severity"])
                    found[key] = {name: rule["annotations"][name] for name in STATIC_ANNOTATIONS}
    return found


def prepare_rule_test(source: Path, rendered: dict[str, str], directory: Path) -> Path:
    """Copy a promtool test next to the rendered rule files, completing its expected annotations.

    Test files state labels and the description (it carries the value, the part worth asserting); the
    summary and links are the same for every firing of an alert and are checked by tests/test_rules.py,
    so they are filled in here from the rendered rules rather than copied into every case.
    """
    document = yaml.safe_load(source.read_text())
    if document["rule_files"] != [RULES_GLOB]:
        raise AssertionError(f"{source.name} must load rule_files: [{RULES_GLOB!r}], the rendered files")
    static = _static_annotations(rendered)
    completed = copy.deepcopy(document)
    for test in completed["tests"]:
        for case in test.get("alert_rule_test", []):
            for expected in case.get("exp_alerts") or []:
                key = (case["alertname"], expected["exp_labels"]["severity"])
                if key not in static:
                    raise AssertionError(f"{source.name}: no rendered alert {key[0]} with severity {key[1]}")
                if "description" not in expected.get("exp_annotations", {}):
                    raise AssertionError(f"{source.name}: {key[0]} at {case['eval_time']} must state its description")
                expected["exp_annotations"] = {**static[key], **expected["exp_annotations"]}
    target = directory / source.name
    target.write_text(yaml.safe_dump(completed, sort_keys=False))
    return target


def rule_test_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.test.yml"))


def expected_alert_cases(folder: Path) -> tuple[list[tuple[str, dict[str, str]]], set[str]]:
    """Expected firing alerts as (alertname, exp_labels), and alert names expected quiet, in `folder`."""
    fires, quiet = [], set()
    for path in rule_test_files(folder):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                if not case.get("exp_alerts"):
                    quiet.add(case["alertname"])
                fires.extend((case["alertname"], expected["exp_labels"]) for expected in case.get("exp_alerts") or [])
    return fires, quiet


# --- amtool --------------------------------------------------------------------------------------

PLACEHOLDER_URL = "https://heartbeat.invalid/placeholder"


def for_amtool_025(config_text: str, templates_dir: Path) -> str:
    """The rendered alertmanager.yml as amtool 0.25 can check it.

    Two changes, both explicit: the template glob points at the rendered templates in `templates_dir`
    (so check-config parses them), and the webhook's url_file (Alertmanager >= 0.26; the image pins 0.28)
    becomes an inline placeholder url. tests/test_alertmanager.py proves 0.25 refuses exactly that field.
    """
    document = yaml.safe_load(config_text)
    document["templates"] = [str(templates_dir / "*.tmpl")]
    for receiver in document["receivers"]:
        for config in receiver.get("webhook_configs", []):
            if config.pop("url_file", None) is not None:
                config["url"] = PLACEHOLDER_URL
    return yaml.safe_dump(document, sort_keys=False)


def amtool_route(config_file: Path, labels: dict[str, str]) -> list[str]:
    """Receivers amtool routes `labels` to."""
    result = run(["amtool", "config", "routes", "test", f"--config.file={config_file}", *(f"{name}={value}" for name, value in labels.items())])
    if result.returncode != 0:
        raise AssertionError(result.stdout + result.stderr)
    return [name.strip() for name in result.stdout.strip().split(",")]
