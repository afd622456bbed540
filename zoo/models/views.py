"""The networks an accuracy view's chart draws, as specs: each architecture of the view
(``data.accuracy``) at the input size its latency is measured at.

Why here: "measure what this view is missing" (the compare page, ``zoo measure --view``) and
the first-run sweep must ask for exactly the (model, input size) pairs the chart joins on, or a
view stays empty after a sweep. docs/architecture.md, 'The compare page'.
"""

from __future__ import annotations

from data import accuracy
from zoo.errors import ZooError
from zoo.models.spec import ModelSpec, spec_from_timm

__all__ = ["VIEW_KEYS", "view_specs"]

#: The accuracy views, in the compare page's order.
VIEW_KEYS: tuple[str, ...] = tuple(view.key for view in accuracy.VIEWS)


def view_specs(view: str) -> list[ModelSpec]:
    """The chart's networks in accuracy view ``view``, in the view's order.

    >>> [s.label for s in view_specs("paper")][:2]
    ['efficientnet_b0 @224px', 'efficientnet_b1 @240px']
    """
    if view not in VIEW_KEYS:
        raise ZooError(f"accuracy view {view!r} is not known: accepted {', '.join(VIEW_KEYS)}")
    return [
        spec_from_timm(str(p.arch), int(p.measure_px))
        for p in accuracy.view_points(view).points
        if p.arch is not None and p.measure_px
    ]
