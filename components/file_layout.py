"""How a service's files are grouped into directories, and what a changed file does to the service.

Both backends place a spec's files the same way: one volume per *file directory* (the fewest
directories that hold every file, `mount_roots`), holding exactly the files the spec puts there.
What differs per service is how a changed file reaches the running process (`ServiceSpec.file_change`):

- RELOAD (Prometheus, Alertmanager): each file directory is mounted whole, so the running container
  sees new content in place (Kubernetes: the kubelet swaps a ConfigMap/Secret volume's `..data`
  symlink atomically, typically within one to two minutes; a `subPath` mount would never follow it.
  Docker: the files loader re-populates the same volume). The process re-reads the files itself
  (Prometheus 3's config auto-reload, Alertmanager's reloader sidecar: renderers/reloader.py). Nothing
  the backend restarts on (pod template, container inputs) depends on the files' content.
- RESTART (Grafana, Loki, Alloy, the proxy, jobs): files are mounted one by one at their paths, so
  a directory the image owns keeps what the image ships beside them (nginx's mime.types under
  /etc/nginx), and a changed file restarts the service: Kubernetes rolls the pods through a checksum
  annotation, Docker replaces the container with its files loader. Grafana and Loki read their
  config at start only; Alloy and nginx could reload, but their config changes with settings that
  are rare (proxy, log shipping), not with the alerting content that changes weekly.

Kubernetes keys a ConfigMap/Secret by file name (keys cannot hold `/`); a file in a subdirectory
(prometheus rules/, alertmanager templates/) is placed there by the volume's `items`, whose list
is fixed by the program's code, never by a setting, so a setting cannot change a pod template.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from renderers import paths

RELOAD = "reload"
RESTART = "restart"
FILE_CHANGES = (RELOAD, RESTART)


def mount_roots(file_paths: Sequence[str]) -> list[str]:
    """The fewest directories that hold every file: each file's directory, minus those inside another."""
    directories = sorted({posixpath.dirname(path) for path in file_paths})
    roots: list[str] = []
    for directory in directories:
        if not any(directory == root or directory.startswith(f"{root}/") for root in roots):
            roots.append(directory)
    return roots


@dataclass(frozen=True)
class FileDirectory:
    """One mounted directory of a service: its config files and its credentials, each keyed by the
    path relative to the directory (`rules/slo.yml`)."""

    path: str
    name: str  # "config" for the service's config directory, else the directory's base name ("tls")
    config: Mapping[str, str]  # relative path -> text
    secret: Mapping[str, object]  # relative path -> value (a pulumi.Output[str] secret)

    @property
    def nested(self) -> bool:
        """Whether a file sits in a subdirectory (a Kubernetes volume then needs `items`)."""
        return any("/" in relative for relative in [*self.config, *self.secret])


def file_directories(service: str, config_files: Mapping[str, str], secret_files: Mapping[str, object]) -> list[FileDirectory]:
    """The spec's files grouped by mount root, in path order. Two roots with the same base name would
    share a volume name, so that is refused here."""
    roots = mount_roots([*config_files, *secret_files])
    found: list[FileDirectory] = []
    for root in roots:
        name = "config" if root == paths.CONFIG_DIRS.get(service) else posixpath.basename(root)
        if any(directory.name == name for directory in found):
            raise ValueError(f"{service}: two file directories are both named {name!r}; give {root} another base name")

        found.append(FileDirectory(root, name, _inside(root, config_files), _inside(root, secret_files)))
    return found


def _inside(root: str, files: Mapping[str, object]) -> dict:
    return {posixpath.relpath(path, root): value for path, value in sorted(files.items()) if path.startswith(f"{root}/")}
