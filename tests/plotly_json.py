"""Reading a plotly chart back from a Streamlit AppTest (for the page tests)."""

from __future__ import annotations

import base64
import json

import numpy as np


def read_chart(at, index: int = 0) -> dict:
    """The ``index``-th plotly chart on the page, as plotly JSON."""
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def values(array) -> list:
    """A plotly JSON array: a list, or plotly 6's typed-array encoding {dtype, bdata}."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)
