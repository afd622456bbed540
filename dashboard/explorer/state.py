"""The explorer page's shareable state: parsing and writing URL query parameters.

Plain Python (no streamlit): the page hands ``st.query_params`` to ``parse_query_params`` and gets
an ``ExplorerState`` and a list of warnings. Why nothing here raises: a query string is untrusted
input, so a bad value falls back to its default with a warning naming the accepted range.
Coefficients are only range-checked (0 < value ≤ 10); whether they make a valid network is the
explorer's call, shown as an error. Hostile values tried: docs/reliability.md, 'Hostile and
random input'.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from explorer import (
    BASE_RESOLUTION_PX,
    MAX_RESOLUTION_PX,
    MIN_RESOLUTION_PX,
    PAPER_ALPHA,
    PAPER_BETA,
    PAPER_GAMMA,
    official_variant_names,
)
from explorer.scaling import MAX_DEPTH_MULTIPLIER, MAX_WIDTH_MULTIPLIER

MODES: tuple[str, ...] = ("phi", "variant", "explicit")
MODE_LABELS: dict[str, str] = {
    "phi": "Compound (φ, α, β, γ)",
    "variant": "Official variant",
    "explicit": "Explicit width / depth / resolution",
}
# The page's ranges: narrower than the explorer's where a wider one is of no use on a slider
# (φ, α, β, γ, the smallest multipliers); the explorer's own limits otherwise.
PHI_MIN, PHI_MAX, PHI_STEP = -2.0, 9.0, 0.01
COEFFICIENT_MIN, COEFFICIENT_MAX = 0.0, 10.0  # exclusive min: 0 is refused by the explorer
WIDTH_MIN, WIDTH_MAX = 0.05, MAX_WIDTH_MULTIPLIER
DEPTH_MIN, DEPTH_MAX = 0.05, MAX_DEPTH_MULTIPLIER
RESOLUTION_MIN, RESOLUTION_MAX = MIN_RESOLUTION_PX, MAX_RESOLUTION_PX
#: Every widget and session-state key of the explorer page starts with it.
KEY = "explorer_"
#: Longest query value we even look at: anything longer is hostile or a mistake.
MAX_VALUE_CHARS = 64


@dataclass(frozen=True)
class ExplorerState:
    mode: str = "phi"
    phi: float = 0.0
    alpha: float = PAPER_ALPHA
    beta: float = PAPER_BETA
    gamma: float = PAPER_GAMMA
    variant: str = "b0"
    width: float = 1.0
    depth: float = 1.0
    resolution: int = BASE_RESOLUTION_PX


DEFAULT_STATE = ExplorerState()

# Query-parameter names (short, as people type them) → state fields.
_PARAM_FIELDS: dict[str, str] = {
    "mode": "mode",
    "phi": "phi",
    "alpha": "alpha",
    "beta": "beta",
    "gamma": "gamma",
    "variant": "variant",
    "w": "width",
    "d": "depth",
    "r": "resolution",
}


#: The query-parameter names this page owns.
QUERY_KEYS: tuple[str, ...] = tuple(_PARAM_FIELDS)


def _first(value: object) -> str | None:
    """A query parameter's value as one string (the first one when repeated), or None."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _parse_float(
    name: str, text: str, low: float, high: float, *, low_open: bool = False
) -> tuple[float | None, str | None]:
    try:
        number = float(text)
    except (TypeError, ValueError, OverflowError):
        return None, f"{name}={text!r} is not a number"
    if not math.isfinite(number):
        return None, f"{name}={text!r} is not a finite number"
    too_low = number <= low if low_open else number < low
    if too_low or number > high:
        bracket = "(" if low_open else "["
        return None, f"{name}={number:g} is outside {bracket}{low:g}, {high:g}]"
    return number, None


