"""Where the lake keeps its files: the part of `pipeline.lake.store` that needs no pyarrow, so that
`orusage sql` and other readers of the views start quickly.

Every path inside a lake or one of its versions is built here (tests/test_architecture.py
checks that no other module does):

    <root>/generations/date=YYYY-MM-DD/*.parquet   generations_dir, partition_dir, generation_files
    <root>/generations/month=YYYY-MM/*.parquet     month_dir, month_dirs: whole UTC months merged by
                                                   `orusage compact --months-older-than`, the
                                                   `date` column kept inside the files
    <root>/quarantine/<run_id>.parquet             quarantine_file, quarantine_files
    <root>/_manifest/<run_id>.parquet              manifest_file, manifest_files
    <root>/_runs/<run_id>.json                     run_summary_file
    <root>/_schema/date=1970-01-01/generations.parquet   schema_file: no rows, the declared columns
    <root>/rollup/month=YYYY-MM/rollup.parquet     rollup_file, rollup_files: the daily rollup

where <root> is the lake (its trees are links into `current`) or one version directory.
The schema file is the first file the `lake_generations` view names: DuckDB takes the columns
from it, so a query whose `date` filter matches no partition (or only a few) opens no other file
to learn the schema. It sits in a `date=` directory of its own so that every file the view reads
has the same Hive partition column.
"""

from __future__ import annotations

import os
from pathlib import Path

VERSIONS = "_versions"  # <lake>/_versions/<run_id>: published versions (<run_id>.tmp: being built)
STAGING = "_staging"  # <lake>/_staging/<run_id>: a running writer's scratch files
CURRENT = "current"  # <lake>/current -> _versions/<run_id>: the published version

GENERATIONS = "generations"
QUARANTINE = "quarantine"
MANIFEST = "_manifest"
RUNS = "_runs"
SCHEMA = "_schema"
ROLLUP = "rollup"
TREES = (GENERATIONS, QUARANTINE, MANIFEST, RUNS, SCHEMA, ROLLUP)  # the directories of a version
# The files of each tree, as a glob relative to the tree (the views read the same files).
FILES = {
    GENERATIONS: "*/*.parquet",
    QUARANTINE: "*.parquet",
    MANIFEST: "*.parquet",
    RUNS: "*.json",
    SCHEMA: "*/*.parquet",
    ROLLUP: "*/*.parquet",
}
MONTH_PREFIX = "month="
PARTITION_PREFIX = "date="
# The daily files (Hive partition `date` from the directory) and the monthly files (the `date`
# column stored in the file) of the generations tree, as globs relative to the tree.
DAILY_FILES = f"{PARTITION_PREFIX}*/*.parquet"
MONTHLY_FILES = f"{MONTH_PREFIX}*/*.parquet"


def current_version(root: Path) -> Path | None:
    """The published version directory of the lake at `root`, or None for a lake that has none yet."""
    link = Path(root) / CURRENT
    if not link.is_symlink():
        return None
    return (Path(root) / os.readlink(link)).resolve()


def has_files(root: Path, tree: str) -> bool:
    """Whether the tree `tree` of the lake or version at `root` holds any of its files."""
    return any((Path(root) / tree).glob(FILES[tree]))


def generations_dir(root: Path) -> Path:
    return Path(root) / GENERATIONS


def partition_dir(root: Path, day: str) -> Path:
    """The directory of the UTC day `day` (YYYY-MM-DD)."""
    return generations_dir(root) / f"{PARTITION_PREFIX}{day}"


def partition_dirs(root: Path) -> dict[str, Path]:
    """day (YYYY-MM-DD as named on disk) -> partition directory, in order of day."""
    base = generations_dir(root)
    if not base.exists():
        return {}
    return {d.name.removeprefix(PARTITION_PREFIX): d for d in sorted(base.glob(f"{PARTITION_PREFIX}*")) if d.is_dir()}


def month_dir(root: Path, month: str) -> Path:
    """The directory of the merged UTC month `month` (YYYY-MM)."""
    return generations_dir(root) / f"{MONTH_PREFIX}{month}"


def month_dirs(root: Path) -> dict[str, Path]:
    """month (YYYY-MM as named on disk) -> directory of its merged files, in order of month."""
    base = generations_dir(root)
    if not base.exists():
        return {}
    return {d.name.removeprefix(MONTH_PREFIX): d for d in sorted(base.glob(f"{MONTH_PREFIX}*")) if d.is_dir()}


def has_daily_files(root: Path) -> bool:
    return any(generations_dir(root).glob(DAILY_FILES))


def has_monthly_files(root: Path) -> bool:
    return any(generations_dir(root).glob(MONTHLY_FILES))


def generation_files(root: Path) -> list[Path]:
    """Every file of the generations: the daily partitions' files, then the merged months'."""
    base = generations_dir(root)
    return sorted(base.glob(DAILY_FILES)) + sorted(base.glob(MONTHLY_FILES))


def quarantine_file(root: Path, run_id: str) -> Path:
    return Path(root) / QUARANTINE / f"{run_id}.parquet"


def quarantine_files(root: Path) -> list[Path]:
    return sorted((Path(root) / QUARANTINE).glob(FILES[QUARANTINE]))


def manifest_file(root: Path, run_id: str) -> Path:
    return Path(root) / MANIFEST / f"{run_id}.parquet"


def manifest_files(root: Path) -> list[Path]:
    return sorted((Path(root) / MANIFEST).glob(FILES[MANIFEST]))


def run_summary_file(root: Path, run_id: str) -> Path:
    return Path(root) / RUNS / f"{run_id}.json"


def schema_file(root: Path) -> Path:
    """The empty Parquet file with the declared columns of the generations (see above)."""
    return Path(root) / SCHEMA / f"{PARTITION_PREFIX}1970-01-01" / "generations.parquet"


def rollup_file(root: Path, month: str) -> Path:
    """The daily rollup of the UTC month `month` (YYYY-MM)."""
    return Path(root) / ROLLUP / f"{MONTH_PREFIX}{month}" / "rollup.parquet"


def rollup_files(root: Path) -> dict[str, Path]:
    """month (YYYY-MM) -> its rollup file, in order of month."""
    found = sorted((Path(root) / ROLLUP).glob(f"{MONTH_PREFIX}*/rollup.parquet"))
    return {path.parent.name.removeprefix(MONTH_PREFIX): path for path in found}
