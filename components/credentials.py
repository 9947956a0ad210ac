"""Generated credentials of the stack, kept in Pulumi state so they are stable between runs."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components import TYPE_PREFIX
from renderers import auth
from settings import Secret


@dataclass(frozen=True)
class CredentialsArgs:
    admin_user: str  # the human user behind the proxy (proxy.adminUser); gets a generated password
    grafana_admin_password: Secret | None = None  # Grafana's admin password (grafana.adminPassword); None: generated

    def __post_init__(self) -> None:
        if not self.admin_user:
            raise ValueError("CredentialsArgs.admin_user: must name the ops user (proxy.adminUser)")


class Credentials(pulumi.ComponentResource):
    """Passwords of the basic-auth users, Grafana's admin password and secret key, and the key that
    derives bcrypt salts. Every value is an Output secret; `hashes` maps user -> bcrypt hash."""

    def __init__(self, name: str, args: CredentialsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:Credentials", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def generated(suffix: str, length: int = 32) -> pulumi.Output[str]:
            # No special characters: these values end up in HTTP basic auth and INI files.
            return random.RandomPassword(f"{name}-{suffix}", length=length, special=False, opts=child).result

        self.admin_user = args.admin_user
        self.passwords: dict[str, pulumi.Output[str]] = {user: generated(f"{user}-password") for user in auth.users(args.admin_user)}
        given = args.grafana_admin_password
        self.grafana_admin_password = pulumi.Output.secret(given.reveal()) if given is not None else generated("grafana-admin-password")
        self.grafana_secret_key = generated("grafana-secret-key", 48)
        # The restic repository's: without it every backup is unreadable (exported, as a secret, for that).
        self.restic_password = generated("restic-password", 48)
        salt_key = generated("bcrypt-salt-key", 48)
        users = sorted(self.passwords)
        self.hashes: pulumi.Output[dict[str, str]] = pulumi.Output.secret(
            pulumi.Output.all(salt_key, *(self.passwords[user] for user in users)).apply(
                lambda values: {user: auth.bcrypt_hash(user, password, values[0]) for user, password in zip(users, values[1:], strict=False)}
            )
        )
        self.register_outputs({})
