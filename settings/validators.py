"""Value checks used at the settings boundary.

Each validator takes the raw value and the config key path it came from, and returns the normalised
value or raises SettingsError naming that key and saying how to fix it.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlparse

from settings.errors import SettingsError

# Prometheus duration syntax (model.ParseDuration): units in descending order, no fractions.
_DURATION_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_DURATION_UNITS_MS = (365 * 86400_000, 7 * 86400_000, 86400_000, 3600_000, 60_000, 1000, 1)

# Prometheus --storage.tsdb.retention.size takes base-2 units written without the "i".
_PROM_SIZE_RE = re.compile(r"^(\d+)(B|KB|MB|GB|TB|PB)$")
_PROM_SIZE_UNITS = {"B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40, "PB": 2**50}

# Volume sizes are Kubernetes quantities (binary Ki..Ti or decimal k..T suffixes).
_QUANTITY_RE = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)$")
_QUANTITY_UNITS = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
}

_HOST_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
# S3 refuses bucket names "formatted as an IP address": any four dot-separated numbers.
_DOTTED_QUAD_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
# registry/name[:tag][@sha256:digest]; the tag is what pins a version here.
_IMAGE_RE = re.compile(
    r"^(?P<name>[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::\d+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_FLOATING_TAGS = {"latest", "main", "master", "stable", "edge", "nightly", "dev"}


def duration(value: object, key: str) -> str:
    """A Prometheus duration such as 30s, 5m, 1h30m or 15d."""
    text = str(value).strip() if isinstance(value, (str, int)) else None
    if not text or not _DURATION_RE.match(text) or duration_ms(text) == 0:
        raise SettingsError(key, f"{value!r} is not a Prometheus duration; use a positive value like 30s, 5m, 1h or 15d")
    return text


def duration_or_zero(value: object, key: str) -> str:
    """A Prometheus duration that may be 0s (e.g. an Alertmanager group_wait: notify at once)."""
    text = str(value).strip() if isinstance(value, (str, int)) else None
    if not text or not _DURATION_RE.match(text):
        raise SettingsError(key, f"{value!r} is not a Prometheus duration; use 0s or a positive value like 30s, 5m or 1h")
    return text


def whole_seconds(value: object, key: str) -> str:
    """A positive duration that is a whole number of seconds (a shell `sleep` argument, a flag)."""
    text = duration(value, key)
    if duration_ms(text) % 1000:
        raise SettingsError(key, f"{text} is not a whole number of seconds; write it like 30s or 1m")
    return text


def duration_ms(text: str) -> int:
    match = _DURATION_RE.match(text)
    if not match:
        raise ValueError(text)
    return sum(int(part or 0) * unit for part, unit in zip(match.groups(), _DURATION_UNITS_MS, strict=False))


def duration_seconds(text: str) -> float:
    return duration_ms(text) / 1000


def prometheus_size(value: object, key: str) -> str:
    text = str(value).strip()
    if not _PROM_SIZE_RE.match(text) or prometheus_size_bytes(text) == 0:
        raise SettingsError(key, f"{value!r} is not a Prometheus size; use a positive value like 512MB or 10GB")
    return text


def prometheus_size_bytes(text: str) -> int:
    number, unit = _PROM_SIZE_RE.match(text).groups()
    return int(number) * _PROM_SIZE_UNITS[unit]


def volume_size(value: object, key: str) -> str:
    text = str(value).strip()
    if not _QUANTITY_RE.match(text) or volume_size_bytes(text) == 0:
        raise SettingsError(key, f"{value!r} is not a volume size; use a Kubernetes quantity like 20Gi or 500Mi")
    return text


def volume_size_bytes(text: str) -> int:
    number, unit = _QUANTITY_RE.match(text).groups()
    return int(number) * _QUANTITY_UNITS[unit]


def cpu(value: object, key: str) -> str:
    """A Kubernetes CPU quantity: whole or decimal cores (1, 0.5) or millicores (500m)."""
    raw = str(value).strip()
    match = re.match(r"^(\d+(?:\.\d+)?)(m?)$", raw)
    if not match or float(match.group(1)) == 0:
        raise SettingsError(key, f"{value!r} is not a CPU quantity; write it like 500m or 1")
    return raw


def positive_int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit() or int(value) < 1:
        raise SettingsError(key, f"{value!r} must be a whole number of at least 1")
    return int(value)


def port(value: object, key: str) -> int:
    number = positive_int(value, key)
    if number > 65535:
        raise SettingsError(key, f"{value!r} is not a TCP port; use a number from 1 to 65535")
    return number


def fraction(value: object, key: str) -> float:
    """A ratio strictly between 0 and 1, such as 0.99."""
    number = number_(value, key)
    if not 0 < number < 1:
        raise SettingsError(key, f"{value!r} must be between 0 and 1 (exclusive), e.g. 0.99")
    return number


def ratio(value: object, key: str) -> float:
    """A share from 0 to 1 inclusive, such as 0.8 for 80%."""
    number = number_(value, key)
    if not 0 <= number <= 1:
        raise SettingsError(key, f"{value!r} must be a share from 0 to 1, e.g. 0.8 for 80%")
    return number


def positive_number(value: object, key: str) -> float:
    number = number_(value, key)
    if number <= 0:
        raise SettingsError(key, f"{value!r} must be greater than 0")
    return number


def number_(value: object, key: str) -> float:
    if isinstance(value, bool):
        raise SettingsError(key, f"{value!r} must be a number")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SettingsError(key, f"{value!r} must be a number") from None


def text(value: object, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(key, f"{value!r} must be a non-empty string")
    return value.strip()


def flag(value: object, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise SettingsError(key, f"{value!r} must be true or false")


def hostname(value: object, key: str) -> str:
    name = text(value, key).lower()
    if not _HOST_RE.match(name):
        raise SettingsError(key, f"{value!r} is not a DNS host name; use letters, digits, '-' and '.' like monitoring.example.com")
    return name


def ip_address(value: object, key: str) -> str:
    """An IPv4 or IPv6 address, as the standard library reads it (so no leading zeros: 01.2.3.4 is
    octal to some parsers and decimal to others), in its canonical spelling."""
    raw = text(value, key)
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        address = None
    if address is None or "%" in raw:
        raise SettingsError(
            key, f"{value!r} is not an IP address; write IPv4 without leading zeros like 127.0.0.1, or IPv6 like ::1 (0.0.0.0 or :: to listen everywhere)"
        )
    return str(address)


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def host_port(value: object, key: str) -> str:
    """host:port, where host is a DNS name or an IPv4 address. A host whose last label is a number is
    no DNS name (no top-level domain is numeric), so it must be a valid IPv4 address: 01.2.3.4 or
    10.0.0.256 are refused rather than looked up as names."""
    raw = text(value, key)
    host, sep, port_text = raw.rpartition(":")
    numeric = host.rsplit(".", 1)[-1].isdigit()
    valid_host = _is_ipv4(host) if numeric else bool(_HOST_RE.match(host))
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536 or not valid_host:
        raise SettingsError(key, f"{value!r} is not host:port; write it like api.internal:8000 or 10.0.0.5:8000")
    return raw


def host_port_list(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise SettingsError(key, f'{value!r} must be a non-empty list of host:port strings, e.g. ["host.docker.internal:8000"]')
    items = tuple(host_port(item, f"{key}[{index}]") for index, item in enumerate(value))
    duplicates = sorted({item for item in items if items.count(item) > 1})
    if duplicates:
        raise SettingsError(key, f"lists {', '.join(duplicates)} more than once; list each target once")
    return items


def cidr(value: object, key: str) -> str:
    """An IPv4 or IPv6 network such as 10.96.0.1/32 or fd00::1/128, in its canonical spelling. Host bits
    set (10.96.0.1/24) are refused: the network they name is not what was written. The whole internet
    (0.0.0.0/0, ::/0) is refused."""
    raw = text(value, key)
    address, sep, _ = raw.partition("/")
    try:
        network = ipaddress.ip_network(raw, strict=False)
        written = ipaddress.ip_address(address)
    except ValueError:
        network = written = None
    if not sep or network is None or "%" in raw:
        raise SettingsError(key, f"{value!r} is not a CIDR; write an address without leading zeros and a prefix length, like 10.0.0.11/32 or fd00::11/128")
    if network.prefixlen == 0:
        raise SettingsError(key, f"{value!r} allows every address; name the API server's endpoint address, e.g. 10.0.0.11/32 (not the Service's ClusterIP)")
    if written != network.network_address:
        raise SettingsError(
            key, f"{value!r} has host bits set; write the network {network.with_prefixlen}, or {written}/{network.max_prefixlen} for that one address"
        )
    return network.with_prefixlen


def email(value: object, key: str) -> str:
    address = text(value, key)
    if not _EMAIL_RE.match(address):
        raise SettingsError(key, f"{value!r} is not an e-mail address; write it like oncall@example.com")
    return address


def email_list(value: object, key: str) -> tuple[str, ...]:
    raw = value if isinstance(value, list) else [part for part in str(value).split(",")]
    items = tuple(email(item.strip() if isinstance(item, str) else item, key) for item in raw)
    if not items:
        raise SettingsError(key, "must name at least one e-mail address")
    return items


def url(value: object, key: str, *, https_only: bool = False) -> str:
    raw = text(value, key)
    parsed = urlparse(raw)
    schemes = ("https",) if https_only else ("http", "https")
    if parsed.scheme not in schemes or not parsed.hostname:
        need = "an https:// URL" if https_only else "an http:// or https:// URL"
        raise SettingsError(key, f"must be {need} with a host, e.g. https://example.com/path")
    try:
        parsed.port  # noqa: B018 - urlparse checks the port only when it is read
    except ValueError:
        raise SettingsError(key, f"{raw!r} has an invalid port; use 1-65535, e.g. https://example.com:8443/path") from None
    return raw


def https_url(value: object, key: str) -> str:
    return url(value, key, https_only=True)


def image(value: object, key: str) -> str:
    """An image reference pinned to a version tag (a digest may follow)."""
    ref = text(value, key)
    match = _IMAGE_RE.match(ref)
    if not match:
        raise SettingsError(key, f"{value!r} is not an image reference; write it like prom/prometheus:v3.5.0")
    tag = match.group("tag")
    if not tag or tag.lower() in _FLOATING_TAGS:
        raise SettingsError(key, f"{value!r} is not pinned; give a version tag like :v3.5.0 (floating tags such as 'latest' are refused)")
    return ref


_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def s3_bucket(value: object, key: str) -> str:
    """An S3 bucket name: 3-63 lower-case letters, digits, '.' and '-', starting and ending alphanumeric."""
    name = text(value, key)
    if not _BUCKET_RE.match(name) or ".." in name or _DOTTED_QUAD_RE.match(name):
        raise SettingsError(key, f"{value!r} is not an S3 bucket name; use 3-63 lower-case letters, digits, '-' and '.', e.g. ngx-monitoring-backups")
    return name


def one_of(*choices: str):
    def check(value: object, key: str) -> str:
        if value not in choices:
            raise SettingsError(key, f"{value!r} is not one of {', '.join(choices)}")
        return str(value)

    check.__doc__ = f"One of: {', '.join(choices)}."
    return check


def k8s_name(value: object, key: str) -> str:
    name = text(value, key)
    if not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", name) or len(name) > 63:
        raise SettingsError(key, f"{value!r} is not a Kubernetes name; use lower-case letters, digits and '-' (at most 63)")
    return name


def pem(kind: str):
    def check(value: object, key: str) -> str:
        body = text(value, key)
        if f"-----BEGIN {kind}" not in body and not (kind == "PRIVATE KEY" and "PRIVATE KEY-----" in body):
            raise SettingsError(key, f"must be a PEM {kind.lower()} (starting with -----BEGIN {kind}-----)")
        return body

    return check
