"""The Grafana figures docs/grafana-content.md and docs/deploying-prod.md state, generated from the constants
that set them (token rotation in content.py, the admin-password certificate wait in admin.py), so a changed
constant changes the page with it (`python gendocs.py`; tests/test_docs.py fails while a page is stale)."""

from __future__ import annotations

from components.grafana.admin import CERTIFICATE_RETRY_SECONDS, CERTIFICATE_WAIT_SECONDS
from components.grafana.content import ROTATION_DAYS, TOKEN_TTL_SECONDS
from settings.docs import spelled_duration

DAY = 86400


def token_lifetime_markdown() -> str:
    """How long a token lives (its `seconds_to_live`)."""
    return spelled_duration(TOKEN_TTL_SECONDS)


def token_rotation_markdown() -> str:
    """After how long the first `pulumi up` rotates the tokens (the time.Rotating resource)."""
    return spelled_duration(ROTATION_DAYS * DAY)


def certificate_wait_markdown() -> str:
    """How the admin-password check waits for a certificate it can verify (a public URL's first issuance)."""
    return f"every {spelled_duration(CERTIFICATE_RETRY_SECONDS)} for up to {spelled_duration(CERTIFICATE_WAIT_SECONDS)}"
