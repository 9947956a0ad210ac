"""The backup benchmark's measurement (bench/backups.py, bench/backup_methods.py) on small snapshots.

What would break otherwise: a benchmark that publishes figures for backups that do not restore what
they saved (the run must stop instead), a tar.gz that is not the format ops/backup.py writes (then the
comparison is with something else), or restic output the benchmark misreads (its `--json` summary, the
path below the restore target), found only after a ten-minute run. Prometheus is left out: the
snapshots are small directories whose old blocks stay the same from day to day, as a TSDB's do
(tests/bench_backup_fakes.py).
"""

from __future__ import annotations

import gzip
import tarfile

import pytest

from bench import backups
from bench.backup_methods import GZIP_LEVEL, BenchError, TarGzArchives, tree_digest
from tests import bench_backup_fakes

QUIET = lambda message: None  # noqa: E731


def test_a_restore_that_differs_from_the_snapshot_stops_the_run(tmp_path):
    snapshots = bench_backup_fakes.grow(tmp_path / "tsdb", None, 2, "30d")

    def methods(scratch, keep):
        return [TarGzArchives(scratch / "archives", keep), bench_backup_fakes.DamagingRepository(scratch / "repository", keep, scratch / "cache")]

    with pytest.raises(BenchError, match=r"restic: the tree restored from the newest backup \(trial 1\) differs from the snapshot"):
        backups.measure(tmp_path / "work", snapshots, trials=1, keep=7, methods=methods, log=QUIET)


def test_the_archives_are_the_format_ops_backup_writes_and_keep_applies(tmp_path):
    """gzip level 1 (as ops/backup.py's GZIP_LEVEL), PAX tar, directories before their files, a manifest
    beside each archive, and only the `keep` newest archives left."""
    assert GZIP_LEVEL == 1
    snapshots = bench_backup_fakes.grow(tmp_path / "tsdb", None, 3, "30d")
    archives = TarGzArchives(tmp_path / "archives", keep=2)
    for snapshot in snapshots:
        archives.backup(snapshot["path"], 1_767_236_400 + 86400 * snapshot["day"])
        archives.prune()
    names = sorted(path.name for path in (tmp_path / "archives").iterdir())
    assert names == ["20260103T030000Z.json", "20260103T030000Z.tar.gz", "20260104T030000Z.json", "20260104T030000Z.tar.gz"]
    newest = tmp_path / "archives" / names[-1]
    assert newest.read_bytes()[:2] == b"\x1f\x8b" and newest.read_bytes()[8] == 4  # gzip; XFL 4: the fastest level
    with tarfile.open(newest, "r|gz") as tar:
        members = [(member.name, member.isdir(), member.mode) for member in tar]
    assert members[0] == ("block-01", True, 0o755) and ("block-01/chunks/000001", False, 0o644) in members
    with gzip.open(newest) as stream:
        assert stream.read(512)[257:265] == b"ustar\x0000"  # POSIX (ustar/PAX) headers, not GNU's
    restored = archives.restore_newest(tmp_path / "restored")
    assert tree_digest(restored) == tree_digest(snapshots[-1]["path"])


def test_restic_stores_unchanged_blocks_once_and_restores_them_exactly(tmp_path):
    """The real restic on two days: on the second, it adds about the one new block while the tar.gz
    archives add both blocks again, and both restores are identical to the newest snapshot."""
    snapshots = bench_backup_fakes.grow(tmp_path / "tsdb", None, 2, "30d")
    [trial] = backups.measure(tmp_path / "work", snapshots, trials=1, keep=7, log=QUIET)
    block = bench_backup_fakes.BLOCK_BYTES
    second = trial["days"][1]
    assert second["tar.gz"]["bytes_added"] > 1.95 * block  # two random blocks: gzip cannot shrink them
    assert second["restic"]["bytes_added"] < 1.3 * block  # one new block, plus restic's index and snapshot
    assert second["restic"]["files_new"] >= 2 and second["restic"]["data_added"] < 1.2 * block
    assert second["restic"]["stored_bytes"] < second["tar.gz"]["stored_bytes"] / 1.3
    assert trial["restore"]["restic"]["identical"] and trial["restore"]["tar.gz"]["identical"]
    assert trial["methods"]["restic"]["repository_version"] == 2


def test_the_varied_dataset_differs_per_instance_and_its_counters_never_go_back(tmp_path):
    """bench/dataset.py writes every instance's traffic identically, which zstd (restic) would shrink
    far more than real data allows; the backup benchmark's writer varies it per series and step, and
    carries each counter across windows so it only grows."""
    from bench.backup_tsdb import VariedWriter
    from bench.dataset import Dataset

    dataset, carried, series = Dataset(instances=2, endpoints=2, hours=1), {}, {}
    for start in (0, 1800):
        VariedWriter(dataset, start, start + 1800, 0, carried).write(tmp_path / "window.om")
        for line in (tmp_path / "window.om").read_text().splitlines():
            if line.startswith(("ngx_api_requests_total", "ngx_response_time_seconds_bucket")):
                name, value, _ = line.rsplit(" ", 2)
                series.setdefault(name, []).append(float(value))
    assert len(series) > 20 and all(len(values) == 240 for values in series.values())
    assert all(values == sorted(values) for values in series.values())
    first, second = (
        [series[name] for name in sorted(series) if f'instance="api-00{i}:8000"' in name and "route00" in name and 'status="200"' in name] for i in (0, 1)
    )
    assert first and first != second
