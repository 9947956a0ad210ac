"""GrafanaContent: everything the stack puts *into* Grafana, through the Grafana provider.

Two providers, both pointed at Grafana's public URL (behind the TLS proxy or Ingress) and both
verifying it with the roots trust.py gives the clients of that URL (`public_trust`): only the stack CA
when the public certificate is the stack's; otherwise the system store, plus `tls.caCertificate` when
set. The provider's `ca_cert` adds to the system roots (terraform-provider-grafana builds its pool from
x509.SystemCertPool() since v3.22.3; pulumiverse-grafana 2.x embeds v4), so it is unset when only the
system store is wanted; the admin-password resource is told the same choice explicitly.

- `<name>-bootstrap` logs in as the admin (basic auth) and creates only one service account
  (`Admin` role) and its token. It is created once Grafana answers (it depends on `ready`) and after
  the admin password is known to be the stack's (components.grafana.admin).
- `<name>-provider` uses that token and manages every folder, datasource, dashboard, contact point,
  message template, mute timing and the notification policy.

Why two: the admin password is a human credential that may be rotated at any time and lives in
Grafana's user table; content managed under a service account shows up as owned by automation,
survives admin password changes, and its token is rotated by the program itself (docs/grafana-content.md, "Two providers: bootstrap and content").
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumiverse_grafana as grafana
import pulumiverse_time as time

with warnings.catch_warnings():
    # The package warns at import time about alpha alerting resources this stack does not use.
    warnings.simplefilter("ignore", DeprecationWarning)
    from pulumiverse_grafana import alerting as grafana_alerting

    grafana_alerting.ContactPoint  # noqa: B018 (the package loads lazily, on first attribute access)

import trust
from components import TYPE_PREFIX
from components.grafana import alerting as derived
from components.grafana.admin import TRUST_CA, TRUST_SYSTEM, GrafanaAdminPassword
from components.grafana.datasources import DatasourceConfig, datasource_configs, long_term_store_config
from dashboards import DASHBOARDS, FOLDERS, render_dashboards
from renderers.alertmanager import render_alertmanager_templates
from renderers.auth import GRAFANA_USER
from settings import Settings

# The service account the content provider acts as; Admin because it manages datasources.
AUTOMATION_ACCOUNT = "ngx-monitoring-automation"
AUTOMATION_ROLE = "Admin"
# The service account the application's CI/CD records deploy annotations with (ops/annotate_deploy.py).
# Organization annotations need `annotations:create` on `annotations:type:organization`, which Grafana
# grants through the fixed role `fixed:annotations:writer` to the basic role Editor and up; Grafana OSS
# cannot give a service account a fixed role alone (role assignment is Enterprise/Cloud RBAC). So Editor,
# which can also edit dashboards, folders, library panels, alert rules, contact points, notification
# policies and silences, but not datasources, users, teams or service accounts: docs/grafana-content.md
# ("The deploy-annotation token") says so, and tests/test_grafana_content.py keeps it naming this role.
ANNOTATION_ACCOUNT = "ngx-deploy-annotations"
ANNOTATION_ROLE = "Editor"
# Tokens are replaced by the first deploy after ROTATION_DAYS (a time.Rotating resource keeps the
# rotation date in state, so runs in between change nothing) and live twice as long, so a month
# without any deploy never leaves the program or CI/CD with an expired token (docs/grafana-content.md, "Two providers: bootstrap and content").
ROTATION_DAYS = 30
TOKEN_TTL_SECONDS = 2 * ROTATION_DAYS * 24 * 3600


@dataclass(frozen=True)
class GrafanaContentArgs:
    settings: Settings
    url: pulumi.Input[str]  # Grafana's public root URL, https://<domain>[:port]/grafana/
    public_trust: trust.Trust  # the roots clients of `url` get (trust.public_trust)
    ca_pem: pulumi.Input[str] | None  # PEM of public_trust.cas (Certificates.ca_bundle); None: system store only
    admin_user: str  # the admin login Grafana created at first start (settings.grafana.admin_user)
    admin_password: pulumi.Input[str]  # secret; the stack's admin password (credentials.grafana_admin_password)
    grafana_password: pulumi.Input[str]  # secret; password of the `grafana` basic-auth user of Prometheus/Alertmanager
    internal_ca_pem: pulumi.Input[str]  # CA of Prometheus' and Alertmanager's internal certificates
    ready: pulumi.Input[Any]  # resolves once Grafana answers at `url` (the backend's grafana_ready)

    def __post_init__(self) -> None:
        if isinstance(self.url, str) and not self.url.startswith("https://"):
            raise ValueError(f"GrafanaContentArgs.url: {self.url!r} must be an https URL; the providers send credentials to it")
        if isinstance(self.url, str) and not self.url.endswith("/"):
            raise ValueError(f"GrafanaContentArgs.url: {self.url!r} must end with '/' (Grafana's root under the proxy)")
        if not self.admin_user:
            raise ValueError("GrafanaContentArgs.admin_user: must name Grafana's admin login")
        if (self.ca_pem is None) != (not self.public_trust.cas) or not (self.public_trust.system or self.public_trust.cas):
            raise ValueError("GrafanaContentArgs.ca_pem: must be the PEM of public_trust.cas, and None when it names no CA")


def admin_trust(roots: trust.Trust) -> str:
    """The admin-password resource's `trust` input for `roots`."""
    return TRUST_SYSTEM if roots.system else TRUST_CA