def parse_query_params(params: Mapping[str, object]) -> tuple[ExplorerState, list[str]]:
    """The state a URL asks for, and one warning per value that was ignored.

    >>> state, warnings = parse_query_params({"phi": "2.5", "variant": "B3"})
    >>> state.phi, state.variant, warnings
    (2.5, 'b3', [])
    >>> state, warnings = parse_query_params({"phi": "nan", "alpha": "-1", "mode": "<script>"})
    >>> state == DEFAULT_STATE, len(warnings)
    (True, 3)
    """
    values = asdict(DEFAULT_STATE)
    warnings: list[str] = []
    try:
        keys = list(params.keys())
    except Exception:  # noqa: BLE001 - a hostile mapping must not break the page
        return DEFAULT_STATE, ["query parameters could not be read; using defaults"]
    for key in keys:
        if key not in _PARAM_FIELDS:
            continue  # other pages' or unknown parameters are not ours to judge
        try:
            text = _first(params[key])
        except Exception:  # noqa: BLE001
            text = None
        if text is None:
            continue
        shown = text if len(text) <= 20 else text[:20] + "…"
        if len(text) > MAX_VALUE_CHARS:
            warnings.append(f"ignored {key}={shown!r}: longer than {MAX_VALUE_CHARS} characters")
            continue
        text = text.strip()
        field = _PARAM_FIELDS[key]
        problem: str | None = None
        if field == "mode":
            if text in MODES:
                values[field] = text
            else:
                problem = f"mode={shown!r} is not one of {', '.join(MODES)}"
        elif field == "variant":
            name = text.lower().removeprefix("efficientnet-").removeprefix("efficientnet_")
            if name in official_variant_names():
                values[field] = name
            else:
                problem = f"variant={shown!r} is not one of {', '.join(official_variant_names())}"
        elif field == "phi":
            number, problem = _parse_float(key, text, PHI_MIN, PHI_MAX)
            if number is not None:
                values[field] = round(number, 2)  # the slider's step
        elif field in ("alpha", "beta", "gamma"):
            number, problem = _parse_float(
                key, text, COEFFICIENT_MIN, COEFFICIENT_MAX, low_open=True
            )
            if number is not None:
                values[field] = number
        elif field == "width":
            number, problem = _parse_float(key, text, WIDTH_MIN, WIDTH_MAX)
            if number is not None:
                values[field] = number
        elif field == "depth":
            number, problem = _parse_float(key, text, DEPTH_MIN, DEPTH_MAX)
            if number is not None:
                values[field] = number
        elif field == "resolution":
            number, problem = _parse_float(key, text, RESOLUTION_MIN, RESOLUTION_MAX)
            if number is not None:
                if number != int(number):
                    problem = f"r={number:g} is not a whole number of pixels"
                else:
                    values[field] = int(number)
        if problem:
            warnings.append(f"ignored {problem}; using the default")
    return ExplorerState(**values), warnings


def format_number(value: float) -> str:
    """The shortest text that reads back as exactly ``value`` (a shared link reproduces the
    network bit for bit: 6 significant digits did not).

    >>> format_number(1.2345678901), format_number(2.5), format_number(3.0), format_number(1e-06)
    ('1.2345678901', '2.5', '3', '1e-06')
    """
    return repr(float(value)).removesuffix(".0")


def to_query_params(state: ExplorerState) -> dict[str, str]:
    """The query parameters that reproduce ``state`` (defaults are left out, to keep URLs short).

    >>> to_query_params(ExplorerState(phi=2.5))
    {'phi': '2.5'}
    >>> parse_query_params(to_query_params(ExplorerState(mode="explicit", width=1.3)))[0].width
    1.3
    """
    out: dict[str, str] = {}
    for key, field in _PARAM_FIELDS.items():
        value = getattr(state, field)
        if value == getattr(DEFAULT_STATE, field):
            continue
        out[key] = format_number(value) if isinstance(value, float) else str(value)
    return out


__all__ = [
    "KEY",
    "DEFAULT_STATE",
    "format_number",
    "MODES",
    "MODE_LABELS",
    "QUERY_KEYS",
    "ExplorerState",
    "parse_query_params",
    "to_query_params",
]
