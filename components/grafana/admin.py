"""Keeps Grafana's admin password equal to the stack's, through Grafana's HTTP API.

Grafana reads `[security] admin_password` (our GF_SECURITY_ADMIN_PASSWORD file) only when it creates
the admin user, on the first start with an empty database. Changing the setting later changes the
file, not the password Grafana checks, and every request of the bootstrap provider would then fail
with 401. This resource closes that gap:

- create: checks that Grafana accepts the password (a clear error instead of a provider 401 later);
- update (the password changed in settings or was regenerated): logs in with the previous password,
  which Pulumi state still holds, and sets the new one with `PUT /api/user/password`; if Grafana
  already accepts the new one (an earlier run stopped half-way), there is nothing to do;
- a changed admin *login* is refused at preview: Grafana would keep the old login, and renaming the
  admin is a decision for a human in Grafana's UI (see docs/grafana-content.md, "The admin password, and how to rotate it");
- delete: nothing; the admin user belongs to Grafana's database, not to this stack's state.

The provider runs in Pulumi's dynamic-provider process, so it uses the standard library only. It
speaks HTTPS only and always verifies the server, with the roots trust.py gives the clients of the
public URL, carried explicitly in the inputs: `trust: "ca"` trusts only `ca_pem` (the stack CA, when
the public certificate is the stack's), `trust: "system"` the system store plus `ca_pem` when set
(`tls.caCertificate`). `ssl.create_default_context(cadata=...)` alone would skip the system store
(CPython loads the default roots only when no CA is given), so "system" loads both explicitly. The
password never crosses the wire to an unverified peer.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urljoin

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource as DynamicResource, ResourceProvider, UpdateResult

TIMEOUT_SECONDS = 30
# Grafana behind a rolling restart or the proxy's rate limit answers 5xx/429 for a few seconds.
ATTEMPTS = 5
RETRY_SECONDS = 3
RETRYABLE = {429, 502, 503, 504}
# On a first deploy with cert-manager (or before an existing Secret is created) the Ingress serves its
# controller's placeholder certificate until the real one is issued, typically within a minute or two
# of the Ingress appearing. A client of the public URL that trusts the system store (a certificate from
# outside the stack) therefore waits this long for a certificate it can verify before it gives up;
# one that trusts only a CA the program made fails at once, since no later certificate would differ.
CERTIFICATE_WAIT_SECONDS = 600
CERTIFICATE_RETRY_SECONDS = 10


class AdminPasswordError(Exception):
    """A failure with a message an operator can act on (shown by `pulumi up`)."""


TRUST_SYSTEM, TRUST_CA = "system", "ca"


def context(trust: str, ca_pem: str) -> ssl.SSLContext:
    """The TLS client context for `trust` (see the module docstring); state written before `trust`
    existed trusted only `ca_pem`."""
    if trust == TRUST_SYSTEM:
        result = ssl.create_default_context()  # the system store (OpenSSL honours SSL_CERT_FILE)
        if ca_pem:
            result.load_verify_locations(cadata=ca_pem)
    elif trust == TRUST_CA:
        if not ca_pem:
            raise AdminPasswordError("the admin-password resource trusts only a CA but was given none")
        result = ssl.create_default_context(cadata=ca_pem)
    else:
        raise AdminPasswordError(f"unknown trust {trust!r}: expected {TRUST_SYSTEM!r} or {TRUST_CA!r}")
    result.minimum_version = ssl.TLSVersion.TLSv1_2
    return result


def request(
    url: str, tls: ssl.SSLContext, method: str, path: str, user: str, password: str, body: dict[str, Any] | None = None, certificate_wait: float = 0
) -> tuple[int, dict[str, Any]]:
    """One authenticated call to Grafana's API at `url` (its root, e.g. https://host/grafana/).
    `certificate_wait`: seconds to keep retrying while the server's certificate cannot be verified."""
    if not url.startswith("https://"):
        raise AdminPasswordError(f"refusing to send Grafana's admin password to {url}: only https URLs are allowed")
    target = urljoin(url if url.endswith("/") else url + "/", path)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    last_error = ""
    waited = 0.0
    attempt = 0
    while attempt < ATTEMPTS:
        req = urllib.request.Request(
            target, data=data, method=method, headers={"Authorization": f"Basic {token}", "Accept": "application/json", "Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS, context=tls) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as err:
            if err.code not in RETRYABLE:
                return err.code, _json(err.read())
            last_error = f"HTTP {err.code}"
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            if isinstance(reason, ssl.SSLCertVerificationError):
                if waited + CERTIFICATE_RETRY_SECONDS > certificate_wait:
                    waited_for = f" (waited {waited:.0f}s for a certificate it can verify)" if waited else ""
                    raise AdminPasswordError(f"cannot verify Grafana's certificate at {url} with the roots it was given{waited_for}: {reason}") from None
                time.sleep(CERTIFICATE_RETRY_SECONDS)
                waited += CERTIFICATE_RETRY_SECONDS
                continue  # not an attempt: nothing reached Grafana
            last_error = str(reason)
        attempt += 1
        if attempt < ATTEMPTS:
            time.sleep(RETRY_SECONDS)
    raise AdminPasswordError(f"cannot reach Grafana at {url} ({last_error}) after {ATTEMPTS} attempts")


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _tls(props: dict[str, Any]) -> ssl.SSLContext:
    return context(props.get("trust") or TRUST_CA, props.get("ca_pem") or "")


def _certificate_wait(props: dict[str, Any]) -> float:
    return CERTIFICATE_WAIT_SECONDS if props.get("trust") == TRUST_SYSTEM else 0


def accepts(props: dict[str, Any], password: str) -> bool:
    status, _ = request(props["url"], _tls(props), "GET", "api/user", props["user"], password, certificate_wait=_certificate_wait(props))
    if status in (200, 401, 403):
        return status == 200
    raise AdminPasswordError(f"Grafana at {props['url']} answered HTTP {status} to a login check")


def change_password(props: dict[str, Any], old: str, new: str) -> None:
    """Set `new` as the admin password, logged in with `old`; idempotent."""
    if accepts(props, old):
        status, body = request(
            props["url"], _tls(props), "PUT", "api/user/password", props["user"], old, {"oldPassword": old, "newPassword": new, "confirmNew": new}
        )
        if status != 200:
            raise AdminPasswordError(f"Grafana refused the new admin password (HTTP {status}: {body.get('message', 'no message')})")
    if not accepts(props, new):
        raise AdminPasswordError(
            f"Grafana at {props['url']} accepts neither the previous nor the new admin password of {props['user']}: "
            "it was changed outside this stack. Set grafana.adminPassword to the password Grafana has now "
            "(pulumi config set --secret grafana.adminPassword ...), deploy, then change the setting again."
        )


class AdminPasswordProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        if not accepts(props, props["password"]):
            raise AdminPasswordError(
                f"Grafana at {props['url']} refuses the admin password of {props['user']}. Grafana sets it only on its "
                "first start, so its database predates this password (or it was changed in the UI). Set "
                "grafana.adminPassword to the password Grafana has now (pulumi config set --secret "
                "grafana.adminPassword ...) and deploy; change it afterwards through the same setting."
            )
        return CreateResult(id_=props["user"], outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if olds.get("user") != news.get("user"):
            raise AdminPasswordError(
                f"grafana.adminUser cannot change from {olds.get('user')!r} to {news.get('user')!r}: Grafana created its admin "
                "at first start and keeps that login. Rename the admin in Grafana (Administration > Users), then set "
                "grafana.adminUser to the new login and run `pulumi refresh` before the next deploy."
            )
        changed = [key for key in ("url", "trust", "ca_pem", "password") if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=[], stables=["user"], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if olds.get("password") != news["password"]:
            change_password(news, olds["password"], news["password"])
        return UpdateResult(outs=news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        return None


class GrafanaAdminPassword(DynamicResource, module="ngx", name="GrafanaAdminPassword"):
    """Grafana's admin password as Pulumi manages it; `password` resolves (secret) once Grafana has it."""

    password: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        url: pulumi.Input[str],
        trust: str,
        ca_pem: pulumi.Input[str] | None,
        user: str,
        password: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`trust`: TRUST_CA (only `ca_pem`) or TRUST_SYSTEM (the system store, plus `ca_pem` when given)."""
        if trust not in (TRUST_SYSTEM, TRUST_CA) or (trust == TRUST_CA and ca_pem is None):
            raise ValueError(f"GrafanaAdminPassword.trust: {trust!r} needs to be {TRUST_SYSTEM!r}, or {TRUST_CA!r} with a ca_pem")
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["password"]))
        super().__init__(
            AdminPasswordProvider(),
            name,
            {
                "url": url,
                "trust": trust,
                "ca_pem": ca_pem if ca_pem is not None else "",
                "user": user,
                "password": pulumi.Output.secret(password),
            },
            opts,
        )
