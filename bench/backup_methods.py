"""The two ways of storing a day's Prometheus snapshot that bench/backups.py compares, and the check
that a restore gives back exactly what was backed up.

TarGzArchives reproduces the archive half of ops/backup.py as of this commit (not imported: that code
is being replaced by restic, and the measurement must stay runnable to compare against): a PAX tar
stream of `tree_members` (directories 0o755, files 0o644 with their mtime) through gzip level 1
(GZIP_LEVEL, mtime 0), written as `.<name>.partial`, fsynced and renamed, with its JSON manifest
(sha256, size) beside it; `prune` keeps the `keep` newest; a restore verifies the sha256, checks every
member in a first pass and unpacks in a second, as `restore` does.

Restic runs Debian's restic on a local repository (password from the environment, cache in the
scratch directory): `restic backup` of the snapshot directory, `restic forget --keep-last N --prune`,
`restic restore latest`.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import os
import secrets
import shutil
import stat
import subprocess
import tarfile
import time
from pathlib import Path

GZIP_LEVEL = 1  # ops/backup.py's GZIP_LEVEL
HOST = "ngx-bench"  # restic's --host: one host for every snapshot, as one backup job per target would have


class BenchError(RuntimeError):
    """The benchmark cannot stand behind its figures (a restore that differs, a tool that failed)."""


def disk_bytes(directory: Path) -> int:
    """Bytes of every file under `directory` (apparent sizes: what a volume or a bucket bills)."""
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file() and not path.is_symlink())


def tree_digest(root: Path) -> str:
    """sha256 over every directory and file under `root`: relative paths, kinds and file contents."""
    digest = hashlib.sha256()
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        relative = Path(directory).relative_to(root)
        for name in subdirectories:
            digest.update(f"d {relative / name}\n".encode())
        for name in sorted(files):
            content = hashlib.sha256()
            with open(Path(directory) / name, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    content.update(chunk)
            digest.update(f"f {relative / name} {content.hexdigest()}\n".encode())
    return digest.hexdigest()


class _Digest:
    """ops/backup.py's: passes writes through, counting and hashing them."""

    def __init__(self, sink) -> None:
        self.sink, self.size, self.hash = sink, 0, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sink.write(data)
        self.hash.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def tree_members(root: Path) -> list[tuple[Path, str]]:
    """ops/backup.py's: every directory and regular file under `root`, relative, sorted."""
    members = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        relative = Path(directory).relative_to(root)
        members += [(Path(directory) / name, str(relative / name)) for name in subdirectories]
        for name in sorted(files):
            if not stat.S_ISREG(os.lstat(Path(directory) / name).st_mode):
                raise BenchError(f"{Path(directory) / name} is not a regular file")
            members.append((Path(directory) / name, str(relative / name)))
    return members


