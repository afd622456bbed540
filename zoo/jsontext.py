"""JSON as every zoo command writes it: strict (RFC 8259), so any parser reads it.

Python's ``json`` writes ``NaN`` and ``Infinity`` for non-finite floats by default, which is not
JSON. A measurement can hold one (an infinite throughput when a timed loop rounds to zero
seconds); such a number becomes ``null``, as a missing value would, never a bare token.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["finite_or_none", "strict_dumps"]


def finite_or_none(value: Any) -> Any:
    """``value`` with every non-finite float inside it (lists, dicts) replaced by ``None``.

    >>> finite_or_none({"a": float("inf"), "b": [1.5, float("nan")], "c": "x"})
    {'a': None, 'b': [1.5, None], 'c': 'x'}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    return value


def strict_dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` that never writes ``NaN``/``Infinity`` (they become ``null``).

    >>> strict_dumps([float("-inf"), 2])
    '[null, 2]'
    """
    return json.dumps(finite_or_none(value), allow_nan=False, **kwargs)
