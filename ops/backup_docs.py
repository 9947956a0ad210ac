"""The S3 upload figures docs/operations.md states, generated from ops/backup.py's constants (`python
gendocs.py`; tests/test_docs.py fails while the page is stale). Kept apart from ops/backup.py, which is
delivered to the backup jobs as it is and needs none of this."""

from __future__ import annotations

from ops.backup import MIN_PART_SIZE, PART_SIZE, PROGRESS_EVERY

MIB = 2**20
GIB = 2**30
# S3's own limit on the parts of one multipart upload (not a choice of ours): with PART_SIZE it bounds an archive.
S3_MAX_PARTS = 10_000


def _mib(size: int) -> str:
    return f"{size / MIB:g} MiB"


def s3_parts_markdown() -> str:
    """The part size, S3's limits on parts, and the largest archive they allow."""
    return (
        f"Parts are {_mib(PART_SIZE)} (an archive below that goes up in one PUT); S3 refuses parts below "
        f"{_mib(MIN_PART_SIZE)} except the last (`EntityTooSmall`) and takes at most {S3_MAX_PARTS:,}, so an archive "
        f"may reach {PART_SIZE * S3_MAX_PARTS / GIB:g} GiB"
    )


def upload_progress_markdown() -> str:
    """How often an S3 upload logs its progress."""
    return f"every {PROGRESS_EVERY} parts ({_mib(PROGRESS_EVERY * PART_SIZE)})"