class TarGzArchives:
    """Today's backups: one full tar.gz (and manifest) per run in a directory, `keep` newest kept."""

    name = "tar.gz"

    def __init__(self, directory: Path, keep: int) -> None:
        self.directory, self.keep = directory, keep
        self.store = directory  # what the backups occupy
        directory.mkdir(parents=True)

    def describe(self) -> dict:
        return {"gzip_level": GZIP_LEVEL, "keep": self.keep}

    def backup(self, snapshot: Path, when: float) -> dict:
        name = datetime.datetime.fromtimestamp(when, datetime.UTC).strftime("%Y%m%dT%H%M%SZ") + ".tar.gz"
        partial = self.directory / f".{name}.partial"
        with open(partial, "xb") as sink:
            digest = _Digest(sink)
            with gzip.GzipFile(filename="", mode="wb", fileobj=digest, compresslevel=GZIP_LEVEL, mtime=0) as compressed:
                with tarfile.open(fileobj=compressed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                    for path, arcname in tree_members(snapshot):
                        if path.is_dir():
                            member = tarfile.TarInfo(arcname)
                            member.type, member.mode, member.mtime = tarfile.DIRTYPE, 0o755, int(path.stat().st_mtime)
                            tar.addfile(member)
                            continue
                        with open(path, "rb") as handle:
                            info = os.fstat(handle.fileno())
                            member = tarfile.TarInfo(arcname)
                            member.size, member.mtime, member.mode = info.st_size, int(info.st_mtime), 0o644
                            tar.addfile(member, handle)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(partial, self.directory / name)
        manifest = {"archive": name, "sha256": digest.hash.hexdigest(), "size": digest.size}
        (self.directory / name.replace(".tar.gz", ".json")).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        return {"archive_bytes": digest.size}

    def prune(self) -> None:
        archives = sorted(path.name for path in self.directory.glob("*.tar.gz"))
        for name in archives[: -self.keep]:
            (self.directory / name).unlink()
            (self.directory / name.replace(".tar.gz", ".json")).unlink()

    def restore_newest(self, into: Path) -> Path:
        """Unpack the newest archive into `into`; returns the restored tree's root."""
        archive = sorted(self.directory.glob("*.tar.gz"))[-1]
        manifest = json.loads(archive.with_name(archive.name.replace(".tar.gz", ".json")).read_text())
        digest = hashlib.sha256()
        with open(archive, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        if digest.hexdigest() != manifest["sha256"]:
            raise BenchError(f"{archive} does not match its manifest's sha256")
        with tarfile.open(archive, "r|gz") as tar:  # first pass: every member is a file or a directory
            for member in tar:
                if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in Path(member.name).parts:
                    raise BenchError(f"archive member {member.name!r} would not be restored")
        into.mkdir(parents=True)
        with tarfile.open(archive, "r|gz") as tar:  # second pass: unpack, never over an existing file
            for member in tar:
                destination = into / member.name
                if member.isdir():
                    destination.mkdir(parents=True, exist_ok=True)
                else:
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    with open(destination, "xb") as handle:
                        shutil.copyfileobj(tar.extractfile(member), handle, 2**20)
        return into


class Restic:
    """restic on a local repository, one snapshot per backup run."""

    name = "restic"

    def __init__(self, repository: Path, keep: int, cache: Path) -> None:
        self.repository, self.keep = repository, keep
        self.store = repository  # what the backups occupy (the cache, beside it, is not counted)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(cache),
            "RESTIC_REPOSITORY": str(repository),
            "RESTIC_PASSWORD": secrets.token_urlsafe(32),
            "RESTIC_CACHE_DIR": str(cache),
        }
        self.last: Path | None = None
        self._run("init")
        # Repository format 2 (restic 0.14's default) compresses new data (zstd, --compression auto).
        self.repository_version = json.loads(self._run("cat", "config"))["version"]

    def describe(self) -> dict:
        return {"repository_version": self.repository_version, "compression": "auto", "keep": self.keep}

    def _run(self, *arguments: str) -> str:
        done = subprocess.run(["restic", *arguments], env=self.env, capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            raise BenchError(f"restic {arguments[0]} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
        return done.stdout

    @staticmethod
    def version() -> str:
        return subprocess.run(["restic", "version"], capture_output=True, text=True, check=True).stdout.strip()

    def backup(self, snapshot: Path, when: float) -> dict:
        self.last = snapshot
        output = self._run("backup", "--json", "--host", HOST, "--time", time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(when)), str(snapshot))
        summary = next(json.loads(line) for line in reversed(output.splitlines()) if '"message_type":"summary"' in line)
        return {key: summary[key] for key in ("data_added", "total_bytes_processed", "files_new", "files_changed", "files_unmodified")}

    def prune(self) -> None:
        self._run("forget", "--host", HOST, "--keep-last", str(self.keep), "--prune")

    def restore_newest(self, into: Path) -> Path:
        """`restic restore latest` into `into`; returns the restored tree's root (restic restores the
        snapshot's absolute path below the target)."""
        self._run("restore", "latest", "--host", HOST, "--target", str(into))
        return into / str(self.last).lstrip("/")
