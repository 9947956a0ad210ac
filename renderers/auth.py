"""Basic-auth users of the stack and their bcrypt hashes.

Hashes must be byte-identical on every run, or every preview would show a diff and every deploy
would restart Prometheus. So the salt is derived, not random: HMAC of the user and password under a
salt key that lives in Pulumi state (a generated secret). The salt reveals nothing without that key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import bcrypt

# Cost 10 is the floor the issue sets; each unauthenticated-cache miss costs ~60 ms of CPU, which
# Prometheus and Alertmanager cache per credential and nginx pays once per request on admin paths.
BCRYPT_COST = 10

# Machine users that call Prometheus and Alertmanager; the human user comes from settings.
PROMETHEUS_USER = "prometheus"  # self-scrape, HA peers, scraping Alertmanager, sending alerts
GRAFANA_USER = "grafana"  # datasources
PROBE_USER = "probe"  # container health checks, which cannot reach an unauthenticated endpoint
BACKUP_USER = "backup"  # the backup jobs: Prometheus's TSDB snapshot API (admin API, never through the proxy)
SERVICE_USERS = (PROMETHEUS_USER, GRAFANA_USER, PROBE_USER, BACKUP_USER)

_STD = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TO_BCRYPT = bytes.maketrans(_STD, _BCRYPT)


def users(admin_user: str) -> tuple[str, ...]:
    return (admin_user, *SERVICE_USERS)


def bcrypt_hash(user: str, password: str, salt_key: str, cost: int = BCRYPT_COST) -> str:
    digest = hmac.new(salt_key.encode(), f"{user}\0{password}".encode(), hashlib.sha256).digest()[:16]
    salt_text = base64.b64encode(digest).rstrip(b"=").translate(_TO_BCRYPT)
    salt = b"$2b$%02d$" % cost + salt_text
    return bcrypt.hashpw(password.encode(), salt).decode()