class GrafanaContent(pulumi.ComponentResource):
    """Outputs: `dashboard_urls` (uid -> URL), `datasource_uids` (type -> uid), `folder_uids`."""

    def __init__(self, name: str, args: GrafanaContentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:GrafanaContent", name, None, opts)
        settings = args.settings
        self._name = name
        # Every request waits for Grafana: the URL both providers (and the admin check) use resolves
        # only once `ready` has, so each of them depends on the resources behind `ready`.
        url = pulumi.Output.all(args.ready, args.url).apply(lambda values: values[1])

        admin = GrafanaAdminPassword(
            f"{name}-admin-password",
            url=url,
            trust=admin_trust(args.public_trust),
            ca_pem=args.ca_pem,
            user=args.admin_user,
            password=args.admin_password,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.bootstrap_provider = grafana.Provider(
            f"{name}-bootstrap",
            url=url,
            ca_cert=args.ca_pem,
            auth=pulumi.Output.secret(pulumi.Output.concat(args.admin_user, ":", admin.password)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[admin]),
        )
        bootstrap = pulumi.ResourceOptions(parent=self, provider=self.bootstrap_provider)
        rotation = time.Rotating(f"{name}-token-rotation", rotation_days=ROTATION_DAYS, opts=pulumi.ResourceOptions(parent=self))
        token = self._token("automation", AUTOMATION_ACCOUNT, AUTOMATION_ROLE, rotation, bootstrap)
        # Secret stack output `deployAnnotationToken`, for the application's CI/CD.
        self.annotation_token = pulumi.Output.secret(self._token("deploy-annotations", ANNOTATION_ACCOUNT, ANNOTATION_ROLE, rotation, bootstrap).key)
        self.content_provider = grafana.Provider(
            f"{name}-provider", url=url, ca_cert=args.ca_pem, auth=pulumi.Output.secret(token.key), opts=pulumi.ResourceOptions(parent=self)
        )

        folders = self._folders()
        datasources = self._datasources(settings, args)
        self._dashboards(settings, folders, datasources)
        self._alerting(settings)

        self.folder_uids = {uid: folder.uid for uid, folder in folders.items()}
        self.datasource_uids = {config.datasource.type: config.datasource.uid for config in datasource_configs(settings)}
        self.dashboard_urls = pulumi.Output.from_input(args.url).apply(lambda root: {spec.uid: f"{root}d/{spec.uid}" for spec in DASHBOARDS})
        self.register_outputs({"dashboard_urls": self.dashboard_urls})

    def _token(self, suffix: str, account_name: str, role: str, rotation: time.Rotating, bootstrap: pulumi.ResourceOptions) -> grafana.oss.ServiceAccountToken:
        account = grafana.oss.ServiceAccount(f"{self._name}-{suffix}", name=account_name, role=role, is_disabled=False, opts=bootstrap)
        # The token's name carries the rotation date: a new rotation replaces the token.
        return grafana.oss.ServiceAccountToken(
            f"{self._name}-{suffix}-token",
            name=rotation.rfc3339.apply(lambda when: f"pulumi-{when[:10]}"),
            service_account_id=account.id,
            seconds_to_live=TOKEN_TTL_SECONDS,
            opts=bootstrap,
        )

    def _opts(self, *depends_on: pulumi.Resource, ignore_changes: list[str] | None = None) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self.content_provider, depends_on=list(depends_on), ignore_changes=ignore_changes)

    def _folders(self) -> dict[str, grafana.oss.Folder]:
        # prevent_destroy_if_not_empty: a dashboard someone saved by hand into one of these folders
        # stops a destroy with an error instead of being deleted with the folder.
        return {
            uid: grafana.oss.Folder(f"{self._name}-folder-{uid}", uid=uid, title=title, prevent_destroy_if_not_empty=True, opts=self._opts())
            for uid, title in FOLDERS.items()
        }

    def _datasources(self, settings: Settings, args: GrafanaContentArgs) -> list[grafana.oss.DataSource]:
        created = [self._datasource(config, settings, args) for config in datasource_configs(settings)]
        if (config := long_term_store_config(settings)) is not None:
            created.append(self._long_term_store(config, settings))
        return created

    def _long_term_store(self, config: DatasourceConfig, settings: Settings) -> grafana.oss.DataSource:
        """Its own credentials (grafana.longTermStore), never the stack's `grafana` user's."""
        store = settings.grafana.long_term_store
        secure: dict[str, str] = {}
        if store.password is not None:
            secure["basicAuthPassword"] = store.password.reveal()
        if store.tenant:
            secure["httpHeaderValue1"] = store.tenant
        ds = config.datasource
        return grafana.oss.DataSource(
            f"{self._name}-datasource-long-term-store",
            uid=ds.uid,
            name=ds.name,
            type=ds.type,
            url=config.url,
            access_mode="proxy",
            is_default=False,
            basic_auth_enabled=config.basic_auth,
            basic_auth_username=store.username,
            json_data_encoded=_json(config.json_data),
            secure_json_data_encoded=pulumi.Output.secret(_json(secure)),
            opts=self._opts(),
        )

    def _datasource(self, config: DatasourceConfig, settings: Settings, args: GrafanaContentArgs) -> grafana.oss.DataSource:
        if config.basic_auth or config.tls_ca:
            secure = pulumi.Output.all(args.grafana_password, args.internal_ca_pem).apply(
                lambda values, c=config: _json(
                    {
                        **({"basicAuthPassword": values[0]} if c.basic_auth else {}),
                        **({"tlsCACert": values[1]} if c.tls_ca else {}),
                    }
                )
            )
        else:  # Loki: the tenant header value (Grafana keeps header values in secure JSON data)
            secure = pulumi.Output.from_input(_json({"httpHeaderValue1": settings.loki.tenant}))
        ds = config.datasource
        return grafana.oss.DataSource(
            f"{self._name}-datasource-{ds.type}",
            uid=ds.uid,
            name=ds.name,
            type=ds.type,
            url=config.url,
            access_mode="proxy",
            is_default=config.is_default,
            basic_auth_enabled=config.basic_auth,
            basic_auth_username=GRAFANA_USER if config.basic_auth else None,
            json_data_encoded=_json(config.json_data),
            secure_json_data_encoded=pulumi.Output.secret(secure),
            opts=self._opts(),
        )

    def _dashboards(self, settings: Settings, folders: dict[str, grafana.oss.Folder], datasources: list[grafana.oss.DataSource]) -> None:
        texts = render_dashboards(settings)
        for spec in DASHBOARDS:
            grafana.oss.Dashboard(
                f"{self._name}-dashboard-{spec.uid}",
                config_json=texts[f"{spec.uid}.json"],
                folder=folders[spec.folder].uid,
                overwrite=True,
                message="Deployed by ngx-monitoring",
                opts=self._opts(*datasources),
            )

    def _alerting(self, settings: Settings) -> None:
        templates = [
            grafana_alerting.MessageTemplate(
                f"{self._name}-template-{file_name.removesuffix('.tmpl')}", name=file_name.removesuffix(".tmpl"), template=text, opts=self._opts()
            )
            for file_name, text in render_alertmanager_templates().items()
        ]

        self.contact_points: dict[str, grafana_alerting.ContactPoint] = {}
        for receiver, integrations in derived.contact_point_integrations(settings).items():
            if integrations:
                self.contact_points[receiver] = self._contact_point(receiver, integrations, templates)

        mutes = {
            mute: grafana_alerting.MuteTiming(
                f"{self._name}-mute-{mute}", name=mute, intervals=[_mute_interval(interval) for interval in intervals], opts=self._opts()
            )
            for mute, intervals in derived.mute_timings(settings).items()
        }

        tree = derived.policy_tree(settings)
        missing = sorted(derived.contact_points_of(tree) - set(self.contact_points))
        self.notification_policy: grafana_alerting.NotificationPolicy | None = None
        if missing:
            # Grafana cannot create a contact point without an integration, so a tree naming one
            # could not be applied; Grafana keeps its default policy until receivers are configured.
            pulumi.log.warn(
                f"ngx-monitoring:receivers: Grafana's notification policy is not managed because "
                f"{', '.join(missing)} have no integration; configure them under receivers",
                self,
            )
            return
        root = derived.policy_kwargs(tree, root=True)
        root["contact_point"] = self.contact_points[tree.contact_point].name
        self.notification_policy = grafana_alerting.NotificationPolicy(
            f"{self._name}-notification-policy",
            **root,
            policies=[_nested_policy(child, 0) for child in tree.policies],
            opts=self._opts(*self.contact_points.values(), *mutes.values()),
        )

    def _contact_point(
        self, receiver: str, integrations: tuple[derived.Integration, ...], templates: list[grafana_alerting.MessageTemplate]
    ) -> grafana_alerting.ContactPoint:
        by_field: dict[str, list[Any]] = {}
        for integration in integrations:
            args_class = getattr(grafana_alerting, _ARGS_CLASSES[integration.field])
            secrets = {key: pulumi.Output.secret(secret.reveal()) for key, secret in integration.secrets.items()}
            by_field.setdefault(integration.field, []).append(args_class(**integration.kwargs, **secrets))
        # The provider stores each integration list as one secret (its `settings` map is sensitive),
        # so the list is given as one secret too, and that catch-all map is not diffed: it is always
        # empty here, and Grafana may echo fields the provider does not model into it
        # (pulumiverse/pulumi-grafana#379, a diff on every preview otherwise).
        return grafana_alerting.ContactPoint(
            f"{self._name}-contact-{receiver}",
            name=receiver,
            **{field: pulumi.Output.secret(items) for field, items in by_field.items()},
            opts=self._opts(*templates, ignore_changes=[f"{field}[*].settings" for field in sorted(by_field)]),
        )


_ARGS_CLASSES = {
    "emails": "ContactPointEmailArgs",
    "slacks": "ContactPointSlackArgs",
    "pagerduties": "ContactPointPagerdutyArgs",
    "webhooks": "ContactPointWebhookArgs",
}


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _mute_interval(interval: derived.MuteInterval) -> grafana_alerting.MuteTimingIntervalArgs:
    return grafana_alerting.MuteTimingIntervalArgs(
        weekdays=list(interval.weekdays),
        location=interval.location,
        times=[grafana_alerting.MuteTimingIntervalTimeArgs(start=start, end=end) for start, end in interval.times] or None,
    )


def _nested_policy(node: derived.Policy, depth: int) -> Any:
    """The Args class of a nested policy depends on its depth in the provider's schema."""
    prefix = "NotificationPolicy" + "Policy" * (depth + 1)
    kwargs = derived.policy_kwargs(node)
    if "matchers" in kwargs:
        matcher = getattr(grafana_alerting, f"{prefix}MatcherArgs")
        kwargs["matchers"] = [matcher(**m) for m in kwargs["matchers"]]
    if node.policies:
        kwargs["policies"] = [_nested_policy(child, depth + 1) for child in node.policies]
    return getattr(grafana_alerting, f"{prefix}Args")(**kwargs)
