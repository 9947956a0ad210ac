"""Stand-ins for the slow halves of the backup benchmark (bench/backups.py), for its tests.

- `grow`: what bench/backup_tsdb.py's `grow` returns, without Prometheus: one small snapshot directory
  per day that keeps every earlier day's block and adds one (random, so incompressible, bytes), the way
  a TSDB's finished blocks stay the same from one snapshot to the next.
- `CopyRepository`: a backup store with restic's interface that copies each snapshot whole, optionally
  damaging one byte of what it restores (a restore that differs must stop the run).
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

BLOCK_BYTES = 200_000


def grow(workdir: Path, dataset, days: int, retention: str, log=print) -> list[dict]:
    snapshots = []
    for day in range(1, days + 1):
        path = workdir / "snapshots" / f"day-{day}"
        for block in range(1, day + 1):
            folder = path / f"block-{block:02d}"
            (folder / "chunks").mkdir(parents=True)
            (folder / "chunks" / "000001").write_bytes(random.Random(block).randbytes(BLOCK_BYTES))
            (folder / "meta.json").write_text(json.dumps({"ulid": f"block-{block:02d}", "minTime": 0, "maxTime": 3_600_000 * block}))
        files = [item for item in path.rglob("*") if item.is_file()]
        snapshots.append(
            {
                "day": day,
                "path": path,
                "samples_added": 1000,
                "bytes": sum(item.stat().st_size for item in files),
                "files": len(files),
                "blocks": [{"ulid": f"block-{b:02d}", "hours": 24.0, "level": 1, "bytes": BLOCK_BYTES} for b in range(1, day + 1)],
            }
        )
    return snapshots


class CopyRepository:
    """restic's interface (name, store, describe, backup, prune, restore_newest) over plain copies."""

    name = "restic"
    damage = False

    def __init__(self, repository: Path, keep: int, cache: Path) -> None:
        self.store, self.keep, self.copies = repository, keep, []
        repository.mkdir(parents=True)

    @staticmethod
    def version() -> str:
        return "restic 0.14.0 (fake)"

    def describe(self) -> dict:
        return {"repository_version": 2, "compression": "auto", "keep": self.keep}

    def backup(self, snapshot: Path, when: float) -> dict:
        copy = self.store / f"{len(self.copies):03d}"
        shutil.copytree(snapshot, copy)
        self.copies.append(copy)
        size = sum(item.stat().st_size for item in copy.rglob("*") if item.is_file())
        return {"data_added": size, "total_bytes_processed": size, "files_new": 1, "files_changed": 0, "files_unmodified": 0}

    def prune(self) -> None:
        for copy in self.copies[: -self.keep]:
            shutil.rmtree(copy)
        self.copies = self.copies[-self.keep :]

    def restore_newest(self, into: Path) -> Path:
        shutil.copytree(self.copies[-1], into)
        if self.damage:
            victim = sorted(into.rglob("000001"))[0]
            data = bytearray(victim.read_bytes())
            data[len(data) // 2] ^= 0xFF
            victim.write_bytes(bytes(data))
        return into


class DamagingRepository(CopyRepository):
    damage = True
