"""Shared fixtures: synthesised stacks (the whole program under mocks) and rendered settings."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Known strings seeded into every secret setting, so tests can search for leaks.
SEEDED_SECRETS = {
    "receivers.slack.webhookUrl": "https://hooks.slack.com/services/SEEDED/SLACK/SECRET",
    "receivers.pagerduty.routingKey": "seeded-pagerduty-routing-key",
    "receivers.email.password": "seeded-smtp-password",
    "receivers.heartbeat.url": "https://heartbeat.example.com/seeded-heartbeat-token",
    "grafana.adminPassword": "seeded-grafana-admin-password",
}
SEEDED_CONFIG = [
    "receivers.email.smarthost=smtp.example.com:587",
    "receivers.email.from=monitoring@example.com",
    "receivers.email.to=ops@example.com",
    "receivers.email.username=monitoring@example.com",
]


def _synth(stack: str, seeded: bool):
    from synthesis.run import synth

    if not seeded:
        return synth(stack)
    return synth(stack, SEEDED_CONFIG, [f"{path}={value}" for path, value in SEEDED_SECRETS.items()])


@pytest.fixture(scope="session")
def dev_stack():
    """The dev program as synth runs it, with the stack file's settings."""
    return _synth("dev", seeded=False)


@pytest.fixture(scope="session")
def prod_stack():
    return _synth("prod", seeded=False)


@pytest.fixture(scope="session")
def dev_seeded():
    """dev with every secret set to a known string (see SEEDED_SECRETS)."""
    return _synth("dev", seeded=True)


@pytest.fixture(scope="session")
def prod_seeded():
    return _synth("prod", seeded=True)


# In CI a skipped test is a failure: a skip there means something the suite claims was not checked.
def pytest_sessionfinish(session, exitstatus):
    import os

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("CI") == "true" and skipped and session.exitstatus == 0:
        reporter.write_line(f"CI: {len(skipped)} skipped test(s) count as failures", red=True)
        session.exitstatus = 1
