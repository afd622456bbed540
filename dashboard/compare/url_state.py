"""Every compare setting in the URL: each control takes its first value from its query parameter
(once per session, only if the value is one the control offers) and writes its value back.

Why: a view is shared by sharing its address (``/compare?acc=paper&x=macs&runtime=openvino``);
a query string is untrusted, so a value the control does not offer is ignored with one warning
naming what is accepted, and other pages' parameters are left alone. docs/architecture.md,
'The compare page'.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

from dashboard.compare.choices import KEY
from dashboard.explorer.state import MAX_VALUE_CHARS

__all__ = ["PARAMS", "from_url", "to_url", "warnings"]

#: Widget (key suffix) → query parameter. ``acc`` (the accuracy view) is read by its own control.
PARAMS: dict[str, str] = {
    "axis": "x",
    "accuracy_axis": "y",
    "device": "device",
    "batch": "batch",
    "precision": "precision",
    "runtime": "runtime",
    "machines": "machine",
    "overlay": "overlay",
}
_WARNINGS = KEY + "url_warnings"
_FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def _parse(raw: str, options: Sequence[Any]) -> Any:
    """``raw`` as the option it names (numbers and flags compared as such), else None."""
    text = raw.strip()
    for option in options:
        if isinstance(option, bool):
            if _FLAGS.get(text.lower()) is option:
                return option
        elif str(option).lower() == text.lower():
            return option
    return None


def parse(
    params: Mapping[str, Any], widget: str, options: Sequence[Any], *, many: bool = False
) -> tuple[Any, str | None]:
    """The value ``?param=`` asks for, if ``options`` offers it, and a warning otherwise; (None,
    None) when the URL does not say.

    >>> parse({"x": ["macs"]}, "axis", ["latency", "macs"])
    ('macs', None)
    >>> parse({"batch": ["8"]}, "batch", [1, 8])
    (8, None)
    >>> parse({"x": ["<b>"]}, "axis", ["latency", "macs"])[1]
    "ignored x='<b>': accepted latency, macs"
    """
    name = PARAMS[widget]
    values = params.get(name)
    if values is None:
        return None, None
    values = [values] if isinstance(values, str) else list(values)
    found = []
    for raw in values:
        value = _parse(str(raw), options) if len(str(raw)) <= MAX_VALUE_CHARS else None
        if value is None:
            shown = str(raw) if len(str(raw)) <= 20 else str(raw)[:20] + "…"
            offered = ", ".join(_show(o) for o in options) or "nothing here"
            return None, f"ignored {name}={shown!r}: accepted {offered}"
        found.append(value)
    if not found:
        return None, None
    return (found if many else found[0]), None


def _show(option: Any) -> str:
    if isinstance(option, bool):
        return "1" if option else "0"
    text = str(option)
    return text if len(text) <= 16 else text[:12] + "…"


def from_url(widget: str, options: Sequence[Any], *, many: bool = False) -> None:
    """Before the widget is drawn: seed its value from the URL on the session's first run."""
    key = KEY + widget
    if key in st.session_state or KEY + "url_read_" + widget in st.session_state:
        return
    st.session_state[KEY + "url_read_" + widget] = True
    params = {name: st.query_params.get_all(name) for name in st.query_params}
    value, warning = parse(params, widget, list(options), many=many)
    if warning:
        st.session_state.setdefault(_WARNINGS, []).append(warning)
    elif value is not None:
        st.session_state[key] = value


def to_url(widget: str, value: Any, default: Any, show: Callable[[Any], str] = _show) -> None:
    """After the widget: the URL carries its value (left out at the default: short links)."""
    name = PARAMS[widget]
    if value == default or value is None or value == []:
        if name in st.query_params:
            del st.query_params[name]
        return
    wanted = [show(v) for v in value] if isinstance(value, list) else [show(value)]
    if st.query_params.get_all(name) != wanted:
        st.query_params[name] = wanted if len(wanted) > 1 else wanted[0]


def warnings() -> list[str]:
    """What the URL asked for that was ignored (shown once)."""
    return st.session_state.pop(_WARNINGS, [])
