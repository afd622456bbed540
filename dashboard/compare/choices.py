"""The compare page's settings as one typed record (``CompareChoice``), and its widget key prefix.

Why a record: it is what the controls return and what every section below the chart reads, so
the settings have one type and one place to change. The compare package: docs/architecture.md,
'The dashboard, by feature'.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BATCH_SIZES", "KEY", "CompareChoice"]

#: Every widget and session-state key of the compare page starts with it.
KEY = "compare_"
BATCH_SIZES: tuple[int, ...] = (1, 8, 32, 64)


@dataclass(frozen=True)
class CompareChoice:
    """What the chart shows: where and how latency was measured, and against which x axis."""

    device: str  # "cpu" or "cuda" (any GPU)
    batch: int
    precision: str
    runtime: str  # a runtime, or ``zoo.BEST``: per model the fastest verified one
    axis: str = "latency"  # a key of ``dashboard.compare.figure.COMPARE_AXES``
    overlay: bool = False  # timm's published GPU throughput drawn too

    @property
    def any_runtime(self) -> bool:
        """Whether the chart draws the fastest verified runtime per model."""
        from zoo import BEST

        return self.runtime == BEST
