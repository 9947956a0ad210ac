"""grafana.ini: parsed with configparser (strict: a repeated section or key fails) and checked property by
property. Grafana reads INI with go-ini, which cuts a value at `;` or `#` unless it is triple-quoted,
so that rule is checked on the raw lines too: a CSP template cut at its first `;` would silently
become a much weaker policy.
"""

from __future__ import annotations

import configparser
import re

import pytest

from renderers import grafana_ini, paths
from settings import parse
from topology import GRAFANA, SERVICES

DEV = parse({"platform": "docker"}, stack="dev")
PROD = parse({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1/32"}}, stack="prod")


def _ini(settings) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, inline_comment_prefixes=None)
    parser.read_string(grafana_ini.render_grafana_ini(settings))
    return parser


def _value(parser: configparser.ConfigParser, section: str, key: str) -> str:
    raw = parser.get(section, key)
    return raw[3:-3] if raw.startswith('"""') and raw.endswith('"""') else raw


@pytest.mark.parametrize("settings", [DEV, PROD], ids=["docker", "kubernetes"])
def test_values_survive_grafanas_inline_comment_rule(settings):
    for line in grafana_ini.render_grafana_ini(settings).splitlines():
        if "=" in line and not line.startswith((";", "#")):
            value = line.split("=", 1)[1].strip()
            if re.search(r"[;#]", value):
                assert value.startswith('"""') and value.endswith('"""'), line
            assert "%(" not in value, "go-ini would interpolate it"


def test_no_anonymous_access_no_sign_up_no_org_creation():
    ini = _ini(DEV)
    assert ini.getboolean("auth.anonymous", "enabled") is False
    assert ini.getboolean("auth.anonymous", "hide_version") is True
    assert ini.getboolean("users", "allow_sign_up") is False
    assert ini.getboolean("users", "allow_org_create") is False
    assert ini.get("users", "auto_assign_org_role") == "Viewer"
    assert ini.getboolean("public_dashboards", "enabled") is False
    assert ini.getboolean("snapshots", "external_enabled") is False


def test_cookies_and_browser_headers_are_hardened():
    security = _ini(DEV)["security"]
    assert security.getboolean("cookie_secure") is True
    assert security.get("cookie_samesite") == "strict"
    assert security.getboolean("disable_gravatar") is True
    assert security.getboolean("allow_embedding") is False
    assert security.getboolean("disable_brute_force_login_protection") is False
    assert security.getboolean("strict_transport_security") is True
    assert security.getint("strict_transport_security_max_age_seconds") >= 31536000
    assert security.getboolean("strict_transport_security_preload") is True
    assert security.getboolean("strict_transport_security_subdomains") is True
    assert security.getboolean("content_security_policy") is True
    auth = _ini(DEV)["auth"]
    assert auth.get("login_maximum_inactive_lifetime_duration") and auth.get("login_maximum_lifetime_duration")
    assert 0 < auth.getint("token_rotation_interval_minutes") <= 10


def test_csp_template_is_nonce_based_and_forbids_framing():
    template = _value(_ini(DEV), "security", "content_security_policy_template")
    directives = {part.split()[0]: part.split()[1:] for part in template.split("; ")}
    assert "$NONCE" in directives["script-src"]
    assert "'unsafe-inline'" not in directives["script-src"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert not any("grafana.com" in source or source == "*" for sources in directives.values() for source in sources)


@pytest.mark.parametrize("settings", [DEV, PROD], ids=["docker", "kubernetes"])
def test_credentials_are_read_from_files_never_inline(settings):
    security = _ini(settings)["security"]
    assert security.get("secret_key") == "$__file{/etc/ngx/secrets/grafana-secret-key}"
    assert security.get("admin_password") == "$__file{/etc/ngx/secrets/grafana-admin-password}"
    assert grafana_ini.SECRET_KEY_FILE == paths.secret_file(grafana_ini.SECRET_KEY_FILE_NAME)
    assert grafana_ini.ADMIN_PASSWORD_FILE == paths.secret_file(grafana_ini.ADMIN_PASSWORD_FILE_NAME)


def test_a_configured_admin_password_never_reaches_the_file():
    settings = parse(
        {"platform": "docker", "grafana": {"adminUser": "alice", "adminPassword": "seeded-grafana-password"}}, stack="dev", secret_keys=["grafana"]
    )
    text = grafana_ini.render_grafana_ini(settings)
    assert "seeded-grafana-password" not in text
    assert _ini(settings).get("security", "admin_user") == "alice"
    assert _ini(DEV).get("security", "admin_user") == DEV.grafana.admin_user != "admin", "never the default admin/admin"


@pytest.mark.parametrize(
    ("raw", "root"),
    [
        ({"platform": "docker"}, "https://monitoring.localhost/grafana/"),
        ({"platform": "docker", "proxy": {"httpsPort": 8443}}, "https://monitoring.localhost:8443/grafana/"),
        ({"platform": "kubernetes", "kubernetes": {"apiServerCidr": "10.96.0.1/32"}, "domain": "grafana.example.com"}, "https://grafana.example.com/grafana/"),
    ],
)
def test_served_from_the_proxy_sub_path(raw, root):
    server = _ini(parse(raw, stack="dev"))["server"]
    assert server.get("root_url") == root
    assert server.getboolean("serve_from_sub_path") is True
    assert server.get("protocol") == "http"
    assert server.getint("http_port") == SERVICES[GRAFANA].port("web").number == 3000


def test_no_phoning_home():
    analytics = _ini(DEV)["analytics"]
    for key in ("reporting_enabled", "check_for_updates", "check_for_plugin_updates", "feedback_links_enabled"):
        assert analytics.getboolean(key) is False, key
    assert _ini(DEV).getboolean("news", "news_feed_enabled") is False
    assert _ini(DEV).getboolean("plugins", "plugin_admin_enabled") is False


def test_storage_logging_and_alerting():
    ini = _ini(DEV)
    data = paths.DATA_DIRS["grafana"]
    assert ini.get("database", "type") == "sqlite3"
    assert ini.get("database", "path").startswith(f"{data}/")
    assert ini.get("paths", "data") == data
    assert ini.get("paths", "provisioning") == paths.config_path("grafana", "provisioning")
    assert ini.get("log", "mode") == "console"
    assert ini.get("log.console", "format") == "json"
    assert ini.getboolean("unified_alerting", "enabled") is True


def test_ini_writer_quotes_and_refuses():
    text = grafana_ini.render_ini({"a": {"plain": "x", "semi": "a;b", "flag": True, "n": 3}})
    assert text == '[a]\nplain = x\nsemi = """a;b"""\nflag = true\nn = 3\n'
    with pytest.raises(ValueError):
        grafana_ini.render_ini({"a": {"bad": "line\nbreak"}})


def test_rendering_is_deterministic():
    for settings in (DEV, PROD):
        assert grafana_ini.render_grafana_ini(settings) == grafana_ini.render_grafana_ini(settings)
