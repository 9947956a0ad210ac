"""How Prometheus and Alertmanager pick up changed files without a restart.

Prometheus 3 reloads by itself (`prometheus_reload_flags`): with the `auto-reload-config` feature it
hashes prometheus.yml and every file its `rule_files` globs match, each `prometheus.configReloadInterval`, and
reloads when the hash changes. A reload that fails keeps the old configuration running, sets
`prometheus_config_last_reload_successful` to 0 (PrometheusConfigReloadFailed) and is retried on every
tick until the file is fixed. Polling (not inotify) also sees the kubelet's symlink swap of a
ConfigMap volume and a file rewritten in a Docker volume.

Alertmanager 0.28 has no auto-reload: it reloads on SIGHUP or POST /-/reload. The choice here is a
sidecar that runs `RELOADER_SCRIPT` in Alertmanager's own image, sees Alertmanager's processes
(Kubernetes: shareProcessNamespace; Docker: pid mode `container:<alertmanager>`) and sends SIGHUP when
the files it watches change. Why this and not an HTTP reloader:
- /-/reload sits behind the same TLS and basic auth as the API (a web config applies to every
  `--web.listen-address`, so there is no plain loopback port to use). prometheus-config-reloader skips
  certificate verification and takes basic auth only as URL userinfo in its arguments; configmap-reload
  likewise. A password in argv is visible in the pod spec and /proc: not acceptable.
- A signal needs no credential and no capability: the sidecar runs with Alertmanager's UID, and a
  process may signal another of the same UID. It stays Pod Security `restricted` (non-root, read-only
  root filesystem, no capabilities, no network) and needs no image besides the pinned Alertmanager one
  (busybox: sh, sha256sum, pidof, kill).
- It polls instead of watching inotify events, so it works the same on a kubelet-managed volume and
  on a Docker volume that the files loader rewrites.
A failed reload is Alertmanager's own `alertmanager_config_last_reload_successful` 0
(AlertmanagerConfigReloadFailed). The sidecar signals once per change: a broken file stays broken
until it changes again. It takes the first digest as the baseline and never signals at start: a SIGHUP
that arrived before Alertmanager installed its handler would stop it.
"""

from __future__ import annotations

from collections.abc import Sequence

from settings.validators import duration_seconds

# The intervals are settings (prometheus/alertmanager.configReloadInterval), 30s by default as in
# Prometheus: a change is live within one (plus the kubelet's one to two minutes on Kubernetes);
# shorter only adds hashing work, longer only delays a change.
RELOADER_NAME = "config-reloader"

# POSIX sh for busybox (the image) and dash (the live tests). Arguments: process name, interval in
# seconds, then the directories to watch (files in them and one level below, following symlinks).
RELOADER_SCRIPT = r"""process=$1 interval=$2
shift 2
digest() {
  for dir in "$@"; do
    for file in "$dir"/* "$dir"/*/*; do
      if [ -f "$file" ]; then echo "$file"; cat "$file"; fi
    done
  done | sha256sum
}
last=$(digest "$@")
echo "watching $* every ${interval}s for $process"
while sleep "$interval"; do
  now=$(digest "$@")
  [ "$now" = "$last" ] && continue
  if pid=$(pidof "$process") && kill -HUP $pid; then
    last=$now
    echo "files changed: sent SIGHUP to $process ($pid)"
  else
    echo "files changed but no $process process could be signalled; retrying in ${interval}s" >&2
  fi
done
"""


RELOAD_FLAG_PREFIXES = ("--enable-feature=auto-reload-config", "--config.auto-reload-interval=")


def prometheus_reload_flags(interval: str) -> list[str]:
    """Prometheus 3.x (the feature exists since 3.0; 3.4 fixed it for absolute rule_files paths)."""
    return ["--enable-feature=auto-reload-config", f"--config.auto-reload-interval={interval}"]


def reloader_probe_command(process: str) -> list[str]:
    """Succeeds while the sidecar can see `process` and may signal it (`kill -0` checks exactly the
    permission SIGHUP needs): the sidecar's readiness and liveness."""
    return ["/bin/sh", "-c", 'kill -0 $(pidof "$0")', process]


def reloader_command(process: str, interval: str, directories: Sequence[str]) -> list[str]:
    """The sidecar's whole command line: `sh -c SCRIPT <name> <process> <interval> <dir>...`."""
    if not directories:
        raise ValueError(f"a reloader for {process} needs at least one directory to watch")
    return ["/bin/sh", "-c", RELOADER_SCRIPT, RELOADER_NAME, process, str(int(duration_seconds(interval))), *directories]
