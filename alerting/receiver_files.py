"""The one list of credential files Alertmanager reads its receivers' secrets from.

alertmanager.yml names these files (under renderers.paths.SECRETS_DIR) through *_file fields and never
holds a credential; the deployment mounts each file with the value of the setting named here.
"""

from __future__ import annotations

from collections.abc import Callable

from settings import Secret, Settings

SLACK_WEBHOOK_URL = "slack-webhook-url"
PAGERDUTY_ROUTING_KEY = "pagerduty-routing-key"
SMTP_PASSWORD = "smtp-password"
HEARTBEAT_URL = "heartbeat-url"

# file name -> (settings key path, how to read that setting's Secret; None when not configured)
_FILES: dict[str, tuple[str, Callable[[Settings], Secret | None]]] = {
    SLACK_WEBHOOK_URL: ("receivers.slack.webhookUrl", lambda s: s.receivers.slack and s.receivers.slack.webhook_url),
    PAGERDUTY_ROUTING_KEY: ("receivers.pagerduty.routingKey", lambda s: s.receivers.pagerduty and s.receivers.pagerduty.routing_key),
    SMTP_PASSWORD: ("receivers.email.password", lambda s: s.receivers.email and s.receivers.email.password),
    HEARTBEAT_URL: ("receivers.heartbeat.url", lambda s: s.receivers.heartbeat and s.receivers.heartbeat.url),
}


def receiver_secret_files(settings: Settings) -> dict[str, str]:
    """File name -> settings key path, for every credential this stack configures."""
    return {name: key for name, (key, read) in _FILES.items() if read(settings)}


def receiver_secrets(settings: Settings) -> dict[str, Secret]:
    """File name -> the Secret to write into it (reveal it only into an Output.secret)."""
    return {name: secret for name, (_, read) in _FILES.items() if (secret := read(settings))}
