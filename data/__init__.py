"""Reference ImageNet accuracies and costs for EfficientNet and peer CNNs, one CSV per source.

Every row carries ``source``, ``source_url`` and ``retrieved``; ``README.md`` (next to this file)
describes each table and the caveats of its source. Standard library only at import time, and
nothing is read until a table is asked for.
"""

from .families import FAMILIES, Family, family_key, family_label, family_labels
from .schema import (
    DATA_DIR,
    PROVENANCE_COLUMNS,
    TABLES,
    Column,
    DataError,
    Table,
    get_table,
    load_frame,
    load_rows,
    read_table,
)

__all__ = [
    "DATA_DIR",
    "FAMILIES",
    "Family",
    "PROVENANCE_COLUMNS",
    "TABLES",
    "Column",
    "DataError",
    "Table",
    "family_key",
    "family_label",
    "family_labels",
    "get_table",
    "load_frame",
    "load_rows",
    "read_table",
]
